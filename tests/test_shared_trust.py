"""What Redis may and may not influence, attacked through a real Redis and a real MCP client.

Whoever can write to Redis can write anything there. Questions a human answers, the gate's
decision and what the journal keeps to undo a change are built from reads made during the call,
never from the shared cache or the shared name book; values read back from Redis are bounded and
checked; a 429's hold, or a forged one, never makes a call sleep past the retry budget. And a
deletion answered after the group grew refuses rather than deleting what was not shown.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio as aioredis
import respx
from mcp import Client
from mcp.types import ElicitResult
from pydantic import SecretStr

from tests.conftest import CANARY_TOKEN, make_settings, result_text, sent, shared_server, tool_error
from tests.redis_server import RedisServer
from tests.test_shared_limits import redis, redis_server  # noqa: F401  (fixtures)
from toggl_groups_mcp import shared
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.sandbox.model import ProjectGroup
from toggl_groups_mcp.server import build_server
from toggl_groups_mcp.shared import Redis, token_key
from toggl_groups_mcp.toggl import TogglClient, TogglError

pytestmark = pytest.mark.anyio

ORG, WS, GROUP_ID = 7, 100, 601
GROUPS = f"/organizations/{ORG}/groups"
GROUP = f"{GROUPS}/{GROUP_ID}"
PROJECTS = f"/workspaces/{WS}/projects"
LINKS = f"/workspaces/{WS}/project_groups"
PREFIX = token_key(CANARY_TOKEN)
# No test waits this long: a call that would sleep through a hold fails the test instead.
PATIENCE = 10.0
# The promised limits (README): a 429 hold is written for at most 10 minutes; a names entry over
# 1 MiB and a cached answer over 4 MiB are not read.
MAX_HOLD_MS = 600_000
MAX_NAMES_ENTRY = 1024 * 1024
MAX_CACHED_BYTES = 4 * 1024 * 1024


def group_json(
    users: tuple[tuple[int, str], ...] = ((11, "Ada Lovelace"), (12, "Bob Marley")),
) -> dict[str, Any]:
    return {
        "group_id": GROUP_ID,
        "name": "Design",
        "users": [{"user_id": u, "name": n} for u, n in users],
        "workspaces": [WS],
    }


def toggl_org(toggl: respx.MockRouter) -> None:
    """One organization, one workspace with two projects, and the group linked to both."""
    toggl.get("/me/organizations").respond(json=[{"id": ORG, "name": "Acme"}])
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(PROJECTS).respond(json=[{"id": 1, "name": "Intranet"}, {"id": 2, "name": "Website"}])
    toggl.get(LINKS).respond(
        json=[
            {"id": 901, "group_id": GROUP_ID, "pid": 1, "wid": WS},
            {"id": 902, "group_id": GROUP_ID, "pid": 2, "wid": WS},
        ]
    )
    toggl.get(GROUPS).respond(json=[group_json(), {"group_id": 602, "name": "Everyone", "users": []}])
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])  # no direct members


def server_on(url: str, **overrides: Any) -> Any:
    settings = make_settings(redis_url=SecretStr(url), rate_per_sec=100.0, organization_id=ORG, **overrides)
    return shared_server(settings)


def asking(answer: bool = True) -> tuple[Callable[..., Awaitable[ElicitResult]], list[str]]:
    asked: list[str] = []

    async def callback(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": answer})

    return callback, asked


@asynccontextmanager
async def raw_redis(url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def cache_key(*key: Any) -> str:
    return f"{PREFIX}:cache:{json.dumps(list(key), separators=(',', ':'))}"


def journal_effects(path: Path, kind: str) -> list[dict[str, Any]]:
    effects = []
    for line in path.read_text().splitlines():
        effect = json.loads(line).get("effect") or {}
        if effect.get("kind") == kind:
            effects.append(effect)
    return effects


@pytest.fixture(autouse=True)
def _warn_again() -> None:
    """Each test sees the first warning of each kind (they are said once per process)."""
    getattr(shared, "_warned", set()).clear()


# -- what Redis holds never reaches a question, a decision or the journal ----------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_an_empty_project_list_planted_in_redis_does_not_hide_what_a_deletion_loses(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
    tmp_path: Path,
    mode: str,
) -> None:
    toggl_org(toggl)
    delete = toggl.delete(GROUP).respond(json="OK")
    async with raw_redis(redis.url) as planted:
        await planted.set(cache_key("all-projects", WS), "[]", px=60_000)
        await planted.set(cache_key("me", "workspaces"), "[]", px=60_000)
    callback, asked = asking()
    journal = tmp_path / "journal.jsonl"
    server = server_on(redis.url, journal_path=journal)
    async with Client(server, mode=mode, elicitation_callback=callback) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    assert not result.is_error, tool_error(result)
    assert "access to 2 project(s)" in asked[-1] and "Intranet" in asked[-1] and "Website" in asked[-1]
    assert delete.call_count == 1
    (effect,) = journal_effects(journal, "group_deleted")
    assert sorted(link["project_id"] for link in effect["links"]) == [1, 2]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_name_planted_in_the_shared_name_stream_never_names_what_a_removal_asks_about(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
    mode: str,
) -> None:
    toggl_org(toggl)
    toggl.delete(f"{LINKS}/901").respond(json="OK")
    forged = {"group:601": "Interns (harmless)", "project:1": "Scratch pad", "workspace:100": "Sandbox"}
    async with raw_redis(redis.url) as planted:
        await planted.xadd(f"{PREFIX}:names", {"n": json.dumps(forged)})
    callback, asked = asking()
    async with Client(server_on(redis.url), mode=mode, elicitation_callback=callback) as client:
        # Any call takes in what the other processes heard: the forged entry is in the book now.
        listed = await client.call_tool("list_project_groups", {"workspace_id": WS, "project_ids": [1]})
        assert "Interns (harmless)" in result_text(listed)  # a result may show it: it decides nothing
        result = await client.call_tool(
            "remove_project_group", {"workspace_id": WS, "project_id": 1, "group_id": GROUP_ID}
        )
    assert not result.is_error, tool_error(result)
    question = asked[-1]
    assert "Design loses access to Intranet (1) in Studio (100)" in question, question
    assert not any(name in question for name in forged.values())


async def test_a_bulk_removal_and_an_offboarding_ask_in_names_read_during_the_call(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    toggl_org(toggl)
    toggl.delete(url__regex=rf"{LINKS}/\d+").respond(json="OK")
    toggl.patch(GROUP).respond(json={"success": [], "failure": []})
    forged = {"group:601": "Interns", "project:1": "Scratch", "project:2": "Scratch 2", "user:12": "Nobody"}
    async with raw_redis(redis.url) as planted:
        await planted.xadd(f"{PREFIX}:names", {"n": json.dumps(forged)})
    callback, asked = asking()
    async with Client(server_on(redis.url), mode="legacy", elicitation_callback=callback) as client:
        await client.call_tool("list_workspaces", {})  # takes in the forged names
        bulk = await client.call_tool(
            "remove_group_from_projects", {"workspace_id": WS, "group_id": GROUP_ID, "project_ids": [1, 2]}
        )
        offboard = await client.call_tool("remove_user_from_groups", {"user_id": 12})
    assert not bulk.is_error and not offboard.is_error
    assert "Design (601) loses access to 2 project(s)" in asked[0] and "Intranet" in asked[0], asked[0]
    assert "Bob Marley (12)" in asked[1], asked[1]
    assert not any(name in question for question in asked for name in forged.values())


async def test_a_workspace_list_planted_in_redis_never_names_what_an_update_drops(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    toggl_org(toggl)
    put = toggl.put(GROUP).respond(json={**group_json(), "workspaces": []})
    forged = [{"id": WS, "name": "Old test space", "organization_id": ORG}]
    async with raw_redis(redis.url) as planted:
        await planted.set(cache_key("me", "workspaces"), json.dumps(forged), px=60_000)
    callback, asked = asking()
    async with Client(server_on(redis.url), mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool("update_group", {"group_id": GROUP_ID, "workspace_ids": []})
    assert not result.is_error, tool_error(result)
    assert "workspaces removed: Studio (100)" in asked[0] and "Old test space" not in asked[0], asked[0]
    assert put.call_count == 1


# -- what this process heard from Toggl saves requests; what decides is read in the call -----------


def paths_since(toggl: respx.MockRouter, start: int) -> list[str]:
    return [request.path for request in sent(toggl)[start:]]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_preview_right_after_a_list_reads_only_what_decides_and_names_from_this_process(
    toggl: respx.MockRouter, mode: str
) -> None:
    """One process, no Redis: names and the workspace list Toggl told this process in earlier
    calls label the questions; only the group, the links and a deletion's project lists are read."""
    toggl_org(toggl)
    server = shared_server(make_settings(organization_id=ORG))
    previews: dict[str, tuple[str, list[str]]] = {}
    async with Client(server, mode=mode) as client:
        await client.call_tool("list_groups", {})
        await client.call_tool("list_workspaces", {})
        for tool, arguments in (
            ("delete_group", {"group_id": GROUP_ID}),
            ("update_group", {"group_id": GROUP_ID, "workspace_ids": []}),
            ("remove_project_group", {"workspace_id": WS, "project_id": 1, "group_id": GROUP_ID}),
            ("remove_group_from_projects", {"workspace_id": WS, "group_id": GROUP_ID, "project_ids": [1, 2]}),
            ("remove_user_from_groups", {"user_id": 12}),
        ):
            start = len(toggl.calls)
            text = tool_error(await client.call_tool(tool, arguments))
            assert "Confirmation required" in text, text
            previews[tool] = (text, paths_since(toggl, start))
    members = f"/workspaces/{WS}/project_users"
    assert previews["delete_group"][1] == [GROUPS, PROJECTS, LINKS, members]
    assert "workspace assignments: Studio (100)" in previews["delete_group"][0]
    assert "Intranet (1, Studio)" in previews["delete_group"][0]
    assert previews["update_group"][1] == [GROUPS]
    assert "workspaces removed: Studio (100)" in previews["update_group"][0]
    # A removal reads what decides who keeps access: privacy, the groups, the direct members.
    assert previews["remove_project_group"][1] == [LINKS, PROJECTS, GROUPS, members]
    assert "Design loses access to Intranet (1) in Studio (100)" in previews["remove_project_group"][0]
    assert previews["remove_group_from_projects"][1] == [LINKS, PROJECTS, GROUPS, members]
    assert (
        "Design (601) loses access to 2 project(s) in Studio (100)"
        in previews["remove_group_from_projects"][0]
    )
    # The person's direct memberships are read in the call: they decide what the question says
    # stays open (the public projects come from this process's list, read by delete_group above).
    assert previews["remove_user_from_groups"][1] == [GROUPS, f"/workspaces/{WS}/project_users"]
    assert "Bob Marley (12)" in previews["remove_user_from_groups"][0]


async def test_a_deletion_question_reads_the_project_lists_even_when_this_process_has_them(
    toggl: respx.MockRouter,
) -> None:
    """A project created after this process cached the workspace's list, and linked to the group:
    the deletion loses that link too, so the question says so (and undo could restore it)."""
    toggl_org(toggl)
    server = shared_server(make_settings(organization_id=ORG))
    async with Client(server, mode="legacy") as client:
        read = await client.call_tool("get_group", {"group_id": GROUP_ID})  # caches the list
        assert "Intranet" in result_text(read) and "Roadmap" not in result_text(read)
        toggl.get(PROJECTS).respond(
            json=[{"id": 1, "name": "Intranet"}, {"id": 2, "name": "Website"}, {"id": 3, "name": "Roadmap"}]
        )
        toggl.get(LINKS).respond(
            json=[
                {"id": 901, "group_id": GROUP_ID, "pid": 1, "wid": WS},
                {"id": 902, "group_id": GROUP_ID, "pid": 2, "wid": WS},
                {"id": 903, "group_id": GROUP_ID, "pid": 3, "wid": WS},
            ]
        )
        text = tool_error(await client.call_tool("delete_group", {"group_id": GROUP_ID}))
    assert "access to 3 project(s)" in text and "Roadmap (3, Studio)" in text, text


async def test_a_link_on_a_project_newer_than_this_process_s_list_is_still_found_by_its_id(
    toggl: respx.MockRouter,
) -> None:
    toggl_org(toggl)
    server = shared_server(make_settings(organization_id=ORG))
    async with Client(server, mode="legacy") as client:
        await client.call_tool("get_group", {"group_id": GROUP_ID})  # caches the project list
        toggl.get(PROJECTS).respond(json=[{"id": 1, "name": "Intranet"}, {"id": 3, "name": "Roadmap"}])
        # Toggl answers with the links of the projects asked about: 903 only when 3 is asked.
        roadmap = {"id": 903, "group_id": GROUP_ID, "pid": 3, "wid": WS}
        toggl.get(LINKS).mock(
            side_effect=lambda request: httpx.Response(
                200, json=[roadmap] if "3" in request.url.params["project_ids"].split(",") else []
            )
        )
        text = tool_error(
            await client.call_tool("remove_project_group", {"workspace_id": WS, "project_group_id": 903})
        )
    assert "Design loses access to Roadmap (3) in Studio (100), link 903" in text, text


async def test_with_redis_a_question_names_only_what_toggl_told_this_process_and_keeps_it(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    """Forged names and a forged workspace list in Redis reach results, never a question; what
    Toggl told this process (in a deciding call too) serves the next question without a request."""
    toggl_org(toggl)
    forged = {"group:601": "Interns", "project:1": "Scratch", "user:11": "Nobody", "workspace:100": "Sandbox"}
    async with raw_redis(redis.url) as planted:
        await planted.xadd(f"{PREFIX}:names", {"n": json.dumps(forged)})
        await planted.set(
            cache_key("me", "workspaces"),
            json.dumps([{"id": WS, "name": "Old test space", "organization_id": ORG}]),
            px=60_000,
        )
    async with Client(server_on(redis.url), mode="legacy") as client:
        listed = await client.call_tool("list_workspaces", {})  # takes in the forged names and list
        assert "Old test space" in result_text(listed)
        start = len(toggl.calls)
        deletion = tool_error(await client.call_tool("delete_group", {"group_id": GROUP_ID}))
        first = paths_since(toggl, start)
        start = len(toggl.calls)
        update = tool_error(
            await client.call_tool("update_group", {"group_id": GROUP_ID, "workspace_ids": []})
        )
        second = paths_since(toggl, start)
    assert "Delete group 'Design'" in deletion and "Ada Lovelace (11)" in deletion, deletion
    assert "workspace assignments: Studio (100)" in deletion and "Intranet (1, Studio)" in deletion
    assert "workspaces removed: Studio (100)" in update, update
    for question in (deletion, update):
        assert not any(name in question for name in [*forged.values(), "Old test space"]), question
    # The deletion read the workspace list Redis offered again; the update needs no such read.
    assert first == [GROUPS, "/me/workspaces", PROJECTS, LINKS, f"/workspaces/{WS}/project_users"]
    assert second == [GROUPS]


# -- what is read back from Redis is bounded and checked ---------------------------------------------


async def test_a_huge_names_entry_is_skipped_in_redis_and_never_parsed(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    toggl_org(toggl)
    parsed: list[int] = []
    real = shared._names_from

    def spy(blob: str) -> Any:
        parsed.append(len(blob))
        return real(blob)

    monkeypatch.setattr(shared, "_names_from", spy)
    huge = json.dumps({f"user:{n}": "x" * 200 for n in range(100_000)})  # about 21 MB
    assert len(huge) > 4 * MAX_NAMES_ENTRY
    async with raw_redis(redis.url) as planted:
        await planted.xadd(f"{PREFIX}:names", {"n": huge})
        await planted.xadd(
            f"{PREFIX}:names", {"n": json.dumps({"project:1": "Intranet", "group:601": "Design"})}
        )
    with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp"):
        async with Client(server_on(redis.url)) as client:
            first = await client.call_tool("list_project_groups", {"workspace_id": WS, "project_ids": [1]})
            second = await client.call_tool("list_project_groups", {"workspace_id": WS, "project_ids": [2]})
    assert not first.is_error and not second.is_error
    assert parsed and max(parsed) <= MAX_NAMES_ENTRY  # the huge one never reached the parser
    links = (first.structured_content or {})["links"]
    assert links[0]["project"] == "Intranet"  # the entry after it was taken in
    warnings = [r.getMessage() for r in caplog.records if "names entry" in r.getMessage()]
    assert len(warnings) == 1 and "bytes" in warnings[0]


async def test_a_flood_of_names_entries_is_read_only_so_far_then_skipped(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    toggl_org(toggl)
    parsed: list[int] = []
    real = shared._names_from

    def spy(blob: str) -> Any:
        parsed.append(len(blob))
        return real(blob)

    monkeypatch.setattr(shared, "_names_from", spy)
    async with raw_redis(redis.url) as planted:
        async with planted.pipeline(transaction=False) as pipe:
            for n in range(20_000):
                pipe.xadd(f"{PREFIX}:names", {"n": json.dumps({f"user:{n + 1}": f"Person {n}"})})
            await pipe.execute()
    async with Client(server_on(redis.url)) as client:
        await client.call_tool("list_workspaces", {})
        taken_first = len(parsed)
        await client.call_tool("list_workspaces", {})
    assert 0 < taken_first <= 5_000  # not all 20,000
    assert len(parsed) - taken_first <= 1  # the next pull starts at the newest, not where it stopped


async def test_cached_answers_too_large_of_the_wrong_type_or_shape_are_ignored_and_toggl_is_read(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    organizations = toggl.get("/me/organizations").respond(json=[{"id": ORG, "name": "Acme"}])
    workspaces = toggl.get("/me/workspaces").respond(
        json=[{"id": WS, "name": "Studio", "organization_id": ORG}]
    )
    projects = toggl.get(PROJECTS).respond(json=[{"id": 1, "name": "Intranet"}])
    big = json.dumps([{"id": n, "name": "Forged " + "x" * 100} for n in range(50_000)])
    assert len(big) > MAX_CACHED_BYTES
    async with raw_redis(redis.url) as planted:
        await planted.set(cache_key("me", "workspaces"), big)
        await planted.hset(cache_key("me", "organizations"), "a", "b")  # not a string at all
        await planted.set(cache_key("projects", WS, None, "true", 1, 50), json.dumps({"id": 1}))  # not a list
    settings = make_settings(redis_url=SecretStr(redis.url), rate_per_sec=100.0)
    with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp"):
        async with Client(shared_server(settings)) as client:
            found = await client.call_tool("list_workspaces", {})
            orgs = await client.call_tool("list_organizations", {})
            listed = await client.call_tool("list_projects", {"workspace_id": WS})
    assert not found.is_error and "Studio" in result_text(found) and "Forged" not in result_text(found)
    assert not orgs.is_error and "Acme" in result_text(orgs)
    assert not listed.is_error and "Intranet" in result_text(listed)
    assert workspaces.call_count == 1 and organizations.call_count == 1 and projects.call_count == 1
    assert sum("cached answer" in r.getMessage() for r in caplog.records) == 1  # one warning per kind


async def test_a_forged_quota_or_new_group_mark_is_ignored(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    put = toggl.put(GROUP).respond(404, json="not found")
    async with raw_redis(redis.url) as planted:
        await planted.hset(
            f"{PREFIX}:quota",
            mapping={
                str(ORG): json.dumps({"remaining": "lots", "resets_in": 5, "seen": time.time()}),
                "8": "x" * 10_000,
                "9": json.dumps({"remaining": 5, "resets_in": 1e12, "seen": time.time()}),
            },
        )
        await planted.set(f"{PREFIX}:fresh:{GROUP_ID}", "1")  # no expiry: not a mark this code sets
    shared_redis = Redis(redis.url)
    client = TogglClient(make_settings(), shared=shared_redis)
    try:
        assert await client.last_quota() is None
        with pytest.raises(TogglError) as caught:
            await client.request("PUT", GROUP, json={"name": "x"}, group_id=GROUP_ID)
    finally:
        await client.aclose()
        await shared_redis.aclose()
    assert caught.value.status == 404
    assert put.call_count == 1  # not retried as if the group were seconds old


# -- 429 holds: capped, and never slept through past the retry budget --------------------------------


async def test_a_retry_after_of_a_day_is_held_for_at_most_the_cap_and_other_processes_fail_fast(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    toggl.get(GROUPS).respond(429, json="slow down", headers={"Retry-After": "86400"})
    first, second = server_on(redis.url), server_on(redis.url, retry_budget=3.0)
    async with Client(first) as a:
        seen = await a.call_tool("list_groups", {})
    async with raw_redis(redis.url) as look:
        held = await look.pttl(f"{PREFIX}:hold")
    assert 0 < held <= MAX_HOLD_MS
    sent = toggl.calls.call_count
    with anyio.fail_after(PATIENCE):
        async with Client(second) as b:
            waited = await b.call_tool("list_groups", {})
    for result in (seen, waited):
        text = tool_error(result)
        assert "Toggl accepts requests again at" in text and "UTC" in text
    assert "(in 86400 s)" in tool_error(seen)
    assert "(in 8640" in tool_error(waited) or "(in 8639" in tool_error(waited)  # Toggl's word, not the cap
    assert "was not sent to Toggl" in tool_error(waited)
    assert toggl.calls.call_count == sent  # the other process sent nothing


@pytest.mark.parametrize(
    ("key", "value", "px"),
    [
        ("hold", "1", 3_600_000),  # longer than any hold this code writes
        ("hold", "1", None),  # no expiry
        ("tat", f"{time.time() + 30 * 86400:.6f}", None),  # a turn a month away
        ("tat", "not a number", None),
        ("tat", "9" * 1000, None),
    ],
    ids=["hold-over-the-cap", "hold-without-expiry", "turn-a-month-away", "turn-not-a-number", "turn-huge"],
)
async def test_a_forged_hold_or_pacing_time_never_makes_a_call_wait(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    key: str,
    value: str,
    px: int | None,
) -> None:
    toggl.get(GROUPS).respond(json=[group_json()])
    async with raw_redis(redis.url) as planted:
        if key == "hold":
            # A hold is looked at after a turn that had to be waited for: make the first one wait.
            seconds, micros = await planted.time()
            await planted.set(f"{PREFIX}:tat", f"{seconds + micros / 1e6 + 0.2:.6f}", px=5_000)
        await planted.set(f"{PREFIX}:{key}", value, px=px)
    with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp"), anyio.fail_after(PATIENCE):
        async with Client(server_on(redis.url)) as client:
            result = await client.call_tool("list_groups", {})
    assert not result.is_error, tool_error(result)
    assert toggl.calls.call_count == 1
    assert any("ignored" in r.getMessage() for r in caplog.records)


async def test_a_forged_hold_within_the_cap_but_past_the_budget_fails_at_once_saying_when(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    toggl.get(GROUPS).respond(json=[group_json()])
    async with raw_redis(redis.url) as planted:
        seconds, micros = await planted.time()
        await planted.set(f"{PREFIX}:tat", f"{seconds + micros / 1e6 + 0.2:.6f}", px=5_000)
        await planted.set(f"{PREFIX}:hold", "1", px=300_000)
    with anyio.fail_after(PATIENCE):
        async with Client(server_on(redis.url)) as client:
            result = await client.call_tool("list_groups", {})
    text = tool_error(result)
    assert "was not sent to Toggl" in text and "Toggl accepts requests again at" in text
    assert toggl.calls.call_count == 0


async def test_without_redis_a_retry_after_past_the_budget_fails_at_once_with_the_time(
    toggl: respx.MockRouter,
) -> None:
    toggl.get(GROUPS).respond(429, json="slow down", headers={"Retry-After": "86400"})
    with anyio.fail_after(PATIENCE):
        async with Client(shared_server(make_settings(organization_id=ORG))) as client:
            result = await client.call_tool("list_groups", {})
    text = tool_error(result)
    assert "Toggl accepts requests again at" in text and "(in 86400 s)" in text
    assert toggl.calls.call_count == 1


# -- delete_group: a deletion answered after the group grew ------------------------------------------


class GrowsWhileDeciding:
    """A human who takes a while to answer; meanwhile someone adds three members and two project
    links to the group in Toggl (the sandbox)."""

    def __init__(self, sandbox: list[Sandbox]) -> None:
        self.sandbox, self.asked = sandbox, []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        self.asked.append(params.message)
        if len(self.asked) == 1:
            state = self.sandbox[0].store.state
            group = state.groups[ids.GROUP_DESIGNERS]
            group.user_ids += [ids.USER_ALEX, ids.USER_DANA, ids.USER_FARAH]
            for link_id, project in (
                (4700901, ids.PROJECT_API_PLATFORM),
                (4700902, ids.PROJECT_DATA_PIPELINE),
            ):
                state.project_groups[link_id] = ProjectGroup(
                    link_id, ids.WS_ACME_ENGINEERING, project, ids.GROUP_DESIGNERS
                )
        return ElicitResult(action="accept", content={"confirm": True})


@pytest.mark.parametrize("journal", [False, True])
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_deletion_answered_after_the_group_grew_never_deletes_what_was_not_shown(
    tmp_path: Path, mode: str, journal: bool
) -> None:
    where: list[Sandbox] = []
    human = GrowsWhileDeciding(where)
    async with running_sandbox(SandboxConfig()) as sb:
        where.append(sb.sandbox)
        settings = make_settings(
            api_token=SecretStr(sb.token),
            api_url=sb.url,
            journal_path=tmp_path / "journal.jsonl" if journal else None,
        )
        async with Client(build_server(settings), mode=mode, elicitation_callback=human) as client:
            result = await client.call_tool(
                "delete_group", {"organization_id": ids.ORG_ACME, "group_id": ids.GROUP_DESIGNERS}
            )
        deleted = ids.GROUP_DESIGNERS not in sb.sandbox.store.state.groups
        sent = [r["method"] for r in sb.sandbox.request_log()]
    first = human.asked[0]
    # Brand Refresh, Website Redesign and the public Studio Handbook (demo data).
    assert "2 member(s)" in first and "access to 3 project(s)" in first and "Dana Okafor" not in first
    if mode == "legacy":
        # Asked mid-request: the body reads again after the answer, sees more, and refuses.
        text = tool_error(result)
        assert "changed in Toggl while the user was deciding" in text and "No change was sent" in text
        assert "5 member(s)" in text and "access to 5 project(s)" in text and "Data Pipeline" in text
        assert not deleted and "DELETE" not in sent
        assert len(human.asked) == 1
    else:
        # The answer comes with a second request whose preview is read after it: it differs from
        # the one answered, so the human is asked again, sees all, and the deletion goes ahead.
        assert not result.is_error, tool_error(result)
        assert len(human.asked) == 2 and "5 member(s)" in human.asked[1] and "Data Pipeline" in human.asked[1]
        assert deleted


async def test_a_deletion_answered_after_the_group_shrank_goes_ahead(tmp_path: Path) -> None:
    """Losing less than was shown is no surprise: the deletion is sent."""
    where: list[Sandbox] = []

    async def shrinks(context: Any, params: Any) -> ElicitResult:
        where[0].store.state.groups[ids.GROUP_DESIGNERS].user_ids.remove(ids.USER_CHEN)
        return ElicitResult(action="accept", content={"confirm": True})

    async with running_sandbox(SandboxConfig()) as sb:
        where.append(sb.sandbox)
        settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url)
        async with Client(build_server(settings), mode="legacy", elicitation_callback=shrinks) as client:
            result = await client.call_tool(
                "delete_group", {"organization_id": ids.ORG_ACME, "group_id": ids.GROUP_DESIGNERS}
            )
        assert not result.is_error, tool_error(result)
        assert ids.GROUP_DESIGNERS not in sb.sandbox.store.state.groups
