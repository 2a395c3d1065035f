"""Project-groups tools through an MCP client in both protocol eras, Toggl mocked at the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import respx
from mcp import Client

from tests.conftest import (
    Connect,
    FakeTime,
    Sent,
    accept,
    asking_reads,
    assert_nothing_sent,
    recording,
    refuse,
    sent,
    tool_error,
)

pytestmark = pytest.mark.anyio

WS = 5
LINKS = f"/workspaces/{WS}/project_groups"


def link(link_id: int, project_id: int, group_id: int) -> dict[str, Any]:
    return {"id": link_id, "group_id": group_id, "pid": project_id, "wid": WS}


@pytest.fixture
async def client(connect: Connect) -> AsyncIterator[Client]:
    """A client whose server knows the workspace (TOGGL_WORKSPACE_ID)."""
    async with connect(workspace_id=WS) as c:
        yield c


# -- list_project_groups --------------------------------------------------------------------------


async def test_list_project_groups_sends_the_project_ids_comma_separated(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 1, 7), link(902, 2, 8)])
    result = await client.call_tool("list_project_groups", {"project_ids": [1, 2, 1]})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [Sent("GET", LINKS, {"project_ids": "1,2"}, None)]
    assert result.structured_content == {
        "links": [
            {"project_group_id": 901, "project_id": 1, "group_id": 7, "workspace_id": WS},
            {"project_group_id": 902, "project_id": 2, "group_id": 8, "workspace_id": WS},
        ],
        "total": 2,
        "requests": 1,
    }


async def test_list_project_groups_uses_the_explicit_workspace(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/workspaces/77/project_groups").respond(200, json=[])
    async with connect(workspace_id=WS) as client:
        result = await client.call_tool("list_project_groups", {"project_ids": [3], "workspace_id": 77})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", "/workspaces/77/project_groups", {"project_ids": "3"}, None)]
    assert result.structured_content == {"links": [], "total": 0, "requests": 1}


@pytest.mark.parametrize(
    "project_ids", [[], [0], list(range(1, 202))], ids=["empty", "zero", "more-than-200"]
)
async def test_list_project_groups_rejects_bad_project_ids_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route, project_ids: list[int]
) -> None:
    result = await client.call_tool("list_project_groups", {"project_ids": project_ids})
    assert "project_ids" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_list_project_groups_requires_project_ids_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("list_project_groups", {})
    assert "project_ids" in tool_error(result)
    assert_nothing_sent(toggl)


# -- add_project_group ----------------------------------------------------------------------------


async def test_add_project_group_posts_group_and_project_to_the_configured_workspace(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(LINKS).respond(200, json="Group added to project")
    result = await client.call_tool("add_project_group", {"project_id": 3, "group_id": 7})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [Sent("POST", LINKS, {}, {"group_id": 7, "project_id": 3})]
    assert result.structured_content == {
        "workspace_id": WS,
        "project_id": 3,
        "group_id": 7,
        "added": True,
        "requests": 1,
    }


async def test_add_project_group_defaults_to_the_only_workspace_and_remembers_it(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    workspaces = toggl.get("/me/workspaces").respond(
        200, json=[{"id": 8, "name": "Main", "organization_id": 1, "api_token": "must-not-leak"}]
    )
    toggl.post("/workspaces/8/project_groups").respond(200, json="ok")
    async with connect() as client:
        first = await client.call_tool("add_project_group", {"project_id": 3, "group_id": 7})
        second = await client.call_tool("add_project_group", {"project_id": 4, "group_id": 7})
    assert not first.is_error and not second.is_error
    assert workspaces.call_count == 1
    assert sent(toggl) == [
        Sent("GET", "/me/workspaces", {}, None),
        Sent("POST", "/workspaces/8/project_groups", {}, {"group_id": 7, "project_id": 3}),
        Sent("POST", "/workspaces/8/project_groups", {}, {"group_id": 7, "project_id": 4}),
    ]


async def test_add_project_group_without_a_single_workspace_lists_the_choices(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/workspaces").respond(200, json=[{"id": 8, "name": "Main"}, {"id": 9, "name": "Side"}])
    async with connect() as client:
        result = await client.call_tool("add_project_group", {"project_id": 3, "group_id": 7})
    text = tool_error(result)
    assert "workspace_id" in text and "8 (Main)" in text and "9 (Side)" in text
    assert sent(toggl) == [Sent("GET", "/me/workspaces", {}, None)]


async def test_add_project_group_rejects_an_unknown_argument_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("add_project_group", {"project_id": 3, "group_id": 7, "pid": 3})
    assert "pid" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_add_project_group_for_a_group_created_seconds_ago_waits_for_toggl_to_catch_up(
    connect: Connect, toggl: respx.MockRouter, fake_time: FakeTime
) -> None:
    toggl.post("/organizations/1/groups").respond(200, json={"group_id": 7, "name": "New"})
    toggl.post(LINKS).mock(
        side_effect=[
            respx.MockResponse(400, json="Group does not exist"),
            respx.MockResponse(200, json="ok"),
        ]
    )
    async with connect(workspace_id=WS, organization_id=1) as client:
        created = await client.call_tool("create_group", {"name": "New"})
        result = await client.call_tool("add_project_group", {"project_id": 3, "group_id": 7})
    assert not created.is_error and not result.is_error, tool_error(result)
    assert [(s.method, s.path) for s in sent(toggl)] == [
        ("POST", "/organizations/1/groups"),
        ("POST", LINKS),
        ("POST", LINKS),
    ]
    assert len(fake_time.sleeps) == 1


async def test_add_project_group_for_an_older_group_does_not_retry_a_400(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(LINKS).respond(400, json="Group does not exist")
    text = tool_error(await client.call_tool("add_project_group", {"project_id": 3, "group_id": 7}))
    assert "Group does not exist" in text
    assert toggl.calls.call_count == 1


# -- remove_project_group -------------------------------------------------------------------------

ORG = 1
PROJECTS = f"/workspaces/{WS}/projects"
ALL_PROJECTS = {"active": "both", "per_page": "200", "page": "1"}


MEMBERS = f"/workspaces/{WS}/project_users"


@pytest.fixture
def named(toggl: respx.MockRouter) -> None:
    """Where a preview finds names and who else reaches the project: the workspace list, its
    (private) projects, the organization's groups, the projects' direct members (none)."""
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Main", "organization_id": ORG}])
    toggl.get(PROJECTS).respond(json=[{"id": 3, "name": "Website"}, {"id": 4, "name": "Intranet"}])
    toggl.get(f"/organizations/{ORG}/groups").respond(
        json=[
            {"group_id": 6, "name": "Dev", "users": [{"user_id": 31, "name": "Eve"}]},
            {"group_id": 7, "name": "Design", "users": [{"user_id": 32, "name": "Max"}]},
        ]
    )
    toggl.get(MEMBERS).respond(json=[])


async def test_remove_by_link_id_with_confirm_finds_what_it_joins_then_deletes_it(
    client: Client, toggl: respx.MockRouter, named: None
) -> None:
    """Toggl lists links only by project: the workspace's projects, then their links, name it."""
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6), link(902, 4, 7)])
    toggl.delete(f"{LINKS}/901").respond(200, json="Deleted")
    result = await client.call_tool("remove_project_group", {"project_group_id": 901, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", PROJECTS, ALL_PROJECTS, None),
        Sent("GET", LINKS, {"project_ids": "3,4"}, None),
        Sent("DELETE", f"{LINKS}/901", {}, None),
    ]
    assert result.structured_content == {
        "workspace_id": WS,
        "project_group_id": 901,
        "project_id": 3,
        "project": "Website",
        "group_id": 6,
        "removed": True,
        "requests": 3,
    }


async def test_remove_by_project_and_group_looks_the_link_up_then_deletes_it(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6), link(902, 3, 7)])
    toggl.delete(f"{LINKS}/902").respond(200, json="Deleted")
    result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", LINKS, {"project_ids": "3"}, None),
        Sent("DELETE", f"{LINKS}/902", {}, None),
    ]
    assert result.structured_content == {
        "workspace_id": WS,
        "project_group_id": 902,
        "project_id": 3,
        "group_id": 7,
        "removed": True,
        "requests": 2,
    }


async def test_remove_of_a_link_that_does_not_exist_names_the_groups_that_have_access(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6), link(903, 3, 8)])
    result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7, "confirm": True})
    text = tool_error(result)
    assert "Group 7 has no access to project 3" in text
    assert "Groups with access: group 6, group 8" in text
    assert [s.method for s in sent(toggl)] == ["GET"]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"project_group_id": 901, "project_id": 3}, ["project_group_id", "project_id", "group_id"]),
        ({"project_group_id": 901, "group_id": 7}, ["project_group_id", "project_id", "group_id"]),
        ({"project_id": 3}, ["group_id"]),
        ({"group_id": 7}, ["project_id"]),
        ({}, ["project_group_id", "project_id", "group_id"]),
    ],
    ids=["id-and-project", "id-and-group", "project-only", "group-only", "none"],
)
async def test_remove_with_mixed_or_half_forms_names_the_fields_without_a_request(
    client: Client,
    toggl: respx.MockRouter,
    unexpected: respx.Route,
    arguments: dict[str, Any],
    named: list[str],
) -> None:
    result = await client.call_tool("remove_project_group", {**arguments, "confirm": True})
    text = tool_error(result)
    assert all(field in text for field in named), text
    assert "Nothing was sent" in text
    assert_nothing_sent(toggl)


async def test_remove_by_link_id_without_confirmation_previews_it_in_names_and_deletes_nothing(
    client: Client, toggl: respx.MockRouter, named: None
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6)])
    text = tool_error(await client.call_tool("remove_project_group", {"project_group_id": 901}))
    assert "Dev loses access to Website (3) in Main (5), link 901" in text
    assert "confirm" in text and "no change was sent" in text.lower()
    assert {s.method for s in sent(toggl)} == {"GET"}


async def test_remove_by_project_and_group_without_confirmation_previews_in_names(
    client: Client, toggl: respx.MockRouter, named: None
) -> None:
    toggl.get(LINKS).respond(200, json=[link(902, 3, 7)])
    result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7})
    text = tool_error(result)
    assert "Design loses access to Website (3) in Main (5), link 902" in text and "confirm" in text
    assert "- Max loses access to Website (3)" in text
    # The link, the project (name and privacy), the organization's groups (names and members), the
    # project's direct members: who else reaches it.
    assert [s.path for s in sent(toggl)] == [
        LINKS,
        PROJECTS,
        "/me/workspaces",
        f"/organizations/{ORG}/groups",
        MEMBERS,
    ]


async def test_names_heard_earlier_cost_the_preview_no_request(
    client: Client, toggl: respx.MockRouter, named: None
) -> None:
    """A question may name what Toggl told this process in earlier calls (never what only another
    process said through Redis: tests/test_shared_trust.py); only what decides what is lost is read
    again: the link, the project's privacy, the group's members and the direct members."""
    toggl.get(LINKS).respond(200, json=[link(902, 3, 7)])
    await client.call_tool("list_projects", {})
    await client.call_tool("list_groups", {"organization_id": ORG})
    await client.call_tool("list_workspaces", {})
    before = len(sent(toggl))
    text = tool_error(await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7}))
    assert "Design loses access to Website (3) in Main (5)" in text
    assert [s.path for s in sent(toggl)[before:]] == [
        LINKS,
        PROJECTS,
        f"/organizations/{ORG}/groups",
        MEMBERS,
    ]


async def test_a_lookup_that_toggl_refuses_reports_toggl_message_and_deletes_nothing(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(403, json="Forbidden")
    text = tool_error(await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7}))
    assert "Forbidden" in text and "admin" in text
    assert [s.method for s in sent(toggl)] == ["GET"]


async def test_remove_accepted_by_the_user_deletes_the_looked_up_link(
    connect: Connect, toggl: respx.MockRouter, mode: str, named: None
) -> None:
    toggl.get(LINKS).respond(200, json=[link(902, 3, 7)])
    toggl.delete(f"{LINKS}/902").respond(200, json="Deleted")
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7})
    assert not result.is_error, tool_error(result)
    assert len(asked) == 1 and "Design loses access to Website (3)" in asked[0]
    assert [s for s in sent(toggl) if s.method != "GET"] == [Sent("DELETE", f"{LINKS}/902", {}, None)]
    assert [s.path for s in sent(toggl)].count(LINKS) == asking_reads(mode)


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_remove_refused_by_the_user_sends_no_delete(
    connect: Connect, toggl: respx.MockRouter, action: str, named: None
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6)])
    async with connect(refuse(action), workspace_id=WS) as client:
        result = await client.call_tool("remove_project_group", {"project_group_id": 901})
    assert "no change was sent" in tool_error(result).lower()
    assert {s.method for s in sent(toggl)} == {"GET"}


async def test_remove_of_an_unknown_link_id_points_to_the_tools_that_show_links(
    client: Client, toggl: respx.MockRouter, named: None
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6)])
    text = tool_error(
        await client.call_tool("remove_project_group", {"project_group_id": 999, "confirm": True})
    )
    assert "no project-group link 999" in text and "get_project_access" in text
    assert {s.method for s in sent(toggl)} == {"GET"}
