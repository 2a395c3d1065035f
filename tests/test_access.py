"""The assistant's view: access at a glance, names beside ids, in the fewest Toggl requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from mcp import Client

from tests.conftest import Connect, Sent, assert_nothing_sent, sent, tool_error

pytestmark = pytest.mark.anyio

ORG = 1
WS, WS2 = 100, 200
GROUPS = f"/organizations/{ORG}/groups"
PROJECTS = f"/workspaces/{WS}/projects"
LINKS = f"/workspaces/{WS}/project_groups"
ALL_PROJECTS = {"active": "both", "page": "1", "per_page": "200"}

DESIGN = {
    "group_id": 601,
    "name": "Design",
    "users": [{"user_id": 11, "name": "Ada Lovelace"}, {"user_id": 12, "name": "Sam Doe", "inactive": True}],
    "workspaces": [WS],
}
DEV = {"group_id": 602, "name": "Dev", "users": [{"user_id": 13, "name": "Cy Twombly"}], "workspaces": [WS]}
WORKSPACES = [
    {"id": WS, "name": "Northwind Main", "organization_id": ORG},
    {"id": WS2, "name": "Northwind Labs", "organization_id": ORG},
]
PROJECT_ROWS = [
    {"id": 3006, "name": "Legacy Intranet", "active": True},
    {"id": 3007, "name": "Website", "active": True},
    {"id": 3008, "name": "Old Archive", "active": False},
]


def link(link_id: int, pid: int, group_id: int) -> dict[str, int]:
    return {"id": link_id, "pid": pid, "group_id": group_id, "wid": WS}


def northwind(toggl: respx.MockRouter) -> None:
    toggl.get(GROUPS).respond(json=[DESIGN, DEV])
    toggl.get("/me/workspaces").respond(json=WORKSPACES)
    toggl.get("/me/organizations").respond(json=[{"id": ORG, "name": "Northwind", "admin": True}])
    toggl.get(PROJECTS).respond(json=PROJECT_ROWS)
    toggl.get(LINKS).respond(json=[link(900, 3006, 601), link(901, 3007, 602), link(902, 3008, 601)])
    toggl.get(f"/workspaces/{WS2}/projects").respond(json=[])  # nothing there: no access query
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])  # no direct members


@pytest.fixture
async def client(connect: Connect) -> Any:
    async with connect(organization_id=ORG) as c:
        yield c


# -- get_group ------------------------------------------------------------------------------------


async def test_get_group_answers_members_workspaces_and_projects_by_name(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    result = await client.call_tool("get_group", {"name": "design"})
    assert not result.is_error, tool_error(result)
    assert result.structured_content == {
        "group_id": 601,
        "name": "Design",
        "members": [
            {"user_id": 11, "name": "Ada Lovelace"},
            {"user_id": 12, "name": "Sam Doe", "inactive": True},
        ],
        "workspaces": [{"id": WS, "name": "Northwind Main"}],
        "projects": [
            {"id": 3006, "name": "Legacy Intranet", "workspace_id": WS},
            {"id": 3008, "name": "Old Archive", "workspace_id": WS, "archived": True},
        ],
        "requests": 5,
    }
    # The group; per workspace of its organization (its own first) the projects and their access.
    assert sent(toggl) == [
        Sent("GET", GROUPS, {"name": "design"}, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", PROJECTS, ALL_PROJECTS, None),
        Sent("GET", LINKS, {"project_ids": "3006,3007,3008"}, None),
        Sent("GET", f"/workspaces/{WS2}/projects", ALL_PROJECTS, None),
    ]


async def test_get_group_by_id_reads_the_group_list_once(client: Client, toggl: respx.MockRouter) -> None:
    northwind(toggl)
    result = await client.call_tool("get_group", {"group_id": 602})
    assert not result.is_error, tool_error(result)
    assert result.structured_content is not None
    assert result.structured_content["projects"] == [{"id": 3007, "name": "Website", "workspace_id": WS}]
    assert [s.path for s in sent(toggl)] == [
        GROUPS,
        "/me/workspaces",
        PROJECTS,
        LINKS,
        f"/workspaces/{WS2}/projects",
    ]


async def test_get_group_of_an_unknown_name_lists_the_groups_found(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(json=[DESIGN])
    text = tool_error(await client.call_tool("get_group", {"name": "Desig"}))
    assert "no group named 'Desig'" in text and "Groups found: Design (601)" in text


async def test_get_group_takes_exactly_one_of_id_and_name(client: Client, toggl: respx.MockRouter) -> None:
    for arguments in ({}, {"group_id": 601, "name": "Design"}):
        assert "group_id or name" in tool_error(await client.call_tool("get_group", arguments))
    assert_nothing_sent(toggl)


async def test_get_group_reads_a_large_workspace_200_projects_at_a_time(
    client: Client, toggl: respx.MockRouter
) -> None:
    rows = [{"id": 5000 + i, "name": f"P{i:03}"} for i in range(450)]
    toggl.get(GROUPS).respond(json=[DESIGN])
    toggl.get("/me/workspaces").respond(json=WORKSPACES[:1])
    pages = toggl.get(PROJECTS).mock(
        side_effect=lambda request: httpx.Response(
            200, json=rows[(int(request.url.params["page"]) - 1) * 200 :][:200]
        )
    )
    links = toggl.get(LINKS).mock(
        side_effect=lambda request: httpx.Response(
            200, json=[link(990, 5449, 601)] if "5449" in request.url.params["project_ids"] else []
        )
    )
    result = await client.call_tool("get_group", {"group_id": 601})
    assert not result.is_error, tool_error(result)
    assert result.structured_content is not None
    assert result.structured_content["projects"] == [{"id": 5449, "name": "P449", "workspace_id": WS}]
    assert pages.call_count == 3
    assert [len(c.request.url.params["project_ids"].split(",")) for c in links.calls] == [200, 200, 50]


async def test_get_group_never_trusts_toggl_to_honour_per_page(
    client: Client, toggl: respx.MockRouter
) -> None:
    """Every page answering all 450 projects: read once, not again and again."""
    rows = [{"id": 5000 + i, "name": f"P{i:03}"} for i in range(450)]
    toggl.get(GROUPS).respond(json=[DESIGN])
    toggl.get("/me/workspaces").respond(json=WORKSPACES[:1])
    pages = toggl.get(PROJECTS).respond(json=rows)
    toggl.get(LINKS).respond(json=[])
    result = await client.call_tool("get_group", {"group_id": 601})
    assert not result.is_error, tool_error(result)
    assert pages.call_count == 2  # the second page brought nothing new


# -- get_project_access ---------------------------------------------------------------------------


async def test_who_can_access_a_project_by_name_in_one_call(client: Client, toggl: respx.MockRouter) -> None:
    northwind(toggl)
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])
    result = await client.call_tool("get_project_access", {"workspace_id": WS, "project_name": "intranet"})
    assert not result.is_error, tool_error(result)
    assert result.structured_content == {
        "workspace_id": WS,
        "projects": [
            {
                "project_id": 3006,
                "name": "Legacy Intranet",
                "public": False,
                "direct": [],
                "groups": [
                    {
                        "group_id": 601,
                        "name": "Design",
                        "project_group_id": 900,
                        "members": [
                            {"user_id": 11, "name": "Ada Lovelace"},
                            {"user_id": 12, "name": "Sam Doe", "inactive": True},
                        ],
                    }
                ],
            }
        ],
        "total": 1,
        "requests": 5,
    }
    assert sent(toggl) == [
        Sent("GET", PROJECTS, {**ALL_PROJECTS, "search": "intranet"}, None),
        Sent("GET", LINKS, {"project_ids": "3006"}, None),
        Sent("GET", f"/workspaces/{WS}/project_users", {"project_ids": "3006"}, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", GROUPS, {}, None),
    ]


async def test_project_access_by_ids_uses_names_already_heard(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])
    await client.call_tool("list_projects", {"workspace_id": WS})
    before = len(sent(toggl))
    result = await client.call_tool("get_project_access", {"workspace_id": WS, "project_ids": [3007, 3006]})
    assert not result.is_error, tool_error(result)
    assert result.structured_content is not None
    assert [(p["name"], [g["name"] for g in p["groups"]]) for p in result.structured_content["projects"]] == [
        ("Website", ["Dev"]),
        ("Legacy Intranet", ["Design"]),
    ]
    # Whether each is public or archived: the workspace's project list (kept a minute, shared by
    # every access tool), read once; then links and direct members, one query each.
    assert [s.path for s in sent(toggl)[before:]] == [
        PROJECTS,
        LINKS,
        f"/workspaces/{WS}/project_users",
        "/me/workspaces",
        GROUPS,
    ]


# -- list_groups by user, list_organizations --------------------------------------------------------


async def test_which_groups_hold_a_person_in_one_request(client: Client, toggl: respx.MockRouter) -> None:
    toggl.get(GROUPS).respond(json=[DESIGN, DEV])
    result = await client.call_tool("list_groups", {"user_id": 13})
    assert not result.is_error, tool_error(result)
    assert result.structured_content is not None
    assert [g["name"] for g in result.structured_content["groups"]] == ["Dev"]
    assert result.structured_content["total"] == 1
    assert sent(toggl) == [Sent("GET", GROUPS, {}, None)]


async def test_list_organizations_gives_workspaces_and_defaults_in_one_call(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(
        json=[{"id": ORG, "name": "Northwind", "admin": True}, {"id": 2, "name": "Globex", "admin": False}]
    )
    toggl.get("/me/workspaces").respond(
        json=[*WORKSPACES, {"id": 300, "name": "Globex", "organization_id": 2}]
    )
    async with connect(organization_id=ORG, workspace_id=WS2) as client:
        result = await client.call_tool("list_organizations", {})
    assert result.structured_content == {
        "organizations": [
            {
                "id": ORG,
                "name": "Northwind",
                "admin": True,
                "workspaces": [{"id": WS, "name": "Northwind Main"}, {"id": WS2, "name": "Northwind Labs"}],
            },
            {"id": 2, "name": "Globex", "admin": False, "workspaces": [{"id": 300, "name": "Globex"}]},
        ],
        "default_organization_id": ORG,
        "default_workspace_id": WS2,
        "requests": 2,
    }


async def test_list_organizations_names_the_only_organization_and_workspace_as_defaults(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(json=[{"id": ORG, "name": "Northwind"}])
    toggl.get("/me/workspaces").respond(json=WORKSPACES[:1])
    async with connect() as client:
        result = await client.call_tool("list_organizations", {})
    assert result.structured_content is not None
    assert result.structured_content["default_organization_id"] == ORG
    assert result.structured_content["default_workspace_id"] == WS


# -- names in previews and results ----------------------------------------------------------------


async def test_the_delete_preview_names_the_projects_the_group_gives_access_to(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    text = tool_error(await client.call_tool("delete_group", {"group_id": 601}))
    assert "access to 2 project(s) through this group" in text
    assert "Legacy Intranet (3006, Northwind Main)" in text and "Old Archive (3008, Northwind Main)" in text
    assert "workspace assignments: Northwind Main (100)" in text
    # The group, workspaces, 2 + 1 for projects, and the direct members of its private projects.
    assert [s.method for s in sent(toggl)] == ["GET"] * 6


async def test_the_remove_preview_says_who_loses_what_in_names(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    async with connect() as client:
        text = tool_error(
            await client.call_tool(
                "remove_project_group", {"workspace_id": WS, "project_id": 3006, "group_id": 601}
            )
        )
    assert "Design loses access to Legacy Intranet (3006) in Northwind Main (100), link 900" in text


async def test_removing_by_link_id_reports_the_project_and_group_it_removed(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    toggl.delete(f"{LINKS}/901").respond(json="OK")
    async with connect() as client:
        preview = tool_error(
            await client.call_tool("remove_project_group", {"workspace_id": WS, "project_group_id": 901})
        )
        result = await client.call_tool(
            "remove_project_group", {"workspace_id": WS, "project_group_id": 901, "confirm": True}
        )
    assert "Dev loses access to Website (3007)" in preview
    assert result.structured_content == {
        "workspace_id": WS,
        "project_group_id": 901,
        "project_id": 3007,
        "project": "Website",
        "group_id": 602,
        "group": "Dev",
        "removed": True,
        "requests": 2,
    }


async def test_a_bulk_result_carries_the_names_it_knows(connect: Connect, toggl: respx.MockRouter) -> None:
    northwind(toggl)
    toggl.post(LINKS).respond(json="OK")
    async with connect(organization_id=ORG) as client:
        await client.call_tool("list_projects", {"workspace_id": WS})
        await client.call_tool("list_groups", {})
        before = len(sent(toggl))
        result = await client.call_tool(
            "add_group_to_projects", {"workspace_id": WS, "group_id": 602, "project_ids": [3006, 3007]}
        )
    data = result.structured_content
    assert data is not None
    assert data["name"] == "Dev" and data["done"] == [3006] and data["skipped"] == {"already linked": [3007]}
    assert data["names"] == {"3006": "Legacy Intranet", "3007": "Website"}
    assert [s.method for s in sent(toggl)[before:]] == ["GET", "POST"]  # no request spent on names
