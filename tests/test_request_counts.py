"""Every result says how many Toggl requests its call made (`requests`), so a model can budget
against the hourly quota without calling get_quota: each request sent counts, retries included;
an answer from a cache costs none. Counted against exact requests at the wire (respx)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import respx

from tests.conftest import Connect, open_toggl, tool_error

pytestmark = pytest.mark.anyio

ORG = 1
WS = 5
GROUPS = f"/organizations/{ORG}/groups"
LINKS = f"/workspaces/{WS}/project_groups"
ME_ORGS = [{"id": ORG, "name": "Northwind"}]
ME_WORKSPACES = [{"id": WS, "name": "Main", "organization_id": ORG}]


async def test_a_read_says_it_made_one_request_and_its_text_says_the_same(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[{"group_id": 7, "name": "Design", "users": [], "workspaces": []}])
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("list_groups", {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["requests"] == 1 == toggl.calls.call_count
    assert '"requests":1' in result.content[0].text  # type: ignore[union-attr]


async def test_an_answer_from_the_cache_costs_nothing_and_says_so(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(json=ME_ORGS)
    toggl.get("/me/workspaces").respond(json=ME_WORKSPACES)
    async with connect() as client:
        first = await client.call_tool("list_organizations", {})
        second = await client.call_tool("list_organizations", {})
    assert first.structured_content is not None and second.structured_content is not None
    assert first.structured_content["requests"] == 2  # organizations, then workspaces
    assert second.structured_content["requests"] == 0
    assert toggl.calls.call_count == 2


async def test_retries_count_each_request_sent(connect: Connect, toggl: respx.MockRouter) -> None:
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(503, json="busy"),
            httpx.Response(429, json="slow down", headers={"Retry-After": "0"}),
            httpx.Response(200, json=[]),
        ]
    )
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("list_groups", {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["requests"] == 3 == toggl.calls.call_count


async def test_a_connection_never_made_is_not_counted_as_a_request(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=[])])
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("list_groups", {})
    assert result.structured_content is not None
    assert result.structured_content["requests"] == 1


async def test_a_preview_that_needs_the_users_word_says_what_it_cost(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(200, json=[{"id": 901, "group_id": 6, "pid": 3, "wid": WS}])
    toggl.get(f"/workspaces/{WS}/projects").respond(200, json=[{"id": 3, "name": "Website", "active": True}])
    # Whatever else the preview reads (names, project privacy, direct members) is answered empty.
    toggl.get().respond(200, json=[])
    async with connect(workspace_id=WS, organization_id=ORG) as client:
        result = await client.call_tool("remove_project_group", {"project_group_id": 901})
    text = tool_error(result)
    assert "Confirmation required" in text
    sent = toggl.calls.call_count
    assert sent >= 1
    assert text.endswith(f"Toggl requests this call made: {sent}.")


async def test_a_toggl_error_says_how_many_requests_were_spent_on_it(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(403, json="Forbidden")
    async with connect(organization_id=ORG) as client:
        text = tool_error(await client.call_tool("list_groups", {}))
    assert text.endswith("Toggl requests this call made: 1.")


async def test_an_argument_error_costs_nothing_and_adds_no_count(
    connect: Connect, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    async with connect(organization_id=ORG) as client:
        text = tool_error(await client.call_tool("list_groups", {"offset": -1}))
    assert "Toggl requests" not in text
    assert toggl.calls.call_count == 0


async def test_every_output_schema_declares_the_request_count(connect: Connect) -> None:
    async with connect(journal_path=None) as client:
        tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        schema = tool.output_schema
        assert schema is not None, tool.name
        assert schema["properties"]["requests"]["type"] == "integer", tool.name
        assert "requests" in schema["required"], tool.name


async def test_calls_made_at_the_same_time_each_count_only_their_own_requests(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[])
    toggl.get(LINKS).respond(200, json=[])
    answers: dict[str, int] = {}
    async with connect(organization_id=ORG, workspace_id=WS) as client:

        async def call(name: str, arguments: dict[str, Any]) -> None:
            result = await client.call_tool(name, arguments)
            assert result.structured_content is not None, result.content
            answers[name] = result.structured_content["requests"]

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                for _ in range(3):
                    tasks.start_soon(call, "list_groups", {})
                tasks.start_soon(call, "list_project_groups", {"project_ids": list(range(1, 201))})
    assert answers == {"list_groups": 1, "list_project_groups": 1}


async def test_requests_sent_by_tasks_a_call_starts_count_for_that_call(toggl: respx.MockRouter) -> None:
    from toggl_groups_mcp.toggl.client import counting_requests

    toggl.get(GROUPS).respond(200, json=[])
    async with open_toggl() as client:
        with counting_requests() as count:
            async with anyio.create_task_group() as tasks:
                for _ in range(3):
                    tasks.start_soon(client.request, "GET", GROUPS)
        await client.request("GET", GROUPS)  # after the call: not its request
    assert count.sent == 3
