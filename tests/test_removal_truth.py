"""Removals say what really changes: a public project stays open to everyone, and a member who is
also a direct member or in another linked group keeps access. Preview and result say so, in
names, before the human is asked and after the change, for as few Toggl requests as possible."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import respx
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from tests.conftest import (
    Connect,
    Sent,
    accept,
    asking_reads,
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
ALL_PROJECTS = {"active": "both", "per_page": "200", "page": "1"}

BRAND, PAYROLL, WEBSITE = 12, 13, 14
DESIGN, FINANCE = 7, 8
ANA, BO, CY, DI = 21, 22, 23, 24

DESIGN_GROUP = {
    "group_id": DESIGN,
    "name": "Design",
    "users": [
        {"user_id": ANA, "name": "Ana Lima"},
        {"user_id": CY, "name": "Cy Ode"},
        {"user_id": DI, "name": "Di Fox"},
    ],
    "workspaces": [WS],
}
FINANCE_GROUP = {
    "group_id": FINANCE,
    "name": "Finance",
    "users": [{"user_id": BO, "name": "Bo Berg"}, {"user_id": CY, "name": "Cy Ode"}],
    "workspaces": [WS],
}


def link(link_id: int, project_id: int, group_id: int) -> dict[str, int]:
    return {"id": link_id, "group_id": group_id, "pid": project_id, "wid": WS}


LINK_ROWS = [
    link(901, BRAND, DESIGN),
    link(902, PAYROLL, DESIGN),
    link(903, PAYROLL, FINANCE),
    link(904, WEBSITE, DESIGN),
]


def of_projects(rows: list[dict[str, Any]], key: str) -> Callable[[httpx.Request], httpx.Response]:
    """Toggl's answer to a query by project_ids: the rows of those projects only."""

    def answer(request: httpx.Request) -> httpx.Response:
        wanted = {int(p) for p in request.url.params["project_ids"].split(",")}
        return httpx.Response(200, json=[row for row in rows if row[key] in wanted])

    return answer


def studio(toggl: respx.MockRouter) -> None:
    """Brand Refresh is public and linked to Design. Payroll is private: Design (Ana, Cy, Di) and
    Finance (Bo, Cy) are linked, and Ana is also a direct member. Website is private, Design only."""
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(PROJECTS).respond(
        json=[
            {"id": BRAND, "name": "Brand Refresh", "active": True, "is_private": False},
            {"id": PAYROLL, "name": "Payroll", "active": True, "is_private": True},
            {"id": WEBSITE, "name": "Website", "active": True, "is_private": True},
        ]
    )
    toggl.get(GROUPS).respond(json=[DESIGN_GROUP, FINANCE_GROUP])
    toggl.get(LINKS).mock(side_effect=of_projects(LINK_ROWS, "pid"))
    toggl.get(MEMBERS).mock(
        side_effect=of_projects(
            [
                {"id": 501, "project_id": PAYROLL, "user_id": ANA, "workspace_id": WS, "manager": True},
                # Toggl lists a group's members too when asked to: not a way of their own.
                {"id": 502, "project_id": WEBSITE, "user_id": DI, "workspace_id": WS, "group_id": DESIGN},
            ],
            "project_id",
        )
    )
    for row in LINK_ROWS:
        toggl.delete(f"{LINKS}/{row['id']}").respond(json="Deleted")
    toggl.delete(f"/organizations/{ORG}/groups/{DESIGN}").respond(json="Deleted")


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, tool_error(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


@pytest.fixture
async def client(connect: Connect) -> Any:
    async with connect(workspace_id=WS) as c:
        yield c


PUBLIC_SAID = "Nobody loses access: Brand Refresh (12) is public, open to everyone in the workspace."
PAYROLL_SAID = "Payroll (13) stays open to Ana Lima (direct member), Cy Ode (group Finance)."


# -- remove_project_group -------------------------------------------------------------------------


async def test_removing_a_group_from_a_public_project_says_nobody_loses_access_before_asking(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    text = tool_error(
        await client.call_tool("remove_project_group", {"project_id": BRAND, "group_id": DESIGN})
    )
    assert "Remove Design's link to Brand Refresh (12) in Studio (5), link 901." in text
    assert PUBLIC_SAID in text
    assert "Design loses access" not in text
    # A public project: nobody's direct membership or other group matters, so neither is read.
    assert sent(toggl) == [
        Sent("GET", LINKS, {"project_ids": "12"}, None),
        Sent("GET", PROJECTS, ALL_PROJECTS, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", GROUPS, {}, None),  # the group's name, for the question
    ]


async def test_a_confirmed_removal_without_a_question_reads_only_the_link_as_before(
    client: Client, toggl: respx.MockRouter
) -> None:
    """The model was shown the preview (what stays open) in the call that refused; the confirmed
    call spends no request on saying it again."""
    studio(toggl)
    result = data(
        await client.call_tool(
            "remove_project_group", {"project_id": PAYROLL, "group_id": DESIGN, "confirm": True}
        )
    )
    assert result["project_group_id"] == 902 and result["removed"] is True
    assert "still_open" not in result
    assert sent(toggl) == [
        Sent("GET", LINKS, {"project_ids": "13"}, None),
        Sent("DELETE", f"{LINKS}/902", {}, None),
    ]


async def test_the_human_is_told_that_nobody_loses_access_to_a_public_project(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    studio(toggl)
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = data(await client.call_tool("remove_project_group", {"project_group_id": 901}))
    assert len(asked) == 1 and PUBLIC_SAID in asked[0]
    assert result["still_open"] == [PUBLIC_SAID]
    assert [s.method for s in sent(toggl)].count("DELETE") == 1
    assert [s.path for s in sent(toggl)].count(MEMBERS) == 0


async def test_removing_a_group_from_a_private_project_names_who_keeps_access_and_who_loses_it(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    text = tool_error(
        await client.call_tool("remove_project_group", {"project_id": PAYROLL, "group_id": DESIGN})
    )
    assert "Design loses access to Payroll (13) in Studio (5), link 902:" in text
    assert "- Di Fox loses access to Payroll (13)\n" in text
    assert f"- {PAYROLL_SAID}" in text
    assert sent(toggl) == [
        Sent("GET", LINKS, {"project_ids": "13"}, None),
        Sent("GET", PROJECTS, ALL_PROJECTS, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", GROUPS, {}, None),
        Sent("GET", MEMBERS, {"project_ids": "13"}, None),
    ]


async def test_a_removal_accepted_by_the_human_reports_who_still_reaches_the_private_project(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    studio(toggl)
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = data(
            await client.call_tool("remove_project_group", {"project_id": PAYROLL, "group_id": DESIGN})
        )
    assert len(asked) == 1 and PAYROLL_SAID in asked[0] and "Di Fox loses access" in asked[0]
    assert result["still_open"] == [PAYROLL_SAID]
    # The question's reads serve the result: once per request that reads the preview.
    paths = [s.path for s in sent(toggl)]
    assert paths.count(MEMBERS) == paths.count(GROUPS) == asking_reads(mode)
    assert paths.count(f"{LINKS}/902") == 1


async def test_a_removal_whose_members_all_keep_access_says_nobody_loses_it(
    client: Client, toggl: respx.MockRouter
) -> None:
    """Finance (Bo, Cy) on Payroll: Bo is a direct member too, Cy is in Design."""
    studio(toggl)
    toggl.get(MEMBERS).respond(json=[{"id": 503, "project_id": PAYROLL, "user_id": BO, "workspace_id": WS}])
    text = tool_error(
        await client.call_tool("remove_project_group", {"project_id": PAYROLL, "group_id": FINANCE})
    )
    assert (
        "Remove Finance's link to Payroll (13) in Studio (5), link 903. Nobody loses access: every member of Finance reaches Payroll (13) another way."
        in text
    )
    assert "- Payroll (13) stays open to Bo Berg (direct member), Cy Ode (group Design)." in text


async def test_removing_the_link_of_a_group_without_members_says_nobody_loses_access(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    toggl.get(GROUPS).respond(json=[{**DESIGN_GROUP, "users": []}, FINANCE_GROUP])
    text = tool_error(
        await client.call_tool("remove_project_group", {"project_id": WEBSITE, "group_id": DESIGN})
    )
    assert (
        "Remove Design's link to Website (14) in Studio (5), link 904. Nobody loses access: Design has no members."
        in text
    )
    # Nobody to look for among the direct members: not read.
    assert MEMBERS not in [s.path for s in sent(toggl)]


# -- remove_group_from_projects --------------------------------------------------------------------


async def test_a_bulk_removal_previews_and_reports_what_stays_open_project_by_project(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    studio(toggl)
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = data(
            await client.call_tool(
                "remove_group_from_projects", {"group_id": DESIGN, "project_ids": [BRAND, PAYROLL, WEBSITE]}
            )
        )
    assert len(asked) == 1
    question = asked[0]
    assert "Design (7) loses access to 3 project(s) in Studio (5):" in question
    assert (
        "- Ana Lima, Cy Ode, Di Fox lose access to Payroll (13), Website (14), except where named below"
        in question
    )
    assert "- Public, so still open to everyone in the workspace: Brand Refresh (12)." in question
    assert f"- {PAYROLL_SAID}" in question
    assert result["done"] == [BRAND, PAYROLL, WEBSITE]
    assert result["still_open"] == [
        "Public, so still open to everyone in the workspace: Brand Refresh (12).",
        PAYROLL_SAID,
    ]
    paths = [s.path for s in sent(toggl)]
    # Privacy, groups and direct members: read once per request that reads the preview, and only
    # for the private projects.
    assert paths.count(MEMBERS) == paths.count(PROJECTS) == asking_reads(mode)
    assert {s.params["project_ids"] for s in sent(toggl) if s.path == MEMBERS} == {"13,14"}


async def test_a_bulk_removal_from_public_projects_only_says_nobody_loses_access(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    text = tool_error(
        await client.call_tool("remove_group_from_projects", {"group_id": DESIGN, "project_ids": [BRAND]})
    )
    assert PUBLIC_SAID in text
    assert MEMBERS not in [s.path for s in sent(toggl)]


async def test_an_accepted_bulk_removal_says_why_ids_were_skipped_and_what_stays_open(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    studio(toggl)
    answer, asked = recording(accept())
    async with connect(answer, workspace_id=WS) as client:
        result = data(
            await client.call_tool(
                "remove_group_from_projects", {"group_id": FINANCE, "project_ids": [PAYROLL, WEBSITE, 99]}
            )
        )
    assert "- Bo Berg loses access to Payroll (13)" in asked[0]
    assert result["done"] == [PAYROLL]
    assert result["skipped"] == {"not in this workspace": [99], "not linked": [WEBSITE]}
    # Bo loses access; Cy is in Design too (Ana, a direct member, never had it through Finance).
    assert result["still_open"] == ["Payroll (13) stays open to Cy Ode (group Design)."]
    question = [
        Sent("GET", LINKS, {"project_ids": "13,14,99"}, None),
        Sent("GET", PROJECTS, ALL_PROJECTS, None),
        Sent("GET", "/me/workspaces", {}, None),
        Sent("GET", GROUPS, {}, None),
        Sent("GET", MEMBERS, {"project_ids": "13"}, None),
    ]
    # On 2026-07-28 the answer comes with a second request, which reads the question again (the
    # workspace list is this process's by then).
    again = [] if mode == "legacy" else [r for r in question if r.path != "/me/workspaces"]
    assert sent(toggl) == question + again + [Sent("DELETE", f"{LINKS}/903", {}, None)]


async def test_a_confirmed_bulk_removal_without_a_question_reads_only_the_links(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    result = data(
        await client.call_tool(
            "remove_group_from_projects",
            {"group_id": FINANCE, "project_ids": [PAYROLL, WEBSITE], "confirm": True},
        )
    )
    assert result["done"] == [PAYROLL] and result["skipped"] == {"not linked": [WEBSITE]}
    assert "still_open" not in result
    assert sent(toggl) == [
        Sent("GET", LINKS, {"project_ids": "13,14"}, None),
        Sent("DELETE", f"{LINKS}/903", {}, None),
    ]


# -- delete_group ---------------------------------------------------------------------------------


async def test_deleting_a_group_says_which_projects_stay_open_and_to_whom(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    studio(toggl)
    answer, asked = recording(accept())
    async with connect(answer) as client:
        result = data(await client.call_tool("delete_group", {"group_id": DESIGN, "organization_id": ORG}))
    assert len(asked) == 1
    question = asked[0]
    assert (
        "access to 3 project(s) through this group: Brand Refresh (12, Studio), Payroll (13, Studio), Website (14, Studio)"
        in question
    )
    assert (
        "- Ana Lima, Cy Ode, Di Fox lose access to Payroll (13), Website (14), except where named below"
        in question
    )
    assert "- Public, so still open to everyone in the workspace: Brand Refresh (12)." in question
    assert f"- {PAYROLL_SAID}" in question
    assert result["deleted"] is True
    assert result["still_open"] == [
        "Public, so still open to everyone in the workspace: Brand Refresh (12).",
        PAYROLL_SAID,
    ]
    paths = [s.path for s in sent(toggl)]
    # Read for the question, and again once the human has answered (they may have taken a minute:
    # on 2025-11-25 delete_group reads again before deleting; on 2026-07-28 the answer comes with a
    # second request).
    assert paths.count(MEMBERS) == 2
    assert {s.params["project_ids"] for s in sent(toggl) if s.path == MEMBERS} == {"13,14"}


async def test_deleting_a_group_without_a_question_says_what_stays_open_in_its_preview(
    client: Client, toggl: respx.MockRouter
) -> None:
    studio(toggl)
    text = tool_error(await client.call_tool("delete_group", {"group_id": DESIGN, "organization_id": ORG}))
    assert "Public, so still open to everyone in the workspace: Brand Refresh (12)." in text
    assert PAYROLL_SAID in text
    assert [s.method for s in sent(toggl)].count("DELETE") == 0


# -- against the sandbox ----------------------------------------------------------------------------


@pytest.fixture(params=["legacy", "auto"])
def on_sandbox(request: pytest.FixtureRequest) -> Any:
    """open_(answer): a client (in both eras) on a fresh demo sandbox over loopback HTTP, whose
    human answers confirmations with `answer`."""

    @asynccontextmanager
    async def open_(answer: Any) -> AsyncIterator[tuple[Client, Any]]:
        async with running_sandbox(SandboxConfig()) as sb:
            settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url)

            async def human(context: Any, params: Any) -> Any:
                return await answer(params.message)

            async with Client(
                build_server(settings), mode=request.param, elicitation_callback=human
            ) as client:
                yield client, sb

    return open_


async def test_on_the_sandbox_removing_designers_from_the_public_handbook_changes_nobody_s_access(
    on_sandbox: Any,
) -> None:
    answer, asked = recording(accept())
    async with on_sandbox(answer) as (client, sb):
        result = data(
            await client.call_tool(
                "remove_project_group",
                {"workspace_id": demo.WS_ACME_DESIGN, "project_group_id": demo.LINK_DESIGNERS_HANDBOOK},
            )
        )
        links = sb.sandbox.store.state.project_groups
    said = f"Nobody loses access: Studio Handbook ({demo.PROJECT_STUDIO_HANDBOOK}) is public, open to everyone in the workspace."
    assert len(asked) == 1 and said in asked[0]
    assert result["still_open"] == [said]
    assert demo.LINK_DESIGNERS_HANDBOOK not in links


async def test_on_the_sandbox_a_direct_member_in_the_removed_group_is_named_as_keeping_access(
    on_sandbox: Any,
) -> None:
    """Engineers (Alex, Dana, Elias) off API Platform: Dana is a direct member too, Alex is in
    Managers, also linked; only Elias is cut off."""
    answer, asked = recording(accept())
    async with on_sandbox(answer) as (client, sb):
        result = data(
            await client.call_tool(
                "remove_project_group",
                {
                    "workspace_id": demo.WS_ACME_ENGINEERING,
                    "project_id": demo.PROJECT_API_PLATFORM,
                    "group_id": demo.GROUP_ENGINEERS,
                },
            )
        )
        state = sb.sandbox.store.state
        still_linked = {
            pg.group_id for pg in state.project_groups.values() if pg.project_id == demo.PROJECT_API_PLATFORM
        }
    api = f"API Platform ({demo.PROJECT_API_PLATFORM})"
    kept = f"{api} stays open to Alex Morgan (group Managers), Dana Okafor (direct member)."
    assert len(asked) == 1
    assert f"Elias Novak loses access to {api}" in asked[0] and kept in asked[0]
    assert result["still_open"] == [kept]
    assert still_linked == {demo.GROUP_MANAGERS}
