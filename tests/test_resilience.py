"""The Toggl client under a misbehaving Toggl: pacing, 429, 402, 5xx, lost connections,
eventual consistency, timeouts and cancellation. Time is fake; nothing here really waits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest
import respx
from pydantic import SecretStr

from tests.conftest import Connect, FakeTime, error_text, open_toggl
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.toggl import TogglError
from toggl_groups_mcp.toggl.client import MAX_RATE_LIMIT_RETRIES, Pacer, TogglClient

pytestmark = pytest.mark.anyio

ORG = 7
WS = 70
GROUPS = f"/organizations/{ORG}/groups"
LINKS = f"/workspaces/{WS}/project_groups"
GROUP = {"group_id": 501, "name": "Support", "users": [{"user_id": 1, "name": "Ada"}], "workspaces": [WS]}


def scoped(connect: Connect, **overrides: Any) -> Any:
    return connect(organization_id=ORG, workspace_id=WS, **overrides)


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, json=f"status {code}", headers=headers)


# -- pacing ------------------------------------------------------------------------------------------


async def test_the_pacer_lets_a_burst_through_keeping_a_quarter_second_of_slack() -> None:
    fake = FakeTime()
    pacer = Pacer(rate=1.0, burst=3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        await pacer.acquire()
    # The last of the burst waits out the slack that absorbs Toggl's arrival-time jitter.
    assert fake.sleeps == [pytest.approx(0.25)]


@pytest.mark.parametrize(("n", "rate", "burst"), [(10, 1.0, 2), (7, 2.0, 1), (20, 0.5, 3)])
async def test_the_pacer_holds_n_requests_to_the_sustained_rate_after_the_burst(
    n: int, rate: float, burst: int
) -> None:
    fake = FakeTime()
    pacer = Pacer(rate=rate, burst=burst, clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    for _ in range(n):
        await pacer.acquire()
    slack = 0.25 if burst > 1 else 0.0  # the burst keeps a quarter second in hand
    assert fake.now - start >= (n - burst) / rate + slack - 1e-9
    # ...and no slower than it has to be.
    assert fake.now - start <= (n - burst) / rate + slack + 1e-9


async def test_the_pacer_never_lets_more_than_burst_plus_rate_times_t_through_in_any_window() -> None:
    fake = FakeTime()
    pacer = Pacer(rate=1.0, burst=2, clock=fake.clock, sleep=fake.sleep)
    times = []
    for _ in range(30):
        await pacer.acquire()
        times.append(fake.now)
    for i, t0 in enumerate(times):
        for j in range(i, len(times)):
            window = times[j] - t0
            assert j - i + 1 <= 2 + window * 1.0 + 1e-9


async def test_the_pacer_refills_while_idle_but_never_beyond_the_burst() -> None:
    fake = FakeTime()
    pacer = Pacer(rate=1.0, burst=2, clock=fake.clock, sleep=fake.sleep)
    await pacer.acquire()
    await pacer.acquire()
    before_idle = len(fake.sleeps)
    fake.now += 3600  # an hour idle refills the bucket to its capacity (1.75), not to 3600
    for _ in range(3):
        await pacer.acquire()
    assert fake.sleeps[before_idle:] == [pytest.approx(0.25), pytest.approx(1.0)]


async def test_a_drained_pacer_waits_a_full_interval_before_the_next_request() -> None:
    fake = FakeTime()
    pacer = Pacer(rate=2.0, burst=5, clock=fake.clock, sleep=fake.sleep)
    pacer.drain()
    assert await pacer.acquire() == pytest.approx(0.5)


@pytest.mark.parametrize("rate", [None, 0.0, -1.0])
async def test_pacing_is_off_when_the_rate_is_not_positive(rate: float | None) -> None:
    fake = FakeTime()
    pacer = Pacer(rate=rate, burst=1, clock=fake.clock, sleep=fake.sleep)
    for _ in range(50):
        await pacer.acquire()
    assert fake.sleeps == []


async def test_the_client_paces_n_requests_to_at_least_n_minus_burst_over_rate_seconds(
    toggl: respx.MockRouter,
) -> None:
    toggl.get("/me").respond(json={"id": 1})
    fake = FakeTime()
    async with open_toggl(fake, rate_per_sec=1.0, burst=2) as client:
        for _ in range(8):
            await client.request("GET", "/me")
    assert toggl.calls.call_count == 8
    assert fake.now - 1000.0 >= 6.0 - 1e-9


async def test_by_default_the_client_paces_at_one_request_a_second_with_a_small_burst() -> None:
    defaults = Settings(api_token=SecretStr("x"))
    client = TogglClient(defaults)
    try:
        assert client.pacer.rate == 1.0
        assert 1 <= client.pacer.capacity <= 3
    finally:
        await client.aclose()


# -- 429 ---------------------------------------------------------------------------------------------


async def test_a_429_429_200_sequence_succeeds_after_three_requests_honouring_retry_after(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    route = toggl.get(GROUPS).mock(
        side_effect=[
            status(429, **{"Retry-After": "1"}),
            status(429, **{"Retry-After": "2"}),
            httpx.Response(200, json=[GROUP]),
        ]
    )
    async with scoped(connect, retry_budget=30.0) as client:
        result = await client.call_tool("list_groups", {})
    assert not result.is_error
    assert result.structured_content is not None and result.structured_content["total"] == 1
    assert route.call_count == 3
    assert fake_time.sleeps == [1.0, 2.0]


async def test_a_429_storm_beyond_the_retry_budget_becomes_a_tool_error_saying_when_to_retry(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    route = toggl.get(GROUPS).mock(return_value=status(429, **{"Retry-After": "1"}))
    async with scoped(connect, retry_budget=2.0) as client:
        result = await client.call_tool("list_groups", {})
    text = error_text(result)
    assert "Retry after 1 s" in text
    assert "rate limiting" in text
    # Two waits of 1 s fit the 2 s budget; the third 429 does not get another one.
    assert fake_time.sleeps == [1.0, 1.0]
    assert route.call_count == 3


async def test_a_retry_after_longer_than_the_budget_fails_at_once_and_names_that_wait(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    route = toggl.get(GROUPS).mock(return_value=status(429, **{"Retry-After": "45"}))
    async with scoped(connect, retry_budget=30.0) as client:
        result = await client.call_tool("list_groups", {})
    assert "Retry after 45 s" in error_text(result)
    assert route.call_count == 1
    assert fake_time.sleeps == []


async def test_a_429_without_retry_after_backs_off_exponentially_with_jitter(toggl: respx.MockRouter) -> None:
    toggl.get("/me").mock(side_effect=[status(429)] * 4 + [httpx.Response(200, json={})])
    fake = FakeTime()
    async with open_toggl(fake, backoff_base=0.1, retry_budget=10.0) as client:
        await client.request("GET", "/me")
    assert len(fake.sleeps) == 4
    for n, slept in enumerate(fake.sleeps, start=1):
        full = 0.1 * 2**n
        assert full / 2 <= slept <= full


async def test_a_retry_after_given_as_an_http_date_is_honoured(toggl: respx.MockRouter) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    toggl.get("/me").mock(side_effect=[status(429, **{"Retry-After": when}), httpx.Response(200, json={})])
    fake = FakeTime()
    async with open_toggl(fake, retry_budget=10.0) as client:
        await client.request("GET", "/me")
    assert len(fake.sleeps) == 1 and 2.0 <= fake.sleeps[0] <= 4.0


@pytest.mark.parametrize("retry_after", ["0", "-3", "soon", "nan", "inf"])
async def test_a_429_storm_with_a_useless_retry_after_still_ends(
    toggl: respx.MockRouter, retry_after: str
) -> None:
    route = toggl.get("/me").mock(return_value=status(429, **{"Retry-After": retry_after}))
    fake = FakeTime()
    async with open_toggl(fake, backoff_base=0.0, retry_budget=30.0) as client:
        with pytest.raises(TogglError) as caught:
            await client.request("GET", "/me")
    assert caught.value.kind == "rate_limited"
    assert route.call_count == MAX_RATE_LIMIT_RETRIES + 1
    assert re.search(r"Retry after \d+ s", caught.value.hint())


async def test_a_429_drains_the_pacer_so_the_next_request_waits_its_turn(toggl: respx.MockRouter) -> None:
    toggl.get("/me").mock(side_effect=[status(429, **{"Retry-After": "0.25"}), httpx.Response(200, json={})])
    fake = FakeTime()
    async with open_toggl(fake, rate_per_sec=1.0, burst=5) as client:
        await client.request("GET", "/me")
    # The Retry-After wait, then the rest of a full pacing interval.
    assert fake.sleeps == [pytest.approx(0.25), pytest.approx(0.75)]


# -- 402 ---------------------------------------------------------------------------------------------


async def test_a_402_with_quota_headers_is_not_retried_and_says_the_count_and_when_it_resets(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    route = toggl.get(GROUPS).mock(
        return_value=status(402, **{"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1234"})
    )
    async with scoped(connect) as client:
        result = await client.call_tool("list_groups", {})
    text = error_text(result)
    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert "remaining: 0" in text
    assert "resets in 1234 s" in text
    assert re.search(r"\(at (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d UTC\)", text)


async def test_a_402_without_quota_headers_is_a_plan_error_and_is_not_retried(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    route = toggl.get(GROUPS).mock(return_value=status(402))
    async with scoped(connect) as client:
        result = await client.call_tool("list_groups", {})
    text = error_text(result)
    assert route.call_count == 1
    assert "plan" in text and "Retrying will not help" in text


async def test_the_reset_time_of_a_402_is_the_utc_time_that_many_seconds_ahead(
    toggl: respx.MockRouter,
) -> None:
    toggl.get(GROUPS).mock(
        return_value=status(402, **{"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "600"})
    )
    async with open_toggl() as client:
        before = datetime.now(UTC)
        with pytest.raises(TogglError) as caught:
            await client.request("GET", GROUPS)
    assert caught.value.kind == "quota" and caught.value.quota_resets_in == 600
    stamp = re.search(r"at (\d\d:\d\d:\d\d) UTC", caught.value.hint())
    assert stamp is not None
    expected = {(before + timedelta(seconds=600 + d)).strftime("%H:%M:%S") for d in range(3)}
    assert stamp.group(1) in expected


async def test_the_client_keeps_the_last_quota_headers_it_saw_per_organization(
    toggl: respx.MockRouter,
) -> None:
    toggl.get(GROUPS).respond(
        json=[], headers={"X-Toggl-Quota-Remaining": "25", "X-Toggl-Quota-Resets-In": "900"}
    )
    toggl.get("/organizations/8/groups").respond(
        json=[], headers={"X-Toggl-Quota-Remaining": "3", "X-Toggl-Quota-Resets-In": "60"}
    )
    toggl.get("/me").respond(json={})  # no headers: leaves what is known alone
    fake = FakeTime()
    async with open_toggl(fake) as client:
        assert await client.last_quota() is None
        await client.request("GET", GROUPS)
        fake.now += 100
        await client.request("GET", "/organizations/8/groups")
        await client.request("GET", "/me")
        mine = await client.last_quota(ORG)
        latest = await client.last_quota()
    assert mine is not None and (mine.remaining, mine.resets_in, mine.organization_id) == (25, 900, ORG)
    assert mine.current(fake.now) == (25, 800)
    assert latest is not None and latest.organization_id == 8 and latest.remaining == 3
    assert set(client.quota) == {ORG, 8}


async def test_malformed_quota_headers_are_ignored(toggl: respx.MockRouter) -> None:
    toggl.get(GROUPS).respond(
        json=[], headers={"X-Toggl-Quota-Remaining": "lots", "X-Toggl-Quota-Resets-In": "nan"}
    )
    async with open_toggl() as client:
        await client.request("GET", GROUPS)
        assert await client.last_quota() is None


async def test_a_402_is_a_quota_error_even_when_only_one_quota_header_parses(toggl: respx.MockRouter) -> None:
    toggl.get(GROUPS).mock(
        return_value=status(402, **{"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "later"})
    )
    async with open_toggl() as client:
        with pytest.raises(TogglError) as caught:
            await client.request("GET", GROUPS)
    assert caught.value.kind == "quota"
    assert "remaining: 0" in caught.value.hint()


# -- 5xx and lost connections ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_idempotent_request_is_retried_twice_after_5xx_then_succeeds(
    toggl: respx.MockRouter, method: str
) -> None:
    route = toggl.route(method=method, path=f"{GROUPS}/1").mock(
        side_effect=[status(500), status(503), httpx.Response(200, json={"ok": True})]
    )
    fake = FakeTime()
    async with open_toggl(fake, backoff_base=0.1) as client:
        assert await client.request(method, f"{GROUPS}/1") == {"ok": True}
    assert route.call_count == 3
    assert len(fake.sleeps) == 2
    # Jittered exponential backoff: within [half, full] of base * 2**n.
    assert 0.1 <= fake.sleeps[0] <= 0.2 and 0.2 <= fake.sleeps[1] <= 0.4


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("slow"), httpx.ReadError("reset"), httpx.RemoteProtocolError("gone")]
)
async def test_a_get_is_retried_after_a_timeout_or_dropped_connection(
    toggl: respx.MockRouter, failure: Exception
) -> None:
    route = toggl.get("/me").mock(side_effect=[failure, httpx.Response(200, json={"id": 1})])
    async with open_toggl(FakeTime()) as client:
        assert await client.request("GET", "/me") == {"id": 1}
    assert route.call_count == 2


async def test_an_idempotent_request_gives_up_after_three_5xx(toggl: respx.MockRouter) -> None:
    route = toggl.get(GROUPS).mock(return_value=status(502))
    async with open_toggl(FakeTime()) as client:
        with pytest.raises(TogglError) as caught:
            await client.request("GET", GROUPS)
    assert route.call_count == 3
    assert caught.value.status == 502 and caught.value.effect == "none"
    assert "nothing was changed" in caught.value.hint()


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize(
    "failure",
    [
        status(500),
        status(503),
        httpx.ReadTimeout("slow"),
        httpx.WriteTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("gone"),
    ],
    ids=["500", "503", "ReadTimeout", "WriteTimeout", "ReadError", "RemoteProtocolError"],
)
async def test_a_post_or_patch_is_never_repeated_after_it_may_have_reached_toggl(
    toggl: respx.MockRouter, method: str, failure: Any
) -> None:
    route = toggl.route(method=method, path=GROUPS).mock(side_effect=[failure, status(200)])
    async with open_toggl(FakeTime()) as client:
        with pytest.raises(TogglError) as caught:
            await client.request(method, GROUPS, json={"name": "x"})
    assert route.call_count == 1
    assert caught.value.effect == "unknown"
    assert "may or may not have been applied" in caught.value.hint()


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("no route")])
async def test_a_post_that_never_left_is_retried(toggl: respx.MockRouter, failure: Exception) -> None:
    route = toggl.post(GROUPS).mock(side_effect=[failure, httpx.Response(200, json=GROUP)])
    async with open_toggl(FakeTime()) as client:
        assert await client.request("POST", GROUPS, json={"name": "Support"}) == GROUP
    assert route.call_count == 2


async def test_a_post_that_never_leaves_fails_after_three_tries_saying_nothing_changed(
    toggl: respx.MockRouter,
) -> None:
    route = toggl.post(GROUPS).mock(side_effect=httpx.ConnectError("refused"))
    async with open_toggl(FakeTime()) as client:
        with pytest.raises(TogglError) as caught:
            await client.request("POST", GROUPS, json={"name": "Support"})
    assert route.call_count == 3
    assert caught.value.kind == "network" and caught.value.effect == "none"
    assert "nothing was changed" in caught.value.hint()
    assert "ConnectError" in str(caught.value)


async def test_a_body_that_cannot_be_decoded_is_a_toggl_error_not_a_crash(toggl: respx.MockRouter) -> None:
    toggl.get("/me").mock(side_effect=httpx.DecodingError("bad gzip"))
    async with open_toggl(FakeTime()) as client:
        with pytest.raises(TogglError) as caught:
            await client.request("GET", "/me")
    assert caught.value.kind == "network"


# -- create_group after an ambiguous failure ---------------------------------------------------------

AMBIGUOUS = [status(500), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("peer closed")]
AMBIGUOUS_IDS = ["500", "ReadTimeout", "RemoteProtocolError"]


@pytest.mark.parametrize("failure", AMBIGUOUS, ids=AMBIGUOUS_IDS)
async def test_create_group_after_an_ambiguous_failure_finds_the_group_and_reports_success(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime, failure: Any
) -> None:
    post = toggl.post(GROUPS).mock(side_effect=[failure])
    lookup = toggl.get(GROUPS, params={"name": "Support"}).respond(json=[GROUP])
    async with scoped(connect) as client:
        result = await client.call_tool("create_group", {"name": "Support"})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["group"]["group_id"] == 501
    assert post.call_count == 1 and lookup.call_count == 1


@pytest.mark.parametrize("failure", AMBIGUOUS, ids=AMBIGUOUS_IDS)
async def test_create_group_after_an_ambiguous_failure_says_it_was_not_created_when_the_name_is_absent(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime, failure: Any
) -> None:
    post = toggl.post(GROUPS).mock(side_effect=[failure])
    other = {**GROUP, "group_id": 9, "name": "Support team"}  # contains the name, is not it
    lookup = toggl.get(GROUPS, params={"name": "Support"}).respond(json=[other])
    async with scoped(connect) as client:
        result = await client.call_tool("create_group", {"name": "Support"})
    text = error_text(result)
    assert "was not created" in text and "safe to try again" in text
    assert post.call_count == 1 and lookup.call_count == 1


@pytest.mark.parametrize("failure", AMBIGUOUS, ids=AMBIGUOUS_IDS)
async def test_create_group_says_the_outcome_is_unknown_when_the_lookup_fails_too(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime, failure: Any
) -> None:
    post = toggl.post(GROUPS).mock(side_effect=[failure])
    toggl.get(GROUPS, params={"name": "Support"}).mock(side_effect=httpx.ReadTimeout("still slow"))
    async with scoped(connect) as client:
        result = await client.call_tool("create_group", {"name": "Support"})
    text = error_text(result)
    assert "unknown whether group 'Support' was created" in text
    assert "list_groups" in text
    assert post.call_count == 1


async def test_create_group_retries_a_post_that_never_left_and_creates_the_group_once(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    post = toggl.post(GROUPS).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=GROUP)]
    )
    async with scoped(connect) as client:
        result = await client.call_tool("create_group", {"name": "Support"})
    assert not result.is_error
    assert post.call_count == 2


async def test_create_group_that_cannot_connect_says_nothing_was_created(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    post = toggl.post(GROUPS).mock(side_effect=httpx.ConnectError("refused"))
    async with scoped(connect) as client:
        result = await client.call_tool("create_group", {"name": "Support"})
    text = error_text(result)
    assert "could not be reached; nothing was changed" in text
    assert post.call_count == 3


# -- eventual consistency ----------------------------------------------------------------------------


def link_answers(*codes: int) -> list[httpx.Response]:
    return [status(code) if code != 200 else httpx.Response(200, json="created") for code in codes]


@pytest.mark.parametrize("refusal", [400, 403, 404])
async def test_adding_a_fresh_group_to_a_project_succeeds_after_two_refusals(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime, refusal: int
) -> None:
    toggl.post(GROUPS).respond(json=GROUP)
    link = toggl.post(LINKS).mock(side_effect=link_answers(refusal, refusal, 200))
    async with scoped(connect, consistency_wait=2.5) as client:
        assert not (await client.call_tool("create_group", {"name": "Support"})).is_error
        result = await client.call_tool("add_project_group", {"project_id": 31, "group_id": 501})
    assert not result.is_error, result.content
    assert link.call_count == 3
    assert fake_time.sleeps == [2.5, 2.5]
    assert all(call.request.content == b'{"group_id":501,"project_id":31}' for call in link.calls)


async def test_adding_a_fresh_group_gives_up_after_four_refusals(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    toggl.post(GROUPS).respond(json=GROUP)
    link = toggl.post(LINKS).mock(return_value=status(404, **{}))
    async with scoped(connect) as client:
        await client.call_tool("create_group", {"name": "Support"})
        result = await client.call_tool("add_project_group", {"project_id": 31, "group_id": 501})
    assert "HTTP 404" in error_text(result)
    assert link.call_count == 4
    assert len(fake_time.sleeps) == 3


async def test_a_group_not_created_by_this_process_is_not_retried(
    toggl: respx.MockRouter, connect: Connect, fake_time: FakeTime
) -> None:
    toggl.post(GROUPS).respond(json=GROUP)
    link = toggl.post(LINKS).mock(return_value=status(404))
    async with scoped(connect) as client:
        await client.call_tool("create_group", {"name": "Support"})
        result = await client.call_tool("add_project_group", {"project_id": 31, "group_id": 777})
    assert "HTTP 404" in error_text(result)
    assert link.call_count == 1
    assert fake_time.sleeps == []


async def test_a_group_created_longer_ago_than_the_consistency_window_is_not_retried(
    toggl: respx.MockRouter,
) -> None:
    link = toggl.post(LINKS).mock(return_value=status(404))
    fake = FakeTime()
    async with open_toggl(fake, consistency_window=15.0) as client:
        await client.note_created_group(501)
        fake.now += 16
        with pytest.raises(TogglError):
            await client.request("POST", LINKS, json={}, group_id=501)
    assert link.call_count == 1


async def test_a_conflict_for_a_fresh_group_is_not_a_consistency_retry(toggl: respx.MockRouter) -> None:
    link = toggl.post(LINKS).mock(return_value=status(409))
    fake = FakeTime()
    async with open_toggl(fake) as client:
        await client.note_created_group(501)
        with pytest.raises(TogglError):
            await client.request("POST", LINKS, json={}, group_id=501)
    assert link.call_count == 1


# -- timeouts and cancellation -----------------------------------------------------------------------


async def test_every_request_has_a_connect_and_a_read_timeout() -> None:
    async with open_toggl(timeout=12.5, connect_timeout=3.0) as client:
        timeout = client._http.timeout
    assert timeout.connect == 3.0
    assert timeout.read == 12.5 and timeout.write == 12.5 and timeout.pool == 12.5


async def test_the_default_settings_bound_every_request() -> None:
    async with open_toggl() as client:
        defaults = client.settings
        assert defaults.timeout > 0 and defaults.connect_timeout > 0
        assert client._http.timeout == httpx.Timeout(defaults.timeout, connect=defaults.connect_timeout)


async def test_a_cancelled_request_stops_at_once_and_is_not_retried(toggl: respx.MockRouter) -> None:
    started = anyio.Event()
    never = anyio.Event()
    sent: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        started.set()
        await never.wait()
        raise AssertionError("unreachable")  # pragma: no cover

    toggl.post(GROUPS).mock(side_effect=hang)
    async with open_toggl(FakeTime()) as client:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: client.request("POST", GROUPS, json={"name": "x"}))
                await started.wait()
                tg.cancel_scope.cancel()
        assert tg.cancel_scope.cancelled_caught
        # The client is still usable afterwards.
        toggl.get("/me").respond(json={"id": 1})
        with anyio.fail_after(5):
            assert await client.request("GET", "/me") == {"id": 1}
    assert len(sent) == 1
    assert client.requests_sent == 2


async def test_a_request_under_a_deadline_gives_up_when_the_deadline_passes(toggl: respx.MockRouter) -> None:
    never = anyio.Event()
    sent: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        await never.wait()
        raise AssertionError("unreachable")  # pragma: no cover

    toggl.get("/me").mock(side_effect=hang)
    async with open_toggl() as client:
        with anyio.fail_after(5):
            with anyio.move_on_after(0.05) as scope:
                await client.request("GET", "/me")
    assert scope.cancelled_caught
    assert len(sent) == 1


# -- what the errors say -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "said"), [(0.2, "Retry after 1 s"), (1.0, "Retry after 1 s"), (7.5, "Retry after 8 s")]
)
def test_a_rate_limit_hint_rounds_the_wait_up_never_down_to_zero(retry_after: float, said: str) -> None:
    error = TogglError("GET", "/me", 429, "", kind="rate_limited", retry_after=retry_after)
    assert said in error.hint()


@pytest.mark.parametrize("resets_in", [float("inf"), float("nan"), -5.0, 1e30, None])
def test_a_quota_hint_survives_a_nonsense_reset_time(resets_in: float | None) -> None:
    error = TogglError("GET", "/me", 402, "", kind="quota", quota_remaining=0, quota_resets_in=resets_in)
    hint = error.hint()
    assert "remaining: 0" in hint and "Do not retry" in hint


def test_network_failures_are_described_as_what_happened() -> None:
    timeout = TogglError("POST", "/x", None, "ReadTimeout", kind="timeout", effect="unknown")
    network = TogglError("GET", "/x", None, "ConnectError", kind="network")
    assert str(timeout) == "Toggl did not answer POST /x in time: ReadTimeout"
    assert str(network) == "The connection to Toggl failed during GET /x: ConnectError"


def test_a_toggl_error_is_hashable_like_any_exception() -> None:
    error = TogglError("GET", "/me", 500, "boom")
    assert {error: 1}[error] == 1
