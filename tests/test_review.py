"""review_access: a workspace's access grid in the fewest requests, the same for every client (the
text is the grid), and the MCP Apps wiring a host needs to show it as an interactive view.

The view itself is tested in a real browser (tests/e2e/test_access_view.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.types import CallToolResult
from pydantic import SecretStr

from tests.conftest import make_settings, tool_error
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

VIEW_URI = "ui://toggl-groups/access-review.html"
APP_MIME = "text/html;profile=mcp-app"
APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": [APP_MIME]})
# What an app may call through the host: the review itself and the two bulk changes it applies.
APP_TOOLS = {"review_access", "add_group_to_projects", "remove_group_from_projects"}

Open = Callable[..., AbstractAsyncContextManager[tuple[Client, Sandbox]]]


@pytest.fixture(params=["legacy", "auto"])
def served(request: pytest.FixtureRequest) -> Open:
    """A client of the server on a fresh sandbox over loopback HTTP; `apps` advertises MCP Apps."""

    @asynccontextmanager
    async def open_(
        config: SandboxConfig | None = None, *, apps: bool = False, **settings: Any
    ) -> AsyncIterator[tuple[Client, Sandbox]]:
        async with running_sandbox(config or SandboxConfig()) as sb:
            values: dict[str, Any] = {"api_token": SecretStr(sb.token), "api_url": sb.url, **settings}
            extensions = [APPS] if apps else None
            async with Client(
                build_server(make_settings(**values)), mode=request.param, extensions=extensions
            ) as client:
                yield client, sb.sandbox

    return open_


def grid(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, tool_error(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def sent(sandbox: Sandbox) -> list[tuple[str, str, dict[str, str]]]:
    return [(r["method"], r["path"].removeprefix("/api/v9"), r["query"]) for r in sandbox.request_log()]


def expected_grid(
    sandbox: Sandbox, ws: int
) -> tuple[list[tuple[int, str]], dict[int, tuple[str, list[int]]]]:
    """The grid as the sandbox's own state has it: projects by name; for each group assigned to the
    workspace or linked to one of its projects, its members and the projects it reaches."""
    state = sandbox.store.state
    projects = sorted(
        ((p.id, p.name) for p in state.projects.values() if p.workspace_id == ws), key=lambda p: p[1].lower()
    )
    in_ws = {p for p, _ in projects}
    links = [(pg.group_id, pg.project_id) for pg in state.project_groups.values() if pg.project_id in in_ws]
    groups = {}
    for group in state.groups.values():
        reached = {p for g, p in links if g == group.id}
        if ws in group.workspace_ids or reached:
            groups[group.id] = (group.name, [p for p, _ in projects if p in reached])
    return projects, groups


@pytest.mark.parametrize("ws", [ids.WS_ACME_DESIGN, ids.WS_ACME_ENGINEERING])
async def test_the_grid_is_the_sandboxs_state_with_names_and_members(served: Open, ws: int) -> None:
    async with served() as (client, sandbox):
        review = grid(await client.call_tool("review_access", {"workspace_id": ws}))
        projects, groups = expected_grid(sandbox, ws)
        assert [(p["id"], p["name"]) for p in review["projects"]] == projects
        assert {g["id"]: (g["name"], g["projects"]) for g in review["groups"]} == groups
        users = sandbox.store.state.users
        for group in review["groups"]:
            members = sandbox.store.state.groups[group["id"]].user_ids
            assert [(m["user_id"], m["name"]) for m in group["members"]] == [
                (u, users[u].fullname) for u in members
            ]
        assert review["workspace_id"] == ws
        assert review["organization_id"] == ids.ORG_ACME
        assert review["workspace"] == sandbox.store.state.workspaces[ws].name
        assert (review["projects_total"], review["groups_total"]) == (len(projects), len(groups))
        assert "shown" not in review


async def test_engineering_marks_the_archived_project_and_the_deactivated_member(served: Open) -> None:
    async with served() as (client, _):
        review = grid(await client.call_tool("review_access", {"workspace_id": ids.WS_ACME_ENGINEERING}))
    archived = [p["name"] for p in review["projects"] if p.get("archived")]
    assert archived == ["Legacy Intranet"]
    assert all("archived" not in p for p in review["projects"] if p["name"] != "Legacy Intranet")
    engineers = next(g for g in review["groups"] if g["id"] == ids.GROUP_ENGINEERS)
    assert [m["name"] for m in engineers["members"] if m.get("inactive")] == ["Elias Novak"]


async def test_one_project_list_one_group_list_and_one_link_query_per_200_projects(served: Open) -> None:
    async with served(SandboxConfig(large_org=True)) as (client, sandbox):
        ws = ids.WS_MEGACORP_DELIVERY
        review = grid(await client.call_tool("review_access", {"workspace_id": ws}))
        projects = ids.MEGACORP_PROJECTS_PER_WORKSPACE[ws]
        pages = -(-projects // 200)
        # Pages of 200 until one comes back short (here the 7th, empty: 1,200 is 6 full pages).
        project_pages = projects // 200 + 1
        calls = sent(sandbox)
        assert (
            [c[:2] for c in calls]
            == (
                [("GET", "/me/workspaces")]
                + [("GET", f"/workspaces/{ws}/projects")] * project_pages
                + [("GET", f"/organizations/{ids.ORG_MEGACORP}/groups")]
                + [("GET", f"/workspaces/{ws}/project_groups")] * pages
                # Direct members of more than 200 projects: the workspace's whole list, one request.
                + [("GET", f"/workspaces/{ws}/project_users")]
                + [c[:2] for c in calls if c[1].endswith("/users") and c[1].startswith("/organizations/")]
            )
        )
        assert [c[2] for c in calls if c[1].endswith("/project_users")] == [{}]
        asked = [c[2]["project_ids"].split(",") for c in calls if c[1].endswith("/project_groups")]
        assert [len(chunk) for chunk in asked] == [200] * (projects // 200) + (
            [projects % 200] if projects % 200 else []
        )
        # A minute later the same question costs only what may have changed: groups and links.
        before = len(calls)
        await client.call_tool("review_access", {"workspace_id": ws})
        assert [c[1] for c in sent(sandbox)[before:]] == [f"/organizations/{ids.ORG_MEGACORP}/groups"] + [
            f"/workspaces/{ws}/project_groups"
        ] * pages + [f"/workspaces/{ws}/project_users"]
    # Too big to show whole: cut to the text budget, saying so and how to narrow it.
    text = json.dumps(review, separators=(",", ":"), ensure_ascii=False)
    assert len(text.encode()) <= 20_000
    assert review["projects_total"] == projects and review["groups_total"] > len(review["groups"])
    assert "narrow with project_name or group_ids" in review["shown"]
    shown = {p["id"] for p in review["projects"]}
    assert all(set(g["projects"]) <= shown for g in review["groups"])


async def test_filters_narrow_the_grid_and_are_applied_before_the_link_queries(served: Open) -> None:
    async with served() as (client, sandbox):
        review = grid(
            await client.call_tool(
                "review_access",
                {
                    "workspace_id": ids.WS_ACME_ENGINEERING,
                    "project_name": "  api ",
                    "group_ids": [ids.GROUP_MANAGERS, ids.GROUP_DESIGNERS, ids.GROUP_MANAGERS],
                },
            )
        )
        links_query = [c[2] for c in sent(sandbox) if c[1].endswith("/project_groups")]
    assert [p["name"] for p in review["projects"]] == ["API Platform"]
    # Asked-for groups are shown even when they reach nothing here (Designers), by name order.
    assert [(g["name"], g["projects"]) for g in review["groups"]] == [
        ("Designers", []),
        ("Managers", [ids.PROJECT_API_PLATFORM]),
    ]
    assert links_query == [{"project_ids": str(ids.PROJECT_API_PLATFORM)}]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"workspace_id": ids.WS_ACME_DESIGN, "group_ids": [999]}, "has no group 999"),
        ({"workspace_id": ids.WS_ACME_DESIGN, "project_name": "Nope"}, "No project in workspace"),
        ({"workspace_id": ids.WS_ACME_DESIGN, "group_ids": []}, "group_ids"),
        ({"workspace_id": ids.WS_ACME_DESIGN, "project_name": "   "}, "project_name"),
        # (A text that is not digits is a workspace name: tests/test_scope_names.py.)
        ({"workspace_id": 0}, "workspace_id"),
        ({"workspace_id": ids.WS_ACME_DESIGN, "organization_id": ids.ORG_ACME}, "not an argument"),
    ],
)
async def test_bad_arguments_say_what_is_wrong(served: Open, arguments: dict[str, Any], says: str) -> None:
    async with served() as (client, sandbox):
        result = await client.call_tool("review_access", arguments)
        assert result.is_error
        assert says in tool_error(result)
        if says in ("group_ids", "project_name", "workspace_id", "not an argument"):
            assert sandbox.request_log() == []  # refused before any request


async def test_a_client_without_apps_reads_the_grid_as_text(served: Open) -> None:
    async with served() as (client, _):
        result = await client.call_tool("review_access", {"workspace_id": ids.WS_ACME_DESIGN})
    review = grid(result)
    assert [block.type for block in result.content] == ["text"]
    assert json.loads(result.content[0].text) == review  # same data, compact, names beside ids
    assert "Designers" in result.content[0].text and "Brand Refresh" in result.content[0].text


async def test_names_are_data_in_the_text_and_in_the_structure(served: Open) -> None:
    hostile = "<img src=x onerror=\"parent.postMessage('pwned','*')\">"
    async with served() as (client, _):
        created = await client.call_tool(
            "create_group",
            {"organization_id": ids.ORG_ACME, "name": hostile, "workspace_ids": [ids.WS_ACME_DESIGN]},
        )
        assert not created.is_error, tool_error(created)
        result = await client.call_tool("review_access", {"workspace_id": ids.WS_ACME_DESIGN})
    assert hostile in [g["name"] for g in grid(result)["groups"]]
    assert json.dumps(hostile, ensure_ascii=False) in result.content[0].text


# -- the MCP Apps wiring ---------------------------------------------------------------------------


async def test_the_tool_names_its_view_and_only_the_apps_tools_are_visible_to_apps(served: Open) -> None:
    async with served(apps=True) as (client, _):
        tools = {t.name: t for t in (await client.list_tools()).tools}
    review = tools["review_access"].meta
    assert review is not None and review["ui"]["resourceUri"] == VIEW_URI
    for name, listed in tools.items():
        visibility = (listed.meta or {}).get("ui", {}).get("visibility", ["model", "app"])
        assert "model" in visibility, name
        assert ("app" in visibility) == (name in APP_TOOLS), (name, visibility)


async def test_the_view_is_one_self_contained_document_served_as_an_mcp_app(served: Open) -> None:
    async with served(apps=True) as (client, _):
        caps = client.server_capabilities
        assert caps is not None
        if client.protocol_version >= "2026":
            # Extensions are advertised from the 2026 era on; older hosts find the view by _meta.
            assert caps.extensions is not None and "io.modelcontextprotocol/ui" in caps.extensions
        read = await client.read_resource(VIEW_URI)
    [content] = read.contents
    assert content.mime_type == APP_MIME
    html = getattr(content, "text", "")
    assert html.lstrip().lower().startswith("<!doctype html>")
    # Nothing loaded from elsewhere: it must work under the host's default CSP (connect-src 'none').
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//|<link\b", html, re.IGNORECASE)
    assert not re.search(r"\bfetch\(|XMLHttpRequest|WebSocket|EventSource", html)
    # Data is put in the page as text, never parsed as HTML.
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", html)


@pytest.mark.parametrize(
    ("settings", "can_apply"),
    [
        ({}, True),
        ({"read_only": True}, False),
        ({"tools": ["review_access", "add_group_to_projects"]}, False),
        ({"tools": ["review", "bulk"]}, True),
    ],
)
async def test_the_result_tells_the_view_whether_it_can_apply(
    served: Open, settings: dict[str, Any], can_apply: bool
) -> None:
    async with served(apps=True, **settings) as (client, _):
        result = await client.call_tool("review_access", {"workspace_id": ids.WS_ACME_DESIGN})
        listed = {t.name for t in (await client.list_tools()).tools}
    grid(result)
    assert result.meta is not None and result.meta["toggl-groups/can_apply"] is can_apply
    assert can_apply == ({"add_group_to_projects", "remove_group_from_projects"} <= listed)
    # The model reads the text: the view's flag is not in it.
    assert "can_apply" not in result.content[0].text


async def test_a_server_without_the_review_has_no_view(served: Open) -> None:
    async with served(apps=True, tools=["groups"]) as (client, _):
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
    assert all(t.meta is None or "ui" not in t.meta for t in tools)
    assert [r.uri for r in resources if str(r.uri).startswith("ui://")] == []


async def test_at_every_budget_the_grid_fits_and_its_rows_use_only_its_columns() -> None:
    # The budget is fixed when the server starts: one server per budget, on one sandbox.
    async with running_sandbox(SandboxConfig()) as sb:
        for budget in range(800, 3001, 100):
            settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url, text_budget=budget)
            async with Client(build_server(settings)) as client:
                result = await client.call_tool("review_access", {"workspace_id": ids.WS_ACME_ENGINEERING})
            review = grid(result)
            assert len(result.content[0].text.encode()) <= budget, budget
            columns = {p["id"] for p in review["projects"]}
            assert all(set(g["projects"]) <= columns for g in review["groups"])
            whole = len(review["projects"]) == review["projects_total"] and len(review["groups"]) == 2
            assert whole == ("shown" not in review), budget
            if budget >= 1200:  # room for all three columns (marks included), whatever the rows take
                assert len(review["projects"]) == 3, budget
