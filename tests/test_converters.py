"""Every tool's definition through the converters model providers apply to MCP tools (issue #20).

A host hands each tool to the model through its provider's converter, and a definition one of them
refuses or bends is a tool that model cannot use:

- Gemini (google-genai): `McpToGenAiToolAdapter`, what `generate_content` uses when an MCP
  `ClientSession` is among `config.tools`, on `mcp_to_gemini_tools`. A boolean
  `additionalProperties` crashes it; camelCase constraints (minLength, maxItems, ...) it drops.
- OpenAI strict function schemas: the Agents SDK's `MCPUtil.to_function_tool(...,
  convert_schemas_to_strict=True)`, which falls back to a non-strict schema, saying so only at INFO,
  when the strict conversion fails; LangChain's `convert_to_openai_tool(tool, strict=True)`. In
  strict mode every property is required, so each optional one must stay nullable: the model then
  sends null for what it leaves out, and the server takes null as "not given".
- pydantic-ai: `OpenAIJsonSchemaTransformer(strict=True)` and `GoogleJsonSchemaTransformer`.

And each tool as the Agents SDK converted it takes a strict-shaped call against the demo sandbox
(tests/test_strict_calls.py makes the same calls through a plain MCP client, in both eras).

The one exception: a tool without arguments. OpenAI strict wants `additionalProperties: false` on
its empty object, and google-genai crashes on exactly that; the Agents SDK falls back to
non-strict for it, which works (a model has nothing to send).

LangChain: langchain-mcp-adapters (0.3.x) imports `mcp.server.fastmcp`, gone in the mcp 2 SDK
this project runs on, so its `load_mcp_tools` cannot run here; its conversion is one line, a
`StructuredTool` whose `args_schema` is the tool's `inputSchema`, which these tests build the same
way from the served definition.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import jsonschema
import pytest
from agents import FunctionTool
from agents.exceptions import UserError
from agents.logger import logger as agents_logger
from agents.mcp import MCPUtil
from agents.mcp.server import _MCPServerWithClientSession
from agents.strict_schema import ensure_strict_json_schema
from agents.tool_context import ToolContext
from google.genai import _mcp_utils
from google.genai import types as genai
from google.genai._adapters import McpToGenAiToolAdapter
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import Tool
from pydantic import SecretStr
from pydantic_ai.profiles.google import GoogleJsonSchemaTransformer
from pydantic_ai.profiles.openai import OpenAIJsonSchemaTransformer

from tests.conftest import make_settings
from tests.test_metadata import listed
from tests.test_strict_calls import EXAMPLES, PREVIEW, TRANSPORT, server_for
from toggl_groups_mcp.sandbox import SandboxThread, demo
from toggl_groups_mcp.server import build_server

# Keywords every converter here keeps or, at worst, drops without changing what the model may send
# (google-genai drops the camelCase ones; the server still enforces them).
KEPT_KEYWORDS = {
    "type",
    "properties",
    "required",
    "description",
    "items",
    "anyOf",
    "minimum",
    "maximum",
    "enum",
}
GEMINI_DROPS = {"minLength", "maxLength", "minItems", "maxItems"}
# google-genai's schema has these snake_case; from MCP it takes only the snake_case spelling.
GEMINI_FIELD = {"minimum": "minimum", "maximum": "maximum"}


class Converted(NamedTuple):
    gemini: dict[str, genai.FunctionDeclaration | Exception]  # by tool, or what it raised
    gemini_adapter_error: Exception | None  # what the session adapter raised, for all tools at once
    agents: dict[str, FunctionTool]
    agents_fallbacks: list[str]  # the Agents SDK's INFO lines on falling back to non-strict


class _InProcess(_MCPServerWithClientSession):
    """The Agents SDK's own MCP server class (the one behind MCPServerStdio and
    MCPServerStreamableHttp), on the server in process: mcp's Client takes an MCPServer as its
    transport."""

    def __init__(self, server: MCPServer[Any], *, structured: bool = False) -> None:
        super().__init__(
            cache_tools_list=True, client_session_timeout_seconds=None, use_structured_content=structured
        )
        self.server = server

    def create_streams(self) -> Any:
        return self.server

    @property
    def name(self) -> str:
        return "toggl-groups"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@functools.cache
def converted() -> Converted:
    """Each served tool (journal tools included) as each converter makes it, once per module."""

    async def convert(server: MCPServer[Any]) -> Converted:
        async with Client(server, mode="legacy") as client:
            listing = await client.session.list_tools()
            assert not listing.next_cursor, "the tools come in several pages: list them all here"
            gemini: dict[str, genai.FunctionDeclaration | Exception] = {}
            adapter_error: Exception | None = None
            try:
                for converted_tool in McpToGenAiToolAdapter(client.session, listing).tools:
                    for declaration in converted_tool.function_declarations or []:
                        gemini[declaration.name or ""] = declaration
            except Exception as error:  # one tool it cannot convert fails them all: find which
                adapter_error = error
                for tool in listing.tools:
                    try:
                        declarations = _mcp_utils.mcp_to_gemini_tool(tool).function_declarations or []
                        gemini[tool.name] = declarations[0]
                    except Exception as failure:
                        gemini[tool.name] = failure
        handler = _Lines()
        agents_logger.addHandler(handler)
        saved_level = agents_logger.level
        agents_logger.setLevel(logging.INFO)
        try:
            async with _InProcess(server) as agent_server:
                listed = await agent_server.list_tools()
                agents = {
                    tool.name: MCPUtil.to_function_tool(tool, agent_server, convert_schemas_to_strict=True)
                    for tool in listed
                }
        finally:
            agents_logger.removeHandler(handler)
            agents_logger.setLevel(saved_level)
        fallbacks = [line for line in handler.lines if "strict mode" in line]
        return Converted(gemini, adapter_error, agents, fallbacks)

    with tempfile.TemporaryDirectory(prefix="toggl-converters-") as folder:
        server = build_server(make_settings(journal_path=Path(folder) / "journal.jsonl"))
        return anyio.run(convert, server)


# The tools/list answer (journal tools included), read once for the run (tests/test_metadata.py).
TOOLS: dict[str, Tool] = {tool.name: tool for tool in listed("legacy")}
NAMES = list(TOOLS)
ARGUMENTS = [name for name in NAMES if TOOLS[name].input_schema.get("properties")]
NO_ARGUMENTS = [name for name in NAMES if name not in ARGUMENTS]


def schema_of(name: str) -> dict[str, Any]:
    """The tool's input schema as served, a copy a converter may change."""
    return copy.deepcopy(TOOLS[name].input_schema)


def optional(name: str) -> set[str]:
    schema = TOOLS[name].input_schema
    return set(schema.get("properties", {})) - set(schema.get("required", []))


def nullable(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return (isinstance(kind, list) and "null" in kind) or any(
        branch.get("type") == "null" for branch in node.get("anyOf", [])
    )


def types_of(node: dict[str, Any]) -> set[str]:
    """The JSON types a schema node allows, null left out."""
    kind = node.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind or [])
    for branch in node.get("anyOf", []):
        kinds |= types_of(branch)
    return kinds - {"null"}


def nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in a schema, with where it sits (property names are not keywords)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    yield from nodes(sub, f"{path}.{prop}")
            elif key in ("items", "additionalProperties"):
                yield from nodes(value, f"{path}[]" if key == "items" else f"{path}.{key}")
            elif key == "anyOf" and isinstance(value, list):
                for index, sub in enumerate(value):
                    yield from nodes(sub, f"{path}|{index}")


def assert_strict_keeps_every_optional_nullable(name: str, parameters: dict[str, Any]) -> None:
    """OpenAI strict: every property required, no other property allowed, and what the tool takes
    as optional still takes null, so a strict model can leave it out."""
    served = TOOLS[name].input_schema["properties"]
    properties = parameters["properties"]
    assert set(properties) == set(served), name
    assert parameters.get("additionalProperties") is False, name
    assert sorted(parameters.get("required", [])) == sorted(served), name
    lost = sorted(prop for prop in optional(name) if not nullable(properties[prop]))
    assert not lost, f"{name}: optional but not nullable after the strict conversion: {lost}"
    forced = sorted(prop for prop in set(served) - optional(name) if nullable(properties[prop]))
    assert not forced, f"{name}: required but nullable after the strict conversion: {forced}"
    for prop, node in properties.items():
        assert node.get("description"), f"{name}.{prop} lost its description"
        assert types_of(node) == types_of(served[prop]), f"{name}.{prop}: {node}"


# -- the definitions as served -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_served_input_schema_uses_only_what_every_converter_keeps(name: str) -> None:
    schema = TOOLS[name].input_schema
    assert schema.get("type") == "object" and not {"anyOf", "oneOf", "allOf"} & schema.keys(), name
    for path, node in nodes(schema):
        assert "additionalProperties" not in node, f"{name}{path}: additionalProperties crashes google-genai"
        unknown = set(node) - KEPT_KEYWORDS - GEMINI_DROPS
        assert not unknown, f"{name}{path}: {sorted(unknown)} (a converter refuses or silently drops it)"
        for branch in node.get("anyOf", []):
            assert isinstance(branch.get("type"), str), f"{name}{path}: an untyped anyOf branch {branch}"
        if isinstance(node.get("type"), list):
            assert set(node["type"]) <= {"integer", "number", "string", "boolean", "array", "null"}, path


@pytest.mark.parametrize("name", NAMES)
def test_every_argument_is_described_and_every_optional_one_is_nullable(name: str) -> None:
    schema = TOOLS[name].input_schema
    properties = schema.get("properties", {})
    for prop, node in properties.items():
        assert node.get("description"), f"{name}.{prop} has no description"
        assert nullable(node) == (prop in optional(name)), (
            f"{name}.{prop}: nullable must mean optional ({'optional' if prop in optional(name) else 'required'}, "
            f"type {node.get('type') or node.get('anyOf')})"
        )


# -- Gemini --------------------------------------------------------------------------------------


def gemini_types(schema: genai.Schema) -> set[str]:
    kinds = {schema.type.value.lower()} if schema.type else set()
    for branch in schema.any_of or []:
        kinds |= gemini_types(branch)
    return kinds - {"null"}


def gemini_nullable(schema: genai.Schema) -> bool:
    return bool(schema.nullable) or any(gemini_nullable(branch) for branch in schema.any_of or [])


def gemini_described(schema: genai.Schema) -> bool:
    typed = [branch for branch in schema.any_of or [] if branch.type]
    return bool(schema.description) or (bool(typed) and all(branch.description for branch in typed))


def gemini_declaration(name: str) -> genai.FunctionDeclaration:
    declaration = converted().gemini.get(name)
    assert not isinstance(declaration, Exception), f"google-genai cannot convert {name}: {declaration!r}"
    assert declaration is not None, f"google-genai's adapter lost {name}"
    return declaration


def test_gemini_converts_every_tool_through_its_mcp_session_adapter() -> None:
    assert converted().gemini_adapter_error is None, repr(converted().gemini_adapter_error)
    assert sorted(converted().gemini) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_gemini_keeps_every_argument_its_description_type_nullability_and_bounds(name: str) -> None:
    declaration = gemini_declaration(name)
    served = TOOLS[name].input_schema
    assert declaration.description == TOOLS[name].description
    parameters = declaration.parameters
    assert parameters is not None and parameters.type == genai.Type.OBJECT
    properties = parameters.properties or {}
    assert set(properties) == set(served.get("properties", {})), name
    assert sorted(parameters.required or []) == sorted(served.get("required", [])), name
    for prop, node in served.get("properties", {}).items():
        kept = properties[prop]
        where = f"{name}.{prop}"
        assert gemini_described(kept), f"{where} lost its description: {kept}"
        assert gemini_types(kept) == types_of(node), f"{where}: {kept}"
        assert gemini_nullable(kept) == nullable(node), f"{where}: nullable {gemini_nullable(kept)}"
        for keyword, field in GEMINI_FIELD.items():
            if keyword in node:
                assert getattr(kept, field) == node[keyword], f"{where} lost {keyword}"
        if "items" in node:
            # A type list becomes any_of: the array branch carries the items.
            arrays = [kept, *(kept.any_of or [])]
            items = next((branch.items for branch in arrays if branch.items is not None), None)
            assert items is not None and gemini_types(items) == types_of(node["items"]), where


def gemini_dropped() -> list[str]:
    """Where google-genai drops a constraint the served schema states: tool.property keyword."""
    return sorted(
        f"{name}{path} {keyword}"
        for name in NAMES
        for path, node in nodes(TOOLS[name].input_schema)
        for keyword in GEMINI_DROPS & node.keys()
    )


def test_gemini_drops_only_length_and_count_constraints_which_the_server_enforces() -> None:
    """What Gemini does not see is listed by `gemini_dropped()`: descriptions that must say such a
    bound say it; the server refuses a value outside it, naming the field."""
    dropped = gemini_dropped()
    assert all(line.rsplit(" ", 1)[1] in GEMINI_DROPS for line in dropped)
    for name in NAMES:
        declaration = gemini_declaration(name).parameters
        assert declaration is not None
        for prop in (declaration.properties or {}).values():
            assert prop.min_length is None and prop.max_items is None, "google-genai now keeps camelCase"


# -- OpenAI strict: the Agents SDK ----------------------------------------------------------------


@pytest.mark.parametrize("name", ARGUMENTS)
def test_the_agents_sdk_converts_every_tool_with_arguments_to_strict_without_falling_back(name: str) -> None:
    tool = converted().agents[name]
    assert tool.strict_json_schema is True, f"{name}: the Agents SDK fell back to non-strict"
    assert_strict_keeps_every_optional_nullable(name, tool.params_json_schema)
    assert tool.description == TOOLS[name].description


@pytest.mark.parametrize("name", NO_ARGUMENTS)
def test_a_tool_without_arguments_is_the_one_the_agents_sdk_takes_non_strict(name: str) -> None:
    """What OpenAI strict wants for it (additionalProperties: false on an empty object) is what
    google-genai crashes on: the Agents SDK falls back to the schema as served, and it works."""
    tool = converted().agents[name]
    assert tool.strict_json_schema is False
    assert tool.params_json_schema == {"type": "object", "properties": {}}
    with pytest.raises(UserError):
        ensure_strict_json_schema(schema_of(name), _reject_open_objects=True)
    with pytest.raises(AttributeError):
        _mcp_utils._filter_to_supported_schema({**schema_of(name), "additionalProperties": False})


def test_the_agents_sdk_falls_back_only_for_the_tools_without_arguments() -> None:
    assert NO_ARGUMENTS == ["list_organizations"]
    assert len(converted().agents_fallbacks) == len(NO_ARGUMENTS), converted().agents_fallbacks
    assert sorted(n for n, t in converted().agents.items() if not t.strict_json_schema) == NO_ARGUMENTS


# -- OpenAI strict: LangChain ---------------------------------------------------------------------


def langchain_tool(name: str) -> StructuredTool:
    """The tool as langchain-mcp-adapters' convert_mcp_tool_to_langchain_tool makes it."""

    async def call(**arguments: Any) -> Any:
        raise AssertionError("not called here")

    return StructuredTool(
        name=name,
        description=TOOLS[name].description or "",
        args_schema=schema_of(name),
        coroutine=call,
        response_format="content_and_artifact",
    )


@pytest.mark.parametrize("name", NAMES)
def test_langchain_strict_conversion_keeps_every_optional_nullable(name: str) -> None:
    function = convert_to_openai_tool(langchain_tool(name), strict=True)["function"]
    assert function["strict"] is True and function["name"] == name
    assert function["description"] == TOOLS[name].description
    assert_strict_keeps_every_optional_nullable(name, function["parameters"])


# -- pydantic-ai ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_pydantic_ai_openai_strict_transform_is_strict_compatible_and_keeps_nullability(name: str) -> None:
    transformer = OpenAIJsonSchemaTransformer(schema_of(name), strict=True)
    parameters = transformer.walk()
    assert transformer.is_strict_compatible, f"{name}: pydantic-ai would send it non-strict"
    assert_strict_keeps_every_optional_nullable(name, parameters)


@pytest.mark.parametrize("name", NAMES)
def test_pydantic_ai_google_transform_keeps_every_argument_and_nullability(name: str) -> None:
    parameters = GoogleJsonSchemaTransformer(schema_of(name)).walk()
    served = TOOLS[name].input_schema.get("properties", {})
    properties = parameters.get("properties", {})
    assert set(properties) == set(served), name
    assert sorted(parameters.get("required", [])) == sorted(TOOLS[name].input_schema.get("required", []))
    for prop, node in properties.items():
        assert node.get("description"), f"{name}.{prop} lost its description"
        assert nullable(node) == (prop in optional(name)), f"{name}.{prop}: {node}"
        assert types_of(node) == types_of(served[prop]), f"{name}.{prop}: {node}"


# -- strict-shaped calls through what the Agents SDK made ---------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxThread, Path]]:
    """The demo sandbox over loopback for this module (reset for each test), and a change journal."""
    with SandboxThread() as served:
        yield served, tmp_path_factory.mktemp("converters") / "journal.jsonl"


async def invoke(tool: FunctionTool, values: dict[str, Any]) -> str:
    """Call a converted tool as the Agents SDK does when the model calls it: every property of its
    (strict) schema in the JSON, null unless given."""
    arguments = json.dumps({prop: values.get(prop) for prop in tool.params_json_schema["properties"]})
    context = ToolContext(context=None, tool_name=tool.name, tool_call_id="call-1", tool_arguments=arguments)
    output = await tool.on_invoke_tool(context, arguments)
    return str(output["text"] if isinstance(output, dict) else output)


@pytest.mark.anyio
@pytest.mark.parametrize("name", NAMES)
async def test_every_tool_as_the_agents_sdk_converted_it_takes_a_strict_shaped_call(
    name: str, sandbox: tuple[SandboxThread, Path]
) -> None:
    """The model's JSON for the strict schema (every property, null where unused) goes through the
    FunctionTool the Agents SDK made: a result valid against the output schema, or for a
    destructive call without confirm: true, the preview."""
    served, journal = sandbox
    served.sandbox.reset()
    settings = make_settings(
        api_token=SecretStr(served.token),
        api_url=served.url,
        journal_path=journal,
        organization_id=demo.ORG_ACME,
        workspace_id=demo.WS_ACME_ENGINEERING,
    )
    example = EXAMPLES[name]
    values = dict(example.values)
    async with TRANSPORT.pool(), _InProcess(server_for(settings), structured=True) as agent_server:
        tools = {
            tool.name: MCPUtil.to_function_tool(tool, agent_server, convert_schemas_to_strict=True)
            for tool in await agent_server.list_tools()
        }
        if name == "undo_change":
            values["change_id"] = json.loads(await invoke(tools["create_group"], {"name": "To undo"}))[
                "change_id"
            ]
        before = served.sandbox.store.snapshot()
        output = await invoke(tools[name], values)
    if example.expect == "preview":
        assert PREVIEW in output, output
        assert served.sandbox.store.snapshot() == before
    else:
        assert not output.startswith("Error executing tool"), output
        schema = TOOLS[name].output_schema
        assert schema is not None, name
        jsonschema.Draft202012Validator(schema).validate(json.loads(output))
