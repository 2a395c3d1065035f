"""Plumbing shared by the benchmarks: how to spawn our server and the bare one, the environment
they get, a minimal newline-delimited JSON-RPC client for stdio (for timing spawn-to-ready and
reading the child's memory), and sandbox set-up helpers.

Importing this module starts nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from toggl_groups_mcp.sandbox import demo

REPO = Path(__file__).resolve().parent.parent
PROTOCOL_VERSION = "2025-11-25"  # the handshake era that desktop hosts and the Inspector use

# The ids every benchmark works in. They go to the server as TOGGL_ORGANIZATION_ID /
# TOGGL_WORKSPACE_ID (a configured deployment), so no workflow spends a request on discovery.
ORG = demo.ORG_ACME
WORKSPACE = demo.WS_ACME_DESIGN

OURS_ARGS = ["-m", "toggl_groups_mcp"]
BARE_ARGS = ["-m", "bench.bare_server"]
CONTROL_ARGS = ["-m", "bench.bare_http_server"]


def child_env(
    sandbox_url: str, token: str, *, rate_per_sec: float = 0, journal: str = "off"
) -> dict[str, str]:
    """What a stdio child gets: the SDK client's safe inherited variables plus ours.

    ``rate_per_sec`` 0 turns the server's pacing off (counting and latency runs); the bulk pacing
    run sets 1, the default a real deployment has. ``journal`` is the change journal's file; off
    by default, so the written minimums stay what the changes themselves cost (the journal's own
    reads and latency have their section, and a child never writes to the user's state folder).
    """
    from mcp.client.stdio import get_default_environment

    return get_default_environment() | {
        "TOGGL_API_TOKEN": token,
        "TOGGL_API_URL": sandbox_url,
        "TOGGL_ORGANIZATION_ID": str(ORG),
        "TOGGL_WORKSPACE_ID": str(WORKSPACE),
        "TOGGL_RATE_PER_SEC": str(rate_per_sec),
        "TOGGL_MCP_JOURNAL": journal,
    }


def stdio_params(args: list[str], env: Mapping[str, str]) -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=list(args), env=dict(env), cwd=str(REPO))


def vm_rss_kib(pid: int) -> int | None:
    """Resident set size of a process, from /proc (Linux), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# ---- a minimal stdio JSON-RPC client -----------------------------------------------------------


@dataclass
class RawServer:
    """A spawned stdio MCP server spoken to with bare JSON-RPC lines (no SDK client in the way)."""

    process: Process
    reader: BufferedByteReceiveStream
    spawned_at: float
    next_id: int = 1
    lines: list[bytes] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def request(
        self, method: str, params: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], bytes]:
        """Send a request and return (parsed answer, raw answer line); notifications in between
        are skipped."""
        request_id = self.next_id
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        while True:
            line = await self.reader.receive_until(b"\n", 64 * 1024 * 1024)
            answer = json.loads(line)
            if answer.get("id") == request_id:
                if "error" in answer:
                    raise RuntimeError(f"{method} failed: {answer['error']}")
                return answer["result"], line

    async def initialize(self) -> dict[str, Any]:
        result, _ = await self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "toggl-groups-mcp-bench", "version": "1"},
            },
        )
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    async def close(self) -> None:
        """Close stdin (the polite stdio shutdown), then terminate if it lingers."""
        assert self.process.stdin is not None
        await self.process.stdin.aclose()
        with anyio.move_on_after(3):
            await self.process.wait()
            return
        self.process.terminate()
        with anyio.move_on_after(2):
            await self.process.wait()
            return
        self.process.kill()
        await self.process.wait()


async def spawn_raw(args: list[str], env: Mapping[str, str]) -> RawServer:
    spawned_at = time.perf_counter()
    process = await anyio.open_process(
        [sys.executable, *args],
        env=dict(env),
        cwd=str(REPO),
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    return RawServer(process, BufferedByteReceiveStream(process.stdout), spawned_at)


# ---- sandbox set-up ----------------------------------------------------------------------------

FIRST_BENCH_PROJECT_ID = 2090001


def add_projects(
    sandbox: Any, count: int, *, workspace_id: int = WORKSPACE, linked_to: int | None = None, linked: int = 0
) -> list[int]:
    """Create ``count`` projects in the sandbox's store (no Toggl endpoint involved), the first
    ``linked`` of them already accessible to group ``linked_to``. Returns their ids."""
    from toggl_groups_mcp.sandbox.model import Project, ProjectGroup

    store = sandbox.store
    with store._lock:  # the store's own lock: the sandbox thread may be serving
        state = store.state
        ids = []
        for n in range(count):
            project_id = FIRST_BENCH_PROJECT_ID + n
            state.projects[project_id] = Project(project_id, workspace_id, f"Bench project {n + 1:02d}")
            ids.append(project_id)
        for project_id in ids[:linked]:
            assert linked_to is not None
            link_id = state.next_project_group_id
            state.next_project_group_id += 1
            state.project_groups[link_id] = ProjectGroup(link_id, workspace_id, project_id, linked_to)
    return ids


def clear_log(sandbox: Any) -> None:
    with sandbox._log_lock:
        sandbox.requests.clear()


def environment_note() -> str:
    return f"org {ORG}, workspace {WORKSPACE} via TOGGL_ORGANIZATION_ID / TOGGL_WORKSPACE_ID"


__all__ = [
    "BARE_ARGS",
    "CONTROL_ARGS",
    "ORG",
    "OURS_ARGS",
    "REPO",
    "WORKSPACE",
    "RawServer",
    "add_projects",
    "child_env",
    "clear_log",
    "spawn_raw",
    "stdio_params",
    "vm_rss_kib",
]
