"""Changing many projects by name: "give Contractors every Website project" is one call, active
projects only unless include_archived, and the result names what matched and why anything was
skipped. Against exact requests (respx) and against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import respx
from mcp import Client
from mcp.types import CallToolResult, ElicitResult
from pydantic import SecretStr

from tests.conftest import (
    Connect,
    Sent,
    accept,
    assert_nothing_sent,
    make_settings,
    recording,
    sent,
    tool_error,
)
from toggl_groups_mcp.sandbox import SandboxConfig, demo, running_sandbox
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG = 1
WS = 5
GROUPS = f"/organizations/{ORG}/groups"
PROJECTS = f"/workspaces/{WS}/projects"
LINKS = f"/workspaces/{WS}/project_groups"
MEMBERS = f"/workspaces/{WS}/project_users"
CONTRACTORS = 9

WEBSITE_REDESIGN, WEBSITE_2019, WEBSITE_SHOP, INTRANET = 31, 32, 33, 34
PROJECT_ROWS = [
    {"id": WEBSITE_REDESIGN, "name": "Website Redesign", "active": True, "is_private": True},
    {"id": WEBSITE_2019, "name": "Website 2019", "active": False, "is_private": True},
    {"id": WEBSITE_SHOP, "name": "Shop website", "active": True, "is_private": False},
    # Toggl's search is looser than "contains": the server keeps only names that contain the text.
    {"id": INTRANET, "name": "Intranet (web site)", "active": True, "is_private": True},
]


def search(rows: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.params["search"], "a name search sends Toggl the text"
        return httpx.Response(200, json=rows)

    return answer


def studio(toggl: respx.MockRouter, links: list[dict[str, int]] | None = None) -> None:
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(PROJECTS).mock(side_effect=search(PROJECT_ROWS))
    toggl.get(LINKS).respond(json=links or [])
    toggl.get(GROUPS).respond(
        json=[
            {"group_id": CONTRACTORS, "name": "Contractors", "users": [{"user_id": 41, "name": "Kai Moss"}]}
        ]
    )
    toggl.get(MEMBERS).respond(json=[])
    toggl.post(LINKS).respond(json={"id": 1000})
    for pid in (WEBSITE_REDESIGN, WEBSITE_2019, WEBSITE_SHOP):
        toggl.delete(f"{LINKS}/{900 + pid}").respond(json="Deleted")


def link(pid: int, group_id: int = CONTRACTORS) -> dict[str, int]:
    return {"id": 900 + pid, "group_id": group_id, "pid": pid, "wid": WS}


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, tool_error(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def posted(toggl: respx.MockRouter) -> list[Any]:
    return [s.json for s in sent(toggl) if s.method == "POST"]


SEARCHED = {"active": "both", "per_page": "200", "search": "WEBSITE", "page": "1"}


@pytest.fixture
async def client(connect: Connect) -> Any:
    async with connect(workspace_id=WS) as c:
        yield c


# -- add_group_to_projects ------------------------------------------------------------------------


async def test_a_group_is_given_every_active_project_whose_name_contains_the_text_in_one_call(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    result = data(
        await client.call_tool("add_group_to_projects", {"group_id": CONTRACTORS, "project_name": "WEBSITE"})
    )
    assert result["done"] == [WEBSITE_REDESIGN, WEBSITE_SHOP]
    assert result["skipped"] == {"archived": [WEBSITE_2019]}
    assert result["names"] == {"31": "Website Redesign", "33": "Shop website", "32": "Website 2019"}
    assert result["complete"] is True
    assert posted(toggl) == [
        {"group_id": CONTRACTORS, "project_id": WEBSITE_REDESIGN},
        {"group_id": CONTRACTORS, "project_id": WEBSITE_SHOP},
    ]
    # One search, one links query for what matched, one POST per project.
    assert sent(toggl)[:2] == [
        Sent("GET", PROJECTS, SEARCHED, None),
        Sent("GET", LINKS, {"project_ids": "31,33"}, None),
    ]
    assert result["requests"] == 4


async def test_include_archived_adds_the_archived_matches_too(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    result = data(
        await client.call_tool(
            "add_group_to_projects",
            {"group_id": CONTRACTORS, "project_name": "website", "include_archived": True},
        )
    )
    assert result["done"] == [WEBSITE_REDESIGN, WEBSITE_2019, WEBSITE_SHOP]
    assert "skipped" not in result


async def test_projects_already_linked_are_skipped_and_said_so(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl, links=[link(WEBSITE_REDESIGN)])
    result = data(
        await client.call_tool("add_group_to_projects", {"group_id": CONTRACTORS, "project_name": "website"})
    )
    assert result["done"] == [WEBSITE_SHOP]
    assert result["skipped"] == {"archived": [WEBSITE_2019], "already linked": [WEBSITE_REDESIGN]}


async def test_a_name_that_only_archived_projects_hold_changes_nothing_and_says_why(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    result = data(
        await client.call_tool("add_group_to_projects", {"group_id": CONTRACTORS, "project_name": "2019"})
    )
    assert result["done"] == [] and result["skipped"] == {"archived": [WEBSITE_2019]}
    assert posted(toggl) == []


async def test_a_name_nothing_holds_is_an_error_that_names_the_text(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    text = tool_error(
        await client.call_tool("add_group_to_projects", {"group_id": CONTRACTORS, "project_name": "Payroll"})
    )
    assert "'Payroll'" in text and "nothing was changed" in text and "list_projects" in text
    assert posted(toggl) == []


async def test_more_matches_than_one_call_takes_is_an_error_before_any_change(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    many = [{"id": 1000 + n, "name": f"Website {n}", "active": True} for n in range(201)]
    toggl.get(PROJECTS).mock(
        side_effect=lambda request: httpx.Response(
            200, json=many[:200] if request.url.params["page"] == "1" else many[200:]
        )
    )
    text = tool_error(
        await client.call_tool("add_group_to_projects", {"group_id": CONTRACTORS, "project_name": "website"})
    )
    assert "matches 201 projects, more than 200" in text and "project_ids" in text
    assert {s.path for s in sent(toggl)} == {PROJECTS}


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({}, ["project_ids", "project_name"]),
        ({"project_ids": [1], "project_name": "web"}, ["project_ids", "project_name"]),
        ({"project_ids": [1], "include_archived": True}, ["include_archived", "project_name"]),
    ],
    ids=["neither", "both", "archived-with-ids"],
)
@pytest.mark.parametrize("tool", ["add_group_to_projects", "remove_group_from_projects"])
async def test_the_projects_are_given_one_way_and_a_wrong_mix_is_refused_without_a_request(
    client: Client,
    toggl: respx.MockRouter,
    unexpected: respx.Route,
    tool: str,
    arguments: dict[str, Any],
    named: list[str],
) -> None:
    confirm = {"confirm": True} if tool == "remove_group_from_projects" else {}
    text = tool_error(await client.call_tool(tool, {"group_id": CONTRACTORS, **arguments, **confirm}))
    assert all(field in text for field in named), text
    assert "Nothing was sent" in text
    assert_nothing_sent(toggl)


# -- remove_group_from_projects -------------------------------------------------------------------


async def test_a_removal_by_name_asks_about_the_matched_projects_and_leaves_archived_ones(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    studio(toggl, links=[link(WEBSITE_REDESIGN), link(WEBSITE_2019), link(WEBSITE_SHOP)])
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = data(
            await client.call_tool(
                "remove_group_from_projects", {"group_id": CONTRACTORS, "project_name": "website"}
            )
        )
    assert len(asked) == 1
    question = asked[0]
    assert "Contractors (9) loses access to 2 project(s) in Studio (5):" in question
    assert "Website Redesign (31, link 931), Shop website (33, link 933)" in question
    assert "Kai Moss loses access to Website Redesign (31)" in question
    assert "Public, so still open to everyone in the workspace: Shop website (33)." in question
    assert "left alone, archived: 1 project(s)" in question
    assert result["done"] == [WEBSITE_REDESIGN, WEBSITE_SHOP]
    assert result["skipped"] == {"archived": [WEBSITE_2019]}
    assert result["still_open"] == ["Public, so still open to everyone in the workspace: Shop website (33)."]
    assert [s.path for s in sent(toggl) if s.method == "DELETE"] == [f"{LINKS}/931", f"{LINKS}/933"]


async def test_a_removal_by_name_with_include_archived_takes_the_archived_link_too(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl, links=[link(WEBSITE_REDESIGN), link(WEBSITE_2019)])
    result = data(
        await client.call_tool(
            "remove_group_from_projects",
            {"group_id": CONTRACTORS, "project_name": "website", "include_archived": True, "confirm": True},
        )
    )
    assert result["done"] == [WEBSITE_REDESIGN, WEBSITE_2019]
    assert result["skipped"] == {"not linked": [WEBSITE_SHOP]}
    # Confirmed without a question: the search and the links, then the deletes.
    assert [s.path for s in sent(toggl) if s.method == "GET"] == [PROJECTS, LINKS]


async def test_a_removal_by_name_reads_privacy_from_the_search_not_the_whole_project_list(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl, links=[link(WEBSITE_REDESIGN), link(WEBSITE_SHOP)])
    text = tool_error(
        await client.call_tool(
            "remove_group_from_projects", {"group_id": CONTRACTORS, "project_name": "website"}
        )
    )
    assert "Kai Moss loses access to Website Redesign (31)" in text
    assert [s.path for s in sent(toggl)] == [PROJECTS, LINKS, "/me/workspaces", GROUPS, MEMBERS]
    assert sent(toggl)[0].params["search"] == "website"


# -- descriptions ---------------------------------------------------------------------------------


async def test_the_bulk_descriptions_say_how_to_choose_whether_they_ask_and_their_cost(
    client: Client,
) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    add = tools["add_group_to_projects"]
    remove = tools["remove_group_from_projects"]
    one = tools["remove_project_group"]
    assert (
        "add_project_group" in (add.description or "") and "does not ask" in (add.description or "").lower()
    )
    assert "remove_project_group" in (remove.description or "")
    assert "remove_group_from_projects" in (one.description or "")
    for tool in (remove, one, tools["delete_group"]):
        assert "asks the user first" in (tool.description or "").lower()
        assert "keeps access" in (tool.description or "")
    for tool in (add, remove, one, tools["delete_group"]):
        assert "request" in (tool.description or "")
    for tool in (add, remove):
        properties = tool.input_schema["properties"]
        assert {"project_ids", "project_name", "include_archived"} <= set(properties)
        assert "project_ids" not in tool.input_schema.get("required", [])


# -- against the sandbox ----------------------------------------------------------------------------


@pytest.fixture(params=["legacy", "auto"])
async def on_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Client, Any]]:
    """A client (in both eras, accepting every confirmation) on a fresh demo sandbox."""
    async with running_sandbox(SandboxConfig()) as sb:
        settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url)
        async with Client(build_server(settings), mode=request.param, elicitation_callback=yes) as client:
            yield client, sb


async def yes(context: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


def links_of(sb: Any, group_id: int) -> set[int]:
    return {pg.project_id for pg in sb.sandbox.store.state.project_groups.values() if pg.group_id == group_id}


async def test_on_the_sandbox_website_names_one_active_and_one_archived_project(
    on_sandbox: tuple[Client, Any],
) -> None:
    """Acme Design's "website" projects: Website Redesign (Designers already there) and the archived
    Website 2019. Archived ones are left out, then included with include_archived."""
    client, sb = on_sandbox
    arguments = {
        "workspace_id": demo.WS_ACME_DESIGN,
        "group_id": demo.GROUP_DESIGNERS,
        "project_name": "website",
    }
    first = data(await client.call_tool("add_group_to_projects", arguments))
    assert first["done"] == []
    assert first["skipped"] == {
        "archived": [demo.PROJECT_WEBSITE_2019],
        "already linked": [demo.PROJECT_WEBSITE_REDESIGN],
    }
    assert first["names"] == {
        str(demo.PROJECT_WEBSITE_2019): "Website 2019",
        str(demo.PROJECT_WEBSITE_REDESIGN): "Website Redesign",
    }
    assert demo.PROJECT_WEBSITE_2019 not in links_of(sb, demo.GROUP_DESIGNERS)
    second = data(await client.call_tool("add_group_to_projects", {**arguments, "include_archived": True}))
    assert second["done"] == [demo.PROJECT_WEBSITE_2019]
    assert second["skipped"] == {"already linked": [demo.PROJECT_WEBSITE_REDESIGN]}
    assert {demo.PROJECT_WEBSITE_REDESIGN, demo.PROJECT_WEBSITE_2019} <= links_of(sb, demo.GROUP_DESIGNERS)


async def test_on_the_sandbox_a_removal_by_name_leaves_the_archived_project_linked(
    on_sandbox: tuple[Client, Any],
) -> None:
    client, sb = on_sandbox
    arguments = {
        "workspace_id": demo.WS_ACME_DESIGN,
        "group_id": demo.GROUP_DESIGNERS,
        "project_name": "website",
    }
    data(await client.call_tool("add_group_to_projects", {**arguments, "include_archived": True}))
    removed = data(await client.call_tool("remove_group_from_projects", arguments))
    assert removed["done"] == [demo.PROJECT_WEBSITE_REDESIGN]
    assert removed["skipped"] == {"archived": [demo.PROJECT_WEBSITE_2019]}
    assert removed["names"][str(demo.PROJECT_WEBSITE_REDESIGN)] == "Website Redesign"
    linked = links_of(sb, demo.GROUP_DESIGNERS)
    assert demo.PROJECT_WEBSITE_REDESIGN not in linked and demo.PROJECT_WEBSITE_2019 in linked
