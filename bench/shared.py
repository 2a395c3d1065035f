"""Pacing shared through Redis (``TOGGL_MCP_REDIS_URL``): N concurrent clients through 1 and 2
worker processes on one Toggl token, against the sandbox's leaky bucket (1 request/s, burst 2),
and what Redis adds to a call against the in-process pacer.

Rate rows. A sandbox of its own (``SandboxConfig(rate_per_sec=1, burst=2)``: 429 with Retry-After
beyond the bucket, per token), one throwaway ``redis-server`` on a free loopback port
(``tests.redis_server.RedisServer``), and our server as deployed for a team:
``python -m toggl_groups_mcp --transport http --stateless --workers W`` with
``TOGGL_MCP_REDIS_URL`` (for W=1 too: that is the shared mode), pacing as shipped
(``TOGGL_RATE_PER_SEC=1``, burst 2), the organization and workspace configured (so no call spends
a request on discovery). C clients (the SDK's ``Client`` over streamable HTTP, each with its own
``httpx2.AsyncClient``, era 2025-11-25) call ``list_groups`` in a loop for a fixed time (20 s; 10 s
with --quick): one uncached ``GET /organizations/{org}/groups`` per call. Before each row, with
the clients connected, Redis is flushed (the bucket starts full, as a fresh deployment's does), the
sandbox's buckets are refilled and its request log emptied. One more row, W=1 C=4 without Redis,
is the in-process pacer doing the same job alone.

From the sandbox's log: requests admitted and refused with 429, and the achieved sustained rate =
(admitted - burst) / (time from the first to the last admitted request), as in the bulk pacing
section: a client that spends the burst and then exactly the allowed rate scores the allowed rate.
From the clients: calls, calls that answered an error, and the latency per call (mostly the wait
for a turn: C clients share one request a second).

Latency rows: what Redis adds per request, against in-process pacing, with pacing on at 10^6
requests/s (so neither ever waits and only the bookkeeping is measured), at three depths:

- ``acquire`` alone: the in-process ``Pacer`` against ``SharedPacer`` (one Lua script call);
- ``TogglClient.request`` of the groups GET on the sandbox (no rate limit) from the bench process,
  without and with ``shared=Redis(url)`` (the script, plus recording the quota headers in Redis);
- ``list_groups`` over HTTP through two 1-worker servers, without and with ``TOGGL_MCP_REDIS_URL``.

Each pair is interleaved in rounds (so drift on the machine hits both alike) after a warm-up; the
rows give median and p90 and the difference of the medians. Every process started here (servers
with their workers, Redis) is stopped at the end of the section, by its process group.

Importing this module starts nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from . import wire
from .overhead import Latencies
from .report import Row, mark, ms

ALLOWED_RATE = 1.0
BURST = 2
WORKERS = (1, 2)
CLIENTS = (1, 2, 4)
BASELINE_CLIENTS = 4  # the in-process row: 1 worker, no Redis
TOOL = "list_groups"  # with the organization configured: one uncached GET per call
FAST_RATE = 1_000_000.0  # pacing on, never waiting: the latency rows measure the bookkeeping alone
ROUND = 20  # calls per series per round, interleaved
WARMUP = 20
REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class RateRun:
    workers: int
    clients: int
    redis: bool
    seconds: float  # how long the clients kept starting calls
    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds per call, as the clients saw it
    requests: int = 0
    admitted: int = 0
    rate_limited: int = 0
    span: float = 0.0  # seconds from the first to the last admitted request
    wall: float = 0.0  # from the first call started to the last one answered
    error_text: str = ""
    senders: int = 0  # server processes seen holding a connection to the sandbox during the row
    turns: int | None = None  # pacing script runs in Redis (a turn taken per request sent)
    largest_gap: float = 0.0  # seconds between two admitted requests, after the burst
    server_lines: list[str] = field(default_factory=list)  # what the server logged during the row

    @property
    def achieved_rate(self) -> float:
        return (self.admitted - BURST) / self.span if self.span > 0 else float("nan")

    @property
    def share_of_allowed(self) -> float:
        return self.achieved_rate / ALLOWED_RATE

    @property
    def mean_latency(self) -> float:
        return statistics.fmean(self.latencies) if self.latencies else float("nan")

    @property
    def p90_latency(self) -> float:
        return quantile(self.latencies, 0.90) if self.latencies else float("nan")

    def ok(self, min_share: float) -> bool:
        return self.share_of_allowed >= min_share and self.rate_limited == 0 and self.errors == 0


@dataclass
class Pair:
    """One latency comparison: in-process pacing against Redis."""

    label: str
    local: Latencies = field(default_factory=Latencies)
    shared: Latencies = field(default_factory=Latencies)

    @property
    def added(self) -> float:
        return self.shared.median - self.local.median

    @property
    def ratio(self) -> float:
        return self.shared.median / self.local.median


@dataclass
class SharedResult:
    runs: list[RateRun]
    acquire: Pair
    request: Pair
    call: Pair
    seconds: float  # the whole section's wall time
    redis_version: str = ""
    pacer_waits: int = 0  # acquires of the latency rows that waited at all (expected 0)


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def p90(series: Latencies) -> float:
    return quantile(series.samples, 0.90)


# ---- processes ---------------------------------------------------------------------------------


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a reused id of someone else's: not ours
        return False
    return True


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it (from /proc: Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def connected_to(port: int, pids: set[int]) -> set[int]:
    """Which of ``pids`` hold an established TCP connection to 127.0.0.1:``port`` (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "01" and int(cols[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    holding = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            holding.add(pid)
    return holding


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server (uvicorn's supervisor stops its workers), then SIGKILL to its process
    group (it leads one: ``start_new_session``) if anything of it lingers. Blocking: run it in a
    worker thread."""
    if process.poll() is None:
        process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    while (process.poll() is None or group_alive(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    process.wait()
    deadline = time.monotonic() + STOP_TIMEOUT
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def spawn(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            env=env,
            cwd=str(wire.REPO),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    workers: int
    redis: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


async def until_listening(process: subprocess.Popen[bytes], port: int, log_tail: Callable[[], str]) -> None:
    """Wait until a spawned server listens on `port` (at most START_TIMEOUT); its log if it fails."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not listen within {START_TIMEOUT} s:\n{log_tail()}")
        await anyio.sleep(0.05)


@asynccontextmanager
async def serving(
    sandbox_thread: Any, *, workers: int, redis_url: str | None, rate: float
) -> AsyncIterator[Served]:
    """Our server over stateless streamable HTTP with ``workers`` processes, on a free port."""
    env = wire.child_env(sandbox_thread.url, sandbox_thread.token, rate_per_sec=rate)
    if redis_url is not None:
        env["TOGGL_MCP_REDIS_URL"] = redis_url
    folder = Path(tempfile.mkdtemp(prefix="toggl-bench-shared-"))
    from tests.redis_server import free_port

    port = free_port()
    log_path = folder / "server.log"
    command = [
        sys.executable, *wire.OURS_ARGS,
        "--transport", "http", "--stateless", "--workers", str(workers),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    process = spawn(command, env, log_path)
    served = Served(process, port, log_path, workers, redis_url is not None)
    try:
        await until_listening(process, port, served.log_tail)
        yield served
    finally:
        await anyio.to_thread.run_sync(stop_group, process)
        shutil.rmtree(folder, ignore_errors=True)


@asynccontextmanager
async def connected(url: str, count: int) -> AsyncIterator[list[Any]]:
    """``count`` SDK clients over streamable HTTP, each with its own HTTP connection pool."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=120))
            client = await stack.enter_async_context(
                Client(streamable_http_client(url, http_client=http), mode="legacy")
            )
            clients.append(client)
        yield clients


async def warm(clients: list[Any], served: Served) -> None:
    """tools/list from every client until every worker has answered for a while (stateless: any
    worker takes any request; a worker still importing takes none, so give the last one time)."""
    settle = time.monotonic() + (1.5 if served.workers > 1 else 0.3)
    while time.monotonic() < settle:
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(client.list_tools)
        await anyio.sleep(0.05)


def flush_redis(url: str | None) -> None:
    if url is None:
        return
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def reset_redis_stats(url: str | None) -> None:
    if url is None:
        return
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.config_resetstat()
    finally:
        client.close()


def script_runs(url: str | None) -> int | None:
    """Successful EVALSHA calls since the last reset: the pacing script's turns (and 429 holds)."""
    if url is None:
        return None
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats").get("cmdstat_evalsha") or {}
    finally:
        client.close()
    return int(stats.get("calls", 0)) - int(stats.get("failed_calls", 0))


def redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server").get("redis_version", "?"))
    finally:
        client.close()


# ---- the rate rows -----------------------------------------------------------------------------


async def rate_run(
    sandbox_thread: Any, served: Served, redis_url: str | None, clients: int, seconds: float
) -> RateRun:
    sandbox = sandbox_thread.sandbox
    run = RateRun(served.workers, clients, redis_url is not None, seconds)
    errors: list[str] = []
    async with connected(served.url, clients) as sessions:
        await warm(sessions, served)
        # A fresh start for the row: Redis's bucket full (flushed), the sandbox's too (setting
        # the knobs refills every bucket), its log empty.
        flush_redis(redis_url)
        reset_redis_stats(redis_url)
        sandbox.faults.update(rate_per_sec=ALLOWED_RATE, burst=BURST)
        wire.clear_log(sandbox)
        log_from = served.log.stat().st_size
        started = time.perf_counter()
        deadline = started + seconds

        async def caller(index: int) -> None:
            session = sessions[index]
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                result = await session.call_tool(TOOL, {})
                run.latencies.append(time.perf_counter() - t0)
                run.calls += 1
                if result.is_error:
                    run.errors += 1
                    errors.append(str(result.content)[:300])

        # Which server processes talk to Toggl: sampled while the calls run (a worker keeps its
        # keep-alive connection to the sandbox open for seconds after each request).
        port = urlsplit(sandbox_thread.url).port or 80
        processes = descendants(served.process.pid)
        senders: set[int] = set()

        async def sample(stop: anyio.Event) -> None:
            while not stop.is_set():
                senders.update(connected_to(port, processes))
                with anyio.move_on_after(0.25):
                    await stop.wait()

        done = anyio.Event()
        async with anyio.create_task_group() as outer:
            outer.start_soon(sample, done)
            async with anyio.create_task_group() as tg:
                for index in range(clients):
                    tg.start_soon(caller, index)
            run.wall = time.perf_counter() - started
            senders.update(connected_to(port, processes))
            done.set()
        run.senders = len(senders)
    run.turns = script_runs(redis_url)
    with served.log.open("rb") as server_log:
        server_log.seek(log_from)
        run.server_lines = [
            line for line in server_log.read().decode("utf-8", "replace").splitlines() if line.strip()
        ]
    log = sandbox.request_log()
    admitted = [e for e in log if e["status"] is not None and e["status"] != 429]
    times = [e["time"] for e in admitted]
    run.requests = len(log)
    run.admitted = len(admitted)
    run.rate_limited = sum(1 for e in log if e["status"] == 429)
    run.span = (max(times) - min(times)) if times else 0.0
    ordered = sorted(times)
    run.largest_gap = max(
        (b - a for a, b in zip(ordered[BURST - 1 :], ordered[BURST:], strict=False)), default=0.0
    )
    run.error_text = errors[0] if errors else ""
    return run


# ---- what Redis adds per request -----------------------------------------------------------------


async def interleave(
    pair: Pair,
    count: int,
    local: Callable[[], Awaitable[Any]],
    shared: Callable[[], Awaitable[Any]],
    *,
    round_size: int = ROUND,
    warmup: int = WARMUP,
) -> None:
    """``warmup`` untimed calls each, then ``count`` timed ones each in alternating rounds."""
    for _ in range(warmup):
        await local()
        await shared()
    series = [(local, pair.local), (shared, pair.shared)]
    turn = 0
    while len(pair.local.samples) < count:
        order = series if turn % 2 == 0 else series[::-1]
        turn += 1
        for call, into in order:
            for _ in range(min(round_size, count - len(into.samples))):
                t0 = time.perf_counter()
                await call()
                into.samples.append(time.perf_counter() - t0)


async def acquire_pair(redis_url: str, count: int) -> tuple[Pair, int]:
    """``Pacer.acquire`` against ``SharedPacer.acquire``; also how often the in-process one waited."""
    from toggl_groups_mcp.shared import Redis, SharedPacer, token_key
    from toggl_groups_mcp.toggl.client import Pacer

    local = Pacer(FAST_RATE, BURST)
    redis = Redis(redis_url)
    shared = SharedPacer(redis, token_key("bench-acquire"), local.rate, local.capacity, anyio.sleep)
    waited = 0

    async def take_local() -> None:
        nonlocal waited
        if await local.acquire("GET", "/bench") > 0:
            waited += 1

    async def take_shared() -> None:
        nonlocal waited
        if await shared.acquire("GET", "/bench") > 0:
            waited += 1

    pair = Pair("acquire")
    try:
        await interleave(pair, count, take_local, take_shared, round_size=100, warmup=100)
    finally:
        await redis.aclose()
    return pair, waited


async def request_pair(sandbox_thread: Any, redis_url: str, count: int) -> Pair:
    """``TogglClient.request`` of the groups GET, in-process pacing against Redis."""
    from pydantic import SecretStr

    from toggl_groups_mcp.config import Settings
    from toggl_groups_mcp.shared import Redis
    from toggl_groups_mcp.toggl.client import TogglClient

    settings = Settings(
        api_token=SecretStr(sandbox_thread.token),
        api_url=sandbox_thread.url,
        rate_per_sec=FAST_RATE,
        burst=BURST,
        organization_id=wire.ORG,
        workspace_id=wire.WORKSPACE,
    )
    redis = Redis(redis_url)
    local = TogglClient(settings)
    shared = TogglClient(settings, shared=redis)
    path = f"/organizations/{wire.ORG}/groups"
    pair = Pair("request")
    try:
        await interleave(pair, count, lambda: local.request("GET", path), lambda: shared.request("GET", path))
    finally:
        await local.aclose()
        await shared.aclose()
        await redis.aclose()
    return pair


async def call_pair(sandbox_thread: Any, redis_url: str, count: int) -> Pair:
    """``list_groups`` over HTTP through a 1-worker server without and with Redis."""
    pair = Pair("call")
    async with (
        serving(sandbox_thread, workers=1, redis_url=None, rate=FAST_RATE) as plain,
        serving(sandbox_thread, workers=1, redis_url=redis_url, rate=FAST_RATE) as with_redis,
        connected(plain.url, 1) as (local,),
        connected(with_redis.url, 1) as (shared,),
    ):

        async def call(client: Any) -> None:
            result = await client.call_tool(TOOL, {})
            if result.is_error:
                raise RuntimeError(f"{TOOL} answered an error: {str(result.content)[:300]}")

        await interleave(pair, count, lambda: call(local), lambda: call(shared))
    return pair


# ---- the section ---------------------------------------------------------------------------------


async def measure_shared(
    *, seconds: float, calls: int, acquires: int, say: Callable[[str], None] | None = None
) -> SharedResult:
    from tests.redis_server import RedisServer
    from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread

    def progress(text: str) -> None:
        if say is not None:
            say(text)

    if not os.access(REDIS_SERVER, os.X_OK):
        raise RuntimeError(f"{REDIS_SERVER} is missing: `make {REDIS_SERVER}` installs Debian's redis-server")
    started = time.perf_counter()
    with (
        SandboxThread(SandboxConfig(rate_per_sec=ALLOWED_RATE, burst=BURST)) as sandbox_thread,
        RedisServer() as redis,
    ):
        sandbox = sandbox_thread.sandbox
        version = redis_version(redis.url)
        # The latency rows measure bookkeeping, not waiting: no bucket at the sandbox.
        sandbox.faults.update(rate_per_sec=None)
        progress(
            f"shared: Redis against in-process pacing: {acquires} acquires, {calls} requests, {calls} calls each ..."
        )
        acquire, waited = await acquire_pair(redis.url, acquires)
        request = await request_pair(sandbox_thread, redis.url, calls)
        call = await call_pair(sandbox_thread, redis.url, calls)
        runs: list[RateRun] = []
        plans: list[tuple[int, bool, tuple[int, ...]]] = [(w, True, CLIENTS) for w in WORKERS]
        plans.append((1, False, (BASELINE_CLIENTS,)))
        for workers, with_redis, client_counts in plans:
            url = redis.url if with_redis else None
            async with serving(sandbox_thread, workers=workers, redis_url=url, rate=ALLOWED_RATE) as served:
                for clients in client_counts:
                    progress(
                        f"shared: {workers} worker(s), {clients} client(s), "
                        f"{'Redis' if with_redis else 'no Redis'}, {seconds:.0f} s ..."
                    )
                    run = await rate_run(sandbox_thread, served, url, clients, seconds)
                    runs.append(run)
        sandbox.reset()
    return SharedResult(runs, acquire, request, call, time.perf_counter() - started, version, waited)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def rows(found: SharedResult, min_share: float) -> list[Row]:
    out: list[Row] = []
    for run in found.runs:
        plural = "s" if run.clients > 1 else ""
        who = f"{run.workers} worker{'s' if run.workers > 1 else ''}, {run.clients} client{plural}"
        mode = "Redis" if run.redis else "no Redis (in-process pacer, the baseline)"
        errors = f"; {run.errors} calls answered an error: {run.error_text}" if run.errors else ""
        turns = f"; {run.turns} turns taken in Redis" if run.turns is not None else ""
        logged = ""
        if run.server_lines:
            logged = (
                f"; the server logged {len(run.server_lines)} line(s), first: {run.server_lines[0][:200]}"
            )
        out.append(
            Row(
                f"shared pacing: {who}, {mode}, `{TOOL}` for {run.seconds:.0f} s on one token",
                f"{run.achieved_rate:.3f} req/s ({run.share_of_allowed:.0%} of allowed), "
                f"{run.rate_limited} x 429, {run.admitted} admitted in {run.span:.1f} s "
                f"(largest gap {run.largest_gap:.2f} s); {run.calls} calls, "
                f"{run.mean_latency:.2f} s per call (mean; p90 {run.p90_latency:.2f} s); "
                f"sent by {run.senders} of {run.workers} worker{'s' if run.workers > 1 else ''}"
                f"{turns}{errors}{logged}",
                f"sandbox {ALLOWED_RATE:g} req/s after a burst of {BURST}, per token",
                f">= {min_share:.0%}, 0 x 429",
                mark(run.ok(min_share)),
            )
        )
    where = f"Redis {found.redis_version} on loopback"
    waits = f"; the in-process pacer waited {found.pacer_waits} times" if found.pacer_waits else ""
    acquire = found.acquire
    out.append(
        Row(
            "shared pacing cost: one `acquire` (pacing at 10^6 req/s, never waiting), median / p90",
            f"Redis: {us(acquire.shared.median)} / {us(p90(acquire.shared))}; "
            f"+{us(acquire.added)} per request",
            f"in-process `Pacer`: {us(acquire.local.median)} / {us(p90(acquire.local))}; "
            f"{len(acquire.local.samples)} each, interleaved; {where}{waits}",
        )
    )
    for pair, what, note in (
        (
            found.request,
            "`TogglClient.request` of the groups GET on the sandbox",
            "Redis: the pacing script, then the quota headers recorded",
        ),
        (
            found.call,
            f"`{TOOL}` over HTTP, one stateless worker",
            "two servers side by side, one client each",
        ),
    ):
        out.append(
            Row(
                f"shared pacing cost: {what}, median / p90",
                f"Redis: {ms(pair.shared.median)} / {ms(p90(pair.shared))}; "
                f"+{ms(pair.added)} ({pair.ratio:.2f}x)",
                f"in-process: {ms(pair.local.median)} / {ms(p90(pair.local))}; "
                f"{len(pair.local.samples)} each, interleaved; {note}",
            )
        )
    return out


__all__ = ["RateRun", "SharedResult", "measure_shared", "rows"]
