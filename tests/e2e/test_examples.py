"""The examples/ folder works as documented: the narrated demo, the automation script, and the
host configs (Claude Desktop, VS Code, Cursor) that start the sandbox server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ALL_TOOLS, JOURNAL_TOOLS

pytestmark = [pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "toggl-groups-mcp"
HOST_CONFIGS = {
    "claude-desktop/sandbox.json": "mcpServers",
    "vscode/mcp.sandbox.json": "servers",
    "cursor/mcp.sandbox.json": "mcpServers",
}


def quiet_env() -> dict[str, str]:
    """PATH only: nothing of the developer's TOGGL_* environment leaks into an example."""
    return {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}


def test_the_demo_narrates_a_whole_session(run_command: Any) -> None:
    completed = run_command([sys.executable, "examples/demo.py"], env=quiet_env(), cwd=REPO, timeout=120)
    assert completed.returncode == 0, completed.describe()
    out = completed.stdout
    for narration in (
        "Acme Studio",
        "at a glance",
        "Confirmation required",
        "deleted group",
        "recreated group",
    ):
        assert narration in out, completed.describe()
    assert "\033[" not in out  # no colours when stdout is not a terminal


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param({"args": ["--workspace-id", "8231045"], "env": {}}, id="as-documented"),
        pytest.param({"args": [], "env": {"TOGGL_WORKSPACE_ID": "8231045"}}, id="workspace-in-env"),
    ],
)
def test_the_automation_example_skips_a_project_the_group_already_has(
    run_command: Any, ids: dict[str, Any]
) -> None:
    completed = run_command(
        [
            sys.executable,
            "examples/grant_matching_projects.py",
            "--sandbox",
            "--group",
            "Designers",
            "--match",
            "Website",
            *ids["args"],
        ],
        env={**quiet_env(), **ids["env"]},
        cwd=REPO,
        timeout=120,
    )
    assert completed.returncode == 0, completed.describe()
    # Designers already reach Website Redesign (2040023) in the demo data.
    assert "Group Designers (3150012); projects: Website Redesign" in completed.stdout, completed.describe()
    assert "done: []  skipped (already had access): [2040023]" in completed.stdout, completed.describe()


@pytest.mark.anyio
@pytest.mark.parametrize("config", HOST_CONFIGS)
async def test_each_host_config_starts_the_sandbox_server(config: str) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.fail(f"the console script {CONSOLE_SCRIPT} is missing: is the package installed?")
    servers = json.loads((REPO / "examples" / config).read_text())[HOST_CONFIGS[config]]
    entry = next(server for name, server in servers.items() if "sandbox" in name)
    assert entry["command"] == "toggl-groups-mcp"
    assert "--sandbox" in entry["args"] and "env" not in entry  # the sandbox needs no token
    params = StdioServerParameters(
        command=str(CONSOLE_SCRIPT), args=entry["args"], env={"PATH": os.environ["PATH"]}
    )
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            tools = (await client.list_tools()).tools
            assert {t.name for t in tools} == ALL_TOOLS | JOURNAL_TOOLS  # --sandbox journals
            assert "THIS IS A SANDBOX" in (client.session.instructions or "")
