"""Every read that shows access tells the whole truth: public projects, direct members, groups and
archived projects, in names, for as few Toggl requests as the project groups query itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import respx
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from tests.conftest import Connect, Sent, assert_nothing_sent, make_settings, sent, tool_error
from toggl_groups_mcp.sandbox import SandboxConfig, demo, running_sandbox
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG = 1
WS = 100
GROUPS = f"/organizations/{ORG}/groups"
USERS = f"/organizations/{ORG}/users"
PROJECTS = f"/workspaces/{WS}/projects"
LINKS = f"/workspaces/{WS}/project_groups"
MEMBERS = f"/workspaces/{WS}/project_users"
ALL_PROJECTS = {"active": "both", "page": "1", "per_page": "200"}

PAYROLL, HANDBOOK, OLD = 3001, 3002, 3003
FINANCE = {
    "group_id": 601,
    "name": "Finance",
    "users": [{"user_id": 11, "name": "Priya Raman"}, {"user_id": 12, "name": "Tom Berg"}],
    "workspaces": [WS],
}
PROJECT_ROWS = [
    {"id": PAYROLL, "name": "Payroll", "active": True, "is_private": True},
    {"id": HANDBOOK, "name": "Handbook", "active": True, "is_private": False},
    {"id": OLD, "name": "Old Payroll", "active": False, "is_private": True},
]
WORKSPACES = [{"id": WS, "name": "Northwind Main", "organization_id": ORG}]


def row(row_id: int, project: int, user: int, **more: Any) -> dict[str, Any]:
    return {"id": row_id, "project_id": project, "user_id": user, "workspace_id": WS, **more}


def northwind(toggl: respx.MockRouter, members: list[dict[str, Any]] | None = None) -> None:
    """Payroll is private: Finance (Priya, Tom) is linked, and Priya is also a direct member, its
    manager; Kenji (not in any group) is a direct member with his own rate. Handbook is public."""
    toggl.get("/me/workspaces").respond(json=WORKSPACES)
    toggl.get(GROUPS).respond(json=[FINANCE])
    toggl.get(PROJECTS).respond(json=PROJECT_ROWS)
    toggl.get(LINKS).respond(json=[{"id": 900, "group_id": 601, "pid": PAYROLL, "wid": WS}])
    toggl.get(MEMBERS).respond(
        json=members
        if members is not None
        else [
            row(70, PAYROLL, 11, manager=True),
            row(71, PAYROLL, 21, rate=85.0),
            # Toggl lists a group's members too when asked to: not a direct membership.
            row(72, PAYROLL, 12, group_id=601),
        ]
    )
    toggl.get(USERS).respond(json=[{"id": 5021, "user_id": 21, "name": "Kenji Sato", "email": "k@x.test"}])


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured result, without the request count every result carries (asserted apart)."""
    assert not result.is_error, tool_error(result)
    assert isinstance(result.structured_content, dict)
    return {k: v for k, v in result.structured_content.items() if k != "requests"}


@pytest.fixture
async def client(connect: Connect) -> Any:
    async with connect(organization_id=ORG, workspace_id=WS) as c:
        yield c


# -- list_projects ----------------------------------------------------------------------------------


async def test_list_projects_says_which_projects_are_public_and_which_are_archived(
    client: Client, toggl: respx.MockRouter
) -> None:
    toggl.get(PROJECTS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=[p for p in PROJECT_ROWS if request.url.params["active"] == str(p["active"]).lower()]
            + [{"id": 3004, "name": "Unsaid"}],  # no is_private: counted private, never public
        )
    )
    active = data(await client.call_tool("list_projects", {"active": "true"}))
    archived = data(await client.call_tool("list_projects", {"active": "false"}))
    assert active["projects"] == [
        {"id": PAYROLL, "name": "Payroll", "public": False},
        {"id": HANDBOOK, "name": "Handbook", "public": True},
        {"id": 3004, "name": "Unsaid", "public": False},
    ]
    assert archived["projects"][0] == {"id": OLD, "name": "Old Payroll", "public": False, "archived": True}


# -- get_project_access -----------------------------------------------------------------------------


async def test_a_private_project_names_its_direct_members_beside_its_groups_each_way_they_reach_it(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    result = await client.call_tool("get_project_access", {"project_name": "payroll"})
    answer = data(result)
    payroll = answer["projects"][1]
    assert payroll == {
        "project_id": PAYROLL,
        "name": "Payroll",
        "public": False,
        # Priya reaches it twice, and is shown both ways; Tom only through Finance.
        "direct": [
            {"user_id": 11, "name": "Priya Raman", "manager": True},
            {"user_id": 21, "name": "Kenji Sato", "custom_rate": True},
        ],
        "groups": [
            {
                "group_id": 601,
                "name": "Finance",
                "project_group_id": 900,
                "members": [{"user_id": 11, "name": "Priya Raman"}, {"user_id": 12, "name": "Tom Berg"}],
            }
        ],
    }
    assert answer["projects"][0] == {
        "project_id": OLD,
        "name": "Old Payroll",
        "public": False,
        "archived": True,
        "direct": [],
        "groups": [],
    }
    assert "note" not in answer  # no public project here: nothing to explain
    ids = f"{OLD},{PAYROLL}"
    # One search; links and direct members of both in one query each; the groups name Priya, and
    # one page of organization users names Kenji, who is in no group.
    assert sent(toggl) == [
        Sent("GET", PROJECTS, {**ALL_PROJECTS, "search": "payroll"}, None),
        Sent("GET", LINKS, {"project_ids": ids}, None),
        Sent("GET", MEMBERS, {"project_ids": ids}, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", GROUPS, {}, None),
        Sent("GET", USERS, {"page": "1", "per_page": "200"}, None),
    ]
    assert result.structured_content is not None and result.structured_content["requests"] == 6


async def test_a_public_project_says_everyone_in_the_workspace_can_track_time_on_it(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl, members=[])
    answer = data(await client.call_tool("get_project_access", {"project_name": "handbook"}))
    assert answer["projects"] == [
        {"project_id": HANDBOOK, "name": "Handbook", "public": True, "direct": [], "groups": []}
    ]
    assert "everyone in the workspace can track time on it" in answer["note"]
    # Nobody to name: no group list, no users.
    assert [s.path for s in sent(toggl)] == [PROJECTS, LINKS, MEMBERS]


async def test_names_heard_before_cost_no_request_and_ids_outside_the_workspace_are_said(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    await client.call_tool("list_organization_users", {"filter": "kenji"})
    await client.call_tool("list_groups", {})
    before = len(sent(toggl))
    answer = data(await client.call_tool("get_project_access", {"project_ids": [PAYROLL, 999]}))
    assert [p["project_id"] for p in answer["projects"]] == [PAYROLL]
    assert answer["not_found"] == [999]
    assert [m["name"] for m in answer["projects"][0]["direct"]] == ["Priya Raman", "Kenji Sato"]
    # By ids: the workspace's project list (kept a minute) says which are public and archived.
    assert [s.path for s in sent(toggl)[before:]] == [PROJECTS, LINKS, MEMBERS, "/me/workspaces", GROUPS]
    again = len(sent(toggl))
    await client.call_tool("get_project_access", {"project_ids": [PAYROLL]})
    assert [s.path for s in sent(toggl)[again:]] == [LINKS, MEMBERS, GROUPS]


async def test_direct_members_of_250_projects_cost_one_query_per_200_like_the_links(
    client: Client, toggl: respx.MockRouter
) -> None:
    rows = [{"id": 5000 + i, "name": f"Site {i:03}", "is_private": True} for i in range(250)]
    toggl.get(PROJECTS).mock(
        side_effect=lambda request: httpx.Response(
            200, json=rows[(int(request.url.params["page"]) - 1) * 200 :][:200]
        )
    )
    links = toggl.get(LINKS).respond(json=[])
    members = toggl.get(MEMBERS).respond(json=[])
    answer = data(await client.call_tool("get_project_access", {"project_name": "site"}))
    assert answer["total"] == 250
    asked = [len(c.request.url.params["project_ids"].split(",")) for c in members.calls]
    assert asked == [200, 50] == [len(c.request.url.params["project_ids"].split(",")) for c in links.calls]


async def test_a_name_nobody_else_knows_is_read_from_organization_users_until_found(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl, members=[row(71, HANDBOOK, 21)])
    people = [{"user_id": 100 + i, "name": f"Person {i}"} for i in range(200)]
    users = toggl.get(USERS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=people
            if request.url.params["page"] == "1"
            else [{"user_id": 21, "name": "Kenji Sato"}, *people[:150]],
        )
    )
    answer = data(await client.call_tool("get_project_access", {"project_ids": [HANDBOOK]}))
    assert answer["projects"][0]["direct"] == [{"user_id": 21, "name": "Kenji Sato"}]
    assert [c.request.url.params["page"] for c in users.calls] == ["1", "2"]
    # No link: the group list is read only as the cheapest book of names, once.
    assert [s.path for s in sent(toggl)].count(GROUPS) == 1


# -- get_group --------------------------------------------------------------------------------------


async def test_get_group_marks_public_and_archived_projects_and_reuses_the_project_list(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    toggl.get(LINKS).respond(
        json=[
            {"id": 900, "group_id": 601, "pid": PAYROLL, "wid": WS},
            {"id": 901, "group_id": 601, "pid": HANDBOOK, "wid": WS},
            {"id": 902, "group_id": 601, "pid": OLD, "wid": WS},
        ]
    )
    first = data(await client.call_tool("get_group", {"group_id": 601}))
    assert first["projects"] == [
        {"id": HANDBOOK, "name": "Handbook", "workspace_id": WS, "public": True},
        {"id": OLD, "name": "Old Payroll", "workspace_id": WS, "archived": True},
        {"id": PAYROLL, "name": "Payroll", "workspace_id": WS},
    ]
    assert "the group adds no access there" in first["note"]
    assert [s.path for s in sent(toggl)] == [GROUPS, "/me/workspaces", PROJECTS, LINKS]
    before = len(sent(toggl))
    await client.call_tool("get_group", {"group_id": 601})
    # Within the cache's minute: the group and its links only.
    assert [s.path for s in sent(toggl)[before:]] == [GROUPS, LINKS]


# -- review_access ----------------------------------------------------------------------------------


async def test_the_review_grid_marks_public_and_archived_projects_and_has_rows_for_direct_members(
    client: Client, toggl: respx.MockRouter
) -> None:
    northwind(toggl)
    answer = data(await client.call_tool("review_access", {}))
    assert answer["projects"] == [
        {"id": HANDBOOK, "name": "Handbook", "public": True},
        {"id": OLD, "name": "Old Payroll", "archived": True},
        {"id": PAYROLL, "name": "Payroll"},
    ]
    assert [(g["name"], g["projects"]) for g in answer["groups"]] == [("Finance", [PAYROLL])]
    # Priya reaches Payroll through Finance and directly: the grid shows both; Kenji only directly.
    assert answer["direct"] == [
        {"user_id": 21, "name": "Kenji Sato", "projects": [PAYROLL]},
        {"user_id": 11, "name": "Priya Raman", "projects": [PAYROLL]},
    ]
    assert answer["direct_total"] == 2
    assert "everyone in the workspace can track time on it" in answer["note"]
    ids = f"{HANDBOOK},{OLD},{PAYROLL}"
    assert sent(toggl) == [
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", PROJECTS, ALL_PROJECTS, None),
        Sent("GET", GROUPS, {}, None),
        Sent("GET", LINKS, {"project_ids": ids}, None),
        Sent("GET", MEMBERS, {"project_ids": ids}, None),
        Sent("GET", USERS, {"page": "1", "per_page": "200"}, None),  # Kenji is in no group
    ]


# -- list_groups ------------------------------------------------------------------------------------


async def test_a_persons_groups_come_without_everyone_elses_names(
    client: Client, toggl: respx.MockRouter
) -> None:
    other = {"group_id": 602, "name": "Ops", "users": [{"user_id": 13, "name": "Ann"}], "workspaces": []}
    toggl.get(GROUPS).respond(json=[FINANCE, other])
    answer = data(await client.call_tool("list_groups", {"user_id": 12}))
    assert answer == {
        "groups": [{"group_id": 601, "name": "Finance", "member_count": 2, "workspace_ids": [WS]}],
        "total": 1,
    }
    assert len(sent(toggl)) == 1


# -- list_organization_users ------------------------------------------------------------------------


async def test_several_people_are_found_in_one_call_each_saying_which_filter_found_them(
    client: Client, toggl: respx.MockRouter
) -> None:
    found = {
        "priya": [{"id": 1, "user_id": 11, "name": "Priya Raman", "email": "priya@x.test"}],
        "tom": [{"id": 2, "user_id": 12, "name": "Tom Berg", "email": "tom@x.test"}],
        "zed": [],
    }
    route = toggl.get(USERS).mock(
        side_effect=lambda request: httpx.Response(200, json=found[request.url.params["filter"]])
    )
    arguments = {"filter": ["priya", " tom ", "zed", "priya"]}
    answer = data(await client.call_tool("list_organization_users", arguments))
    assert answer["users"] == [
        {"user_id": 11, "name": "Priya Raman", "email": "priya@x.test", "matched": ["priya"]},
        {"user_id": 12, "name": "Tom Berg", "email": "tom@x.test", "matched": ["tom"]},
    ]
    assert answer["unmatched"] == ["zed"]
    assert [c.request.url.params["filter"] for c in route.calls] == ["priya", "tom", "zed"]
    await client.call_tool("list_organization_users", arguments)
    assert route.call_count == 3  # kept a minute, like one filter's answer


async def test_more_than_ten_filters_are_refused_without_a_request(
    client: Client, toggl: respx.MockRouter
) -> None:
    text = tool_error(
        await client.call_tool("list_organization_users", {"filter": [f"n{i}" for i in range(11)]})
    )
    assert "filter" in text and "10" in text
    assert_nothing_sent(toggl)


# -- against the sandbox ----------------------------------------------------------------------------


@pytest.fixture(params=["legacy", "auto"])
def on_sandbox(request: pytest.FixtureRequest) -> Any:
    """A client (in both eras) on a fresh demo sandbox over loopback HTTP."""

    @asynccontextmanager
    async def open_() -> AsyncIterator[tuple[Client, Any]]:
        async with running_sandbox(SandboxConfig()) as sb:
            settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url)
            async with Client(build_server(settings), mode=request.param) as client:
                yield client, sb

    return open_


async def test_on_the_sandbox_the_answer_is_every_path_its_state_holds(on_sandbox: Any) -> None:
    """API Platform made private, with a member of a linked group added as a direct member too (by
    Toggl's API); Data Pipeline made public. The answer is the sandbox's state, in names."""
    ws, api, pipeline = demo.WS_ACME_ENGINEERING, demo.PROJECT_API_PLATFORM, demo.PROJECT_DATA_PIPELINE
    async with on_sandbox() as (client, sb):
        state = sb.sandbox.store.state
        state.projects[api].is_private = True
        state.projects[pipeline].is_private = False
        linked = sorted(pg.group_id for pg in state.project_groups.values() if pg.project_id == api)
        member = state.groups[linked[0]].user_ids[0]
        async with httpx.AsyncClient(base_url=sb.url, auth=sb.auth, timeout=10) as toggl:
            added = await toggl.post(
                f"/workspaces/{ws}/project_users", json={"project_id": api, "user_id": member}
            )
        added.raise_for_status()
        before = len(sb.sandbox.request_log())
        result = await client.call_tool(
            "get_project_access", {"workspace_id": ws, "project_ids": [api, pipeline]}
        )
        asked = [e["path"].removeprefix("/api/v9") for e in sb.sandbox.request_log()[before:]]
        answer = data(result)
        users = state.users
        first, second = answer["projects"]
        assert (first["project_id"], first["public"], second["project_id"], second["public"]) == (
            api,
            False,
            pipeline,
            True,
        )
        direct = {
            (r.user_id, r.project_id) for r in state.project_users.values() if r.project_id in (api, pipeline)
        }
        for project in answer["projects"]:
            shown = {(m["user_id"], project["project_id"]) for m in project["direct"]}
            assert shown == {d for d in direct if d[1] == project["project_id"]}
            for m in project["direct"]:
                assert m["name"] == users[m["user_id"]].fullname
            links = {
                pg.group_id for pg in state.project_groups.values() if pg.project_id == project["project_id"]
            }
            assert {g["group_id"] for g in project["groups"]} == links
        # The member reaches API Platform both ways, and is named under each.
        assert member in {m["user_id"] for m in first["direct"]}
        assert any(member in {m["user_id"] for m in g["members"]} for g in first["groups"])
        assert "everyone in the workspace" in answer["note"]
        # Project list, links and direct members, each once; the workspace and groups for names.
        assert asked == [
            f"/workspaces/{ws}/projects",
            f"/workspaces/{ws}/project_groups",
            f"/workspaces/{ws}/project_users",
            "/me/workspaces",
            f"/organizations/{demo.ORG_ACME}/groups",
        ]
