"""One declaration per operation drives registration, annotations, read-only mode, docs and tests.

A tool module declares each operation with `@tool(name, title=..., safety=...)`. `build_tools()`
turns the declarations into MCP tools: annotations follow from the safety class, read-only mode
drops everything that writes, unknown argument keys are rejected, every schema is made lean, every
result is compact JSON without the fields that say nothing, and `TogglError` becomes a `ToolError`
with a hint, once, here.

This module imports no tool module (they import it): `toolsets.py` names them.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..state import app_state, deciding_state
from ..toggl.client import counting_requests
from ..toggl.errors import TogglError
from . import scope

# The MCP Apps extension: a tool that a host can show as an interactive view.
APP_CALLABLE = ("model", "app")


@dataclass(frozen=True)
class View:
    """An MCP App view that a read tool's result is shown in (`_meta.ui.resourceUri`).

    `html` is the file beside the declaring module, served at `uri`; `calls` are the tools the view
    itself may call through the host: only those are visible to apps, every other tool is marked
    `visibility: ["model"]`. Each result tells the view, in its `_meta` (which the model does not
    read), whether all of `calls` are on this server: read-only mode or `--tools` may leave them out."""

    uri: str
    html: str
    title: str
    calls: tuple[str, ...] = ()


# The key in a result's `_meta` saying whether the view's write tools are there.
CAN_APPLY = "toggl-groups/can_apply"


class Safety(enum.Enum):
    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    safety: Safety
    fn: Callable[..., Awaitable[Any]]
    idempotent: bool
    view: View | None = None

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.description.split("\n\n")[0].replace("\n", " ")

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.safety is Safety.READ,
            destructive_hint=self.safety is Safety.DESTRUCTIVE,
            idempotent_hint=self.idempotent,
            open_world_hint=True,
        )


TOOLS: list[ToolSpec] = []


def tool(
    name: str, *, title: str, safety: Safety, idempotent: bool | None = None, view: View | None = None
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Declare an operation. Reads are idempotent; writes say so explicitly."""

    def declare(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if any(t.name == name for t in TOOLS):
            raise ValueError(f"tool {name} declared twice")
        TOOLS.append(
            ToolSpec(
                name=name,
                title=title,
                safety=safety,
                fn=fn,
                idempotent=(safety is Safety.READ) if idempotent is None else idempotent,
                view=view,
            )
        )
        return fn

    return declare


def format_error(tool_name: str, error: TogglError) -> str:
    return f"{error.describe()}. {error.hint()}"


@contextmanager
def toggl_boundary(tool_name: str) -> Iterator[None]:
    """The one place a TogglError becomes what the model reads."""
    try:
        yield
    except TogglError as error:
        raise ToolError(format_error(tool_name, error)) from None


def _boundary(spec: ToolSpec) -> Callable[..., Awaitable[Any]]:
    fn = spec.fn

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        with toggl_boundary(spec.name):
            ctx = next((v for v in kwargs.values() if isinstance(v, Context)), None)
            names = app_state(ctx).names if ctx is not None else None
            if names is None or names.shared is None:
                return await fn(*args, **kwargs)
            # Processes on one token share their name book (Redis): in before, out after.
            await names.pull()
            try:
                return await fn(*args, **kwargs)
            finally:
                await names.push()

    # Resolve string annotations against the handler's own module, so the SDK sees real types.
    wrapper.__annotations__ = typing.get_type_hints(fn, include_extras=True)
    return wrapper


# Rules said the way a model can act on them, where pydantic's wording would not.
_RULES = {
    "bool_type": "must be a JSON boolean (true or false), not a string or a number",
    "extra_forbidden": "is not an argument of this tool",
}


def argument_problems(error: ValidationError) -> str:
    """Each rejected field with its rule; no input values, no pydantic documentation links."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        problems.append(f"{where}: {_RULES.get(problem['type'], problem['msg'])}")
    return f"Invalid arguments, so nothing was sent to Toggl. {'; '.join(problems)}."


# -- lean schemas: what the model reads in every conversation ---------------------------------------

# Keywords whose value maps names to schemas: the names are data, never keywords to drop.
_NAMED_SCHEMAS = frozenset({"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"})
# Keywords whose value is data (or a list of names), not a schema.
_DATA = frozenset({"default", "enum", "const", "examples", "required"})
_NULL = {"type": "null"}


def lean_schema(schema: dict[str, Any], *, plain_optionals: bool = True) -> dict[str, Any]:
    """The schema a model needs, from what pydantic generates: no `title` anywhere (it repeats the
    name), no `default` (the server applies it), and an optional argument (one with a default) as
    its type made nullable: `anyOf: [X, null]` or a plain X becomes X with `type: [t, "null"]`,
    the property's own description and constraints. `null` means "not given" on the server
    (`_NullMeansNotGiven`), so a strict model that must send every property sends null for what
    it leaves out, and leaving an argument out and sending null agree.

    Output schemas keep their null unions (`plain_optionals=False`): a result may carry a null."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        lean: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in _DATA:
                lean[key] = value
            elif key in _NAMED_SCHEMAS and isinstance(value, dict):
                lean[key] = {name: walk(sub) for name, sub in value.items()}
            else:
                lean[key] = walk(value)
        if plain_optionals and "default" in lean:
            # An argument left out takes its default on the server; what the default means, where
            # it matters, the description says.
            del lean["default"]
            lean = _nullable(_without_null_branch(lean))
        return lean

    walked: dict[str, Any] = walk(schema)
    return walked


def _without_null_branch(node: dict[str, Any]) -> dict[str, Any]:
    branches = node.get("anyOf")
    if not isinstance(branches, list) or _NULL not in branches:
        return node
    rest = [branch for branch in branches if branch != _NULL]
    own = {key: value for key, value in node.items() if key != "anyOf"}
    if len(rest) == 1 and isinstance(rest[0], dict):
        # The property's own keys (description, its constraints) win over the branch's.
        return {**rest[0], **own}
    return {**own, "anyOf": rest}


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """An optional argument that takes `null`, written the way every provider's converter keeps:
    `type: [t, "null"]` for one type (Gemini keeps the description, OpenAI strict the null), a
    null branch for a union. An `enum` goes: Gemini wants string members only and OpenAI strict
    wants null among them; the server still refuses other values, and the description names
    them."""
    kind = node.get("type")
    if isinstance(kind, str):
        lean = {key: value for key, value in node.items() if key != "enum"}
        return {**lean, "type": [kind, "null"]}
    branches = node.get("anyOf")
    if isinstance(branches, list):
        merged = _one_type_list(branches)
        if merged is not None:
            own = {key: value for key, value in node.items() if key != "anyOf"}
            return {**merged, **own, "type": [*merged["type"], "null"]}
        return {**node, "anyOf": [*branches, _NULL]}
    if isinstance(node.get("enum"), list):
        return {**node, "enum": [*node["enum"], None]}
    return node


def _one_type_list(branches: list[Any]) -> dict[str, Any] | None:
    """Branches of distinct types whose keywords do not clash, as one node with a type list
    (`items` binds only arrays, `minLength` only strings): Gemini's converter gives a null
    branch of a union no type, but keeps a type list whole. None when they cannot merge."""
    merged: dict[str, Any] = {"type": []}
    for branch in branches:
        if not (isinstance(branch, dict) and isinstance(branch.get("type"), str)):
            return None
        if branch["type"] in merged["type"]:
            return None
        for key, value in branch.items():
            if key == "type":
                continue
            if key in merged and merged[key] != value:
                return None
            merged[key] = value
        merged["type"].append(branch["type"])
    return merged


def model_facing_bytes(name: str, description: str, input_schema: dict[str, Any]) -> int:
    """What one tool costs in every conversation: its name, description and input schema as
    compact JSON, in UTF-8 bytes (docs/tools.md's and the budget test's measure)."""
    facing = {"name": name, "description": description, "inputSchema": input_schema}
    return len(compact_json(facing).encode())


# -- lean results ------------------------------------------------------------------------------------


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _without_empty_fields(value: Any, dumped: Any) -> Any:
    """`dumped` (the JSON dump of `value`) without the null fields the model lets go unset: a null
    that only says "unknown" costs tokens and tells nothing. A required field stays, even as null,
    so the output schema still holds."""
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        fields = type(value).model_fields
        name_of = {(f.serialization_alias or f.alias or name): name for name, f in fields.items()}
        kept: dict[str, Any] = {}
        for key, item in dumped.items():
            name = name_of.get(key)
            if name is None:
                kept[key] = item
            elif item is None and not fields[name].is_required():
                continue
            else:
                kept[key] = _without_empty_fields(getattr(value, name, None), item)
        return kept
    if isinstance(value, list | tuple) and isinstance(dumped, list) and len(value) == len(dumped):
        return [_without_empty_fields(v, d) for v, d in zip(value, dumped, strict=True)]
    if isinstance(value, dict) and isinstance(dumped, dict):
        return {key: _without_empty_fields(value.get(key), item) for key, item in dumped.items()}
    return dumped


# The field of every result that says how many Toggl requests the call made (retries included;
# answers from a cache cost none), so a model can budget against the hourly quota.
REQUESTS = "requests"
REQUESTS_SCHEMA = {"type": "integer", "minimum": 0, "description": "Toggl requests this call made"}


def _requests_note(count: int) -> str:
    return f"\nToggl requests this call made: {count}."


class _Tool(Tool):
    # Set by build_tools for a tool with a view: the result `_meta` the view reads.
    result_meta: dict[str, Any] | None = None
    # Set by build_tools: a call that may change Toggl resolves names as a deciding call does.
    changes_toggl: bool = False

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        with counting_requests() as count:
            try:
                arguments = await self._with_scope_ids(arguments, context)
                result = await super().run(arguments, context, convert_result=False)
            except ToolError as error:
                cause = error.__cause__
                argument_model = self.fn_metadata.arg_model.__name__
                if (
                    isinstance(cause, ValidationError)
                    and not isinstance(error, UnexpectedToolError)
                    and cause.title == argument_model
                ):
                    raise ToolError(
                        f"Error executing tool {self.name}: {argument_problems(cause)}"
                    ) from cause
                if count.sent and not isinstance(error, UnexpectedToolError):
                    raise ToolError(f"{error}{_requests_note(count.sent)}") from error.__cause__
                raise
            if not convert_result:
                return result
            try:
                return self._lean_result(result, count.sent)
            except MCPError:
                raise
            except Exception as exc:
                # What the SDK does when a result does not convert: a crash, its text kept here.
                raise UnexpectedToolError(f"Error executing tool {self.name}") from exc

    async def _with_scope_ids(self, arguments: dict[str, Any], context: Any) -> dict[str, Any]:
        """An organization or workspace named instead of numbered becomes its id here, once, so
        the tool and its confirmation preview see ids only (scope.named_scope)."""
        if not any(isinstance(arguments.get(field), str) for field in scope.NAMEABLE):
            return arguments
        fields = self.fn_metadata.arg_model.model_fields
        if not any(field in fields for field in scope.NAMEABLE) or not isinstance(context, Context):
            return arguments
        try:
            with toggl_boundary(self.name):
                state = deciding_state(context) if self.changes_toggl else app_state(context)
                return await scope.named_scope(
                    state, arguments, takes_organization="organization_id" in fields
                )
        except ToolError as error:
            raise ToolError(f"Error executing tool {self.name}: {error}") from None

    def _lean_result(self, result: Any, requests: int = 0) -> Any:
        """The SDK's conversion (output validation included), then the structured content without
        empty fields and with the call's Toggl request count, and as the text exactly that content
        as compact JSON (the SDK would indent it, doubling its size)."""
        converted = self.fn_metadata.convert_result(result)
        if (
            isinstance(result, CallToolResult)
            or not isinstance(converted, CallToolResult)
            or converted.structured_content is None
        ):
            return converted
        wrapped = {"result": result} if self.fn_metadata.wrap_output else result
        structured = _without_empty_fields(wrapped, converted.structured_content)
        if isinstance(structured, dict):
            structured[REQUESTS] = requests
        return CallToolResult(
            content=[TextContent(type="text", text=compact_json(structured))],
            structured_content=structured,
            _meta=self.result_meta,
        )


class _NullMeansNotGiven(ArgModelBase):
    """`null` for an optional argument is the argument left out, whatever its default: a model
    in OpenAI's strict mode sends every property, null for those it does not use. A required
    argument sent as null is still refused, naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        optional = {
            field.alias or name for name, field in cls.model_fields.items() if not field.is_required()
        }
        return {key: value for key, value in data.items() if not (value is None and key in optional)}


def _strict(registered: Tool) -> Tool:
    """A misspelt optional argument must fail loudly, not answer a different question."""
    base = registered.fn_metadata.arg_model
    # defer_build: the validator is built on the first call, not for all tools at start-up.
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)
    strict: type[ArgModelBase] = type(
        base.__name__, (_NullMeansNotGiven, base), {"model_config": config, "__module__": base.__module__}
    )
    registered.fn_metadata.arg_model = strict
    # The schema the SDK already generated. Unknown keys are refused by the strict model, not
    # advertised as `additionalProperties: false`: Gemini's converter rejects that keyword (and
    # OpenAI's strict mode adds it itself), and every definition is read in every conversation.
    registered.parameters = _names_or_ids(lean_schema(registered.parameters))
    output = registered.fn_metadata.output_schema
    if output is not None:
        lean = lean_schema(output, plain_optionals=False)
        lean["properties"] = {**lean.get("properties", {}), REQUESTS: REQUESTS_SCHEMA}
        lean["required"] = [*lean.get("required", []), REQUESTS]
        registered.fn_metadata.output_schema = lean
    return registered


def _names_or_ids(schema: dict[str, Any]) -> dict[str, Any]:
    """`organization_id` and `workspace_id` take a name too (`_Tool._with_scope_ids` turns it into
    the id): advertised as the simplest union every provider's converter keeps, an integer or a
    string (or null: not given), with the property's description saying so."""
    properties = schema.get("properties", {})
    for field in scope.NAMEABLE:
        prop = properties.get(field)
        if not (isinstance(prop, dict) and prop.get("type") in ("integer", ["integer", "null"])):
            continue
        optional = prop["type"] != "integer"
        # The property's name says what it names; a description that only repeats it goes.
        own = prop.get("description")
        plain = own is None or own.casefold() == scope.NAMEABLE[field]
        described = "Id or name" if plain else f"{own} (id or name)"
        # One type list, not anyOf: Gemini then keeps the description on each branch, and it is
        # a third the size. An id below 1 is refused by the server, not advertised.
        kinds = ["integer", "string", *(["null"] if optional else [])]
        properties[field] = {"type": kinds, "description": described}
    return schema


def _ui_meta(spec: ToolSpec, views: list[View]) -> dict[str, Any] | None:
    """`_meta.ui` for MCP Apps hosts: a view tool names its resource; when the server has views,
    a tool no view calls is for the model only (hosts must refuse an app's call to it)."""
    if spec.view is not None:
        return {"ui": {"resourceUri": spec.view.uri, "visibility": list(APP_CALLABLE)}}
    if not views:
        return None
    if any(spec.name in view.calls for view in views):
        return {"ui": {"visibility": list(APP_CALLABLE)}}
    return {"ui": {"visibility": ["model"]}}


def build_tools(specs: Iterable[ToolSpec], *, read_only: bool) -> list[Tool]:
    """The MCP tools for these declarations (only the reads in read-only mode)."""
    kept = [spec for spec in specs if not (read_only and spec.safety is not Safety.READ)]
    views = [spec.view for spec in kept if spec.view is not None]
    names = {spec.name for spec in kept}
    tools: list[Tool] = []
    for spec in kept:
        built = _Tool.from_function(
            _boundary(spec),
            name=spec.name,
            title=spec.title,
            description=spec.description,
            annotations=spec.annotations(),
            meta=_ui_meta(spec, views),
            structured_output=True,
        )
        assert isinstance(built, _Tool)
        built.changes_toggl = spec.safety is not Safety.READ
        if spec.view is not None:
            built.result_meta = {CAN_APPLY: all(call in names for call in spec.view.calls)}
        tools.append(_strict(built))
    return tools


def views_of(specs: Iterable[ToolSpec]) -> list[tuple[View, str]]:
    """Each view of these declarations with its HTML, read from beside the declaring module."""
    found: dict[str, tuple[View, str]] = {}
    for spec in specs:
        if spec.view is not None and spec.view.uri not in found:
            module = inspect.getmodule(spec.fn)
            assert module is not None and module.__file__ is not None
            found[spec.view.uri] = (spec.view, _package_text(Path(module.__file__).parent / spec.view.html))
    return list(found.values())


@functools.cache
def _package_text(path: Path) -> str:
    """A file shipped in the package, read once per process."""
    return path.read_text(encoding="utf-8")
