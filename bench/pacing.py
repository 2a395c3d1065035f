"""Bulk pacing: ``add_group_to_projects`` with N projects (60; 20 with --quick) against a sandbox
that enforces Toggl's leaky bucket (rate_per_sec=1, burst 2: beyond it, 429 with Retry-After),
with the server's own pacing on as deployed (TOGGL_RATE_PER_SEC=1, burst 2).

Figures come from the sandbox's request log: how many requests it admitted and how many it
refused with 429, and when. The achieved sustained rate is (admitted - burst) / (time from the
first to the last admitted request): a client that spends the burst and then exactly the allowed
rate scores the allowed rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from toggl_groups_mcp.sandbox import demo

from . import wire

ALLOWED_RATE = 1.0
BURST = 2


@dataclass
class PacingResult:
    projects: int
    requests: int
    admitted: int
    rate_limited: int
    span: float  # seconds from the first to the last admitted request
    wall: float  # seconds the tool calls took, as the client saw them
    done: int
    calls: int  # tool calls it took: a call stops within its time budget (40 s) and the next resumes

    @property
    def achieved_rate(self) -> float:
        return (self.admitted - BURST) / self.span if self.span > 0 else float("nan")

    @property
    def share_of_allowed(self) -> float:
        return self.achieved_rate / ALLOWED_RATE


async def measure_pacing(sandbox_thread: Any, *, projects: int = 60) -> PacingResult:
    from mcp import Client

    sandbox = sandbox_thread.sandbox
    sandbox.reset()
    ids = wire.add_projects(sandbox, projects)
    env = wire.child_env(sandbox_thread.url, sandbox_thread.token, rate_per_sec=ALLOWED_RATE)
    try:
        async with Client(wire.stdio_params(wire.OURS_ARGS, env), mode="legacy") as client:
            wire.clear_log(sandbox)
            # Setting the knobs refills the sandbox's bucket, as the server's own starts full.
            sandbox.faults.update(rate_per_sec=ALLOWED_RATE, burst=BURST)
            started = time.perf_counter()
            done, calls = 0, 0
            # As an agent does: call again while the result says the run stopped in time.
            while calls < 10:
                calls += 1
                result = await client.call_tool(
                    "add_group_to_projects", {"group_id": demo.GROUP_DESIGNERS, "project_ids": ids}
                )
                if result.is_error:
                    raise RuntimeError(f"add_group_to_projects answered an error: {result.content}")
                answer = result.structured_content or {}
                done += len(answer.get("done", []))
                if answer.get("complete"):
                    break
            wall = time.perf_counter() - started
        log = sandbox.request_log()
    finally:
        sandbox.reset()
    admitted = [e for e in log if e["status"] is not None and e["status"] != 429]
    times = [e["time"] for e in admitted]
    return PacingResult(
        projects=projects,
        requests=len(log),
        admitted=len(admitted),
        rate_limited=sum(1 for e in log if e["status"] == 429),
        span=(max(times) - min(times)) if times else 0.0,
        wall=wall,
        done=done,
        calls=calls,
    )
