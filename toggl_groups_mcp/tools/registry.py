"""One declaration per operation drives registration, annotations, read-only mode, docs and tests.

A tool module declares each operation with `@tool(name, title=..., safety=...)`. `register()`
turns the declarations into MCP tools: annotations follow from the safety class, read-only mode
drops everything that writes, unknown argument keys are rejected, and `TogglError` becomes a
`ToolError` with a hint, once, here.
"""

from __future__ import annotations

import enum
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.types import ToolAnnotations
from pydantic import ConfigDict, ValidationError

from ..toggl.errors import TogglError


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
    name: str, *, title: str, safety: Safety, idempotent: bool | None = None
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
            )
        )
        return fn

    return declare


def all_tools() -> list[ToolSpec]:
    # Importing the modules runs their declarations.
    from . import bulk, discovery, groups, project_groups  # noqa: F401

    # Finding ids first, then groups, project access, and bulk changes: the order a model reads.
    order = ["discovery", "groups", "project_groups", "bulk"]
    return sorted(TOOLS, key=lambda spec: order.index(spec.fn.__module__.rsplit(".", 1)[-1]))


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
            return await fn(*args, **kwargs)

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


class _Tool(Tool):
    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as error:
            cause = error.__cause__
            argument_model = self.fn_metadata.arg_model.__name__
            if (
                isinstance(cause, ValidationError)
                and not isinstance(error, UnexpectedToolError)
                and cause.title == argument_model
            ):
                raise ToolError(f"Error executing tool {self.name}: {argument_problems(cause)}") from cause
            raise


def _strict(registered: Tool) -> Tool:
    """A misspelt optional argument must fail loudly, not answer a different question."""
    base = registered.fn_metadata.arg_model
    # defer_build: the validator is built on the first call, not for all tools at start-up.
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)
    strict: type[ArgModelBase] = type(
        base.__name__, (base,), {"model_config": config, "__module__": base.__module__}
    )
    registered.fn_metadata.arg_model = strict
    # The schema the SDK already generated, saying the same thing as the strict model.
    registered.parameters = {**registered.parameters, "additionalProperties": False}
    return registered


def build_tools(*, read_only: bool) -> list[Tool]:
    """The MCP tools for every declaration (only the reads in read-only mode)."""
    return [
        _strict(
            _Tool.from_function(
                _boundary(spec),
                name=spec.name,
                title=spec.title,
                description=spec.description,
                annotations=spec.annotations(),
                structured_output=True,
            )
        )
        for spec in all_tools()
        if not (read_only and spec.safety is not Safety.READ)
    ]
