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
        "count": 2,
    }


async def test_list_project_groups_uses_the_explicit_workspace(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/workspaces/77/project_groups").respond(200, json=[])
    async with connect(workspace_id=WS) as client:
        result = await client.call_tool("list_project_groups", {"project_ids": [3], "workspace_id": 77})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", "/workspaces/77/project_groups", {"project_ids": "3"}, None)]
    assert result.structured_content == {"links": [], "count": 0}


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
    assert result.structured_content == {"workspace_id": WS, "project_id": 3, "group_id": 7, "added": True}


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


async def test_remove_by_link_id_with_confirm_sends_one_delete(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.delete(f"{LINKS}/901").respond(200, json="Deleted")
    result = await client.call_tool("remove_project_group", {"project_group_id": 901, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [Sent("DELETE", f"{LINKS}/901", {}, None)]
    assert result.structured_content is not None
    assert result.structured_content["project_group_id"] == 901
    assert result.structured_content["removed"] is True


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
    }


async def test_remove_of_a_link_that_does_not_exist_names_the_groups_that_have_access(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(200, json=[link(901, 3, 6), link(903, 3, 8)])
    result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7, "confirm": True})
    text = tool_error(result)
    assert "Group 7 has no access to project 3" in text
    assert "[6, 8]" in text
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


async def test_remove_by_link_id_without_confirmation_previews_and_sends_nothing(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("remove_project_group", {"project_group_id": 901})
    text = tool_error(result)
    assert "901" in text and "confirm" in text and "no change was sent" in text.lower()
    assert_nothing_sent(toggl)


async def test_remove_by_project_and_group_without_confirmation_previews_after_one_lookup(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(200, json=[link(902, 3, 7)])
    result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7})
    text = tool_error(result)
    assert "902" in text and "confirm" in text
    assert sent(toggl) == [Sent("GET", LINKS, {"project_ids": "3"}, None)]


async def test_a_lookup_that_toggl_refuses_reports_toggl_message_and_deletes_nothing(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(LINKS).respond(403, json="Forbidden")
    text = tool_error(await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7}))
    assert "Forbidden" in text and "admin" in text
    assert [s.method for s in sent(toggl)] == ["GET"]


async def test_remove_accepted_by_the_user_deletes_the_looked_up_link(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    toggl.get(LINKS).respond(200, json=[link(902, 3, 7)])
    toggl.delete(f"{LINKS}/902").respond(200, json="Deleted")
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = await client.call_tool("remove_project_group", {"project_id": 3, "group_id": 7})
    assert not result.is_error, tool_error(result)
    assert len(asked) == 1 and "project 3" in asked[0]
    assert sent(toggl) == [
        *[Sent("GET", LINKS, {"project_ids": "3"}, None)] * asking_reads(mode),
        Sent("DELETE", f"{LINKS}/902", {}, None),
    ]


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_remove_refused_by_the_user_sends_no_delete(
    connect: Connect, toggl: respx.MockRouter, unexpected: respx.Route, action: str
) -> None:
    async with connect(refuse(action), workspace_id=WS) as client:
        result = await client.call_tool("remove_project_group", {"project_group_id": 901})
    assert "no change was sent" in tool_error(result).lower()
    assert_nothing_sent(toggl)


async def test_remove_of_an_unknown_link_id_points_to_the_list_tools(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.delete(f"{LINKS}/999").respond(404, text="Not Found")
    text = tool_error(
        await client.call_tool("remove_project_group", {"project_group_id": 999, "confirm": True})
    )
    assert "404" in text and "list_project_groups" in text
    assert [s.method for s in sent(toggl)] == ["DELETE"]
