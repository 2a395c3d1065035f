"""A client nobody here wrote: the MCP Inspector CLI (npm @modelcontextprotocol/inspector 2.12,
installed by `make` into .tools/) drives `python -m toggl_groups_mcp` on the Toggl sandbox.

Syntax used: `mcp-inspector --cli -e K=V ... --method M [--tool-name T --tool-arg k=v ...]
[--prompt-name P --prompt-args k=v ...] [--protocol-era legacy|modern] [--strict] --format json -q
-- COMMAND ARGS`. Exit codes: 0 ok, 5 when a tool answers isError, 6 when --strict finds a
portability error. It writes its catalog and client config only where MCP_CATALOG_PATH and
MCP_CLIENT_CONFIG_PATH say (here: tmp_path), and HOME points into tmp_path too.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ALL_TOOLS
from toggl_groups_mcp.sandbox import SandboxThread
from toggl_groups_mcp.sandbox.demo import GROUP_DESIGNERS, ORG_ACME

pytestmark = [pytest.mark.e2e]

INSPECTOR = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin" / "mcp-inspector"
PROMPTS = {"onboard_team", "change_project_access", "audit_project_access", "offboard_person"}
TOOL_COUNT = len(ALL_TOOLS)


@pytest.fixture(scope="module")
def inspector_bin() -> Path:
    problem = None
    if not INSPECTOR.exists():
        problem = f"the MCP Inspector is not installed at {INSPECTOR}; run `make` (or `npm install --prefix .tools @modelcontextprotocol/inspector@2.12`)"
    elif shutil.which("node") is None:
        problem = "node is not on PATH; the MCP Inspector CLI needs Node 20 or newer"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return INSPECTOR


@pytest.fixture
def inspect(inspector_bin: Path, sandbox: SandboxThread, tmp_path: Path, run_command: Any) -> Any:
    """inspect(*cli_args) -> Completed: one Inspector CLI run against a fresh server on the sandbox."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(tmp_path / "catalog.json"),
        "MCP_CLIENT_CONFIG_PATH": str(tmp_path / "client.json"),
    }
    server_env = [
        f"TOGGL_API_TOKEN={sandbox.token}",
        f"TOGGL_API_URL={sandbox.url}",
        "TOGGL_MCP_JOURNAL=off",
        "TOGGL_RATE_PER_SEC=0",
    ]

    def run(*args: str) -> Any:
        command = [str(inspector_bin), "--cli"]
        for pair in server_env:
            command += ["-e", pair]
        command += [*args, "--format", "json", "-q", "--", sys.executable, "-m", "toggl_groups_mcp"]
        return run_command(command, env=env, timeout=60)

    return run


def payload(completed: Any) -> dict[str, Any]:
    try:
        parsed: dict[str, Any] = json.loads(completed.stdout)
    except ValueError:
        pytest.fail(f"no JSON on stdout: {completed.describe()}")
    return parsed


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_tools_list_passes_the_strict_portability_check(inspect: Any, control: Any, era: str) -> None:
    completed = inspect("--method", "tools/list", "--strict", "--protocol-era", era)
    assert completed.returncode == 0, completed.describe()
    tools = payload(completed)["result"]["tools"]
    assert len(tools) == TOOL_COUNT
    assert {t["name"] for t in tools} >= {"list_groups", "delete_group", "remove_user_from_groups"}
    for t in tools:
        assert "additionalProperties" not in t["inputSchema"], t["name"]
        assert "outputSchema" in t and "annotations" in t, t["name"]
    assert control.requests() == []  # listing tools costs no Toggl quota


def test_a_tool_call_answers_json_with_the_groups(inspect: Any, control: Any) -> None:
    completed = inspect(
        "--method",
        "tools/call",
        "--tool-name",
        "list_groups",
        "--tool-arg",
        f"organization_id={ORG_ACME}",
        "--protocol-era",
        "legacy",
    )
    assert completed.returncode == 0, completed.describe()
    result = payload(completed)["result"]
    assert result.get("isError") is not True
    structured = result["structuredContent"]
    assert [g["name"] for g in structured["groups"]] == ["Designers", "Engineers", "Managers"]
    assert structured["total"] == 3
    assert json.loads(result["content"][0]["text"]) == structured
    sent = [(r.method, r.path, r.query) for r in control.requests()]
    assert sent == [("GET", f"/organizations/{ORG_ACME}/groups", {})]


def test_an_unconfirmed_delete_exits_5_with_the_preview_and_deletes_nothing(
    inspect: Any, control: Any
) -> None:
    completed = inspect(
        "--method",
        "tools/call",
        "--tool-name",
        "delete_group",
        "--tool-arg",
        f"organization_id={ORG_ACME}",
        f"group_id={GROUP_DESIGNERS}",
        "--protocol-era",
        "modern",
    )
    assert completed.returncode == 5, completed.describe()
    result = payload(completed)["result"]
    # Only a 2026-07-28 answer carries the serverInfo stamp: the modern era was really used.
    assert "io.modelcontextprotocol/serverInfo" in result.get("_meta", {})
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "Confirmation required; no change was sent to Toggl" in text
    assert "Delete group 'Designers'" in text and "Bianca Reyes (6120532), Chen Wei (6120617)" in text
    assert json.loads(completed.stderr)["error"]["code"] == "tool_is_error"
    assert GROUP_DESIGNERS in control.groups()
    assert control.mutating() == []


def test_prompts_are_listed_and_rendered(inspect: Any, control: Any) -> None:
    listed = inspect("--method", "prompts/list")
    assert listed.returncode == 0, listed.describe()
    prompts = {p["name"]: p for p in payload(listed)["result"]["prompts"]}
    assert set(prompts) == PROMPTS
    assert [a["name"] for a in prompts["offboard_person"]["arguments"]] == ["person"]

    rendered = inspect(
        "--method",
        "prompts/get",
        "--prompt-name",
        "offboard_person",
        "--prompt-args",
        "person=Dana Okafor",
        "--protocol-era",
        "modern",
    )
    assert rendered.returncode == 0, rendered.describe()
    messages = payload(rendered)["result"]["messages"]
    assert messages and messages[0]["role"] == "user"
    text = messages[0]["content"]["text"]
    assert "Dana Okafor" in text and "remove_user_from_groups" in text
    assert control.requests() == []
