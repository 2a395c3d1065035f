"""Lean definitions and lean results: what a model reads in every conversation and every answer.

Definitions: name + description + input schema as compact JSON, held to a byte budget, with every
argument described and every constraint the server enforces still in the schema. Results: the
text block is the structured content as compact JSON, without the null fields that say nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import respx
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from tests.conftest import Connect, client_mode
from toggl_groups_mcp.tools.registry import Safety, ToolSpec, build_tools, lean_schema, model_facing_bytes

pytestmark = pytest.mark.anyio

# The issue's goal: at most 600 bytes per tool on average (descriptions that say what a tool
# returns, when to prefer it, whether it asks first and what it costs); no single tool far beyond.
MEAN_BUDGET = 600
LARGEST_ALLOWED = 1100
# An organization or workspace, by id or by name.
# An id or a name, or null (not given): one type list (issue #20).
NAME_OR_ID = ["integer", "string", "null"]


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def served_tools(connect: Connect) -> list[dict[str, Any]]:
    async with connect() as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def sizes_of(tools: list[dict[str, Any]]) -> dict[str, int]:
    return {
        t["name"]: model_facing_bytes(t["name"], t.get("description", ""), t["inputSchema"]) for t in tools
    }


def plain_union(branches: Any) -> bool:
    """A union every provider's converter keeps (issue #20): two or more typed branches, none a
    union itself, at most one of them the null branch of an optional argument."""
    return (
        isinstance(branches, list)
        and len([b for b in branches if b != {"type": "null"}]) > 1
        and all(
            isinstance(branch, dict)
            and isinstance(branch.get("type"), str)
            and not {"anyOf", "oneOf", "allOf"} & branch.keys()
            for branch in branches
        )
    )


def nullable(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return (isinstance(kind, list) and "null" in kind) or {"type": "null"} in node.get("anyOf", [])


def schema_nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in a JSON schema, with where it sits (names under `properties` are not
    keywords)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
                for name, sub in value.items():
                    yield from schema_nodes(sub, f"{path}.{key}.{name}")
            elif key not in ("default", "enum", "const", "examples", "required"):
                yield from schema_nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from schema_nodes(item, f"{path}[{index}]")


# -- the byte budget --------------------------------------------------------------------------------


async def test_the_mean_model_facing_size_per_tool_stays_within_600_bytes_and_none_is_huge(
    connect: Connect,
) -> None:
    sizes = sizes_of(await served_tools(connect))
    mean = sum(sizes.values()) / len(sizes)
    table = ", ".join(f"{name} {size}" for name, size in sorted(sizes.items(), key=lambda item: -item[1]))
    assert mean <= MEAN_BUDGET, f"mean {mean:.0f} B per tool over {len(sizes)} tools: {table}"
    oversized = {name: size for name, size in sizes.items() if size > LARGEST_ALLOWED}
    assert not oversized, f"over {LARGEST_ALLOWED} B: {oversized}"


# -- what every input schema looks like -------------------------------------------------------------


async def test_every_argument_is_described_and_no_schema_carries_titles_nulls_or_nested_unions(
    connect: Connect,
) -> None:
    problems: list[str] = []
    for tool in await served_tools(connect):
        schema = tool["inputSchema"]
        name = tool["name"]
        required = set(schema.get("required", []))
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in schema:
                problems.append(f"{name}: top-level {combinator}")
        for prop, sub in schema.get("properties", {}).items():
            # null means "not given" for every optional argument, and only for those (issue #20):
            # a strict model sends every property, null where it has nothing to say.
            if nullable(sub) is (prop in required):
                problems.append(f"{name}.{prop}: nullable {nullable(sub)}, required {prop in required}")
            if "enum" in sub:
                problems.append(f"{name}.{prop}: enum (Gemini wants strings, OpenAI strict a null)")
        for path, node in schema_nodes(schema):
            for keyword in ("title", "anyOf", "oneOf"):
                if keyword in node and not (keyword == "anyOf" and plain_union(node[keyword])):
                    problems.append(f"{name}{path}: {keyword}")
            argument = re.fullmatch(r"\.properties\.[^.]+", path)
            null_branch = re.fullmatch(r"\.properties\.[^.]+\.anyOf\[\d+\]", path)
            if (nullable(node) and not argument) or (node.get("type") == "null" and not null_branch):
                problems.append(f"{name}{path}: null inside an argument")
            if "default" in node:
                problems.append(f"{name}{path}: default")
            for prop, sub in node.get("properties", {}).items():
                if not (isinstance(sub, dict) and sub.get("description")):
                    problems.append(f"{name}{path}.{prop}: no description")
    assert not problems, "\n".join(problems)


async def test_an_optional_argument_keeps_its_type_constraints_and_description_and_takes_null(
    connect: Connect,
) -> None:
    update = {t["name"]: t for t in await served_tools(connect)}["update_group"]["inputSchema"]
    props = update["properties"]

    def rules(prop: str) -> dict[str, Any]:
        assert props[prop]["description"], prop
        return {key: value for key, value in props[prop].items() if key != "description"}

    assert rules("group_id") == {"type": "integer", "minimum": 1}
    assert rules("name") == {"type": ["string", "null"], "minLength": 1, "maxLength": 200}
    assert rules("user_ids") == {"type": ["array", "null"], "items": {"type": "integer", "minimum": 1}}
    assert rules("workspace_ids") == rules("user_ids")
    # An id, or the organization's name (resolved by the server; test_scope_names).
    assert rules("organization_id") == {"type": NAME_OR_ID}
    assert props["organization_id"]["description"] == "Id or name"
    assert rules("confirm") == {"type": ["boolean", "null"]}  # the server applies the default, false
    assert update["required"] == ["group_id"]
    assert "additionalProperties" not in update  # refused by the server, not advertised (Gemini)


async def test_output_schemas_carry_no_titles(connect: Connect) -> None:
    for tool in await served_tools(connect):
        for path, node in schema_nodes(tool["outputSchema"]):
            assert not isinstance(node.get("title"), str), f"{tool['name']}{path}: title"


async def test_null_for_an_optional_argument_is_still_accepted_as_leaving_it_out(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    route = toggl.get("/organizations/1/groups").respond(200, json=[])
    async with connect(organization_id=1) as client:
        result = await client.call_tool("list_groups", {"organization_id": None})
    assert not result.is_error, result.content
    assert route.call_count == 1


async def test_null_is_not_given_even_where_the_default_is_not_null(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    """A strict model sends every property: null for page, per_page and active must be their
    defaults (these were refused with "Input should be a valid integer"), and null for an
    either/or partner must not count as given."""
    projects = toggl.get("/workspaces/7/projects").respond(200, json=[])
    groups = toggl.get("/organizations/1/groups").respond(200, json=[])
    async with connect(organization_id=1, workspace_id=7) as client:
        listed = await client.call_tool(
            "list_projects",
            {"workspace_id": None, "name": None, "active": None, "page": None, "per_page": None},
        )
        offset = await client.call_tool(
            "list_groups",
            {"organization_id": None, "workspace_id": None, "name": None, "user_id": None, "offset": None},
        )
        either = await client.call_tool(
            "get_group", {"group_id": None, "name": "Nobody", "organization_id": None}
        )
    assert not listed.is_error and not offset.is_error, (listed.content, offset.content)
    assert dict(projects.calls.last.request.url.params) == {"active": "true", "page": "1", "per_page": "50"}
    assert groups.called
    # Asked by name with group_id null: a lookup by name (no such group), not "not both".
    assert either.is_error and "not both" not in either.content[0].text  # type: ignore[union-attr]
    assert "Nobody" in either.content[0].text  # type: ignore[union-attr]


async def test_null_for_a_required_argument_is_refused_naming_it_and_nothing_is_sent(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    async with connect(organization_id=1) as client:
        result = await client.call_tool("delete_group", {"group_id": None, "confirm": None})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "group_id" in text and "nothing was sent to Toggl" in text
    assert not toggl.calls


# -- the schema shaping itself ----------------------------------------------------------------------


def test_lean_schema_turns_an_optional_argument_into_its_type_or_null() -> None:
    schema = {
        "title": "toolArguments",
        "type": "object",
        "properties": {
            "name": {
                "anyOf": [{"type": "string", "maxLength": 9}, {"type": "null"}],
                "default": None,
                "description": "Name",
                "title": "Name",
            },
            "required_or_null": {"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "X"},
            "either": {
                "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}],
                "default": None,
                "description": "Either",
            },
        },
        "required": ["required_or_null"],
    }
    assert lean_schema(schema) == {
        "type": "object",
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": 9, "description": "Name"},
            # Without a default, null is a value the caller must be able to send.
            "required_or_null": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            # A union of distinct types merges into one type list (Gemini keeps it whole).
            "either": {"type": ["integer", "string", "null"], "description": "Either"},
        },
        "required": ["required_or_null"],
    }


def test_lean_schema_keeps_a_property_called_title_and_data_that_looks_like_keywords() -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "title": "Title", "description": "A heading"},
            "kind": {"enum": ["title", "default"], "default": "title", "title": "Kind"},
            "filter": {"type": "object", "default": {"title": "kept"}, "title": "Filter"},
        },
        "required": ["title"],
    }
    # An input schema loses its defaults (the server applies them), never its data.
    assert lean_schema(schema) == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "A heading"},
            "kind": {"enum": ["title", "default", None]},
            "filter": {"type": ["object", "null"]},
        },
        "required": ["title"],
    }
    assert lean_schema(schema, plain_optionals=False)["properties"]["filter"] == {
        "type": "object",
        "default": {"title": "kept"},
    }


def test_lean_output_schemas_drop_titles_but_keep_their_null_unions() -> None:
    schema = {
        "title": "Out",
        "type": "object",
        "properties": {
            "shown": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Shown"}
        },
    }
    assert lean_schema(schema, plain_optionals=False) == {
        "type": "object",
        "properties": {"shown": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
    }


# -- lean results, through a real client ------------------------------------------------------------


def assert_text_is_compact_structured_content(result: Any) -> str:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    [block] = result.content
    text: str = block.text
    assert text == compact(result.structured_content)
    assert "\n" not in text
    assert "null" not in text
    return text


async def test_a_list_groups_answer_is_compact_json_of_its_structured_content_without_nulls(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/organizations/1/groups").respond(
        200,
        json=[
            {
                "group_id": 7,
                "name": "Désign",
                "at": "2026-03-01T10:00:00+00:00",
                "permissions": None,
                "users": [
                    {"user_id": 11, "name": "Ada", "inactive": False, "joined": True, "avatar_url": None},
                    {"user_id": 12, "name": None, "inactive": None},
                ],
                "workspaces": [100],
            }
        ],
    )
    async with connect(organization_id=1) as client:
        result = await client.call_tool("list_groups", {})
    text = assert_text_is_compact_structured_content(result)
    assert "Désign" in text  # as written, not \u-escaped


async def test_discovery_and_project_group_answers_are_compact_json_without_nulls(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(json=[{"id": 10, "name": "Acme", "admin": None}])
    toggl.get("/me/workspaces").respond(
        json=[{"id": 100, "name": "Main", "organization_id": 10, "admin": None}]
    )
    toggl.get("/workspaces/100/project_groups").respond(
        json=[
            {"id": 901, "group_id": 7, "pid": 1, "wid": 100},
            {"id": 902, "group_id": 8, "pid": 2, "wid": 100},
        ]
    )
    toggl.get("/me/quota").respond(
        json=[{"organization_id": 10, "remaining": 29, "resets_in_secs": 3000, "total": 30}]
    )
    async with connect(organization_id=10, workspace_id=100) as client:
        for name, arguments in [
            ("list_organizations", {}),
            ("list_workspaces", {}),
            ("list_project_groups", {"project_ids": [1, 2]}),
            ("get_quota", {}),
        ]:
            assert_text_is_compact_structured_content(await client.call_tool(name, arguments))


# -- the generic rule, on a tool made for the test --------------------------------------------------


class Row(BaseModel):
    id: int
    note: str | None = None
    flag: bool | None = Field(default=None, description="Only when true")


class Answer(BaseModel):
    rows: list[Row]
    # Required, yet nullable: the schema demands the key, so it stays even as null.
    cursor: str | None
    shown: str | None = None
    by_id: dict[str, Row] = Field(default_factory=dict)
    label: str | None = Field(default=None, alias="Label")


async def answer_tool(count: Annotated[int, Field(ge=0, description="Rows to answer")] = 2) -> Answer:
    """Answer rows, for the test."""
    rows = [Row(id=i, note=None if i % 2 else "even") for i in range(count)]
    return Answer(rows=rows, cursor=None, by_id={"a": Row(id=9, flag=True)}, Label="x")


@pytest.mark.parametrize("mode", ["legacy", "modern"])
async def test_only_optional_nulls_leave_and_the_client_still_validates_the_output_schema(mode: str) -> None:
    spec = ToolSpec(name="answer", title="Answer", safety=Safety.READ, fn=answer_tool, idempotent=True)
    server: MCPServer[Any] = MCPServer("lean-test", tools=build_tools([spec], read_only=False))
    async with Client(server, mode=client_mode(mode)) as client:  # type: ignore[arg-type]
        result = await client.call_tool("answer", {"count": 3})
    assert result.structured_content == {
        "rows": [{"id": 0, "note": "even"}, {"id": 1}, {"id": 2, "note": "even"}],
        "cursor": None,
        "by_id": {"a": {"id": 9, "flag": True}},
        "Label": "x",
        "requests": 0,  # every result says what it cost in Toggl requests (none here)
    }
    [block] = result.content
    assert block.text == compact(result.structured_content)
