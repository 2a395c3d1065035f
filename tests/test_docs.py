"""The README and the docs/ pages it links: the first screen stays short and keeps the commands CI
runs, every relative link resolves, and the configuration reference matches what the code reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from toggl_groups_mcp.__main__ import parse_args
from toggl_groups_mcp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Read by the server from its own parent process's environment, never set by a person.
INTERNAL_VARIABLES = {"TOGGL_MCP_WORKER_OPTIONS"}
# The first screen: what it is, the two commands, the install per host, the table of pages.
README_MAX_BYTES = 8_000


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _outside_code(text: str) -> str:
    """The Markdown with fenced code blocks blanked (a `# comment` in a shell block is no heading)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", _outside_code(_read(path)), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_a_first_screen_that_links_every_docs_page() -> None:
    readme = _read(README)
    assert len(readme.encode()) <= README_MAX_BYTES, "move the depth into a docs/ page"
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", readme))
    assert {f"docs/{p.name}" for p in PAGES} <= linked, "a docs/ page the README does not link"


def test_the_quick_start_shows_the_commands_ci_and_the_makefile_run() -> None:
    readme = _read(README)
    for line in (
        "make demo    # a narrated MCP session against the embedded Toggl sandbox: no account needed",
        "make test    # the whole suite: lint, type check, unit, in-memory, stdio, Inspector and browser end-to-end",
    ):
        assert f"\n{line}\n" in readme
    targets = set(re.findall(r"^([a-z]+):", _read(ROOT / "Makefile"), flags=re.M))
    assert {"demo", "test", "serve"} <= targets
    assert "make test" in _read(ROOT / ".ci" / "run")


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _outside_code(_read(page))):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_the_readme_names_the_server_the_mcp_registry_lists() -> None:
    names = re.findall(r"<!-- mcp-name: (\S+) -->", _read(README))
    assert len(names) == 1
    server = ROOT / "server.json"
    if server.exists():
        assert json.loads(_read(server))["name"] == names[0]


def _configuration_rows() -> dict[str, list[str]]:
    """Each variable of the configuration table with its row's cells."""
    rows: dict[str, list[str]] = {}
    for line in _read(CONFIGURATION).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `TOGGL_") and len(cells) == 3:
            for name in re.findall(r"TOGGL_[A-Z_]+", cells[0]):
                rows[name] = cells
    return rows


def test_the_configuration_table_documents_every_variable_the_server_reads() -> None:
    read = {
        name
        for source in (ROOT / "toggl_groups_mcp").rglob("*.py")
        for name in re.findall(r'"(TOGGL_[A-Z_]+)"', _read(source))
    }
    documented = set(_configuration_rows())
    assert read - INTERNAL_VARIABLES <= documented, "undocumented settings"
    assert documented <= read, "documented settings the server never reads"


def test_the_configuration_table_states_the_defaults_the_settings_take() -> None:
    rows = _configuration_rows()
    settings = Settings.from_env({"TOGGL_API_TOKEN": "x" * 32})
    for name, attribute in (
        ("TOGGL_API_URL", "api_url"),
        ("TOGGL_TIMEOUT", "timeout"),
        ("TOGGL_RATE_PER_SEC", "rate_per_sec"),
        ("TOGGL_MCP_TEXT_BUDGET", "text_budget"),
        ("TOGGL_MCP_BULK_SECONDS", "bulk_seconds"),
        ("TOGGL_MCP_JOURNAL_MAX_BYTES", "journal_max_bytes"),
        ("TOGGL_MCP_JOURNAL_KEEP", "journal_keep"),
    ):
        documented = rows[name][2].strip("`")
        actual = getattr(settings, attribute)
        if isinstance(actual, str):
            assert documented == actual, name
        else:
            assert float(documented) == actual, name


def test_the_command_line_in_the_configuration_page_lists_every_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    options = set(re.findall(r"(--[a-z][a-z-]*)", capsys.readouterr().out)) - {"--help"}
    line = next(s for s in _read(CONFIGURATION).splitlines() if s.startswith("Command line:"))
    assert options == set(re.findall(r"\[(--[a-z][a-z-]*)", line))


def test_the_configuration_table_says_off_for_every_switch_that_starts_off() -> None:
    rows = _configuration_rows()
    switches = re.findall(r'_flag\(env, "(TOGGL_[A-Z_]+)"\)', _read(ROOT / "toggl_groups_mcp" / "config.py"))
    assert "TOGGL_MCP_OAUTH" in switches
    settings = Settings.from_env({"TOGGL_API_TOKEN": "x" * 32})
    for name in switches:
        attribute = name.removeprefix("TOGGL_MCP_").lower()
        assert getattr(settings, attribute) is False, name
        assert rows[name][2] == "off", name
