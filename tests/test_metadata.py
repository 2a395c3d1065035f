"""What a host sees in tools/list: a committed snapshot, and rules every tool must follow.

`UPDATE_SNAPSHOT=1` (what `make snapshot` sets) rewrites tests/tools_snapshot.json instead of
comparing; review the diff it makes like any other code change.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest
import respx
from mcp import Client
from mcp.types import Tool

from tests.conftest import Connect, client_mode, error_text, make_settings
from toggl_groups_mcp.server import build_server
from toggl_groups_mcp.tools.registry import Safety, ToolSpec
from toggl_groups_mcp.tools.toolsets import all_tools

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).with_name("tools_snapshot.json")

# The nine core tools, written out by hand so that a wrong declaration fails here.
CORE_SAFETY = {
    "list_groups": Safety.READ,
    "list_workspace_groups": Safety.READ,
    "create_group": Safety.WRITE,
    "update_group": Safety.DESTRUCTIVE,
    "patch_group": Safety.DESTRUCTIVE,
    "delete_group": Safety.DESTRUCTIVE,
    "list_project_groups": Safety.READ,
    "add_project_group": Safety.WRITE,
    "remove_project_group": Safety.DESTRUCTIVE,
}
HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in all_tools()}


@functools.cache
def listed(mode: str, read_only: bool = False) -> tuple[Tool, ...]:
    """The tools/list answer of a fresh server in one era, every page of it."""

    async def fetch() -> tuple[Tool, ...]:
        # With a change journal, so that every declared tool is listed.
        with tempfile.TemporaryDirectory(prefix="toggl-metadata-") as folder:
            journal = Path(folder) / "journal.jsonl"
            server = build_server(make_settings(read_only=read_only, journal_path=journal))
            tools: list[Tool] = []
            async with Client(server, mode=client_mode(mode)) as client:  # type: ignore[arg-type]
                cursor: str | None = None
                for _ in range(100):
                    page = await client.list_tools(cursor=cursor) if cursor else await client.list_tools()
                    tools += page.tools
                    cursor = page.next_cursor
                    if not cursor:
                        break
        return tuple(tools)

    return anyio.run(fetch)


def dumped(tools: tuple[Tool, ...]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def wire(mode: str) -> dict[str, dict[str, Any]]:
    """Each tool as the host receives it, by name."""
    return {d["name"]: d for d in dumped(listed(mode))}


def snapshot_text(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- the snapshot ---------------------------------------------------------------------------------


def test_tools_list_matches_the_committed_snapshot_in_both_eras() -> None:
    legacy = snapshot_text(dumped(listed("legacy")))
    modern = snapshot_text(dumped(listed("modern")))
    assert modern == legacy, "the two protocol eras list different tools"
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(legacy, encoding="utf-8")
        return
    if not SNAPSHOT.exists():
        pytest.fail(f"{SNAPSHOT.name} is missing: run `make snapshot` to create it.", pytrace=False)
    committed = SNAPSHOT.read_text(encoding="utf-8")
    if committed != legacy:
        diff = difflib.unified_diff(
            committed.splitlines(), legacy.splitlines(), "committed", "served now", lineterm="", n=2
        )
        shown = list(diff)
        more = f"\n... and {len(shown) - 80} more diff lines" if len(shown) > 80 else ""
        pytest.fail(
            f"tools/list differs from {SNAPSHOT.name}. If the change is intended, run `make snapshot` "
            "(UPDATE_SNAPSHOT=1 pytest tests/test_metadata.py) and commit the reviewed file.\n"
            + "\n".join(shown[:80])
            + more,
            pytrace=False,
        )


# -- rules for every tool -------------------------------------------------------------------------


def test_tool_names_are_unique_and_match_the_declarations(mode: str) -> None:
    names = [t.name for t in listed(mode)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert names == [spec.name for spec in all_tools()]
    assert set(CORE_SAFETY) <= set(names)


@pytest.mark.parametrize("name", list(SPECS))
def test_every_tool_spells_out_all_four_hints_a_title_and_a_description(mode: str, name: str) -> None:
    tool = wire(mode)[name]
    annotations = tool.get("annotations")
    assert annotations is not None, f"{name} has no annotations"
    for hint in HINTS:
        assert isinstance(annotations.get(hint), bool), f"{name}: {hint} is not set"
    assert tool.get("title"), f"{name} has no title"
    assert annotations.get("title") == tool["title"]
    assert tool.get("description", "").strip(), f"{name} has no description"


@pytest.mark.parametrize("name", list(SPECS))
def test_every_input_schema_is_a_strict_flat_object_with_described_properties(mode: str, name: str) -> None:
    schema = wire(mode)[name]["inputSchema"]
    assert schema.get("type") == "object"
    # Unknown keys are refused by the server (test_lean, test_fuzz), not advertised: Gemini's
    # schema converter rejects additionalProperties.
    assert "additionalProperties" not in schema, f"{name} advertises additionalProperties"
    for combinator in ("anyOf", "oneOf", "allOf"):
        assert combinator not in schema, f"{name}: top-level {combinator} (some hosts reject it)"
    undescribed = [p for p, s in schema.get("properties", {}).items() if not s.get("description")]
    assert not undescribed, f"{name}: properties without a description: {undescribed}"
    # The confirmation resolver is filled by the server, never by the model.
    assert "approval" not in schema.get("properties", {})


@pytest.mark.parametrize("name", list(SPECS))
def test_every_tool_has_an_object_output_schema(mode: str, name: str) -> None:
    output = wire(mode)[name].get("outputSchema")
    assert output is not None, f"{name} has no outputSchema"
    assert output.get("type") == "object"


@pytest.mark.parametrize("name", list(SPECS))
def test_hints_follow_the_declared_safety_class(mode: str, name: str) -> None:
    spec = SPECS[name]
    annotations = wire(mode)[name]["annotations"]
    assert annotations["readOnlyHint"] is (spec.safety is Safety.READ)
    assert annotations["destructiveHint"] is (spec.safety is Safety.DESTRUCTIVE)
    assert annotations["idempotentHint"] is spec.idempotent
    assert annotations["openWorldHint"] is True


@pytest.mark.parametrize("name", list(SPECS))
def test_destructive_tools_take_an_optional_boolean_confirm_flag(mode: str, name: str) -> None:
    tool = wire(mode)[name]
    confirm = tool["inputSchema"].get("properties", {}).get("confirm")
    if tool["annotations"]["destructiveHint"]:
        assert confirm is not None, f"{name} is destructive but has no confirm argument"
        # No default in the schema (lean): left out, it is false on the server (test_safety).
        # null (not given) is the preview, like leaving it out (issue #20: strict models send it).
        assert confirm.get("type") == ["boolean", "null"] and "default" not in confirm
        assert "confirm" not in tool["inputSchema"].get("required", [])
    elif tool["annotations"]["readOnlyHint"]:
        assert confirm is None, f"{name} only reads, yet asks for confirmation"


@pytest.mark.parametrize(("name", "safety"), list(CORE_SAFETY.items()))
def test_core_tools_are_declared_and_served_with_the_expected_safety_class(
    mode: str, name: str, safety: Safety
) -> None:
    assert SPECS[name].safety is safety
    annotations = wire(mode)[name]["annotations"]
    assert annotations["readOnlyHint"] is (safety is Safety.READ)
    assert annotations["destructiveHint"] is (safety is Safety.DESTRUCTIVE)
    assert annotations["openWorldHint"] is True


def test_list_tools_read_and_creating_tools_write_without_destroying(mode: str) -> None:
    tools = wire(mode)
    for name, tool in tools.items():
        if name.startswith(("list_", "get_")):
            assert tool["annotations"]["readOnlyHint"] is True, name
            assert tool["annotations"]["destructiveHint"] is False, name
    for name in ("create_group", "add_project_group"):
        assert tools[name]["annotations"]["readOnlyHint"] is False
        assert tools[name]["annotations"]["destructiveHint"] is False
    for name in ("delete_group", "remove_project_group", "update_group", "patch_group"):
        assert tools[name]["annotations"]["destructiveHint"] is True
        assert "confirm" in tools[name]["inputSchema"]["properties"]


# -- descriptions a model can choose by (issue #19) ------------------------------------------------

# Tools whose descriptions say what they cost in Toggl requests and, when they can lose something,
# that they ask first; the others' are held by their own tests.
COSTED = [
    "list_organizations",
    "list_workspaces",
    "get_quota",
    "list_workspace_groups",
    "create_group",
    "update_group",
    "patch_group",
    "list_project_groups",
    "add_project_group",
    "list_changes",
    "undo_change",
]
# Neighbours a description must name, so a model picks the right one of the two.
NEIGHBOURS = {
    "update_group": "patch_group",
    "patch_group": "update_group",
    "list_workspace_groups": "list_groups",
    "list_project_groups": "get_project_access",
    "add_project_group": "add_group_to_projects",
}


@pytest.mark.parametrize("name", COSTED)
def test_a_description_says_what_the_call_costs_in_toggl_requests(mode: str, name: str) -> None:
    description = wire(mode)[name]["description"]
    assert re.search(r"\b(no|[0-9]+) (toggl )?requests?\b", description, re.IGNORECASE), description


@pytest.mark.parametrize("name", [n for n in COSTED if SPECS[n].safety is not Safety.READ])
def test_a_description_says_whether_the_tool_asks_the_user_first(mode: str, name: str) -> None:
    tool = wire(mode)[name]
    description = tool["description"].lower()
    if tool["annotations"]["destructiveHint"]:
        assert "asks the user first" in description, description
    elif not tool["annotations"]["readOnlyHint"]:
        assert "does not ask" in description, description


@pytest.mark.parametrize(("name", "neighbour"), list(NEIGHBOURS.items()))
def test_a_description_names_the_neighbour_to_prefer_for_the_other_case(
    mode: str, name: str, neighbour: str
) -> None:
    assert neighbour in wire(mode)[name]["description"]


def test_confirm_says_that_a_call_without_it_only_previews_and_changes_nothing(mode: str) -> None:
    for name, tool in wire(mode).items():
        if tool["annotations"]["destructiveHint"]:
            confirm = tool["inputSchema"]["properties"]["confirm"]["description"].lower()
            assert "preview" in confirm and "no change" in confirm, (name, confirm)


# -- read-only mode -------------------------------------------------------------------------------


def test_read_only_mode_lists_exactly_the_tools_that_read(mode: str) -> None:
    tools = dumped(listed(mode, read_only=True))
    assert [t["name"] for t in tools if not t["annotations"]["readOnlyHint"]] == []
    assert [t["name"] for t in tools] == [s.name for s in all_tools() if s.safety is Safety.READ]
    assert {"list_groups", "list_workspace_groups", "list_project_groups"} <= {t["name"] for t in tools}


async def test_read_only_mode_refuses_a_write_tool_without_a_request(
    connect: Connect, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    async with connect(read_only=True, organization_id=1) as client:
        listed_names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("delete_group", {"group_id": 7, "confirm": True})
    assert "delete_group" not in listed_names
    assert "delete_group" in error_text(result)
    assert toggl.calls.call_count == 0
