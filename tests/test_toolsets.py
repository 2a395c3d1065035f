"""Choosing tools: `--tools` / TOGGL_MCP_TOOLS select tools and toolsets, read-only mode on top,
an unknown name stops the server before it serves, and the registry imports no tool module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import respx
from mcp import Client, StdioServerParameters

from tests.conftest import Connect, error_text, make_settings
from tests.test_config_cli import command_env, run_command
from toggl_groups_mcp.config import ConfigError, Settings
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]
TOKEN = "tok-toolsets-3c9d"
# Written out by hand: a test must not take its expectations from the code it tests.
TOOLSETS = ["discovery", "groups", "access", "project_groups", "bulk", "project_users", "review", "changes"]
PROJECT_GROUPS_TOOLSET = ["list_project_groups", "add_project_group", "remove_project_group"]


async def listed_names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


# -- selecting through a real client ----------------------------------------------------------------


async def test_a_toolset_and_a_tool_name_register_exactly_those_tools_in_the_usual_order(
    connect: Connect,
) -> None:
    async with connect(tools=("project_groups", "list_groups")) as client:
        names = await listed_names(client)
    assert names == ["list_groups", *PROJECT_GROUPS_TOOLSET]


async def test_read_only_mode_applies_on_top_of_the_selection(connect: Connect) -> None:
    async with connect(tools=("project_groups", "delete_group", "get_quota"), read_only=True) as client:
        names = await listed_names(client)
    assert names == ["get_quota", "list_project_groups"]


async def test_no_selection_registers_every_toolset(connect: Connect) -> None:
    async with connect() as everything, connect(tools=tuple(TOOLSETS)) as every_toolset:
        assert await listed_names(everything) == await listed_names(every_toolset)


async def test_a_tool_left_out_of_the_selection_is_refused_without_a_request(
    connect: Connect, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    async with connect(tools=("discovery",), organization_id=1) as client:
        result = await client.call_tool("list_groups", {})
    assert "list_groups" in error_text(result)
    assert toggl.calls.call_count == 0


def test_building_a_server_with_an_unknown_name_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="'list_grops'"):
        build_server(make_settings(tools=("groups", "list_grops")))


# -- reading the setting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("groups", ("groups",)),
        (" groups , list_projects ,", ("groups", "list_projects")),
        ("", None),
        ("  ", None),
        (" , ", None),
    ],
)
def test_the_environment_variable_is_a_comma_list_with_whitespace_ignored_and_blank_meaning_all(
    value: str, expected: tuple[str, ...] | None
) -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": TOKEN, "TOGGL_MCP_TOOLS": value})
    assert settings.tools == expected


def test_without_the_variable_every_tool_is_registered() -> None:
    assert Settings.from_env({"TOGGL_API_TOKEN": TOKEN}).tools is None


# -- the real command -------------------------------------------------------------------------------


def one_stderr_line(completed: subprocess.CompletedProcess[bytes]) -> str:
    assert completed.returncode == 2
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("toggl-groups-mcp: ")
    return lines[0]


def test_an_unknown_name_in_the_environment_exits_2_with_one_line_listing_the_valid_names() -> None:
    line = one_stderr_line(
        run_command(command_env(TOGGL_API_TOKEN=TOKEN, TOGGL_MCP_TOOLS="groups, list_grops"))
    )
    assert "TOGGL_MCP_TOOLS" in line and "'list_grops'" in line
    for name in [*TOOLSETS, "list_groups", "get_quota", "remove_user_from_groups"]:
        assert name in line


def test_an_unknown_name_in_the_flag_exits_2_naming_the_flag() -> None:
    line = one_stderr_line(run_command(command_env(TOGGL_API_TOKEN=TOKEN), "--tools", "bulk,everything"))
    assert "--tools" in line and "'everything'" in line
    assert "project_groups" in line and "add_group_to_projects" in line


def test_an_unknown_name_stops_the_sandbox_too_before_it_starts() -> None:
    line = one_stderr_line(run_command(command_env(), "--sandbox", "--tools", "nope"))
    assert "'nope'" in line
    assert "SANDBOX MODE" not in line


async def test_the_flag_wins_over_the_environment_variable_over_stdio() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "toggl_groups_mcp", "--tools", "get_quota, groups"],
        env=command_env(
            TOGGL_API_TOKEN=TOKEN, TOGGL_MCP_TOOLS="not-a-tool", TOGGL_API_URL="http://127.0.0.1:9"
        ),
        cwd=REPO,
    )
    with anyio.fail_after(30):
        async with Client(params) as client:
            names = await listed_names(client)
    assert names[0] == "get_quota"
    assert {"list_groups", "create_group", "delete_group"} <= set(names)
    assert not {"list_projects", "get_group", "list_project_groups"} & set(names)


# -- no import circle -------------------------------------------------------------------------------


def imported_after(statement: str) -> list[str]:
    """The package's tool modules loaded by `statement` in a fresh interpreter."""
    code = (
        f"import json, sys\n{statement}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('toggl_groups_mcp.tools'))))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=True, cwd=REPO
    )
    loaded: list[str] = json.loads(completed.stdout)
    return loaded


def test_importing_the_registry_alone_imports_no_tool_module() -> None:
    # scope declares no tool: the registry resolves organization and workspace names through it.
    loaded = imported_after("import toggl_groups_mcp.tools.registry")
    assert sorted(loaded) == [
        "toggl_groups_mcp.tools",
        "toggl_groups_mcp.tools.registry",
        "toggl_groups_mcp.tools.scope",
    ]


@pytest.mark.parametrize("module", ["groups", "access", "project_groups", "bulk", "discovery"])
def test_every_tool_module_imports_on_its_own(module: str) -> None:
    loaded = imported_after(f"import toggl_groups_mcp.tools.{module}")
    assert f"toggl_groups_mcp.tools.{module}" in loaded
    assert "toggl_groups_mcp.tools.toolsets" not in loaded


def test_every_declared_tool_belongs_to_a_toolset() -> None:
    from toggl_groups_mcp.tools.registry import TOOLS
    from toggl_groups_mcp.tools.toolsets import all_tools, toolset_of

    assert sorted(spec.name for spec in all_tools()) == sorted(spec.name for spec in TOOLS)
    assert list(dict.fromkeys(toolset_of(spec) for spec in all_tools())) == TOOLSETS


def test_the_registry_names_no_tool_module_even_inside_a_function() -> None:
    import ast

    source = (REPO / "toggl_groups_mcp" / "tools" / "registry.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported |= {node.module or alias.name for alias in node.names}
    assert not imported & {*TOOLSETS, "toolsets"}, imported
