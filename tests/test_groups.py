"""Groups tools through an MCP client in both protocol eras, Toggl mocked at the wire."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
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
    ids_of,
    recording,
    refuse,
    sent,
    tool_error,
)

pytestmark = pytest.mark.anyio

ORG = 1
GROUPS = f"/organizations/{ORG}/groups"
GROUP_ID = 7
GROUP = f"{GROUPS}/{GROUP_ID}"


def toggl_group(
    group_id: int = GROUP_ID,
    name: str = "Designers",
    users: tuple[tuple[int, str], ...] = ((11, "Ada Lovelace"), (12, "Bob Marley")),
    workspaces: tuple[int, ...] = (100, 101),
    permissions: Any = "view_all",
) -> dict[str, Any]:
    """A group as Toggl sends it, with the fields the server should leave out."""
    return {
        "group_id": group_id,
        "name": name,
        "at": "2026-03-01T10:00:00+00:00",
        "permissions": permissions,
        "users": [
            {
                "user_id": uid,
                "name": uname,
                "avatar_url": f"https://avatars.test/{uid}.png",
                "inactive": False,
                "joined": True,
            }
            for uid, uname in users
        ],
        "workspaces": list(workspaces),
    }


def echo_patch(request: httpx.Request) -> httpx.Response:
    """Toggl applying every operation it was sent."""
    return httpx.Response(200, json={"success": json.loads(request.content), "failure": []})


WORKSPACES = [
    {"id": 100, "name": "Studio", "organization_id": ORG},
    {"id": 101, "name": "Lab", "organization_id": ORG},
]


@pytest.fixture(autouse=True)
def names_in_toggl(toggl: respx.MockRouter) -> None:
    """What previews read for names: the workspaces, and (for a deletion) the projects the group
    reaches. Routed first, so these win over a test's own routes for the same paths; a test of
    exact requests lists them."""
    toggl.get("/me/workspaces").respond(json=WORKSPACES)
    toggl.get("/workspaces/100/projects").respond(json=[{"id": 3006, "name": "Intranet"}])
    toggl.get("/workspaces/101/projects").respond(json=[{"id": 3107, "name": "Prototype"}])
    toggl.get("/workspaces/100/project_groups").respond(json=[{"id": 900, "pid": 3006, "group_id": GROUP_ID}])
    toggl.get("/workspaces/101/project_groups").respond(json=[{"id": 901, "pid": 3107, "group_id": 99}])
    toggl.get("/workspaces/100/project_users").respond(json=[])


@pytest.fixture
async def client(connect: Connect) -> AsyncIterator[Client]:
    """A client whose server knows the organization (TOGGL_ORGANIZATION_ID)."""
    async with connect(organization_id=ORG) as c:
        yield c


# -- list_groups ----------------------------------------------------------------------------------


async def test_list_groups_sends_one_get_for_the_explicit_organization(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/organizations/42/groups").respond(200, json=[toggl_group()])
    async with connect() as client:
        result = await client.call_tool("list_groups", {"organization_id": 42})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", "/organizations/42/groups", {}, None)]
    assert result.structured_content is not None
    assert result.structured_content["total"] == 1


async def test_list_groups_passes_name_and_workspace_as_toggl_query_parameters(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    result = await client.call_tool("list_groups", {"name": "Design", "workspace_id": 100})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", GROUPS, {"name": "Design", "workspace": "100"}, None)]


async def test_list_groups_returns_lean_groups_with_member_ids_and_names(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    result = await client.call_tool("list_groups", {})
    assert result.structured_content is not None
    group = result.structured_content["groups"][0]
    assert group["group_id"] == GROUP_ID
    assert group["name"] == "Designers"
    assert group["workspace_ids"] == [100, 101]
    assert [(m["user_id"], m["name"]) for m in group["members"]] == [
        (11, "Ada Lovelace"),
        (12, "Bob Marley"),
    ]
    assert "avatar_url" not in str(result.structured_content)
    assert "avatars.test" not in str(result.structured_content)
    assert "permissions" not in group


async def test_list_groups_accepts_permissions_as_a_string_or_a_list(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(
        200,
        json=[
            toggl_group(group_id=1, name="Old style", permissions="view_all"),
            toggl_group(group_id=2, name="New style", permissions=["view_all", "edit"]),
            toggl_group(group_id=3, name="No permissions", permissions=None),
        ],
    )
    result = await client.call_tool("list_groups", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert [g["group_id"] for g in result.structured_content["groups"]] == [1, 2, 3]


async def test_list_groups_tolerates_groups_with_missing_fields(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[{"group_id": 5}, {"group_id": 6, "users": None, "workspaces": None}])
    result = await client.call_tool("list_groups", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["total"] == 2
    assert result.structured_content["groups"][1]["members"] == []


async def test_list_groups_prefers_the_explicit_organization_over_the_setting(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get("/organizations/2/groups").respond(200, json=[])
    result = await client.call_tool("list_groups", {"organization_id": 2})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", "/organizations/2/groups", {}, None)]


async def test_list_groups_uses_the_configured_organization_without_asking_toggl(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/organizations/9/groups").respond(200, json=[])
    async with connect(organization_id=9) as client:
        result = await client.call_tool("list_groups", {})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", "/organizations/9/groups", {}, None)]


async def test_list_groups_defaults_to_the_only_organization_and_remembers_it(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    orgs = toggl.get("/me/organizations").respond(200, json=[{"id": 3, "name": "Acme", "admin": True}])
    toggl.get("/organizations/3/groups").respond(200, json=[toggl_group()])
    async with connect() as client:
        first = await client.call_tool("list_groups", {})
        second = await client.call_tool("list_groups", {"name": "Des"})
    assert not first.is_error and not second.is_error
    assert orgs.call_count == 1
    assert sent(toggl) == [
        Sent("GET", "/me/organizations", {}, None),
        Sent("GET", "/organizations/3/groups", {}, None),
        Sent("GET", "/organizations/3/groups", {"name": "Des"}, None),
    ]


async def test_list_groups_without_a_single_organization_lists_the_choices(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(200, json=[{"id": 3, "name": "Acme"}, {"id": 4, "name": "Beta"}])
    async with connect() as client:
        result = await client.call_tool("list_groups", {})
    text = tool_error(result)
    assert "organization_id" in text
    assert "3 (Acme)" in text and "4 (Beta)" in text
    assert sent(toggl) == [Sent("GET", "/me/organizations", {}, None)]


async def test_list_groups_rejects_an_unknown_argument_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("list_groups", {"workspace": 100})
    assert "workspace" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_list_workspace_groups_reads_the_workspace_groups_path(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(f"/organizations/{ORG}/workspaces/100/groups").respond(200, json=[toggl_group()])
    result = await client.call_tool("list_workspace_groups", {"workspace_id": 100})
    assert not result.is_error
    assert sent(toggl) == [Sent("GET", f"/organizations/{ORG}/workspaces/100/groups", {}, None)]
    assert result.structured_content is not None
    assert result.structured_content["groups"][0]["group_id"] == GROUP_ID


async def test_list_workspace_groups_defaults_to_the_only_workspace_of_the_organization(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/workspaces").respond(
        200,
        json=[
            {"id": 100, "name": "Main", "organization_id": ORG},
            {"id": 200, "name": "Elsewhere", "organization_id": 2},
        ],
    )
    toggl.get(f"/organizations/{ORG}/workspaces/100/groups").respond(200, json=[])
    result = await client.call_tool("list_workspace_groups", {})
    assert not result.is_error
    assert [s.path for s in sent(toggl)] == ["/me/workspaces", f"/organizations/{ORG}/workspaces/100/groups"]


# -- create_group ---------------------------------------------------------------------------------


async def test_create_group_sends_only_the_name_when_nothing_else_is_given(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(200, json=toggl_group(users=(), workspaces=()))
    result = await client.call_tool("create_group", {"name": "Designers"})
    assert not result.is_error
    assert sent(toggl) == [Sent("POST", GROUPS, {}, {"name": "Designers"})]
    assert result.structured_content is not None
    assert result.structured_content["group"]["group_id"] == GROUP_ID


async def test_create_group_sends_members_and_workspaces_stripped_and_deduplicated(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(200, json=toggl_group())
    result = await client.call_tool(
        "create_group",
        {"name": "  Designers  ", "user_ids": [11, 12, 11], "workspace_ids": [100, 100, 101]},
    )
    assert not result.is_error
    assert sent(toggl) == [
        Sent("POST", GROUPS, {}, {"name": "Designers", "users": [11, 12], "workspaces": [100, 101]})
    ]


async def test_create_group_sends_empty_lists_when_given_empty(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(200, json=toggl_group(users=(), workspaces=()))
    await client.call_tool("create_group", {"name": "Empty", "user_ids": [], "workspace_ids": []})
    assert sent(toggl)[0].json == {"name": "Empty", "users": [], "workspaces": []}


@pytest.mark.parametrize("name", ["", "   ", "x" * 201], ids=["empty", "whitespace", "too-long"])
async def test_create_group_rejects_a_bad_name_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route, name: str
) -> None:
    result = await client.call_tool("create_group", {"name": name})
    assert "name" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_create_group_accepts_a_name_of_exactly_200_characters(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(200, json=toggl_group(name="x" * 200))
    result = await client.call_tool("create_group", {"name": "x" * 200})
    assert not result.is_error
    assert sent(toggl)[0].json == {"name": "x" * 200}


async def test_create_group_rejects_an_unknown_argument_by_name_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("create_group", {"name": "Designers", "members": [11]})
    assert "members" in tool_error(result)
    assert_nothing_sent(toggl)


@pytest.mark.parametrize("field", ["user_ids", "workspace_ids"])
@pytest.mark.parametrize("bad", [0, -5])
async def test_create_group_rejects_ids_below_one_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route, field: str, bad: int
) -> None:
    result = await client.call_tool("create_group", {"name": "Designers", field: [3, bad]})
    assert field in tool_error(result)
    assert_nothing_sent(toggl)


async def test_create_group_with_a_taken_name_reports_toggl_message_and_a_hint(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(400, json="Name has already been taken")
    result = await client.call_tool("create_group", {"name": "Designers"})
    text = tool_error(result)
    assert "Name has already been taken" in text
    assert "nothing was changed" in text.lower()
    assert '"Name' not in text  # the JSON string is decoded, not echoed with its quotes
    assert [s.method for s in sent(toggl)] == ["POST"]  # a 4xx is never repeated


async def test_create_group_whose_answer_is_lost_is_looked_up_instead_of_repeated(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(502, text="Bad Gateway")
    toggl.get(GROUPS).respond(200, json=[toggl_group(name="Designers")])
    result = await client.call_tool("create_group", {"name": "Designers"})
    assert not result.is_error
    assert sent(toggl) == [
        Sent("POST", GROUPS, {}, {"name": "Designers"}),
        Sent("GET", GROUPS, {"name": "Designers"}, None),
    ]
    assert result.structured_content is not None
    assert result.structured_content["group"]["group_id"] == GROUP_ID


# -- update_group ---------------------------------------------------------------------------------


async def test_rename_keeps_members_and_workspaces(client: Client, toggl: respx.MockRouter) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group(group_id=3, name="Other"), toggl_group()])
    toggl.put(GROUP).respond(200, json=toggl_group(name="UX"))
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "name": " UX "})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("PUT", GROUP, {}, {"name": "UX", "users": [11, 12], "workspaces": [100, 101]}),
    ]
    assert result.structured_content is not None
    assert ids_of(result.structured_content["removed_members"]) == []
    assert result.structured_content["group"]["name"] == "UX"


async def test_rename_right_after_listing_reads_the_group_again_for_the_complete_body(
    client: Client, toggl: respx.MockRouter
) -> None:
    """The PUT replaces the member list: it must come from Toggl now, not from the listing."""
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(200, json=[toggl_group()]),
            httpx.Response(200, json=[toggl_group(users=((11, "Ada Lovelace"), (12, "Bob"), (13, "Cy")))]),
        ]
    )
    toggl.put(GROUP).respond(200, json=toggl_group(name="UX"))
    await client.call_tool("list_groups", {})
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "name": "UX"})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("GET", GROUPS, {}, None),
        Sent("PUT", GROUP, {}, {"name": "UX", "users": [11, 12, 13], "workspaces": [100, 101]}),
    ]


async def test_update_answered_without_a_group_reports_the_members_that_were_sent(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.put(GROUP).respond(200, json="OK")
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "name": "UX"})
    assert not result.is_error, tool_error(result)
    assert result.structured_content is not None
    group = result.structured_content["group"]
    assert group["name"] == "UX"
    assert [(m["user_id"], m["name"]) for m in group["members"]] == [(11, "Ada Lovelace"), (12, "Bob Marley")]
    assert group["workspace_ids"] == [100, 101]


async def test_update_with_confirm_and_every_field_reads_once_to_say_what_it_dropped(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.put(GROUP).respond(200, json=toggl_group(name="UX", users=((13, "Cy"),), workspaces=(102,)))
    result = await client.call_tool(
        "update_group",
        {"group_id": GROUP_ID, "name": "UX", "user_ids": [13, 13], "workspace_ids": [102], "confirm": True},
    )
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("PUT", GROUP, {}, {"name": "UX", "users": [13], "workspaces": [102]}),
    ]
    assert result.structured_content is not None
    assert ids_of(result.structured_content["removed_members"]) == [11, 12]
    assert ids_of(result.structured_content["added_members"]) == [13]


async def test_update_that_drops_members_without_confirmation_previews_them_and_sends_no_put(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11]})
    text = tool_error(result)
    assert "Bob Marley" in text
    assert "Ada Lovelace" not in text
    assert "confirm" in text and "no change was sent" in text.lower()
    assert sent(toggl) == [Sent("GET", GROUPS, {}, None)]


async def test_update_that_only_adds_members_needs_no_confirmation(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.put(GROUP).respond(200, json=toggl_group(users=((11, "A"), (12, "B"), (13, "C"))))
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11, 12, 13]})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("PUT", GROUP, {}, {"name": "Designers", "users": [11, 12, 13], "workspaces": [100, 101]}),
    ]
    assert result.structured_content is not None
    assert ids_of(result.structured_content["added_members"]) == [13]


async def test_update_that_drops_members_is_sent_when_the_user_accepts(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    """Both eras read twice: the preview, then again after the human's answer (see test_safety)."""
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.put(GROUP).respond(200, json=toggl_group(users=((11, "Ada Lovelace"),)))
    answer, asked = recording(accept())
    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11]})
    assert not result.is_error, tool_error(result)
    assert len(asked) == 1 and "Bob Marley" in asked[0]
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("GET", GROUPS, {}, None),
        Sent("PUT", GROUP, {}, {"name": "Designers", "users": [11], "workspaces": [100, 101]}),
    ]
    assert result.structured_content is not None
    assert ids_of(result.structured_content["removed_members"]) == [12]


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_update_that_drops_members_is_not_sent_when_the_user_refuses(
    connect: Connect, toggl: respx.MockRouter, action: str, mode: str
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    async with connect(refuse(action), organization_id=ORG) as client:
        result = await client.call_tool("update_group", {"group_id": GROUP_ID, "workspace_ids": [100]})
    text = tool_error(result)
    assert "no change was sent" in text.lower()
    assert ("declined" if action == "decline" else "cancel") in text
    assert {s.method for s in sent(toggl)} == {"GET"}
    assert [s.path for s in sent(toggl)].count(GROUPS) == asking_reads(mode)


async def test_update_with_nothing_to_change_is_refused_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("update_group", {"group_id": GROUP_ID})
    assert "Nothing to change" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_update_with_a_blank_name_is_refused_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "name": "   "})
    assert "name" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_update_with_a_blank_name_and_new_members_is_refused_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool("update_group", {"group_id": GROUP_ID, "name": "  ", "user_ids": [11]})
    assert "name" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_update_of_an_unknown_group_points_to_list_groups_and_sends_no_put(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group(group_id=3)])
    result = await client.call_tool("update_group", {"group_id": 99, "name": "UX"})
    text = tool_error(result)
    assert "99" in text and "list_groups" in text
    assert [s.method for s in sent(toggl)] == ["GET"]


# -- patch_group ----------------------------------------------------------------------------------


async def test_patch_that_only_adds_sends_one_patch_without_reading_or_asking(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    result = await client.call_tool(
        "patch_group", {"group_id": GROUP_ID, "add_user_ids": [13, 14, 13], "add_workspace_ids": [102]}
    )
    assert not result.is_error, tool_error(result)
    ops = [
        {"op": "add", "path": "/users", "value": [13, 14]},
        {"op": "add", "path": "/workspaces", "value": [102]},
    ]
    assert sent(toggl) == [Sent("PATCH", GROUP, {}, ops)]
    assert result.structured_content is not None
    assert result.structured_content["complete"] is True
    assert result.structured_content["succeeded"] == ops
    assert result.structured_content["failed"] == []


async def test_patch_that_removes_members_without_confirmation_previews_and_sends_no_patch(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "remove_user_ids": [12]})
    text = tool_error(result)
    assert "Bob Marley" in text and "confirm" in text
    assert sent(toggl) == [Sent("GET", GROUPS, {}, None)]


async def test_patch_that_removes_with_confirm_sends_remove_operations_only(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    result = await client.call_tool(
        "patch_group",
        {"group_id": GROUP_ID, "remove_user_ids": [12], "remove_workspace_ids": [101], "confirm": True},
    )
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent(
            "PATCH",
            GROUP,
            {},
            [
                {"op": "remove", "path": "/users", "value": [12]},
                {"op": "remove", "path": "/workspaces", "value": [101]},
            ],
        )
    ]


async def test_patch_that_removes_non_members_needs_no_confirmation(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "remove_user_ids": [55, 56]})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("PATCH", GROUP, {}, [{"op": "remove", "path": "/users", "value": [55, 56]}]),
    ]


async def test_patch_with_removals_is_sent_when_the_user_accepts(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    answer, asked = recording(accept())
    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "remove_user_ids": [11]})
    assert not result.is_error, tool_error(result)
    assert "Ada Lovelace" in asked[0]
    assert [s.method for s in sent(toggl)] == ["GET"] * asking_reads(mode) + ["PATCH"]


async def test_patch_splits_150_ids_into_operations_of_100_and_50_in_one_request(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    ids = list(range(1, 151))
    result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "add_user_ids": ids})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent(
            "PATCH",
            GROUP,
            {},
            [
                {"op": "add", "path": "/users", "value": ids[:100]},
                {"op": "add", "path": "/users", "value": ids[100:]},
            ],
        )
    ]


async def test_patch_with_more_than_100_operations_is_split_over_several_requests(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    users = list(range(1, 10_001))  # 100 operations
    workspaces = list(range(1, 51))  # the 101st
    result = await client.call_tool(
        "patch_group", {"group_id": GROUP_ID, "add_user_ids": users, "add_workspace_ids": workspaces}
    )
    assert not result.is_error, tool_error(result)
    requests = sent(toggl)
    assert [(s.method, s.path) for s in requests] == [("PATCH", GROUP), ("PATCH", GROUP)]
    first, second = requests[0].json, requests[1].json
    assert len(first) == 100 and len(second) == 1
    assert all(op["op"] == "add" and op["path"] == "/users" and len(op["value"]) == 100 for op in first)
    assert [v for op in first for v in op["value"]] == users
    assert second == [{"op": "add", "path": "/workspaces", "value": workspaces}]
    assert result.structured_content is not None
    assert len(result.structured_content["succeeded"]) == 101


async def test_patch_of_more_than_10000_ids_is_sent_in_batches_within_toggl_limits(
    client: Client, toggl: respx.MockRouter
) -> None:
    patches = toggl.patch(GROUP).mock(side_effect=echo_patch)
    result = await client.call_tool(
        "patch_group", {"group_id": GROUP_ID, "add_user_ids": list(range(1, 10_002))}
    )
    assert not result.is_error, tool_error(result)
    bodies = [json.loads(c.request.content) for c in patches.calls]
    assert [len(body) for body in bodies] == [100, 1]
    assert all(len(op["value"]) <= 100 for body in bodies for op in body)


async def test_patch_answered_200_with_failures_reports_an_incomplete_result(
    client: Client, toggl: respx.MockRouter
) -> None:
    good = {"op": "add", "path": "/users", "value": [13]}
    bad = {"op": "add", "path": "/workspaces", "value": [999]}
    toggl.patch(GROUP).respond(
        200,
        json={
            "success": [good],
            "failure": [{"message": "Workspace 999 not exists in the organization 1", "patch": bad}],
        },
    )
    result = await client.call_tool(
        "patch_group", {"group_id": GROUP_ID, "add_user_ids": [13], "add_workspace_ids": [999]}
    )
    assert not result.is_error
    assert sent(toggl) == [Sent("PATCH", GROUP, {}, [good, bad])]
    assert result.structured_content is not None
    assert result.structured_content["complete"] is False
    assert result.structured_content["succeeded"] == [good]
    assert result.structured_content["failed"] == [
        {"patch": bad, "message": "Workspace 999 not exists in the organization 1"}
    ]


async def test_patch_that_adds_and_removes_the_same_id_is_refused_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    result = await client.call_tool(
        "patch_group",
        {"group_id": GROUP_ID, "add_user_ids": [11, 13], "remove_user_ids": [13], "confirm": True},
    )
    text = tool_error(result)
    assert "add_user_ids" in text and "remove_user_ids" in text and "13" in text
    assert_nothing_sent(toggl)


@pytest.mark.parametrize("arguments", [{}, {"add_user_ids": [], "remove_workspace_ids": []}])
async def test_patch_with_nothing_to_change_is_refused_without_a_request(
    client: Client, toggl: respx.MockRouter, unexpected: respx.Route, arguments: dict[str, Any]
) -> None:
    result = await client.call_tool("patch_group", {"group_id": GROUP_ID, **arguments})
    assert "Nothing to change" in tool_error(result)
    assert_nothing_sent(toggl)


async def test_patch_refused_on_the_second_batch_says_what_was_applied_and_what_was_not(
    client: Client, toggl: respx.MockRouter
) -> None:
    answers = iter(
        [
            echo_patch,
            lambda request: httpx.Response(403, json="User does not have permission to manage user groups."),
        ]
    )
    toggl.patch(GROUP).mock(side_effect=lambda request: next(answers)(request))
    result = await client.call_tool(
        "patch_group",
        {"group_id": GROUP_ID, "add_user_ids": list(range(1, 10_001)), "add_workspace_ids": [102]},
    )
    text = tool_error(result)
    assert "User does not have permission to manage user groups." in text
    assert "admin" in text
    assert "100 operation(s) succeeded" in text
    assert "1 operation(s) were not applied" in text and "/workspaces" in text
    assert [s.method for s in sent(toggl)] == ["PATCH", "PATCH"]


# -- delete_group ---------------------------------------------------------------------------------


async def test_delete_without_confirmation_previews_name_members_and_workspaces(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    text = tool_error(result)
    assert "Designers" in text
    assert "Ada Lovelace" in text and "Bob Marley" in text
    assert "workspace assignments: Studio (100), Lab (101)" in text
    assert "access to 1 project(s) through this group: Intranet (3006, Studio)" in text
    assert "confirm" in text and "no change was sent" in text.lower()
    # The group; the organization's workspaces; per workspace its projects and who can reach them.
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", "/workspaces/100/projects", {"active": "both", "per_page": "200", "page": "1"}, None),
        Sent("GET", "/workspaces/100/project_groups", {"project_ids": "3006"}, None),
        Sent("GET", "/workspaces/101/projects", {"active": "both", "per_page": "200", "page": "1"}, None),
        Sent("GET", "/workspaces/101/project_groups", {"project_ids": "3107"}, None),
        # Who else reaches the group's (private) project: its direct members.
        Sent("GET", "/workspaces/100/project_users", {"project_ids": "3006"}, None),
    ]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("delete_group", {"group_id": GROUP_ID}),
        ("update_group", {"group_id": GROUP_ID, "user_ids": [11]}),
        ("patch_group", {"group_id": GROUP_ID, "remove_user_ids": [11]}),
    ],
)
async def test_a_preview_that_toggl_refuses_reports_toggl_message_and_changes_nothing(
    client: Client, toggl: respx.MockRouter, tool: str, arguments: dict[str, Any]
) -> None:
    toggl.get(GROUPS).respond(403, json="User does not have permission to manage user groups.")
    text = tool_error(await client.call_tool(tool, arguments))
    assert "User does not have permission to manage user groups." in text and "admin" in text
    assert sent(toggl) == [Sent("GET", GROUPS, {}, None)]


async def test_delete_is_sent_when_the_user_accepts_the_question_naming_the_group(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.delete(GROUP).respond(200, json="Group deleted")
    answer, asked = recording(accept())
    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    assert not result.is_error, tool_error(result)
    assert len(asked) == 1 and "Designers" in asked[0]
    assert [s for s in sent(toggl) if s.method != "GET"] == [Sent("DELETE", GROUP, {}, None)]
    # The preview's read, and a read after the answer (the human may have taken a minute).
    assert [s.path for s in sent(toggl)].count(GROUPS) == 2
    # Every request of the call that answers: on 2026-07-28 the preview's first read was the
    # request that asked, not this one.
    requests = len(sent(toggl)) if mode == "legacy" else len(sent(toggl)) // 2
    assert result.structured_content == {
        "group_id": GROUP_ID,
        "deleted": True,
        "name": "Designers",
        "requests": requests,
    }


async def test_delete_is_not_sent_when_the_user_declines(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    async with connect(refuse("decline"), organization_id=ORG) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    text = tool_error(result)
    assert "declined" in text and "no change was sent" in text.lower()
    assert {s.method for s in sent(toggl)} == {"GET"}
    assert [s.path for s in sent(toggl)].count(GROUPS) == asking_reads(mode)


async def test_delete_is_not_sent_when_the_user_accepts_without_ticking_confirm(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    async with connect(accept(confirm=False), organization_id=ORG) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    assert "no change was sent" in tool_error(result).lower()
    assert {s.method for s in sent(toggl)} == {"GET"}
    assert [s.path for s in sent(toggl)].count(GROUPS) == asking_reads(mode)


async def test_delete_with_confirm_sends_exactly_one_delete_and_no_read(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.delete(GROUP).respond(200, json="Group deleted")
    result = await client.call_tool("delete_group", {"group_id": GROUP_ID, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [Sent("DELETE", GROUP, {}, None)]
    assert result.structured_content is not None
    assert result.structured_content["deleted"] is True


async def test_delete_of_an_unknown_group_id_points_to_list_groups(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.delete("/organizations/1/groups/99").respond(404, json="Invalid group ID.")
    result = await client.call_tool("delete_group", {"group_id": 99, "confirm": True})
    text = tool_error(result)
    assert "Invalid group ID." in text and "list_groups" in text
    assert sent(toggl) == [Sent("DELETE", "/organizations/1/groups/99", {}, None)]


async def test_delete_preview_of_an_unknown_group_points_to_list_groups_and_sends_no_delete(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[])
    result = await client.call_tool("delete_group", {"group_id": 99})
    assert "list_groups" in tool_error(result)
    assert [s.method for s in sent(toggl)] == ["GET"]


@pytest.mark.parametrize("group_id", [0, -1])
async def test_delete_rejects_a_group_id_below_one_without_a_request(
    client: Client, toggl: respx.MockRouter, group_id: int, unexpected: respx.Route
) -> None:
    result = await client.call_tool("delete_group", {"group_id": group_id, "confirm": True})
    assert "group_id" in tool_error(result)
    assert_nothing_sent(toggl)


# -- Toggl errors as the model reads them ---------------------------------------------------------


async def test_a_403_says_the_user_must_be_an_organization_admin(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(403, json="User does not have permission to manage user groups.")
    text = tool_error(await client.call_tool("list_groups", {}))
    assert "403" in text and "admin" in text
    assert "User does not have permission to manage user groups." in text


async def test_a_402_over_quota_says_how_much_is_left_and_when_it_resets(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(
        402,
        json="Quota exceeded",
        headers={"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1234"},
    )
    text = tool_error(await client.call_tool("list_groups", {}))
    assert "remaining: 0" in text
    assert "1234 s" in text
    assert toggl.calls.call_count == 1  # quota exhaustion is not retried


async def test_a_402_without_quota_headers_says_the_plan_lacks_the_feature(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(402, json="Payment required")
    text = tool_error(await client.call_tool("list_groups", {}))
    assert "plan" in text
    assert toggl.calls.call_count == 1


async def test_a_429_beyond_the_retry_budget_says_when_to_retry(
    client: Client, toggl: respx.MockRouter, fake_time: FakeTime
) -> None:
    toggl.get(GROUPS).respond(429, text="Too many requests", headers={"Retry-After": "120"})
    text = tool_error(await client.call_tool("list_groups", {}))
    assert "retry after 120 s" in text.lower()
    assert "Too many requests" in text
    # A wait past the budget is not waited at all (on the fake clock, so a regression fails fast).
    assert fake_time.sleeps == []


async def test_a_plain_text_error_body_is_shown_as_toggl_message(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.post(GROUPS).respond(400, text="Invalid JSON input", headers={"Content-Type": "text/plain"})
    text = tool_error(await client.call_tool("create_group", {"name": "Designers"}))
    assert "Invalid JSON input" in text


async def test_an_error_object_body_is_shown_by_its_message(client: Client, toggl: respx.MockRouter) -> None:
    toggl.post(GROUPS).respond(
        400, json={"error": {"message": "Group name too long", "tip": "shorten it", "code": 1}}
    )
    text = tool_error(await client.call_tool("create_group", {"name": "Designers"}))
    assert "Group name too long" in text
    assert "{" not in text.split("Group name too long")[0].split(":")[-1]


@pytest.mark.parametrize("status", [400, 403, 404, 402, 410, 500])
async def test_toggl_errors_always_carry_a_message_not_the_bare_sdk_text(
    client: Client, toggl: respx.MockRouter, status: int
) -> None:
    toggl.get(GROUPS).respond(status, json="Something specific")
    text = tool_error(await client.call_tool("list_groups", {}))
    assert text.startswith("Error executing tool list_groups: ")
    assert text.removeprefix("Error executing tool list_groups: ").strip()
    assert f"HTTP {status}" in text and "Something specific" in text


async def test_a_rename_is_what_later_results_call_the_group(client: Client, toggl: respx.MockRouter) -> None:
    """Results name groups from what the server has heard: after a rename, the new name."""
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.put(GROUP).respond(200, json=toggl_group(name="UX"))
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    await client.call_tool("list_groups", {})
    assert not (await client.call_tool("update_group", {"group_id": GROUP_ID, "name": "UX"})).is_error
    result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "add_user_ids": [13]})
    assert result.structured_content is not None
    assert result.structured_content["name"] == "UX"
