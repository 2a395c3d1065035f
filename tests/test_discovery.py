"""Finding ids with the fewest Toggl calls: discovery tools, defaults and their caches."""

from __future__ import annotations

import httpx
import pytest
import respx

from tests.conftest import Connect, error_text

pytestmark = pytest.mark.anyio

ORGS = [
    {"id": 10, "name": "Acme", "admin": True, "owner": False, "api_token": "x"},
    {"id": 20, "name": "Side", "admin": False, "owner": False},
]
WORKSPACES = [
    {"id": 100, "name": "Main", "organization_id": 10, "admin": True, "role": "admin", "api_token": "secret"},
    {"id": 200, "name": "Other", "organization_id": 20, "admin": False, "role": "user"},
]


async def test_list_organizations_is_lean_and_a_second_call_spends_no_request(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    route = toggl.get("/me/organizations").respond(json=ORGS)
    workspaces = toggl.get("/me/workspaces").respond(json=WORKSPACES)
    async with connect() as client:
        first = await client.call_tool("list_organizations", {})
        second = await client.call_tool("list_organizations", {})
    assert first.structured_content == {
        "organizations": [
            {"id": 10, "name": "Acme", "admin": True, "workspaces": [{"id": 100, "name": "Main"}]},
            {"id": 20, "name": "Side", "admin": False, "workspaces": [{"id": 200, "name": "Other"}]},
        ],
        "default_organization_id": None,  # said: two organizations and none configured
        "default_workspace_id": None,
        "requests": 2,
    }
    assert second.structured_content == {**first.structured_content, "requests": 0}
    assert route.call_count == 1 and workspaces.call_count == 1


async def test_list_workspaces_filters_by_organization_and_strips_the_token(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get("/me/workspaces").respond(json=WORKSPACES)
    async with connect() as client:
        result = await client.call_tool("list_workspaces", {"organization_id": 20})
    assert result.structured_content == {
        "workspaces": [{"id": 200, "name": "Other", "organization_id": 20}],
        "requests": 1,
    }
    assert "secret" not in str(result.content)


async def test_list_projects_sends_search_active_and_paging(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    route = toggl.get("/workspaces/100/projects").respond(
        json=[{"id": 1, "name": "Website", "active": True, "client_id": None, "color": "#fff"}]
    )
    async with connect() as client:
        result = await client.call_tool(
            "list_projects", {"workspace_id": 100, "name": "Web", "active": "both", "page": 2, "per_page": 1}
        )
    params = route.calls.last.request.url.params
    assert dict(params) == {"search": "Web", "active": "both", "page": "2", "per_page": "1"}
    assert result.structured_content == {
        "projects": [{"id": 1, "name": "Website", "public": False}],
        "page": 2,
        "per_page": 1,
        "more": True,
        "requests": 1,
    }


async def test_list_organization_users_gives_user_ids_and_filters(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    route = toggl.get("/organizations/10/users").respond(
        json=[
            {"id": 555, "user_id": 7, "name": "Ann", "email": "ann@x.test", "admin": False, "inactive": False}
        ]
    )
    async with connect() as client:
        result = await client.call_tool("list_organization_users", {"organization_id": 10, "filter": "ann"})
    assert dict(route.calls.last.request.url.params) == {"filter": "ann", "page": "1", "per_page": "50"}
    users = result.structured_content["users"]  # type: ignore[index]
    # Flags that say nothing (not an admin, not deactivated) are left out.
    assert users == [{"user_id": 7, "name": "Ann", "email": "ann@x.test"}]


async def test_the_only_organization_is_the_default_and_is_looked_up_once(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    orgs = toggl.get("/me/organizations").respond(json=ORGS[:1])
    groups = toggl.get("/organizations/10/groups").respond(json=[])
    async with connect() as client:
        for _ in range(3):
            result = await client.call_tool("list_groups", {"name": "x"})
            assert not result.is_error
        await client.call_tool("list_organizations", {})
    assert orgs.call_count == 1
    assert groups.call_count == 3


async def test_several_organizations_and_no_default_answer_the_choices(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get("/me/organizations").respond(json=ORGS)
    async with connect() as client:
        result = await client.call_tool("list_groups", {})
    text = error_text(result)
    assert "organization_id is required" in text
    assert "10 (Acme)" in text and "20 (Side)" in text


async def test_the_configured_workspace_wins_over_looking_it_up(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    route = toggl.get("/workspaces/300/project_groups").respond(json=[])
    async with connect(workspace_id=300) as client:
        result = await client.call_tool("list_project_groups", {"project_ids": [1]})
    assert not result.is_error
    assert route.call_count == 1


async def test_the_only_workspace_of_the_organization_is_the_default(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get("/me/organizations").respond(json=ORGS[:1])
    toggl.get("/me/workspaces").respond(json=WORKSPACES)
    route = toggl.get("/organizations/10/workspaces/100/groups").respond(json=[])
    async with connect() as client:
        result = await client.call_tool("list_workspace_groups", {})
    assert not result.is_error, result.content
    assert route.call_count == 1


async def test_get_quota_reads_recent_headers_without_a_request(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get("/organizations/10/groups").respond(
        json=[], headers={"X-Toggl-Quota-Remaining": "17", "X-Toggl-Quota-Resets-In": "1200"}
    )
    quota = toggl.get("/me/quota").respond(json=[])
    async with connect() as client:
        await client.call_tool("list_groups", {"organization_id": 10})
        result = await client.call_tool("get_quota", {"organization_id": 10})
    data = result.structured_content
    assert data is not None
    assert data["remaining"] == 17 and data["source"] == "recent answer"
    assert 1190 <= data["resets_in_secs"] <= 1200
    assert quota.call_count == 0


async def test_get_quota_asks_toggl_when_nothing_recent_is_known(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get("/me/quota").respond(
        json=[{"organization_id": 10, "remaining": 29, "resets_in_secs": 3000, "total": 30}]
    )
    async with connect() as client:
        result = await client.call_tool("get_quota", {"organization_id": 10})
    assert result.structured_content is not None
    assert result.structured_content["remaining"] == 29
    assert result.structured_content["total"] == 30
    assert result.structured_content["source"] == "toggl"


async def test_a_discovery_failure_is_a_tool_error_with_a_hint(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get("/me/organizations").mock(
        return_value=httpx.Response(403, json="Incorrect username and/or password")
    )
    async with connect() as client:
        result = await client.call_tool("list_organizations", {})
    text = error_text(result)
    assert "403" in text and "Incorrect username" in text and "admin" in text


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("list_projects", {"workspace_id": 100, "name": "   "}),
        ("list_organization_users", {"organization_id": 10, "filter": " "}),
        ("list_groups", {"organization_id": 10, "name": "  "}),
    ],
)
async def test_a_blank_search_term_is_refused_without_a_request(
    toggl: respx.MockRouter, connect: Connect, tool: str, args: dict[str, object]
) -> None:
    async with connect() as client:
        result = await client.call_tool(tool, args)
    assert result.is_error and ("name" in error_text(result) or "filter" in error_text(result))
    assert toggl.calls.call_count == 0


async def test_search_terms_are_sent_stripped(toggl: respx.MockRouter, connect: Connect) -> None:
    route = toggl.get("/organizations/10/users").respond(json=[])
    async with connect() as client:
        await client.call_tool("list_organization_users", {"organization_id": 10, "filter": "  ann "})
    assert route.calls.last.request.url.params["filter"] == "ann"
