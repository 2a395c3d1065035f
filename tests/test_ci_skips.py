"""The CI skip rule (tests/ci_skips.py): with CI set, as .ci/run runs, a skip fails the run unless
the test is marked skip_by_design. Each case runs pytest in a child process on a small generated
test file (or on this suite's own files), with and without CI, and reads its JUnit report."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120

TOOL_TESTS = """
import pytest

@pytest.fixture(scope="module")
def chromium():
    pytest.skip("Chromium is not installed at /usr/bin/chromium; run `make test`")

def test_in_a_browser(chromium):
    pass

def test_with_the_inspector():
    pytest.skip("the MCP Inspector is not installed under .tools/")

@pytest.mark.skipif(True, reason="node is not on PATH")
def test_with_node():
    pass

@pytest.mark.skip_by_design
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_in_one_era_only(era):
    if era != "legacy":
        pytest.skip("only the handshake era has this")

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_a_known_bug():
    assert False

def test_plain():
    pass
"""

SKIPPED_MODULE = """
import pytest

pytest.skip("the npm tools are not installed", allow_module_level=True)

def test_never_collected():
    pass
"""


def run_pytest(
    tmp_path: Path, args: list[str], ci: str | None, extra_env: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """pytest in a child process: (exit code, outcome by test name, output)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(REPO)
    env.update(extra_env or {})
    report = tmp_path / f"junit-{len(list(tmp_path.glob('junit-*')))}.xml"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if not report.exists():
        pytest.fail(f"pytest wrote no report (exit {completed.returncode}):\n{output}")
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        kinds = {child.tag for child in case}
        if "skipped" in kinds:
            skipped = case.find("skipped")
            xfail = skipped is not None and skipped.get("type") == "pytest.xfail"
            outcomes[name] = "xfailed" if xfail else "skipped"
        elif "error" in kinds:
            outcomes[name] = "error"
        elif "failure" in kinds:
            outcomes[name] = "failed"
        else:
            outcomes[name] = "passed"
    return completed.returncode, outcomes, output


def standalone(tmp_path: Path, source: str) -> list[str]:
    """A test file in a folder of its own, run with the CI plugin only (no conftest, no ini)."""
    (tmp_path / "test_generated.py").write_text(source)
    return ["-p", "tests.ci_skips", "--rootdir", str(tmp_path), "test_generated.py"]


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_outside_ci_a_missing_tool_is_a_skip(tmp_path: Path, ci: str | None) -> None:
    code, outcomes, output = run_pytest(tmp_path, standalone(tmp_path, TOOL_TESTS), ci)
    assert code == 0, output
    assert outcomes == {
        "test_in_a_browser": "skipped",
        "test_with_the_inspector": "skipped",
        "test_with_node": "skipped",
        "test_in_one_era_only[legacy]": "passed",
        "test_in_one_era_only[modern]": "skipped",
        "test_a_known_bug": "xfailed",
        "test_plain": "passed",
    }, output


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_tool_fails_the_run_and_a_skip_by_design_stays_a_skip(
    tmp_path: Path, ci: str
) -> None:
    code, outcomes, output = run_pytest(tmp_path, standalone(tmp_path, TOOL_TESTS), ci)
    assert code == 1, output
    assert outcomes == {
        "test_in_a_browser": "error",  # skipped in a fixture: the setup fails
        "test_with_the_inspector": "failed",
        "test_with_node": "error",  # a skipif marker acts in the setup too
        "test_in_one_era_only[legacy]": "passed",
        "test_in_one_era_only[modern]": "skipped",
        "test_a_known_bug": "xfailed",
        "test_plain": "passed",
    }, output
    # The failure says why it skipped, and what to do.
    for reason in ("Chromium is not installed", "MCP Inspector is not installed", "node is not on PATH"):
        assert reason in output, output
    assert "Skipped in CI" in output and "skip_by_design" in output, output


def test_in_ci_a_module_skipped_at_collection_fails_the_run(tmp_path: Path) -> None:
    args = standalone(tmp_path, SKIPPED_MODULE)
    code, _, output = run_pytest(tmp_path, args, None)
    assert code == 5 and "1 skipped" in output, output  # 5: no test ran
    code, _, output = run_pytest(tmp_path, args, "true")
    assert code != 0, output
    assert "the npm tools are not installed" in output and "Skipped in CI" in output, output


def test_the_suites_one_deliberate_skip_stays_a_skip_in_ci(tmp_path: Path) -> None:
    """A 2025-03-26 session exists only in the handshake era: the other era's run skips, in CI too."""
    target = (
        str(REPO / "tests" / "test_safety.py")
        + "::test_a_session_older_than_elicitation_is_never_sent_a_question"
    )
    code, outcomes, output = run_pytest(tmp_path, ["--rootdir", str(REPO), target], "true")
    assert code == 0, output
    assert sorted(outcomes.values()) == ["passed", "skipped"], output


@pytest.mark.e2e
def test_in_ci_the_browser_tests_fail_without_chromium(tmp_path: Path) -> None:
    """The access view's tests, with Chromium looked for where it is not: skipped on a developer's
    machine, failed in CI."""
    target = str(REPO / "tests" / "e2e" / "test_access_view.py")
    nowhere = {"APPHOST_CHROMIUM": str(tmp_path / "no-chromium")}
    args = ["--rootdir", str(REPO), target, "-k", "handshake"]
    code, outcomes, output = run_pytest(tmp_path, args, None, nowhere)
    assert code == 0 and outcomes and set(outcomes.values()) == {"skipped"}, output
    code, outcomes, output = run_pytest(tmp_path, args, "true", nowhere)
    assert code == 1 and outcomes and set(outcomes.values()) == {"error"}, output
    assert "no-chromium" in output, output
