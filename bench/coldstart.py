"""Cold start, context cost and memory, from the same spawns.

Each spawn: ``sys.executable -m toggl_groups_mcp`` (ours) or ``-m bench.bare_server`` (a bare
``MCPServer`` with one trivial tool), same environment, same working directory. The clock runs
from just before the spawn until the answer to ``tools/list`` is read, after ``initialize`` and
``notifications/initialized``, over bare JSON-RPC lines (no SDK client in the way). Then, with the
server idle, its VmRSS is read from /proc. Ours and bare alternate, so drift hits both alike.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from . import wire

SETTLE = 0.3  # seconds of idleness before reading VmRSS


@dataclass
class Spawns:
    label: str
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tools_list_line: bytes = b""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rss_median_mib(self) -> float:
        return statistics.median(self.rss_kib) / 1024


@dataclass
class ColdStartResult:
    ours: Spawns
    bare: Spawns
    # Where ours took its tools/list from: the definitions file (tools built on the first call), or
    # a live build at start because the file is stale (`toggl_groups_mcp/definitions.py`).
    listed_from: str = ""

    @property
    def ratio(self) -> float:
        return self.ours.median / self.bare.median


async def _spawn_once(args: list[str], env: dict[str, str], into: Spawns) -> None:
    server = await wire.spawn_raw(args, env)
    try:
        await server.initialize()
        result, line = await server.request("tools/list")
        into.seconds.append(time.perf_counter() - server.spawned_at)
        into.tools = result["tools"]
        into.tools_list_line = line
        await anyio.sleep(SETTLE)
        rss = wire.vm_rss_kib(server.pid)
        if rss is not None:
            into.rss_kib.append(rss)
    finally:
        await server.close()


async def measure_cold_start(sandbox_thread: Any, *, spawns: int = 10) -> ColdStartResult:
    env = wire.child_env(sandbox_thread.url, sandbox_thread.token, rate_per_sec=0)
    ours, bare = Spawns("ours"), Spawns("bare")
    # One unmeasured spawn each first: the OS page cache and .pyc files warm, as on a host.
    await _spawn_once(wire.OURS_ARGS, env, Spawns("warm"))
    await _spawn_once(wire.BARE_ARGS, env, Spawns("warm"))
    for n in range(spawns):
        order = [(wire.OURS_ARGS, ours), (wire.BARE_ARGS, bare)]
        for args, into in order if n % 2 == 0 else reversed(order):
            await _spawn_once(args, env, into)
    return ColdStartResult(ours, bare, listed_from())


def listed_from() -> str:
    from toggl_groups_mcp import definitions

    if definitions.listed_tools(read_only=False, keeps_toolset=lambda _: True, build=list) is None:
        return "a build at start (tool_definitions.json is stale: `make snapshot`)"
    return "tool_definitions.json (built on the first call)"


@dataclass
class ContextCost:
    total_bytes: int
    per_tool: dict[str, int]
    wire_bytes: int  # the whole tools/list answer line as sent

    @property
    def count(self) -> int:
        return len(self.per_tool)

    @property
    def mean(self) -> float:
        return self.total_bytes / max(1, self.count)


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def context_cost(spawns: Spawns) -> ContextCost:
    """Bytes of the tools list as compact JSON (what a host puts in the model's context, before
    its own formatting), in total and per tool; ``wire_bytes`` is the JSON-RPC answer as sent."""
    per_tool = {tool["name"]: len(_compact(tool)) for tool in spawns.tools}
    return ContextCost(len(_compact(spawns.tools)), per_tool, len(spawns.tools_list_line))
