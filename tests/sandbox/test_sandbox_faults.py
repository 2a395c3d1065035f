"""Auth, quota, plan, rate limit and failure injection, as a Toggl client meets them."""

from __future__ import annotations

import time

import httpx
import pytest

from toggl_groups_mcp.sandbox import SandboxThread, demo

ACME_GROUPS = f"/organizations/{demo.ORG_ACME}/groups"
QUOTA_HEADERS = ("X-Toggl-Quota-Remaining", "X-Toggl-Quota-Resets-In")
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


def has_quota_headers(response: httpx.Response) -> bool:
    return all(name in response.headers for name in QUOTA_HEADERS)


@pytest.mark.parametrize(
    "auth",
    [("wrong-token", "api_token"), ("sandbox-token", "hunter2"), None],
    ids=["wrong token", "wrong password", "no credentials"],
)
def test_failed_authentication_answers_403_with_a_json_string(
    sb: SandboxThread, anonymous: httpx.Client, auth: tuple[str, str] | None
) -> None:
    response = anonymous.get("/me", auth=auth) if auth else anonymous.get("/me")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json(), str)
    assert has_quota_headers(response)


def test_a_malformed_authorization_header_answers_403(sb: SandboxThread, anonymous: httpx.Client) -> None:
    for value in ("Basic !!!", "Bearer sandbox-token", "Basic c2FuZGJveC10b2tlbg=="):
        assert anonymous.get("/me", headers={"Authorization": value}).status_code == 403


def test_every_answer_carries_quota_headers(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.fail_next(status=503, path="/me/organizations")
    responses = [
        api.get("/me"),
        api.get(ACME_GROUPS),
        api.post(ACME_GROUPS, json={}),
        api.put(f"{ACME_GROUPS}/999", json={"name": "x"}),
        api.get("/no/such/endpoint"),
        api.get("/me/organizations"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 400, 404, 404, 503]
    assert all(has_quota_headers(r) for r in responses)


def test_quota_headers_count_down_per_organization_and_user_level_separately(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.update(hourly_quota=30, user_hourly_quota=30)
    first = api.get(ACME_GROUPS)
    second = api.get(f"/workspaces/{demo.WS_ACME_DESIGN}/projects")
    globex = api.get(f"/organizations/{demo.ORG_GLOBEX}/groups")
    me = api.get("/me")
    remaining = [int(r.headers["X-Toggl-Quota-Remaining"]) for r in (first, second, globex, me)]
    assert remaining == [29, 28, 29, 29]
    assert 0 < int(first.headers["X-Toggl-Quota-Resets-In"]) <= 3600


def test_an_exhausted_hourly_quota_answers_402_with_quota_headers(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.update(hourly_quota=3)
    assert [api.get(ACME_GROUPS).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(ACME_GROUPS)
    assert response.status_code == 402
    assert isinstance(response.json(), str)
    assert response.headers["X-Toggl-Quota-Remaining"] == "0"
    assert int(response.headers["X-Toggl-Quota-Resets-In"]) > 0
    # Another organization and the user-level budget are unaffected.
    assert api.get(f"/organizations/{demo.ORG_GLOBEX}/groups").status_code == 200
    quota = {row["organization_id"]: row for row in api.get("/me/quota").json()}
    assert (quota[demo.ORG_ACME]["remaining"], quota[demo.ORG_ACME]["total"]) == (0, 3)


def test_the_user_level_budget_limits_me_endpoints(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(user_hourly_quota=2)
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 402]
    assert api.get(ACME_GROUPS).status_code == 200


def test_plan_402_answers_group_endpoints_without_quota_headers(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(plan_402=True)
    for response in (
        api.get(ACME_GROUPS),
        api.post(ACME_GROUPS, json={"name": "X"}),
        api.get(f"/workspaces/{demo.WS_ACME_DESIGN}/project_groups", params={"project_ids": "1"}),
    ):
        assert response.status_code == 402
        assert not any(name in response.headers for name in QUOTA_HEADERS)
    assert api.get("/me").status_code == 200
    assert "X" not in [
        g["name"] for g in sb.sandbox.store.list_groups(demo.ORG_ACME, name=None, workspace_id=None)
    ]


def test_the_leaky_bucket_answers_429_with_an_integer_retry_after(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.update(rate_per_sec=1.0, burst=1)
    assert api.get("/me").status_code == 200
    limited = api.get("/me")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert isinstance(limited.json(), str)
    assert has_quota_headers(limited)


def test_the_bucket_allows_a_small_burst_then_refills(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(rate_per_sec=20.0, burst=2)
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 429]
    deadline = time.monotonic() + 2.0
    while api.get("/me").status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert time.monotonic() < deadline


def test_scripted_failures_hit_exactly_the_next_matching_requests(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.fail_next(2, status=502, method="POST", path="/api/v9/organizations/")
    assert api.get(ACME_GROUPS).status_code == 200
    first = api.post(ACME_GROUPS, json={"name": "Retry Me"})
    second = api.post(ACME_GROUPS, json={"name": "Retry Me"})
    third = api.post(ACME_GROUPS, json={"name": "Retry Me"})
    assert [first.status_code, second.status_code, third.status_code] == [502, 502, 200]
    assert first.json() == "Bad Gateway"
    # The failed attempts changed nothing.
    assert [g["name"] for g in api.get(ACME_GROUPS, params={"name": "Retry"}).json()] == ["Retry Me"]


def test_random_failures_follow_the_error_rate_and_the_seed(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(error_rate=1.0, seed=7)
    statuses = [api.get("/me").status_code for _ in range(6)]
    assert set(statuses) <= {500, 502, 503}
    sb.sandbox.faults.update(seed=7)
    assert [api.get("/me").status_code for _ in range(6)] == statuses
    sb.sandbox.faults.update(error_rate=0.0)
    assert api.get("/me").status_code == 200


def test_a_dropped_connection_raises_in_httpx_and_applies_nothing(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.drop_next(method="POST", path=ACME_GROUPS)
    started = time.monotonic()
    with pytest.raises(DROPPED):
        api.post(ACME_GROUPS, json={"name": "Lost"})
    assert time.monotonic() - started < 2.0
    assert "Lost" not in [g["name"] for g in api.get(ACME_GROUPS).json()]
    entry = next(e for e in sb.sandbox.request_log() if e["method"] == "POST")
    assert (entry["status"], entry["fault"]) == (None, "dropped")


def test_a_drop_after_apply_creates_the_group_but_the_client_never_hears(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.drop_next(method="POST", path=ACME_GROUPS, after_apply=True)
    with pytest.raises(DROPPED):
        api.post(ACME_GROUPS, json={"name": "Ambiguous"})
    assert [g["name"] for g in api.get(ACME_GROUPS, params={"name": "Ambiguous"}).json()] == ["Ambiguous"]
    retry = api.post(ACME_GROUPS, json={"name": "Ambiguous"})
    assert (retry.status_code, retry.json()) == (400, "Name has already been taken")
    assert [e["fault"] for e in sb.sandbox.request_log() if e["method"] == "POST"] == [
        "dropped_after_apply",
        None,
    ]


def test_latency_delays_each_answer(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(latency=0.15)
    started = time.monotonic()
    assert api.get("/me").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_reset_restores_the_configured_knobs_and_clears_rules(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(plan_402=True)
    sb.sandbox.faults.fail_next(status=500)
    sb.sandbox.reset()
    assert sb.sandbox.faults.describe()["rules"] == []
    assert api.get(ACME_GROUPS).status_code == 200
