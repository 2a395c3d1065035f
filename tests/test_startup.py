"""Start-up as light as a bare server: a default start lists its tools from
`toggl_groups_mcp/tool_definitions.json` and imports and builds them on the first call; what it
lists is what a live build lists, in every configuration; and a plain stdio start loads no tool
module, no Redis client, no HTTP serving or sandbox code.

`UPDATE_SNAPSHOT=1` (what `make snapshot` sets) rewrites the definitions file instead of
comparing; review the diff it makes like any other code change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import respx
from mcp import Client

from tests.conftest import make_settings
from toggl_groups_mcp import definitions
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.definitions import LazyTool
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]
JOURNAL = Path("/nonexistent-journal-folder/journal.jsonl")  # never opened: no change is made here
# Every configuration a start without --tools can have: journal on or off, read-only or not.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "default": {"journal_path": JOURNAL},
    "no journal": {"journal_path": None},
    "read-only": {"journal_path": JOURNAL, "read_only": True},
    "read-only, no journal": {"journal_path": None, "read_only": True},
}
# Loaded only when used: the tool modules and the registry on the first tool call, the journal
# by a server that keeps one, Redis when TOGGL_MCP_REDIS_URL is set, the HTTP transport's code with --transport http, the sandbox with
# --sandbox. (The SDK itself imports starlette and uvicorn, so a bare server has them too.)
NOT_AT_START = [
    "redis",
    "toggl_groups_mcp.journal",
    "toggl_groups_mcp.http",
    "toggl_groups_mcp.sandbox",
    "toggl_groups_mcp.tools.registry",
    "toggl_groups_mcp.tools.toolsets",
    "toggl_groups_mcp.tools.groups",
    "toggl_groups_mcp.tools.access",
    "toggl_groups_mcp.tools.bulk",
    "toggl_groups_mcp.tools.review",
    "toggl_groups_mcp.tools.changes",
]


async def served(settings: Settings) -> dict[str, Any]:
    """Everything a host reads of a server before calling a tool."""
    async with Client(build_server(settings), mode="legacy") as client:
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
        contents = {
            str(resource.uri): (await client.read_resource(str(resource.uri))).model_dump(mode="json")
            for resource in resources
        }
        capabilities = client.server_capabilities
        return {
            "tools": [tool.model_dump(mode="json", by_alias=True) for tool in tools],
            "resources": [resource.model_dump(mode="json", by_alias=True) for resource in resources],
            "contents": contents,
            "capabilities": capabilities.model_dump(mode="json", by_alias=True),
        }


def test_the_definitions_file_is_what_the_tools_are_now() -> None:
    made = definitions.generate()
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        definitions.write(made)
        return
    stored = json.loads(definitions.DEFINITIONS.read_text(encoding="utf-8"))
    assert stored == json.loads(json.dumps(made)), (
        f"{definitions.DEFINITIONS.name} is stale: a default start builds every tool again (about "
        "60 ms). Run `UPDATE_SNAPSHOT=1 pytest tests/test_startup.py` (or `make snapshot`) and commit it."
    )


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
async def test_a_default_start_lists_exactly_what_a_live_build_lists(
    configuration: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(**CONFIGURATIONS[configuration])
    server = build_server(settings)
    assert all(isinstance(tool, LazyTool) for tool in server._tool_manager.list_tools())
    listed = await served(settings)
    monkeypatch.setattr(definitions, "_load", lambda: None)
    built = build_server(settings)
    assert not any(isinstance(tool, LazyTool) for tool in built._tool_manager.list_tools())
    assert listed == await served(settings)


async def test_a_stale_definitions_file_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = json.loads(definitions.DEFINITIONS.read_text(encoding="utf-8"))
    stale["fingerprint"] = "0" * 64
    stale["tools"]["list_groups"]["description"] = "Not what the tool says."
    monkeypatch.setattr(definitions, "DEFINITIONS", tmp_path / "tool_definitions.json")
    definitions.DEFINITIONS.write_text(json.dumps(stale), encoding="utf-8")
    settings = make_settings()
    assert not any(isinstance(tool, LazyTool) for tool in build_server(settings)._tool_manager.list_tools())
    tools = {tool["name"]: tool for tool in (await served(settings))["tools"]}
    assert tools["list_groups"]["description"] != "Not what the tool says."


async def test_a_listed_tool_is_built_on_its_first_call_and_answers_as_a_built_one(
    toggl: respx.MockRouter,
) -> None:
    toggl.get("/me/organizations").respond(json=[{"id": 7, "name": "Acme"}])
    toggl.get("/me/workspaces").respond(json=[{"id": 70, "name": "Design", "organization_id": 7}])
    settings = make_settings()
    async with Client(build_server(settings), mode="legacy") as client:
        lazy = await client.call_tool("list_organizations", {})
        refused = await client.call_tool("list_organizations", {"organisation": 7})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(definitions, "_load", lambda: None)
        async with Client(build_server(settings), mode="legacy") as client:
            built = await client.call_tool("list_organizations", {})
            built_refused = await client.call_tool("list_organizations", {"organisation": 7})
    assert not lazy.is_error
    assert lazy.model_dump() == built.model_dump()
    assert refused.is_error
    assert refused.model_dump() == built_refused.model_dump()


def test_a_plain_stdio_start_loads_no_tool_module_journal_redis_http_or_sandbox_code() -> None:
    """The server made as `main` makes it for stdio (no --tools, no Redis), initialized and asked
    for its tools, in a fresh interpreter; then one tool call, which loads the tools."""
    script = f"""
import json, sys
import anyio
from mcp import Client
from toggl_groups_mcp.__main__ import parse_args
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.server import build_server

HEAVY = {NOT_AT_START!r}

async def main():
    parse_args([])
    server = build_server(Settings.from_env(None))
    async with Client(server, mode="legacy") as client:
        listed = len((await client.list_tools()).tools)
        before = sorted(name for name in HEAVY if name in sys.modules)
        await client.call_tool("get_quota", {{}})
        after = sorted(name for name in HEAVY if name in sys.modules)
    print(json.dumps({{"listed": listed, "before": before, "after": after}}))

anyio.run(main)
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "PYTHON"))} | {
        "TOGGL_API_TOKEN": "tok-startup-5e1f",
        "TOGGL_API_URL": "http://127.0.0.1:9",
        "TOGGL_MCP_JOURNAL": "off",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["listed"] > 0
    assert seen["before"] == []
    # The call itself loads the tools (and fails to reach Toggl on a closed port: no matter here).
    assert "toggl_groups_mcp.tools.registry" in seen["after"]
