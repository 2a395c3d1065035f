"""The tools' listing without importing or building them: start-up as light as a bare server.

Most of what this server does at start beyond a bare `MCPServer` is making its tools: importing
the tool modules (their result models) and the SDK's `Tool.from_function` for each (an argument
model, an output adapter, two JSON schemas), about 4 ms a tool. A host starting the server asks
for `tools/list`, and may never call a tool. So `tool_definitions.json` beside this module holds
what `tools.registry.build_tools` makes of every declaration (title, description, input and output
schemas, annotations, `_meta`) with its toolset, safety class and view, and a default start (every
tool, `--tools` not given) lists that. The tools themselves are imported and built, by the same
`build_tools`, on the first `tools/call`.

The file is used only while its fingerprint matches what it was made from (the tool modules and
their views, the Toggl models their results use, this module, the minor versions of the SDK and
pydantic), and
only for the views it was made with; otherwise the tools are built at start, as they always were.
`tests/test_startup.py` checks that the listing and the view resources equal a live build's in
every configuration, and rewrites the file with `UPDATE_SNAPSHOT=1`
(`python -m toggl_groups_mcp.definitions` does the same).

This module imports no tool module and not the registry, except to make the file or the tools.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import PrivateAttr

PACKAGE = Path(__file__).resolve().parent
DEFINITIONS = PACKAGE / "tool_definitions.json"
# What a tool's listing is made from: (folder, file endings). Anything else a schema used would
# show as a difference in tests/test_startup.py, which compares this listing with a live build.
SOURCES = (("tools", (".py", ".html")), (".", ("definitions.py",)), ("toggl", ("models.py",)))


def fingerprint() -> str:
    """A digest of the sources of the listing and of the minor versions of the libraries that
    generate the schemas (the SDK and pydantic). A patch release or another Python does not
    change a schema in practice, and keying on them would send most installs (uvx takes the newest
    pydantic) down the slow path; the tests hold the listing equal to a live build's."""
    import pydantic

    digest = hashlib.sha256()
    versions = tuple(".".join(found.split(".")[:2]) for found in (version("mcp"), pydantic.VERSION))
    digest.update(repr(versions).encode())
    for folder, endings in SOURCES:
        for name in sorted(name for name in os.listdir(PACKAGE / folder) if name.endswith(endings)):
            digest.update(f"{folder}/{name}".encode() + b"\0")
            with open(PACKAGE / folder / name, "rb") as file:
                digest.update(file.read())
            digest.update(b"\0")
    return digest.hexdigest()


# -- making the file ---------------------------------------------------------------------------------


def listing(tool: Tool) -> dict[str, Any]:
    """What `tools/list` says of a tool, as JSON."""
    annotations = tool.annotations.model_dump(mode="json", by_alias=True) if tool.annotations else None
    return {
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "parameters": tool.parameters,
        "output_schema": tool.output_schema,
        "annotations": annotations,
        "meta": tool.meta,
    }


def generate() -> dict[str, Any]:
    """The file's content: every declaration built live (not read-only), in the usual order."""
    from .tools.registry import build_tools
    from .tools.toolsets import all_tools, toolset_of

    specs = all_tools()
    built = {tool.name: tool for tool in build_tools(specs, read_only=False)}
    tools: dict[str, Any] = {}
    for spec in specs:
        view = None
        if spec.view is not None:
            module = sys.modules[spec.fn.__module__]
            assert module.__file__ is not None
            html = Path(module.__file__).parent / spec.view.html
            view = {
                "uri": spec.view.uri,
                "title": spec.view.title,
                "html": html.relative_to(PACKAGE).as_posix(),
            }
        tools[spec.name] = {
            "toolset": toolset_of(spec),
            "safety": spec.safety.value,
            "view": view,
            **listing(built[spec.name]),
        }
    return {"fingerprint": fingerprint(), "tools": tools}


def write(content: dict[str, Any], path: Path = DEFINITIONS) -> None:
    """One tool a line, so that a change shows in review as that tool's line."""
    lines = [
        f"{json.dumps(name)}: {json.dumps(tool, ensure_ascii=False, separators=(',', ':'))}"
        for name, tool in content["tools"].items()
    ]
    head = json.dumps({"fingerprint": content["fingerprint"]})[:-1]
    path.write_text(head + ', "tools": {\n' + ",\n".join(lines) + "\n}}\n", encoding="utf-8")


# -- using it ----------------------------------------------------------------------------------------


class LazyTool(Tool):
    """A tool listed from the definitions file; a call runs the real tool, made on first use."""

    _real: Callable[[], Tool] = PrivateAttr()

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        return await self._real().run(arguments, context, convert_result=convert_result)


class _Builder:
    """The real tools, all made at once by `build` the first time one is called: a view's result
    says whether the tools it calls are all registered, so each is made knowing the others."""

    def __init__(self, build: Callable[[], list[Tool]]) -> None:
        self._build = build
        self._tools: dict[str, Tool] | None = None

    def tool(self, name: str) -> Tool:
        if self._tools is None:
            self._tools = {tool.name: tool for tool in self._build()}
        return self._tools[name]


async def _not_built(**_: Any) -> None:  # pragma: no cover - LazyTool.run never calls fn
    raise RuntimeError("a listed tool runs through the tool it is built into")


def _lazy(entry: dict[str, Any], builder: _Builder) -> LazyTool:
    # model_construct: the listing was validated when the file was made; the argument model
    # (`fn_metadata`) exists only in the real tool.
    tool = LazyTool.model_construct(
        fn=_not_built,
        name=entry["name"],
        title=entry["title"],
        description=entry["description"],
        parameters=entry["parameters"],
        is_async=True,
        context_kwarg=None,
        resolved_params={},
        resolver_plans={},
        annotations=None if entry["annotations"] is None else ToolAnnotations(**entry["annotations"]),
        icons=None,
        meta=entry["meta"],
    )
    # Tool.output_schema is a cached property over fn_metadata: the listing's own goes in its place.
    tool.__dict__["output_schema"] = entry["output_schema"]
    name = entry["name"]
    tool._real = lambda: builder.tool(name)
    return tool


def _load() -> dict[str, Any] | None:
    try:
        loaded = json.loads(DEFINITIONS.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict) or loaded.get("fingerprint") != fingerprint():
        return None
    tools = loaded.get("tools")
    return tools if isinstance(tools, dict) else None


def listed_tools(
    *,
    read_only: bool,
    keeps_toolset: Callable[[str], bool],
    build: Callable[[], list[Tool]],
) -> tuple[list[Tool], list[tuple[str, str, str]]] | None:
    """Every tool (`--tools` not given) but the toolsets `keeps_toolset` refuses (and, read-only,
    the reads alone), with their views (uri, title, HTML), from the definitions file; `build` makes the same tools
    for real on the first call. None when the file does not hold them as they are now."""
    definitions = _load()
    if definitions is None:
        return None
    entries = [
        entry
        for entry in definitions.values()
        if keeps_toolset(entry["toolset"]) and not (read_only and entry["safety"] != "read")
    ]
    views: dict[str, dict[str, Any]] = {}
    for entry in definitions.values():
        if entry["view"] is not None:
            views.setdefault(entry["view"]["uri"], entry["view"])
    kept_views = {entry["view"]["uri"] for entry in entries if entry["view"] is not None}
    if kept_views != set(views):
        # A tool's `_meta.ui` depends on the views registered beside it: listed as made, with all.
        return None
    listed_views = [
        (view["uri"], view["title"], (PACKAGE / view["html"]).read_text(encoding="utf-8"))
        for view in views.values()
    ]
    builder = _Builder(build)
    return [_lazy(entry, builder) for entry in entries], listed_views


if __name__ == "__main__":
    write(generate())
    print(f"wrote {DEFINITIONS}", file=sys.stderr)
