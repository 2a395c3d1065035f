"""Model-facing bytes per tool: what every conversation pays for each tool's definition.

Per tool of a fresh server's ``tools/list`` answer (in-memory client): its name, description and
input schema as compact JSON (``separators=(",", ":")``, ``ensure_ascii=False``), in UTF-8 bytes,
by ``toggl_groups_mcp.tools.registry.model_facing_bytes`` (the measure the budget test holds).
Title, output schema and annotations are left out here: hosts differ in what of them they show;
the cold-start section measures the whole ``tools/list`` entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import inproc

# The previous release's figures as the issue states them (see bench/README.md on how they compare
# with a measurement of the previous release's commit).
PREVIOUS_MEAN = 1009
PREVIOUS_LARGEST = 1899
PREVIOUS_LARGEST_TOOL = "patch_group"
MEAN_TARGET = 600


def facing_bytes(name: str, description: str, input_schema: dict[str, Any]) -> int:
    try:
        from toggl_groups_mcp.tools.registry import model_facing_bytes
    except ImportError:
        facing = {"name": name, "description": description, "inputSchema": input_schema}
        return len(json.dumps(facing, separators=(",", ":"), ensure_ascii=False).encode())
    return model_facing_bytes(name, description, input_schema)


@dataclass
class ContextSizes:
    release: str
    per_tool: dict[str, int]

    @property
    def count(self) -> int:
        return len(self.per_tool)

    @property
    def total(self) -> int:
        return sum(self.per_tool.values())

    @property
    def mean(self) -> float:
        return self.total / max(1, self.count)

    @property
    def largest(self) -> tuple[str, int]:
        return max(self.per_tool.items(), key=lambda kv: kv[1])

    @property
    def smallest(self) -> tuple[str, int]:
        return min(self.per_tool.items(), key=lambda kv: kv[1])


async def measure(release: inproc.Release, sandbox_thread: Any) -> ContextSizes:
    tools: list[Any] = []
    async with inproc.connect(release, sandbox_thread) as client:
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                break
    return ContextSizes(
        release.label,
        {t.name: facing_bytes(t.name, t.description or "", t.input_schema) for t in tools},
    )
