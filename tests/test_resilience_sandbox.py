"""Faults against the embedded sandbox over real loopback HTTP: every run ends in success or a
clear tool error, and the sandbox's state shows no duplicate and no lost acknowledged change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from tests.conftest import error_text, make_settings
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio
ORG = ids.ORG_ACME
WS = ids.WS_ACME_DESIGN

Open = Callable[..., AbstractAsyncContextManager[tuple[Client, Sandbox]]]


@pytest.fixture(params=["legacy", "auto"])
def against_sandbox(request: pytest.FixtureRequest) -> Open:
    @asynccontextmanager
    async def open_(
        config: SandboxConfig | None = None, **settings: Any
    ) -> AsyncIterator[tuple[Client, Sandbox]]:
        async with running_sandbox(config or SandboxConfig()) as sb:
            values: dict[str, Any] = {
                "api_token": SecretStr(sb.token),
                "api_url": sb.url,
                "organization_id": ORG,
            }
            values.update(settings)
            async with Client(build_server(make_settings(**values)), mode=request.param) as client:
                yield client, sb.sandbox

    return open_


def groups_named(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    return [g for g in sandbox.store.snapshot()["groups"] if g["name"] == name]


def log(sandbox: Sandbox, method: str | None = None) -> list[dict[str, Any]]:
    return [e for e in sandbox.request_log() if method is None or e["method"] == method]


async def test_a_429_storm_is_waited_out_and_every_call_succeeds(against_sandbox: Open) -> None:
    async with against_sandbox(SandboxConfig(rate_per_sec=4, burst=1), retry_budget=10) as (client, sandbox):
        for _ in range(4):
            result = await client.call_tool("list_groups", {"name": "e"})
            assert not result.is_error, result.content
    statuses = [e["status"] for e in log(sandbox)]
    assert 429 in statuses, "the storm did not happen"
    assert statuses.count(200) == 4


async def test_paced_calls_never_earn_a_429(against_sandbox: Open) -> None:
    async with against_sandbox(SandboxConfig(rate_per_sec=8, burst=1), rate_per_sec=6.0, burst=1) as (
        client,
        sandbox,
    ):
        for _ in range(6):
            assert not (await client.call_tool("list_groups", {"name": "e"})).is_error
    assert [e["status"] for e in log(sandbox)] == [200] * 6


async def test_a_429_beyond_the_retry_budget_says_when_to_retry(against_sandbox: Open) -> None:
    async with against_sandbox(SandboxConfig(rate_per_sec=0.01, burst=1), retry_budget=0.5) as (
        client,
        sandbox,
    ):
        assert not (await client.call_tool("list_groups", {"name": "a"})).is_error
        text = error_text(await client.call_tool("list_groups", {"name": "b"}))
    assert "429" in text and "Retry after" in text
    assert [e["status"] for e in log(sandbox)] == [200, 429]


async def test_quota_exhaustion_midway_keeps_acknowledged_changes_and_says_when_it_resets(
    against_sandbox: Open,
) -> None:
    async with against_sandbox(SandboxConfig(hourly_quota=2)) as (client, sandbox):
        created = await client.call_tool(
            "create_group", {"name": "Quota Crew", "user_ids": [ids.USER_BIANCA]}
        )
        group_id = created.structured_content["group"]["group_id"]  # type: ignore[index]
        patched = await client.call_tool(
            "patch_group", {"group_id": group_id, "add_user_ids": [ids.USER_CHEN]}
        )
        refused = await client.call_tool(
            "patch_group", {"group_id": group_id, "add_user_ids": [ids.USER_DANA]}
        )
    assert not created.is_error and not patched.is_error
    text = error_text(refused)
    assert "quota" in text.lower() and "remaining: 0" in text and "UTC" in text
    [group] = groups_named(sandbox, "Quota Crew")
    assert group["user_ids"] == [ids.USER_BIANCA, ids.USER_CHEN]
    assert len(log(sandbox, "PATCH")) == 2  # the refused call was not retried


async def test_a_402_without_quota_headers_is_a_plan_error_and_not_retried(against_sandbox: Open) -> None:
    async with against_sandbox(SandboxConfig(plan_402=True)) as (client, sandbox):
        text = error_text(await client.call_tool("list_groups", {}))
    assert "plan" in text and "Retrying will not help" in text
    assert len(log(sandbox)) == 1


@pytest.mark.parametrize(
    ("tool", "args", "method"),
    [
        ("list_groups", {}, "GET"),
        ("update_group", {"group_id": ids.GROUP_DESIGNERS, "name": "Design Team"}, "PUT"),
        ("delete_group", {"group_id": ids.GROUP_MANAGERS, "confirm": True}, "DELETE"),
    ],
)
async def test_a_5xx_on_an_idempotent_method_is_retried_to_success(
    against_sandbox: Open, tool: str, args: dict[str, Any], method: str
) -> None:
    async with against_sandbox() as (client, sandbox):
        sandbox.faults.fail_next(status=503, method=method)
        result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert [e["status"] for e in log(sandbox, method)] == [503, 200]


async def test_a_5xx_on_create_is_not_repeated_and_the_answer_says_it_was_not_created(
    against_sandbox: Open,
) -> None:
    async with against_sandbox() as (client, sandbox):
        sandbox.faults.fail_next(status=500, method="POST")
        text = error_text(await client.call_tool("create_group", {"name": "Fragile"}))
        retried = await client.call_tool("create_group", {"name": "Fragile"})
    assert "was not created" in text and "safe to try again" in text
    assert not retried.is_error
    assert len(groups_named(sandbox, "Fragile")) == 1
    assert [e["status"] for e in log(sandbox, "POST")] == [500, 200]


async def test_a_5xx_on_patch_is_not_repeated_and_says_the_outcome_is_unknown(against_sandbox: Open) -> None:
    async with against_sandbox() as (client, sandbox):
        sandbox.faults.fail_next(status=502, method="PATCH")
        text = error_text(
            await client.call_tool(
                "patch_group", {"group_id": ids.GROUP_DESIGNERS, "add_user_ids": [ids.USER_DANA]}
            )
        )
    assert "may or may not have been applied" in text
    assert len(log(sandbox, "PATCH")) == 1


async def test_a_create_whose_answer_is_lost_after_it_was_applied_reports_the_group_once(
    against_sandbox: Open,
) -> None:
    async with against_sandbox() as (client, sandbox):
        sandbox.faults.drop_next(method="POST", after_apply=True)
        result = await client.call_tool(
            "create_group", {"name": "Ghost Writers", "user_ids": [ids.USER_CHEN]}
        )
        again = await client.call_tool("create_group", {"name": "Ghost Writers"})
    assert not result.is_error, result.content
    assert result.structured_content["group"]["name"] == "Ghost Writers"  # type: ignore[index]
    assert "already been taken" in error_text(again)
    assert len(groups_named(sandbox, "Ghost Writers")) == 1
    assert len(log(sandbox, "POST")) == 2


async def test_a_create_whose_connection_drops_before_it_applied_says_so_and_creates_nothing(
    against_sandbox: Open,
) -> None:
    async with against_sandbox() as (client, sandbox):
        sandbox.faults.drop_next(method="POST")
        text = error_text(await client.call_tool("create_group", {"name": "Never Made"}))
    assert "was not created" in text
    assert groups_named(sandbox, "Never Made") == []


async def test_a_dropped_read_is_retried(against_sandbox: Open) -> None:
    async with against_sandbox() as (client, sandbox):
        sandbox.faults.drop_next(method="GET")
        result = await client.call_tool("list_groups", {})
    assert not result.is_error
    assert len(log(sandbox, "GET")) == 2


async def test_a_slow_toggl_times_out_with_a_clear_error_after_bounded_retries(against_sandbox: Open) -> None:
    async with against_sandbox(SandboxConfig(latency=0.4), timeout=0.1) as (client, sandbox):
        text = error_text(await client.call_tool("list_groups", {}))
    assert "did not answer in time" in text and "nothing was changed" in text
    assert len(log(sandbox, "GET")) == 3


async def test_a_new_group_is_linked_to_a_project_once_toggl_catches_up(against_sandbox: Open) -> None:
    async with against_sandbox(SandboxConfig(consistency_delay=0.3), consistency_wait=0.2) as (
        client,
        sandbox,
    ):
        created = await client.call_tool("create_group", {"name": "Fresh Faces"})
        group_id = created.structured_content["group"]["group_id"]  # type: ignore[index]
        linked = await client.call_tool(
            "add_project_group",
            {"workspace_id": WS, "project_id": ids.PROJECT_BRAND_REFRESH, "group_id": group_id},
        )
    assert not linked.is_error, linked.content
    posts = [e for e in log(sandbox, "POST") if "project_groups" in e["path"]]
    assert posts[0]["status"] == 400 and posts[-1]["status"] == 200
    links = [x for x in sandbox.store.snapshot()["project_groups"] if x["group_id"] == group_id]
    assert len(links) == 1
