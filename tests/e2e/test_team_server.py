"""The team server, end to end: several processes on one Toggl token share one rate limit through
Redis, `--workers N` serves stateless HTTP from N processes, Redis going away stops requests
instead of letting them leave unpaced, and per-user tokens keep users apart.

Every server here is a real `python -m toggl_groups_mcp` subprocess, talking real HTTP to an
embedded Toggl sandbox. The rate tests run their own sandbox with Toggl's leaky bucket (1 request a
second, burst 2) and judge the pacing by the sandbox's request log: its arrival times and 429s.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ElicitResult

from tests.redis_server import RedisServer, free_port
from tests.test_http_transport import INIT, MCP_HEADERS
from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread
from toggl_groups_mcp.sandbox.demo import FIRST_NEW_GROUP_ID, ORG_ACME, ORG_GLOBEX, USER_GUSTAVO

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "toggl_groups_mcp"]
# era -> Client mode
ERAS = {"legacy": "legacy", "modern": "auto"}
SESSION_TIMEOUT = 60
# The sandbox's bucket, as Toggl's: 1 request a second, 2 at once.
RATE, BURST = 1.0, 2
# Calls per client in the rate tests: each is one Toggl request (list_groups is never cached).
CALLS = 5
# Mixed case: a bearer compared without regard to case would let the same letters in another case in.
BEARER = "Team-Bearer-7F3a9C2e41D84b6B"
# Per-user tokens of Toggl's shape (32 hex digits): Alex, Gustavo, and one Toggl does not know.
ALEX_TOKEN = "a1e5c0ffee0123456789abcdef012345"
GUSTAVO_TOKEN = "9057a40c0ffee0123456789abcdef012"
WRONG_TOKEN = "dead0000beef0000dead0000beef0000"
NOT_SENT = "was not sent to Toggl"


# -- helpers ----------------------------------------------------------------------------------------


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def child_env(api_url: str, **settings: str) -> dict[str, str]:
    """Only what the server needs (nothing inherited): pacing on at Toggl's 1 request a second
    unless a test says otherwise, no journal."""
    return {
        "PATH": os.environ["PATH"],
        "TOGGL_API_URL": api_url,
        "TOGGL_MCP_JOURNAL": "off",
        **settings,
    }


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


@contextmanager
def rate_limited_sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(SandboxConfig(rate_per_sec=RATE, burst=BURST)) as sb:
        yield sb


def log_of(sb: SandboxThread) -> list[dict[str, Any]]:
    return sb.sandbox.request_log()


def statuses(log: list[dict[str, Any]]) -> list[int | None]:
    return [entry["status"] for entry in log]


def worst_excess(times: list[float], rate: float = RATE, burst: int = BURST) -> float:
    """How far the busiest window goes past Toggl's bucket: max over every window [t_i, t_j] of
    (requests in it) - (burst + rate * its length). At most 0 means no request would be refused."""
    times = sorted(times)
    worst = float("-inf")
    for i in range(len(times)):
        for j in range(i, len(times)):
            worst = max(worst, (j - i + 1) - (burst + rate * (times[j] - times[i])))
    return worst


def achieved_rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


async def probe_calls(client: Client, tag: str, calls: int = CALLS) -> list[CallToolResult]:
    """`calls` list_groups calls with distinct name filters: one Toggl request each."""
    results = []
    for i in range(calls):
        arguments = {"organization_id": ORG_ACME, "name": f"probe-{tag}-{i}"}
        results.append(await client.call_tool("list_groups", arguments))
    return results


async def concurrently(*jobs: Any) -> list[Any]:
    """Run `jobs` (coroutine functions without arguments) at once; their answers in order."""
    answers: list[Any] = [None] * len(jobs)

    async def run(index: int) -> None:
        answers[index] = await jobs[index]()

    async with anyio.create_task_group() as tg:
        for index in range(len(jobs)):
            tg.start_soon(run, index)
    return answers


@asynccontextmanager
async def stdio_server(
    env: dict[str, str], *args: str, mode: str = "legacy", errlog: TextIO | None = None
) -> AsyncIterator[Client]:
    """`python -m toggl_groups_mcp ARGS` over stdio; the SDK kills its process tree on exit."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "toggl_groups_mcp", *args], env=env, cwd=str(REPO)
    )
    transport = stdio_client(params, errlog=errlog) if errlog is not None else stdio_client(params)
    with anyio.fail_after(SESSION_TIMEOUT):
        async with Client(transport, mode=mode) as client:
            yield client


def _kill_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@contextmanager
def http_server(
    env: dict[str, str], *args: str, port: int, stderr: IO[Any] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m toggl_groups_mcp --transport http --port PORT ARGS` in its own process group
    (workers included), stopped with the whole group, even when the test fails."""
    process = subprocess.Popen(
        [*COMMAND, "--transport", "http", "--port", str(port), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr if stderr is not None else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_answering(process, port, BEARER if "TOGGL_MCP_HTTP_TOKEN" in env else None)
        yield process
    finally:
        _kill_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(process, signal.SIGKILL)
            process.wait(timeout=10)
        # Workers left behind by a parent that died first: the group goes whole.
        _kill_group(process, signal.SIGKILL)


def wait_until_answering(process: subprocess.Popen[bytes], port: int, bearer: str | None) -> None:
    """Until an HTTP request gets any answer (with workers, the parent listens before they serve)."""
    headers = {**MCP_HEADERS, **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=2) as http:
        while True:
            try:
                http.post(f"http://127.0.0.1:{port}/mcp", json=INIT, headers=headers)
                return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not answer on port {port} within 30 s")
            try:
                code = process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"the server exited with {code} before answering")


@asynccontextmanager
async def http_client(
    port: int, *, mode: str, headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers=headers or {}, timeout=30)
    transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)
    with anyio.fail_after(SESSION_TIMEOUT):
        async with http, Client(transport, mode=mode, **options) as client:
            yield client


# -- which processes talk to the sandbox (Linux /proc) ---------------------------------------------


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def tcp_socket_inodes(local: int | None = None, remote: int | None = None) -> set[str]:
    """The `socket:[inode]` names of the TCP connections with that local and/or remote port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            here, there = (int(fields[i].rsplit(":", 1)[1], 16) for i in (1, 2))
            if local in (None, here) and remote in (None, there):
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def processes_holding(root: int, inodes: set[str]) -> set[int]:
    """The processes under `root` (itself included) holding any of those sockets."""
    pids = set()
    for pid in _descendants(root):
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            pids.add(pid)
    return pids


def processes_connected_to(root: int, port: int) -> set[int]:
    """The processes under `root` holding a TCP connection to 127.0.0.1:`port` (any state)."""
    return processes_holding(root, tcp_socket_inodes(remote=port))


# -- 1. two stdio processes on one token -------------------------------------------------------------


async def two_stdio_clients_call_at_once(
    sb: SandboxThread, calls: int = CALLS, **settings: str
) -> list[CallToolResult]:
    env = child_env(sb.url, TOGGL_API_TOKEN=sb.token, **settings)  # TOGGL_RATE_PER_SEC: the default
    async with stdio_server(env, mode="legacy") as first, stdio_server(env, mode="auto") as second:
        assert log_of(sb) == []  # starting costs no request
        answers = await concurrently(
            lambda: probe_calls(first, "a", calls), lambda: probe_calls(second, "b", calls)
        )
    return [result for results in answers for result in results]


def figures(log: list[dict[str, Any]]) -> str:
    """What the sandbox saw, for the captured output of a failing test."""
    times = [entry["time"] for entry in log]
    return (
        f"{len(log)} requests, {statuses(log).count(429)} answered 429, "
        f"{achieved_rate(times):.2f} requests/s, worst window {worst_excess(times):+.2f} past the bucket"
    )


async def test_two_stdio_servers_on_one_token_share_the_rate_limit_through_redis() -> None:
    with RedisServer() as redis, rate_limited_sandbox() as sb:
        results = await two_stdio_clients_call_at_once(sb, TOGGL_MCP_REDIS_URL=redis.url)
        log = log_of(sb)
    print("two stdio processes with Redis:", figures(log))
    assert all(not r.is_error for r in results), [text_of(r) for r in results if r.is_error]
    # One request per call, none refused, none retried: the processes took turns.
    assert statuses(log) == [200] * (2 * CALLS), statuses(log)
    times = [entry["time"] for entry in log]
    # The bucket at the sandbox is never exceeded in any window (0.1 s of slack for the clocks).
    assert worst_excess(times) <= 0.1, (worst_excess(times), times)
    # ... and the two processes did compete: together they ran at Toggl's rate, not each at it.
    assert achieved_rate(times) <= RATE * 1.2 + 0.05, achieved_rate(times)


async def test_without_redis_the_same_two_processes_get_429s() -> None:
    """The control: each process paces itself at 1/s, so together they go at 2/s and Toggl refuses
    some. This is what the Redis test would see if the sharing did not work."""
    with rate_limited_sandbox() as sb:
        results = await two_stdio_clients_call_at_once(sb, calls=3)
        log = log_of(sb)
    print("two stdio processes without Redis:", figures(log))
    refused = [entry for entry in log if entry["status"] == 429]
    assert refused, statuses(log)
    assert worst_excess([entry["time"] for entry in log]) >= 1, log
    # The server waited out each Retry-After, so every call still succeeded in the end.
    assert all(not r.is_error for r in results), [text_of(r) for r in results if r.is_error]
    assert statuses(log).count(200) == 2 * 3


# -- 2. one HTTP server, two workers -----------------------------------------------------------------


async def test_two_http_workers_share_the_rate_limit_through_redis() -> None:
    port = free_port()
    with RedisServer() as redis, rate_limited_sandbox() as sb:
        env = child_env(sb.url, TOGGL_API_TOKEN=sb.token, TOGGL_MCP_REDIS_URL=redis.url)
        with http_server(env, "--stateless", "--workers", "2", port=port) as server:
            talking: set[int] = set()
            done = anyio.Event()

            async def watch() -> None:
                # Which worker processes hold connections to the sandbox, sampled during the run.
                while not done.is_set():
                    talking.update(processes_connected_to(server.pid, sb.port) - {server.pid})
                    with anyio.move_on_after(0.2):
                        await done.wait()

            async def one_client(tag: str, mode: str) -> list[CallToolResult]:
                results = []
                # A connection per call, so that the kernel hands calls to either worker.
                for i in range(CALLS):
                    async with http_client(port, mode=mode) as client:
                        results += await probe_calls(client, f"{tag}{i}", calls=1)
                return results

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                answers = await concurrently(
                    lambda: one_client("a", "legacy"), lambda: one_client("b", "auto")
                )
                talking.update(processes_connected_to(server.pid, sb.port) - {server.pid})
                done.set()
        log = log_of(sb)
    print("two HTTP workers with Redis:", figures(log), "; workers that called Toggl:", len(talking))
    results = [result for results in answers for result in results]
    assert all(not r.is_error for r in results), [text_of(r) for r in results if r.is_error]
    assert len(talking) == 2, f"expected both workers to call Toggl, saw {talking}"
    assert statuses(log) == [200] * (2 * CALLS), statuses(log)
    times = [entry["time"] for entry in log]
    assert worst_excess(times) <= 0.1, (worst_excess(times), times)
    assert achieved_rate(times) <= RATE * 1.2 + 0.05, achieved_rate(times)


# -- 3. Redis goes away ------------------------------------------------------------------------------


async def test_redis_stopped_mid_run_stops_requests_until_it_is_back(sandbox: SandboxThread) -> None:
    with RedisServer() as redis:
        env = child_env(sandbox.url, TOGGL_API_TOKEN=sandbox.token, TOGGL_MCP_REDIS_URL=redis.url)
        async with stdio_server(env, mode="auto") as client:
            first = await client.call_tool("list_groups", {"organization_id": ORG_ACME, "name": "Design"})
            assert not first.is_error, text_of(first)
            assert [g["name"] for g in (first.structured_content or {})["groups"]] == ["Designers"]
            seen = len(log_of(sandbox))
            assert seen == 1

            redis.stop()
            for tool, arguments in [
                ("list_groups", {"organization_id": ORG_ACME, "name": "Eng"}),
                ("list_organizations", {}),  # answered from the (Redis) cache or not at all
            ]:
                refused = await client.call_tool(tool, arguments)
                assert refused.is_error, refused.structured_content
                message = text_of(refused)
                assert NOT_SENT in message and "Redis" in message, message
                assert "the rate limits shared through Redis could not be reached" in message, message
            assert len(log_of(sandbox)) == seen, log_of(sandbox)[seen:]

            redis.start()
            again = await client.call_tool("list_groups", {"organization_id": ORG_ACME, "name": "Eng"})
            assert not again.is_error, text_of(again)
            assert [g["name"] for g in (again.structured_content or {})["groups"]] == ["Engineers"]
    assert [(e["method"], e["status"]) for e in log_of(sandbox)] == [("GET", 200), ("GET", 200)]


async def test_a_server_started_with_redis_down_says_so_and_sends_nothing(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    redis = RedisServer()
    redis.start()
    url = redis.url
    redis.close()  # stopped: its port now refuses connections
    stderr_path = tmp_path / "server.stderr"
    env = child_env(sandbox.url, TOGGL_API_TOKEN=sandbox.token, TOGGL_MCP_REDIS_URL=url)
    with stderr_path.open("w") as errlog:
        async with stdio_server(env, mode="legacy", errlog=errlog) as client:
            said_at_start = stderr_path.read_text()
            refused = await client.call_tool("list_groups", {"organization_id": ORG_ACME})
    assert "ERROR" in said_at_start, said_at_start
    assert "(TOGGL_MCP_REDIS_URL) does not answer" in said_at_start, said_at_start
    assert "every call that needs Toggl will fail until it does" in said_at_start, said_at_start
    assert refused.is_error
    assert NOT_SENT in text_of(refused) and "Redis" in text_of(refused), text_of(refused)
    assert log_of(sandbox) == []


# -- 4. refused at start ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "settings", "said"),
    [
        (
            ["--transport", "http", "--workers", "2"],
            {"TOGGL_API_TOKEN": "sandbox-token", "TOGGL_MCP_REDIS_URL": "redis://127.0.0.1:9/0"},
            "--workers above 1 needs --stateless",
        ),
        (
            ["--transport", "http", "--workers", "2", "--stateless"],
            {"TOGGL_API_TOKEN": "sandbox-token"},
            "--workers above 1 needs TOGGL_MCP_REDIS_URL",
        ),
        ([], {"TOGGL_MCP_PER_USER_TOKENS": "1"}, "TOGGL_MCP_PER_USER_TOKENS need --transport http"),
    ],
    ids=["workers-without-stateless", "workers-without-redis", "per-user-tokens-on-stdio"],
)
def test_what_cannot_work_is_refused_at_start(args: list[str], settings: dict[str, str], said: str) -> None:
    port = free_port()
    env = child_env("http://127.0.0.1:9/api/v9", **settings)
    process = subprocess.Popen(
        [*COMMAND, *args, "--port", str(port)],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,  # kept open: a stdio server that started would wait, not exit
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        _kill_group(process, signal.SIGKILL)
    assert process.returncode == 2, (process.returncode, stderr)
    assert stdout == b""
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toggl-groups-mcp: ") and said in lines[0], lines
    assert not listening(port)


# -- 5. per-user tokens --------------------------------------------------------------------------------


@pytest.fixture
def two_user_sandbox() -> Iterator[SandboxThread]:
    """A sandbox whose users (Alex, Gustavo) have tokens of a Toggl token's shape."""
    with SandboxThread(SandboxConfig(token=ALEX_TOKEN, other_tokens={GUSTAVO_TOKEN: USER_GUSTAVO})) as sb:
        yield sb


@pytest.mark.parametrize("era", ERAS)
async def test_per_user_tokens_keep_users_apart_and_out_of_the_log(
    era: str, two_user_sandbox: SandboxThread, tmp_path: Path
) -> None:
    sandbox = two_user_sandbox
    port = free_port()
    env = child_env(
        sandbox.url,
        TOGGL_RATE_PER_SEC="0",
        TOGGL_MCP_PER_USER_TOKENS="1",
        TOGGL_MCP_HTTP_TOKEN=BEARER,
    )
    stderr_path = tmp_path / "server.stderr"
    bearer = {"Authorization": f"Bearer {BEARER}"}
    with stderr_path.open("wb") as errlog:
        with http_server(env, "--stateless", "--log-level", "DEBUG", port=port, stderr=errlog):
            async with httpx.AsyncClient(timeout=10) as http:
                url = f"http://127.0.0.1:{port}/mcp"
                no_user = await http.post(url, json=INIT, headers={**MCP_HEADERS, **bearer})
                no_bearer = await http.post(
                    url, json=INIT, headers={**MCP_HEADERS, "X-Toggl-Api-Token": sandbox.token}
                )
                # Not of a token's shape: refused at the door, whatever Toggl would say.
                unshaped = await http.post(
                    url, json=INIT, headers={**MCP_HEADERS, **bearer, "X-Toggl-Api-Token": "sandbox-token"}
                )
            assert no_user.status_code == 401, no_user.text
            assert unshaped.status_code == 401, unshaped.text
            assert "X-Toggl-Api-Token" in no_user.json()["error_description"]
            assert no_bearer.status_code == 401
            assert log_of(sandbox) == []

            async def orgs(token: str) -> CallToolResult:
                headers = {**bearer, "X-Toggl-Api-Token": token}
                async with http_client(port, mode=ERAS[era], headers=headers) as client:
                    return await client.call_tool("list_organizations", {})

            alex = await orgs(sandbox.token)
            gustavo = await orgs(GUSTAVO_TOKEN)
            wrong = await orgs(WRONG_TOKEN)
            alex_again = await orgs(sandbox.token)
    stderr = stderr_path.read_text()

    assert not alex.is_error, text_of(alex)
    alex_orgs = [o["name"] for o in (alex.structured_content or {})["organizations"]]
    assert alex_orgs == ["Acme Studio", "Globex Research", "Initech"]
    assert not gustavo.is_error, text_of(gustavo)
    gustavo_orgs = (gustavo.structured_content or {})["organizations"]
    assert [(o["id"], o["name"]) for o in gustavo_orgs] == [(ORG_GLOBEX, "Globex Research")]
    assert wrong.is_error, wrong.structured_content
    assert "403" in text_of(wrong), text_of(wrong)
    assert not any(name in text_of(wrong) for name in alex_orgs), text_of(wrong)
    # The same answer, from Alex's cache: it cost no request.
    assert alex_again.structured_content == {**(alex.structured_content or {}), "requests": 0}
    # Alex's second call came from Alex's cache; the wrong token reached Toggl and was refused.
    sent = [(e["path"].removeprefix("/api/v9"), e["status"]) for e in log_of(sandbox)]
    assert sent == [
        ("/me/organizations", 200),
        ("/me/workspaces", 200),
        ("/me/organizations", 200),
        ("/me/workspaces", 200),
        ("/me/organizations", 403),
    ], sent

    # The log did run at DEBUG and did record each user's Toggl requests: its silence about their
    # tokens means something.
    assert "DEBUG" in stderr and stderr.count("/me/organizations") >= 3, stderr[-2000:]
    for secret in [sandbox.token, GUSTAVO_TOKEN, WRONG_TOKEN, BEARER]:
        assert secret not in stderr, secret
    for token in [sandbox.token, GUSTAVO_TOKEN, WRONG_TOKEN]:
        basic = base64.b64encode(f"{token}:api_token".encode()).decode()
        assert basic not in stderr, token


# -- 6. confirmation over stateless HTTP ----------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_confirmation_over_stateless_http(era: str, sandbox: SandboxThread, control: Any) -> None:
    port = free_port()
    env = child_env(sandbox.url, TOGGL_API_TOKEN=sandbox.token, TOGGL_RATE_PER_SEC="0")
    asked: list[str] = []

    async def human(context: Any, params: Any) -> ElicitResult:
        # Asked before anything is deleted: the group is still there, no DELETE was sent.
        asked.append(params.message)
        assert FIRST_NEW_GROUP_ID in control.groups(ORG_ACME)
        assert [r.method for r in control.mutating()] == ["POST"]
        return ElicitResult(action="accept", content={"confirm": True})

    delete = {"organization_id": ORG_ACME, "group_id": FIRST_NEW_GROUP_ID}
    with http_server(env, "--stateless", port=port):
        async with http_client(port, mode=ERAS[era], elicitation_callback=human) as client:
            created = await client.call_tool(
                "create_group", {"organization_id": ORG_ACME, "name": "Temp team"}
            )
            assert not created.is_error, text_of(created)
            assert (created.structured_content or {})["group"]["group_id"] == FIRST_NEW_GROUP_ID
            first = await client.call_tool("delete_group", delete)
            if era == "modern":
                # The 2026-07-28 era asks across two requests: the human answered, the group went.
                assert not first.is_error, text_of(first)
                assert len(asked) == 1 and "Delete group 'Temp team'" in asked[0], asked
            else:
                # 2025-11-25 without a session cannot ask mid-request: the preview comes back.
                assert first.is_error, first.structured_content
                message = text_of(first)
                assert "Confirmation required; no change was sent to Toggl" in message, message
                assert "Delete group 'Temp team'" in message, message
                assert asked == []
                assert FIRST_NEW_GROUP_ID in control.groups(ORG_ACME)
                assert [r.method for r in control.mutating()] == ["POST"]
                second = await client.call_tool("delete_group", {**delete, "confirm": True})
                assert not second.is_error, text_of(second)
                assert asked == []
    assert FIRST_NEW_GROUP_ID not in control.groups(ORG_ACME)
    assert [(r.method, r.path) for r in control.mutating()] == [
        ("POST", f"/organizations/{ORG_ACME}/groups"),
        ("DELETE", f"/organizations/{ORG_ACME}/groups/{FIRST_NEW_GROUP_ID}"),
    ]


# -- 7. allowed host names --------------------------------------------------------------------------


def test_allowed_hosts_are_accepted_beyond_loopback_and_others_get_421(sandbox: SandboxThread) -> None:
    port = free_port()
    env = child_env(
        sandbox.url,
        TOGGL_API_TOKEN=sandbox.token,
        TOGGL_MCP_HTTP_TOKEN=BEARER,
        TOGGL_MCP_ALLOWED_HOSTS="team-host",
    )
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {BEARER}"}
    with http_server(env, "--host", "0.0.0.0", port=port), httpx.Client(timeout=10) as http:
        url = f"http://127.0.0.1:{port}/mcp"
        team = http.post(url, json=INIT, headers={**headers, "Host": f"team-host:{port}"})
        evil = http.post(url, json=INIT, headers={**headers, "Host": f"evil.example:{port}"})
        no_bearer = http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": f"team-host:{port}"})
    assert team.status_code == 200, (team.status_code, team.text)
    assert evil.status_code == 421, (evil.status_code, evil.text)
    assert no_bearer.status_code == 401
    assert log_of(sandbox) == []
