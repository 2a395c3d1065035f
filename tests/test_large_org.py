"""At the size of a large organization (300 groups of 15, 1,500 projects, 3,000 users, in the
sandbox over real loopback HTTP) every answer fits the text budget and says how to see the rest,
and long bulk runs answer in time and resume."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from tests.conftest import make_settings, tool_error
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG = ids.ORG_MEGACORP
WS = ids.WS_MEGACORP_DELIVERY
BUDGET = 20_000

Open = Callable[..., AbstractAsyncContextManager[tuple[Client, Sandbox]]]


@pytest.fixture(params=["legacy", "auto"])
def megacorp(request: pytest.FixtureRequest) -> Open:
    @asynccontextmanager
    async def open_(
        config: SandboxConfig | None = None, **settings: Any
    ) -> AsyncIterator[tuple[Client, Sandbox]]:
        async with running_sandbox(config or SandboxConfig(large_org=True)) as sb:
            values: dict[str, Any] = {
                "api_token": SecretStr(sb.token),
                "api_url": sb.url,
                "organization_id": ORG,
                "workspace_id": WS,
            }
            values.update(settings)
            async with Client(build_server(make_settings(**values)), mode=request.param) as client:
                yield client, sb.sandbox

    return open_


def text_of(result: CallToolResult) -> str:
    assert not result.is_error, tool_error(result)
    return "".join(getattr(block, "text", "") for block in result.content)


# The answers that outgrew any context before: (tool, arguments).
BIG_ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("list_groups", {}),
    ("list_workspace_groups", {"workspace_id": WS}),
    ("list_organization_users", {"per_page": 200}),
    ("list_projects", {"per_page": 200}),
    ("list_project_groups", {"project_ids": [ids.megacorp_project_id(n) for n in range(1, 201)]}),
    ("get_project_access", {"project_name": "a"}),
    ("get_group", {"group_id": ids.GROUP_MEGACORP_FIRST}),
]


@pytest.mark.parametrize("ignore_per_page", [False, True], ids=["paged", "per_page ignored"])
async def test_every_answer_about_a_large_organization_fits_the_text_budget(
    megacorp: Open, ignore_per_page: bool
) -> None:
    config = SandboxConfig(large_org=True, ignore_per_page=ignore_per_page)
    async with megacorp(config) as (client, _):
        for tool, arguments in BIG_ANSWERS:
            text = text_of(await client.call_tool(tool, arguments))
            assert len(text.encode()) <= BUDGET, (tool, len(text.encode()))


async def test_a_long_group_list_shows_counts_says_the_total_and_pages_on(megacorp: Open) -> None:
    async with megacorp() as (client, _):
        first = await client.call_tool("list_groups", {})
        data = first.structured_content
        assert data is not None
        assert data["total"] == ids.MEGACORP_GROUPS
        assert (
            "members" not in data["groups"][0]
            and data["groups"][0]["member_count"] == ids.MEGACORP_GROUP_SIZE
        )
        shown = len(data["groups"])
        assert 0 < shown < ids.MEGACORP_GROUPS
        assert f"offset={shown}" in data["shown"] and "get_group" in data["shown"]
        seen = [g["group_id"] for g in data["groups"]]
        while len(seen) < ids.MEGACORP_GROUPS:
            page = await client.call_tool("list_groups", {"offset": len(seen)})
            assert page.structured_content is not None
            assert page.structured_content["groups"], "an offset page must make progress"
            seen += [g["group_id"] for g in page.structured_content["groups"]]
        assert len(set(seen)) == ids.MEGACORP_GROUPS


async def test_a_person_s_groups_in_a_large_organization_in_one_call(megacorp: Open) -> None:
    async with megacorp() as (client, sandbox):
        result = await client.call_tool("list_groups", {"user_id": ids.USER_MEGACORP_OWNER})
        data = result.structured_content
        assert data is not None
        assert sorted(g["name"] for g in data["groups"]) == ["Accounting Alpha", "Security Oscar"]
        assert len(sandbox.request_log()) == 1


async def test_get_group_in_a_large_workspace_names_every_project_it_reaches(megacorp: Open) -> None:
    async with megacorp() as (client, _):
        result = await client.call_tool("get_group", {"name": "accounting alpha"})
        data = result.structured_content
        assert data is not None
        first = ids.FIRST_MEGACORP_PROJECT_ID
        expected = {ids.megacorp_project_name(pid - first + 1) for pid in ids.megacorp_group_projects(0)}
        assert {p["name"] for p in data["projects"]} == expected
        assert len(data["members"]) == ids.MEGACORP_GROUP_SIZE


# -- long bulk runs -------------------------------------------------------------------------------


def posts(sandbox: Sandbox) -> list[int]:
    return [
        e["json"]["project_id"]
        for e in sandbox.request_log()
        if e["method"] == "POST" and e.get("status") == 200
    ]


async def test_a_bulk_run_longer_than_its_time_budget_answers_in_time_and_resumes(megacorp: Open) -> None:
    """At 1 request a second 80 projects take 80 s: past a desktop client's 60 s. Scaled down here:
    a 1.5 s budget, a client that gives up after 3 s, a sandbox that takes 0.1 s an answer."""
    projects = [ids.megacorp_project_id(n) for n in range(2, 82)]
    group = ids.GROUP_MEGACORP_LAST
    arguments = {"group_id": group, "project_ids": projects}
    config = SandboxConfig(large_org=True, latency=0.1)
    async with megacorp(config, bulk_seconds=1.5) as (client, sandbox):
        calls = 0
        done: list[int] = []
        while True:
            calls += 1
            # A client that gives up after 3 s, as desktop hosts do after 60 s.
            result = await client.call_tool("add_group_to_projects", arguments, read_timeout_seconds=3)
            data = result.structured_content
            assert data is not None
            done += data["done"]
            if data["complete"]:
                break
            assert "call again" in data["stopped"].lower() and data["remaining"]
            assert calls < 20
    assert calls >= 3, "the budget stopped the run and the next calls resumed it"
    assert sorted(done) == sorted(projects)
    assert sorted(posts(sandbox)) == sorted(projects), "nothing done twice, nothing lost"


# Cancellation is tested over stdio in both eras (tests/e2e/test_stdio_sandbox.py): the in-memory
# client of the 2026-07-28 era calls the server directly and delivers no cancellation.
