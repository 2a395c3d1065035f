"""Overhead per tool call: ``list_groups`` through our stdio server against the sandbox, the same
HTTP request made directly with a keep-alive ``httpx.AsyncClient``, and a trivial tool on a bare
``MCPServer`` over stdio, all measured in one run with their calls interleaved in rounds, so drift
on the machine hits all of them alike.

A control runs beside them: a bare ``MCPServer`` whose one tool makes the same GET with plain
httpx and returns the body (``bench/bare_http_server.py``): the SDK plus the HTTP request, made
from inside a stdio server process, with none of our layer. ``(ours - control) / bare`` is what our
layer alone adds; ``(control - direct_http) / bare`` is what the brief's formula charges a server
that has no layer at all (the cost of making the request from another process).

Both stdio servers are driven twice: by the SDK's ``Client`` (handshake era 2025-11-25, what a
Python host does) and by a bare JSON-RPC line client (no client-side validation: closer to the
servers' own cost). The target uses the SDK client figures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import wire

Call = Callable[[], Awaitable[None]]


@dataclass
class Latencies:
    label: str = ""
    samples: list[float] = field(default_factory=list)  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class OverheadResult:
    ours: Latencies
    direct_http: Latencies
    bare: Latencies
    control: Latencies
    ours_raw: Latencies
    bare_raw: Latencies
    control_raw: Latencies

    @property
    def ratio(self) -> float:
        """What our layer costs per call, in bare SDK calls: (ours - direct HTTP) / bare."""
        return (self.ours.median - self.direct_http.median) / self.bare.median

    @property
    def ratio_control(self) -> float:
        """The same formula for the control, a server with no layer: the floor of ``ratio`` here."""
        return (self.control.median - self.direct_http.median) / self.bare.median

    @property
    def layer_only(self) -> float:
        """What our layer adds beyond a bare server making the same request, in bare calls."""
        return (self.ours.median - self.control.median) / self.bare.median

    @property
    def ratio_raw(self) -> float:
        return (self.ours_raw.median - self.direct_http.median) / self.bare_raw.median

    @property
    def layer_only_raw(self) -> float:
        return (self.ours_raw.median - self.control_raw.median) / self.bare_raw.median


def _checked(result: Any, what: str) -> None:
    if getattr(result, "is_error", False):
        raise RuntimeError(f"{what} answered an error: {result.content}")


async def measure_overhead(
    sandbox_thread: Any, *, calls: int = 200, warmup: int = 30, round_size: int = 20
) -> OverheadResult:
    from mcp import Client

    env = wire.child_env(sandbox_thread.url, sandbox_thread.token, rate_per_sec=0)
    path = f"organizations/{wire.ORG}/groups"
    sandbox_thread.sandbox.reset()
    async with AsyncExitStack() as stack:
        ours = await stack.enter_async_context(Client(wire.stdio_params(wire.OURS_ARGS, env), mode="legacy"))
        bare = await stack.enter_async_context(Client(wire.stdio_params(wire.BARE_ARGS, env), mode="legacy"))
        control = await stack.enter_async_context(
            Client(wire.stdio_params(wire.CONTROL_ARGS, env), mode="legacy")
        )
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=sandbox_thread.url.rstrip("/") + "/", auth=sandbox_thread.auth)
        )
        ours_raw = await wire.spawn_raw(wire.OURS_ARGS, env)
        stack.push_async_callback(ours_raw.close)
        bare_raw = await wire.spawn_raw(wire.BARE_ARGS, env)
        stack.push_async_callback(bare_raw.close)
        control_raw = await wire.spawn_raw(wire.CONTROL_ARGS, env)
        stack.push_async_callback(control_raw.close)
        for raw in (ours_raw, bare_raw, control_raw):
            await raw.initialize()
            await raw.request("tools/list")

        async def call_ours() -> None:
            _checked(await ours.call_tool("list_groups", {}), "list_groups")

        async def call_bare() -> None:
            _checked(await bare.call_tool("ping", {}), "ping")

        async def call_control() -> None:
            _checked(await control.call_tool("list_groups_plain", {}), "list_groups_plain")

        async def call_http() -> None:
            response = await http.get(path)
            response.raise_for_status()
            response.json()

        async def call_ours_raw() -> None:
            result, _ = await ours_raw.request("tools/call", {"name": "list_groups", "arguments": {}})
            if result.get("isError"):
                raise RuntimeError(f"list_groups answered an error: {result}")

        async def call_bare_raw() -> None:
            await bare_raw.request("tools/call", {"name": "ping", "arguments": {}})

        async def call_control_raw() -> None:
            result, _ = await control_raw.request(
                "tools/call", {"name": "list_groups_plain", "arguments": {}}
            )
            if result.get("isError"):
                raise RuntimeError(f"list_groups_plain answered an error: {result}")

        series: list[tuple[Latencies, Call]] = [
            (Latencies("ours"), call_ours),
            (Latencies("direct_http"), call_http),
            (Latencies("bare"), call_bare),
            (Latencies("control"), call_control),
            (Latencies("ours_raw"), call_ours_raw),
            (Latencies("bare_raw"), call_bare_raw),
            (Latencies("control_raw"), call_control_raw),
        ]
        for _, call in series:
            for _ in range(warmup):
                await call()
        done = 0
        while done < calls:
            n = min(round_size, calls - done)
            for latencies, call in series:
                for _ in range(n):
                    started = time.perf_counter()
                    await call()
                    latencies.samples.append(time.perf_counter() - started)
            done += n
    sandbox_thread.sandbox.reset()
    by_label = {latencies.label: latencies for latencies, _ in series}
    return OverheadResult(**by_label)
