"""The toolsets: named groups of tool declarations, in the order a model reads them.

This is the one module that names the tool modules. Importing them runs their `@tool`
declarations; the registry never imports a tool module back, so there is no import circle.
A toolset's tools are the declarations made in its module. `--tools` / `TOGGL_MCP_TOOLS` and
read-only mode are filters over this one list.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from ..config import ConfigError
from . import access, bulk, changes, discovery, groups, project_groups, project_users, review
from .registry import TOOLS, ToolSpec

# Finding ids first, then groups, access at a glance, project access, bulk changes, direct project
# memberships (offboarding), and the access review (a grid, with an interactive view in hosts that
# have MCP Apps), then the change journal and undo (registered only when the server keeps a journal).
TOOLSETS: dict[str, ModuleType] = {
    "discovery": discovery,
    "groups": groups,
    "access": access,
    "project_groups": project_groups,
    "bulk": bulk,
    "project_users": project_users,
    "review": review,
    "changes": changes,
}


def toolset_tools(toolset: str) -> list[ToolSpec]:
    """The declarations of one toolset, in declaration order."""
    module = TOOLSETS[toolset].__name__
    return [spec for spec in TOOLS if spec.fn.__module__ == module]


def toolset_of(spec: ToolSpec) -> str:
    for toolset, module in TOOLSETS.items():
        if spec.fn.__module__ == module.__name__:
            return toolset
    raise LookupError(f"tool {spec.name} is declared outside every toolset ({spec.fn.__module__})")


def all_tools() -> list[ToolSpec]:
    """Every declaration, toolset by toolset."""
    return [spec for toolset in TOOLSETS for spec in toolset_tools(toolset)]


def select_tools(names: Sequence[str] | None, *, setting: str = "TOGGL_MCP_TOOLS") -> list[ToolSpec]:
    """The declarations that `names` (tool names and toolset names) select, in the usual order;
    every declaration when `names` is None or empty. An unknown name is a ConfigError listing the
    valid ones, on one line."""
    everything = all_tools()
    if not names:
        return everything
    tool_names = [spec.name for spec in everything]
    unknown = [name for name in names if name not in TOOLSETS and name not in tool_names]
    if unknown:
        raise ConfigError(
            f"{setting}: unknown tool or toolset {', '.join(repr(name) for name in unknown)}; "
            f"toolsets: {', '.join(TOOLSETS)}; tools: {', '.join(tool_names)}"
        )
    chosen = set(names)
    return [spec for spec in everything if spec.name in chosen or toolset_of(spec) in chosen]
