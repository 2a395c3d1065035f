"""In CI nothing skips by accident: a pytest plugin (tests/conftest.py registers its hooks) that
turns every skip into a failure when the CI environment variable is set (.ci/run runs with
CI=true), unless the test is marked `skip_by_design`.

A test that needs something installed (Chromium, the npm tools under .tools/, a console script)
may skip on a developer's machine that lacks it, with a reason that says how to install it; in CI,
where `make test` installs all of it, the same skip is a missing install step and fails the run.
A test that skips on purpose, whatever is installed, says so:

    @pytest.mark.skip_by_design
    def test_only_in_one_era(mode: str) -> None:
        if mode != "legacy":
            pytest.skip("only the handshake era ...")

xfail stays xfail. A module skipped at collection (`pytest.skip(..., allow_module_level=True)`,
`pytest.importorskip`) fails as a collection error. CI=0, CI=false and CI=no count as unset.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

MARKER = "skip_by_design"
NOT_CI = {"", "0", "false", "no"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in NOT_CI


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: the test skips on purpose, so its skip stays a skip in CI (tests/ci_skips.py)"
    )


def _reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"Skipped in CI, where no test may skip: {_reason(report.longrepr)}\n"
        f"Install what it needs in the Makefile (`make test`), or mark a test that skips on purpose "
        f"@pytest.mark.{MARKER}."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and in_ci()
        and item.get_closest_marker(MARKER) is None
    ):
        _fail(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    report: pytest.CollectReport = yield
    if report.skipped and in_ci() and collector.get_closest_marker(MARKER) is None:
        _fail(report)
    return report
