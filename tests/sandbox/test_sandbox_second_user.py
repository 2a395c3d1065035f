"""A second token is a second Toggl user: its own /me, organizations, rights, bucket and quotas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from toggl_groups_mcp.sandbox import DEFAULT_TOKEN, SECOND_TOKEN, Sandbox, SandboxThread, demo
from toggl_groups_mcp.sandbox.app import BAD_CREDENTIALS
from toggl_groups_mcp.sandbox.config import acting_as
from toggl_groups_mcp.sandbox.store import NO_ACCESS

GLOBEX_GROUPS = f"/organizations/{demo.ORG_GLOBEX}/groups"


@pytest.fixture
def second(sb: SandboxThread) -> Iterator[httpx.Client]:
    """An httpx client with the second user's (Gustavo Lima's) token."""
    with httpx.Client(base_url=sb.url, auth=(SECOND_TOKEN, "api_token"), timeout=5.0) as client:
        yield client


def test_each_token_sees_its_own_user(api: httpx.Client, second: httpx.Client) -> None:
    alex, gustavo = api.get("/me").json(), second.get("/me").json()
    assert (alex["id"], alex["fullname"], alex["api_token"]) == (demo.USER_ALEX, "Alex Morgan", DEFAULT_TOKEN)
    assert alex["default_workspace_id"] == demo.WS_ACME_DESIGN
    assert (gustavo["id"], gustavo["fullname"], gustavo["api_token"]) == (
        demo.USER_GUSTAVO,
        "Gustavo Lima",
        SECOND_TOKEN,
    )
    assert gustavo["default_workspace_id"] == demo.WS_GLOBEX_LAB


def test_each_token_sees_its_own_organizations_and_workspaces(
    api: httpx.Client, second: httpx.Client
) -> None:
    assert [o["id"] for o in api.get("/me/organizations").json()] == [
        demo.ORG_ACME,
        demo.ORG_GLOBEX,
        demo.ORG_INITECH,
    ]
    assert [(o["id"], o["name"], o["admin"], o["owner"]) for o in second.get("/me/organizations").json()] == [
        (demo.ORG_GLOBEX, "Globex Research", True, True)
    ]
    assert [w["id"] for w in api.get("/me/workspaces").json()] == [
        demo.WS_ACME_DESIGN,
        demo.WS_ACME_ENGINEERING,
        demo.WS_GLOBEX_LAB,
        demo.WS_INITECH_OPS,
    ]
    assert [(w["id"], w["admin"], w["api_token"]) for w in second.get("/me/workspaces").json()] == [
        (demo.WS_GLOBEX_LAB, True, SECOND_TOKEN)
    ]
    assert [q["organization_id"] for q in second.get("/me/quota").json()] == [demo.ORG_GLOBEX]


def test_the_second_user_is_refused_where_only_alex_belongs(api: httpx.Client, second: httpx.Client) -> None:
    paths = [
        f"/organizations/{demo.ORG_ACME}/groups",
        f"/organizations/{demo.ORG_ACME}/users",
        f"/organizations/{demo.ORG_INITECH}/groups",
        f"/workspaces/{demo.WS_ACME_DESIGN}/projects",
        f"/workspaces/{demo.WS_INITECH_OPS}/projects",
        f"/workspaces/{demo.WS_ACME_ENGINEERING}/project_groups?project_ids={demo.PROJECT_API_PLATFORM}",
    ]
    for path in paths:
        response = second.get(path)
        assert (response.status_code, response.json()) == (403, NO_ACCESS), path
    assert (
        second.post(f"/organizations/{demo.ORG_ACME}/groups", json={"name": "Intruders"}).status_code == 403
    )
    assert api.get(f"/organizations/{demo.ORG_ACME}/groups").status_code == 200


def test_both_admins_of_globex_manage_the_same_groups(api: httpx.Client, second: httpx.Client) -> None:
    created = second.post(GLOBEX_GROUPS, json={"name": "Gustavo's", "users": [demo.USER_HANA]})
    assert created.status_code == 200
    group_id = created.json()["group_id"]
    assert "Gustavo's" in [g["name"] for g in api.get(GLOBEX_GROUPS).json()]
    assert api.put(f"{GLOBEX_GROUPS}/{group_id}", json={"name": "Renamed by Alex"}).status_code == 200
    assert [g["name"] for g in second.get(GLOBEX_GROUPS).json() if g["group_id"] == group_id] == [
        "Renamed by Alex"
    ]


@pytest.mark.parametrize(
    "auth",
    [("sandbox-token-3", "api_token"), (SECOND_TOKEN, "hunter2"), (SECOND_TOKEN[:-1], "api_token")],
    ids=["unknown token", "wrong password", "truncated token"],
)
def test_a_wrong_token_answers_403(sb: SandboxThread, anonymous: httpx.Client, auth: tuple[str, str]) -> None:
    response = anonymous.get("/me", auth=auth)
    assert (response.status_code, response.json()) == (403, BAD_CREDENTIALS)


def test_each_token_has_its_own_leaky_bucket(
    sb: SandboxThread, api: httpx.Client, second: httpx.Client
) -> None:
    sb.sandbox.faults.update(rate_per_sec=1, burst=1)
    assert api.get("/me").status_code == 200
    assert api.get("/me").status_code == 429
    assert second.get("/me").status_code == 200
    assert second.get("/me").status_code == 429
    sb.sandbox.faults.update(burst=1)  # setting a knob refills every bucket
    assert [api.get("/me").status_code, second.get("/me").status_code] == [200, 200]


def test_each_user_has_its_own_quotas(sb: SandboxThread, api: httpx.Client, second: httpx.Client) -> None:
    sb.sandbox.faults.update(hourly_quota=1, user_hourly_quota=1)
    assert [api.get("/me").status_code, api.get("/me").status_code] == [200, 402]
    assert [second.get("/me").status_code, second.get("/me").status_code] == [200, 402]
    assert [api.get(GLOBEX_GROUPS).status_code, api.get(GLOBEX_GROUPS).status_code] == [200, 402]
    response = second.get(GLOBEX_GROUPS)
    assert (response.status_code, response.headers["X-Toggl-Quota-Remaining"]) == (200, "0")
    assert sb.sandbox.faults.quota_status(demo.ORG_GLOBEX)[0] == 0  # outside a request: Alex's
    with acting_as(SECOND_TOKEN):
        assert sb.sandbox.faults.quota_status(demo.ORG_GLOBEX)[0] == 0
        assert sb.sandbox.faults.quota_status(demo.ORG_ACME)[0] == 1


@pytest.mark.anyio
async def test_concurrent_requests_each_answer_as_their_own_user(sb: SandboxThread) -> None:
    sb.sandbox.faults.update(latency=0.05)  # so that the requests overlap in the server
    users: dict[str, list[int]] = {DEFAULT_TOKEN: [], SECOND_TOKEN: []}

    async def me(client: httpx.AsyncClient, token: str) -> None:
        users[token].append((await client.get("/me", auth=(token, "api_token"))).json()["id"])

    async with httpx.AsyncClient(base_url=sb.url, timeout=5.0) as client, anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(me, client, DEFAULT_TOKEN)
            tg.start_soon(me, client, SECOND_TOKEN)
    assert users == {DEFAULT_TOKEN: [demo.USER_ALEX] * 10, SECOND_TOKEN: [demo.USER_GUSTAVO] * 10}


@pytest.mark.anyio
async def test_the_caller_is_not_state_and_other_tokens_can_be_configured(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    sandbox = Sandbox(state_path=state_path, other_tokens={"ivan": demo.USER_IVAN, "ghost": 999})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://sandbox/api/v9"
    ) as client:
        ivan = ("ivan", "api_token")
        created = await client.post(
            f"/organizations/{demo.ORG_INITECH}/groups", json={"name": "N"}, auth=ivan
        )
        assert created.status_code == 200
        assert (
            await client.get("/me", auth=(SECOND_TOKEN, "api_token"))
        ).status_code == 403  # not configured
        assert (await client.get("/me", auth=("ghost", "api_token"))).status_code == 403  # no such user
    reloaded = Sandbox(state_path=state_path)
    assert reloaded.store.snapshot()["me_user_id"] == demo.USER_ALEX
    assert reloaded.store.me()["id"] == demo.USER_ALEX
    assert "N" in [g["name"] for g in reloaded.store.snapshot()["groups"]]


def test_the_own_token_wins_over_the_same_token_in_other_tokens() -> None:
    sandbox = Sandbox(token=SECOND_TOKEN)
    assert sandbox.store.knows_token(SECOND_TOKEN)
    with acting_as(SECOND_TOKEN):
        assert sandbox.store.me()["id"] == demo.USER_ALEX
