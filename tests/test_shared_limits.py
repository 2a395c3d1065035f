"""Limits shared through a real Redis (TOGGL_MCP_REDIS_URL), in process: several TogglClients or
servers on one token stand for several processes; Toggl is mocked at the wire (respx).

The end-to-end tests with real server processes and the sandbox's leaky bucket are in
tests/e2e/test_team_server.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import redis.asyncio as aioredis
import respx
from mcp import Client
from pydantic import SecretStr

from tests.conftest import CANARY_TOKEN, make_settings, result_text, shared_server, tool_error
from tests.redis_server import RedisServer, free_port
from toggl_groups_mcp.config import ConfigError, Settings
from toggl_groups_mcp.logs import secrets_of
from toggl_groups_mcp.server import build_server
from toggl_groups_mcp.shared import Redis, token_key
from toggl_groups_mcp.state import AppState, LocalCache, Tenants, user_token
from toggl_groups_mcp.toggl import TogglClient, TogglError

pytestmark = pytest.mark.anyio
ORG = 7
GROUPS = f"/organizations/{ORG}/groups"
QUOTA = {"X-Toggl-Quota-Remaining": "17", "X-Toggl-Quota-Resets-In": "1200"}
OTHER_TOKEN = "other-user-token-5e6f7a8b9c0d"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[RedisServer]:
    """The module's Redis, running and empty for each test."""
    if not redis_server.running:
        redis_server.start()
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server


async def everything_in(url: str) -> dict[str, Any]:
    """Every key in Redis and its value, as text."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    found: dict[str, Any] = {}
    async for key in client.scan_iter():
        kind = await client.type(key)
        if kind == "hash":
            found[key] = await client.hgetall(key)
        elif kind == "stream":
            found[key] = await client.xrange(key)
        else:
            found[key] = await client.get(key)
    await client.aclose()
    return found


@asynccontextmanager
async def shared_client(url: str, **overrides: Any) -> AsyncIterator[TogglClient]:
    """A TogglClient on its own Redis connection: one "process" on the token."""
    shared = Redis(url)
    client = TogglClient(make_settings(**overrides), shared=shared)
    try:
        yield client
    finally:
        await client.aclose()
        await shared.aclose()


class Sleeps:
    """Records each sleep and sleeps for real only when asked (Redis's clock is real)."""

    def __init__(self, real: bool) -> None:
        self.real = real
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        if self.real:
            await anyio.sleep(seconds)


# -- pacing ------------------------------------------------------------------------------------------


async def test_two_processes_on_one_token_take_turns_from_one_bucket(redis: RedisServer) -> None:
    """Ten requests from two clients, at once: one schedule 0.1 s apart, as if one process sent
    them. Each alone would have started its own burst."""
    waits: list[float] = []
    async with shared_client(redis.url, rate_per_sec=10.0, burst=1) as a:
        async with shared_client(redis.url, rate_per_sec=10.0, burst=1) as b:
            # No real sleep: the bucket is on Redis's clock, so each turn lies 0.1 s after the last.
            a.pacer.sleep = b.pacer.sleep = Sleeps(real=False)  # type: ignore[union-attr]
            for _ in range(5):
                waits.append(await a.pacer.acquire())
                waits.append(await b.pacer.acquire())
    assert waits[0] == 0.0
    expected = [0.1 * n for n in range(10)]
    assert all(abs(w - e) < 0.05 for w, e in zip(sorted(waits), expected, strict=True)), waits


async def test_without_redis_each_process_has_a_bucket_of_its_own(redis: RedisServer) -> None:
    """The contrast that makes the test above mean something: two in-process pacers both start
    with a full bucket, so together they send twice the burst at once."""
    a = TogglClient(make_settings(rate_per_sec=10.0, burst=1))
    b = TogglClient(make_settings(rate_per_sec=10.0, burst=1))
    assert await a.pacer.acquire() == 0.0
    assert await b.pacer.acquire() == 0.0


async def test_a_429_seen_by_one_process_holds_every_process_on_the_token(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0.6"}, json="slow down"),
            httpx.Response(200, json=[]),
        ]
    )
    toggl.get("/me").respond(json={})
    a_sleeps, b_sleeps = Sleeps(real=True), Sleeps(real=True)
    async with shared_client(redis.url, rate_per_sec=100.0, burst=1) as a:
        async with shared_client(redis.url, rate_per_sec=100.0, burst=1) as b:
            a.pacer.sleep, b.pacer.sleep = a_sleeps, b_sleeps  # type: ignore[union-attr]

            async def b_asks_meanwhile() -> None:
                await anyio.sleep(0.2)  # after A's 429, well within its Retry-After
                await b.request("GET", "/me")

            async with anyio.create_task_group() as tg:
                tg.start_soon(a.request, "GET", GROUPS)
                tg.start_soon(b_asks_meanwhile)
    # B never saw a 429, yet waited out (most of) the 0.6 s that A was told.
    assert sum(b_sleeps.taken) >= 0.3, b_sleeps.taken
    assert sum(a_sleeps.taken) >= 0.55, a_sleeps.taken
    assert [c.response.status_code for c in toggl.calls] == [429, 200, 200] or sorted(
        c.response.status_code for c in toggl.calls
    ) == [200, 200, 429]


async def test_a_request_queued_before_a_429_waits_for_the_hold_before_it_leaves(
    redis: RedisServer,
) -> None:
    """A turn taken before another process's 429, and slept through it, is not used during the hold."""
    async with shared_client(redis.url, rate_per_sec=5.0, burst=1) as a:
        async with shared_client(redis.url, rate_per_sec=5.0, burst=1) as b:
            b_sleeps = Sleeps(real=True)
            b.pacer.sleep = b_sleeps  # type: ignore[union-attr]
            await a.pacer.acquire()  # the bucket's one token: B's turn is 0.2 s away

            async def hold_meanwhile() -> None:
                await anyio.sleep(0.05)
                await a.pacer.hold(0.8)

            async with anyio.create_task_group() as tg:
                tg.start_soon(hold_meanwhile)
                waited = await b.pacer.acquire()
    assert waited >= 0.75, b_sleeps.taken
    assert len(b_sleeps.taken) >= 2  # its own turn, then the rest of the hold


# -- what is shared besides pacing ----------------------------------------------------------------


async def test_the_quota_seen_by_one_process_is_known_to_the_others(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(json=[], headers=QUOTA)
    async with shared_client(redis.url) as a, shared_client(redis.url) as b:
        assert await b.last_quota() is None
        await a.request("GET", GROUPS)
        seen = await b.last_quota(ORG)
        latest = await b.last_quota()
    assert seen is not None and (seen.remaining, seen.resets_in, seen.organization_id) == (17, 1200, ORG)
    assert latest is not None and (latest.remaining, latest.organization_id) == (17, ORG)
    assert toggl.calls.call_count == 1


async def test_a_group_created_through_one_process_is_waited_for_by_another(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    """Toggl's eventual consistency across workers: the 404 about a group another worker created a
    moment ago is retried, as it is in the process that created it."""
    path = f"{GROUPS}/501"
    toggl.put(path).mock(side_effect=[httpx.Response(404, json="not found"), httpx.Response(200, json={})])
    async with shared_client(redis.url) as a, shared_client(redis.url) as b:
        await a.note_created_group(501)
        await b.request("PUT", path, json={"name": "x"}, group_id=501)
    assert toggl.calls.call_count == 2


async def servers(url: str, *tokens: str) -> list[Any]:
    return [
        shared_server(make_settings(api_token=SecretStr(t), redis_url=SecretStr(url), rate_per_sec=100.0))
        for t in tokens
    ]


async def test_discovery_answers_are_shared_on_one_token_and_only_on_it(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(json=[{"id": ORG, "name": "Acme", "admin": True}])
    toggl.get("/me/workspaces").respond(json=[{"id": 5, "name": "Main", "organization_id": ORG}])
    first, second, other = await servers(redis.url, CANARY_TOKEN, CANARY_TOKEN, OTHER_TOKEN)
    async with Client(first) as a:
        assert not (await a.call_tool("list_organizations", {})).is_error
    after_first = toggl.calls.call_count
    async with Client(second) as b:
        answer = await b.call_tool("list_organizations", {})
    assert "Acme" in result_text(answer)
    assert toggl.calls.call_count == after_first  # another process, no request
    async with Client(other) as c:
        assert "Acme" in result_text(await c.call_tool("list_organizations", {}))
    assert toggl.calls.call_count == 2 * after_first  # another token reads for itself


async def test_get_quota_answers_from_what_another_process_saw(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(json=[], headers=QUOTA)
    first, second = await servers(redis.url, CANARY_TOKEN, CANARY_TOKEN)
    async with Client(first) as a:
        assert not (await a.call_tool("list_groups", {"organization_id": ORG})).is_error
    async with Client(second) as b:
        quota = await b.call_tool("get_quota", {"organization_id": ORG})
    assert quota.structured_content is not None
    assert quota.structured_content["remaining"] == 17
    assert toggl.calls.call_count == 1


async def test_redis_never_holds_the_token_even_when_toggl_echoes_it(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(
        json=[{"id": ORG, "name": f"Org {CANARY_TOKEN}", "api_token": CANARY_TOKEN, CANARY_TOKEN: 1}],
        headers=QUOTA,
    )
    toggl.get("/me/workspaces").respond(json=[{"id": 5, "name": CANARY_TOKEN, "organization_id": ORG}])
    toggl.get(GROUPS).respond(json=[], headers=QUOTA)
    (server,) = await servers(redis.url, CANARY_TOKEN)
    async with Client(server) as client:
        await client.call_tool("list_organizations", {})
        await client.call_tool("list_groups", {"organization_id": ORG})
    stored = await everything_in(redis.url)
    assert any(key.endswith(":tat") for key in stored) and any(":cache:" in key for key in stored)
    assert any(key.endswith(":names") for key in stored)
    assert all(key.startswith(token_key(CANARY_TOKEN)) for key in stored)
    assert CANARY_TOKEN not in json.dumps(stored)


# -- Redis missing --------------------------------------------------------------------------------


async def test_a_redis_that_stops_mid_run_fails_calls_clearly_and_sends_nothing(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(json=[])
    (server,) = await servers(redis.url, CANARY_TOKEN)
    async with Client(server) as client:
        assert not (await client.call_tool("list_groups", {"organization_id": ORG})).is_error
        redis.stop()
        stopped = await client.call_tool("list_groups", {"organization_id": ORG})
        assert toggl.calls.call_count == 1
        redis.start()
        again = await client.call_tool("list_groups", {"organization_id": ORG})
    text = tool_error(stopped)
    assert f"GET {GROUPS} was not sent to Toggl" in text
    assert "Redis" in text and "TOGGL_MCP_REDIS_URL" in text
    assert not again.is_error and toggl.calls.call_count == 2


async def test_a_server_whose_redis_is_down_says_so_at_start_and_on_every_call(
    toggl: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nobody listens there
    url = f"redis://:pw-{CANARY_TOKEN}@127.0.0.1:{port}/0"
    toggl.route().respond(json=[])
    settings = make_settings(redis_url=SecretStr(url))
    with caplog.at_level(logging.ERROR, logger="toggl_groups_mcp"):
        async with Client(build_server(settings)) as client:
            first = await client.call_tool("list_groups", {"organization_id": ORG})
            second = await client.call_tool("list_organizations", {})
    started = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert started and f"redis://127.0.0.1:{port}/0" in started[0]
    for result in (first, second):
        text = tool_error(result)
        assert "was not sent to Toggl" in text and f"redis://127.0.0.1:{port}/0" in text
        assert CANARY_TOKEN not in text  # the password in the URL is never shown
    assert CANARY_TOKEN not in caplog.text
    assert toggl.calls.call_count == 0
    assert f"pw-{CANARY_TOKEN}" in secrets_of(settings)  # and the log filter scrubs it
    assert not any(f"127.0.0.1:{port}" in secret for secret in secrets_of(settings))  # not the address


def test_the_redis_url_is_checked_when_read() -> None:
    env = {"TOGGL_API_TOKEN": "t", "TOGGL_MCP_REDIS_URL": "http://nope:6379"}
    with pytest.raises(ConfigError, match="TOGGL_MCP_REDIS_URL must start with redis://"):
        Settings.from_env(env)
    assert Settings.from_env({"TOGGL_API_TOKEN": "t"}).redis_url is None
    given = Settings.from_env({"TOGGL_API_TOKEN": "t", "TOGGL_MCP_REDIS_URL": "redis://:secret@r:6379/0"})
    assert given.redis_url is not None and "secret" not in repr(given)


async def test_reading_the_shared_quota_without_redis_is_a_shared_limits_error(redis: RedisServer) -> None:
    """(A bulk run reads it after its changes and drops this error: the run's outcome comes first.)"""
    async with shared_client(redis.url) as client:
        redis.stop()
        with pytest.raises(TogglError) as caught:
            await client.last_quota()
    assert caught.value.kind == "shared"


# -- per-user tokens ------------------------------------------------------------------------------


def state_for(token: str) -> AppState:
    settings = make_settings(api_token=SecretStr(token))
    return AppState(settings=settings, toggl=TogglClient(settings), cache=LocalCache(ttl=60))


async def test_each_token_gets_a_state_of_its_own_and_idle_ones_are_closed() -> None:
    now = [0.0]
    opened: list[str] = []

    def open_state(token: str) -> AppState:
        opened.append(token)
        return state_for(token)

    tenants = Tenants(open=open_state, idle=60, limit=2, clock=lambda: now[0])
    alice, bob = tenants.for_token("alice-token"), tenants.for_token("bob-token")
    assert alice is not bob and tenants.for_token("alice-token") is alice
    assert alice.toggl.settings.api_token.get_secret_value() == "alice-token"
    assert all("alice-token" not in key for key in tenants.states)  # keyed by a hash
    now[0] = 30
    tenants.for_token("alice-token")  # used: stays
    now[0] = 70
    carol = tenants.for_token("carol-token")  # bob idle for 70 s: closed
    assert carol is not alice
    now[0] = 75
    assert tenants.for_token("alice-token") is alice
    assert len(tenants.states) == 2 and opened == ["alice-token", "bob-token", "carol-token"]
    now[0] = 80
    tenants.for_token("dave-token")  # over the limit: the least recently used (carol) goes
    assert tenants.for_token("alice-token") is alice
    assert opened[-1] == "dave-token" and len(tenants.states) == 2
    await anyio.lowlevel.checkpoint()
    await tenants.aclose()


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"X-Toggl-Api-Token": " abc123 "}, "abc123"),
        ({"x-toggl-api-token": "abc123"}, "abc123"),
        ({}, None),
        ({"X-Toggl-Api-Token": ""}, None),
        ({"X-Toggl-Api-Token": "two words"}, None),
        ({"X-Toggl-Api-Token": "a\x00b"}, None),
        ({"X-Toggl-Api-Token": "x" * 300}, None),
        (None, None),
    ],
)
def test_user_token_takes_only_what_could_be_a_token(
    headers: dict[str, str] | None, token: str | None
) -> None:
    assert user_token(headers) == token


async def test_a_per_user_server_reached_without_http_refuses_every_tool(toggl: respx.MockRouter) -> None:
    server = build_server(make_settings(api_token=SecretStr(""), per_user_tokens=True))
    async with Client(server) as client:
        result = await client.call_tool("list_organizations", {})
    assert "X-Toggl-Api-Token" in tool_error(result)
    assert toggl.calls.call_count == 0


def test_per_user_tokens_need_no_server_token() -> None:
    settings = Settings.from_env({"TOGGL_MCP_PER_USER_TOKENS": "1"})
    assert settings.per_user_tokens and settings.api_token.get_secret_value() == ""
    with pytest.raises(ConfigError, match="TOGGL_MCP_PER_USER_TOKENS"):
        Settings.from_env({"TOGGL_MCP_PER_USER_TOKENS": "maybe"})


def test_a_user_token_learned_later_is_scrubbed_from_every_log_line() -> None:
    import base64
    import io

    from toggl_groups_mcp.logs import configure_logging, learn_secrets, token_secrets

    stream = io.StringIO()
    handler = configure_logging("DEBUG", ["server-token-123456"], stream=stream)
    try:
        logger = logging.getLogger("toggl_groups_mcp.test")
        user = "user-token-abcdef123456"
        basic = base64.b64encode(f"{user}:api_token".encode()).decode()
        logger.debug("before: %s", user)
        learn_secrets(token_secrets(user))
        logger.debug("after: %s %s %r", user, basic, user.encode())
    finally:
        logging.getLogger().removeHandler(handler)
    before, after = stream.getvalue().splitlines()
    assert user in before  # not a secret until heard: the point is that it is learned
    assert user not in after and basic not in after and after.count("[redacted]") == 3


async def test_names_heard_by_one_process_label_the_results_of_another(
    redis: RedisServer, toggl: respx.MockRouter
) -> None:
    """A bulk result names its projects from the name book (no request for names): on a team
    server the call that heard them may have reached another worker."""
    ws, group = 100, 5
    toggl.get(f"/workspaces/{ws}/projects").respond(json=[{"id": 1, "name": "Web"}, {"id": 2, "name": "App"}])
    toggl.get(f"/workspaces/{ws}/project_groups").respond(json=[])
    toggl.post(f"/workspaces/{ws}/project_groups").respond(json="OK")
    heard, other, alone = await servers(redis.url, CANARY_TOKEN, CANARY_TOKEN, OTHER_TOKEN)
    args = {"workspace_id": ws, "group_id": group, "project_ids": [1, 2]}
    async with Client(heard) as a:
        assert not (await a.call_tool("list_projects", {"workspace_id": ws})).is_error
    async with Client(other) as b:
        shared = await b.call_tool("add_group_to_projects", args)
    async with Client(alone) as c:
        unshared = await c.call_tool("add_group_to_projects", args)
    assert (shared.structured_content or {}).get("names") == {"1": "Web", "2": "App"}
    assert "names" not in (unshared.structured_content or {})  # another token heard nothing
    assert [c.request.method for c in toggl.calls].count("GET") == 3  # no read for the names
