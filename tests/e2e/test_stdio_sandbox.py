"""The server as hosts run it: `python -m toggl_groups_mcp` as a stdio subprocess, talking real
HTTP to the embedded Toggl sandbox, in both protocol eras.

One server process per scenario: each test scripts a whole session and then checks what the
sandbox received (method, path, query, JSON body) and what it now holds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, ElicitResult

from tests.conftest import ALL_TOOLS, READ_TOOLS, ids_of
from toggl_groups_mcp.sandbox.demo import (
    FIRST_NEW_GROUP_ID,
    FIRST_NEW_PROJECT_GROUP_ID,
    GROUP_DESIGNERS,
    GROUP_ENGINEERS,
    GROUP_MANAGERS,
    ORG_ACME,
    ORG_GLOBEX,
    ORG_INITECH,
    PROJECT_API_PLATFORM,
    PROJECT_BRAND_REFRESH,
    PROJECT_DATA_PIPELINE,
    PROJECT_LEGACY_INTRANET,
    PROJECT_STUDIO_HANDBOOK,
    PROJECT_WEBSITE_2019,
    PROJECT_WEBSITE_REDESIGN,
    USER_ALEX,
    USER_BIANCA,
    USER_CHEN,
    USER_DANA,
    USER_ELIAS,
    WS_ACME_DESIGN,
    WS_ACME_ENGINEERING,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# era -> (Client mode, the protocol version it must negotiate)
ERAS = {"legacy": ("legacy", "2025-11-25"), "modern": ("auto", "2026-07-28")}
SESSION_TIMEOUT = 60


NEW = FIRST_NEW_GROUP_ID
GROUPS = f"/organizations/{ORG_ACME}/groups"
LINKS = f"/workspaces/{WS_ACME_DESIGN}/project_groups"

Request = tuple[str, str, dict[str, str], Any]
Elicitation = Callable[[Any, Any], Any]


@asynccontextmanager
async def stdio_server(
    env: dict[str, str],
    *args: str,
    era: str = "legacy",
    elicitation_callback: Elicitation | None = None,
    errlog: TextIO | None = None,
) -> AsyncIterator[Client]:
    """`python -m toggl_groups_mcp ARGS` over stdio, connected in `era`; stopped on exit."""
    mode, version = ERAS[era]
    params = StdioServerParameters(command=sys.executable, args=["-m", "toggl_groups_mcp", *args], env=env)
    transport = stdio_client(params, errlog=errlog) if errlog is not None else stdio_client(params)
    with anyio.fail_after(SESSION_TIMEOUT):
        async with Client(transport, mode=mode, elicitation_callback=elicitation_callback) as client:
            assert client.protocol_version == version
            yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


class Session:
    """Calls tools and hands back, with each result, the requests the sandbox got meanwhile."""

    def __init__(self, client: Client, control: Any) -> None:
        self.client = client
        self.control = control
        self.seen = len(control.requests())

    def new_requests(self) -> list[Request]:
        log = self.control.requests()
        fresh, self.seen = log[self.seen :], len(log)
        assert all(r.status == 200 for r in fresh), fresh
        return [(r.method, r.path, r.query, r.json) for r in fresh]

    async def ok(self, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[Request]]:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, f"{tool} failed: {text_of(result)}"
        assert result.structured_content is not None
        return result.structured_content, self.new_requests()

    async def error(self, tool: str, arguments: dict[str, Any]) -> tuple[str, list[Request]]:
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
        return text_of(result), self.new_requests()


@pytest.mark.parametrize("era", ERAS)
async def test_every_tool_over_stdio_against_the_sandbox(
    era: str, server_env: dict[str, str], control: Any
) -> None:
    async with stdio_server(server_env, era=era) as client:
        assert {t.name for t in (await client.list_tools()).tools} == ALL_TOOLS
        s = Session(client, control)
        assert s.new_requests() == []  # starting and listing tools costs no quota

        # -- reads ---------------------------------------------------------------------------
        quota, sent = await s.ok("get_quota", {"organization_id": ORG_ACME})
        assert quota["source"] == "toggl" and quota["organization_id"] == ORG_ACME
        assert quota["remaining"] == quota["total"] == 1_000_000
        assert sent == [("GET", "/me/quota", {}, None)]

        orgs, sent = await s.ok("list_organizations", {})
        assert [(o["id"], o["name"], o["admin"]) for o in orgs["organizations"]] == [
            (ORG_ACME, "Acme Studio", True),
            (ORG_GLOBEX, "Globex Research", True),
            (ORG_INITECH, "Initech", False),
        ]
        assert [(w["id"], w["name"]) for w in orgs["organizations"][0]["workspaces"]] == [
            (WS_ACME_DESIGN, "Acme Design"),
            (WS_ACME_ENGINEERING, "Acme Engineering"),
        ]
        assert sent == [("GET", "/me/organizations", {}, None), ("GET", "/me/workspaces", {}, None)]

        workspaces, sent = await s.ok("list_workspaces", {"organization_id": ORG_ACME})
        assert [(w["id"], w["name"]) for w in workspaces["workspaces"]] == [
            (WS_ACME_DESIGN, "Acme Design"),
            (WS_ACME_ENGINEERING, "Acme Engineering"),
        ]
        assert sent == []  # list_organizations read them a moment ago

        projects, sent = await s.ok("list_projects", {"workspace_id": WS_ACME_DESIGN, "name": "Website"})
        assert [(p["id"], p["name"]) for p in projects["projects"]] == [
            (PROJECT_WEBSITE_REDESIGN, "Website Redesign")
        ]
        assert projects["more"] is False
        assert sent == [
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/projects",
                {"active": "true", "page": "1", "per_page": "50", "search": "Website"},
                None,
            )
        ]

        users, sent = await s.ok("list_organization_users", {"organization_id": ORG_ACME, "filter": "Dana"})
        assert [(u["user_id"], u["name"]) for u in users["users"]] == [(USER_DANA, "Dana Okafor")]
        assert sent == [
            (
                "GET",
                f"/organizations/{ORG_ACME}/users",
                {"page": "1", "per_page": "50", "filter": "Dana"},
                None,
            )
        ]

        groups, sent = await s.ok("list_groups", {"organization_id": ORG_ACME})
        assert [g["name"] for g in groups["groups"]] == ["Designers", "Engineers", "Managers"]
        assert groups["total"] == 3
        assert sent == [("GET", GROUPS, {}, None)]

        filtered, sent = await s.ok(
            "list_groups", {"organization_id": ORG_ACME, "name": "Design", "workspace_id": WS_ACME_DESIGN}
        )
        assert [g["group_id"] for g in filtered["groups"]] == [GROUP_DESIGNERS]
        assert sent == [("GET", GROUPS, {"name": "Design", "workspace": str(WS_ACME_DESIGN)}, None)]

        in_ws, sent = await s.ok(
            "list_workspace_groups", {"organization_id": ORG_ACME, "workspace_id": WS_ACME_ENGINEERING}
        )
        assert [g["group_id"] for g in in_ws["groups"]] == [GROUP_ENGINEERS, GROUP_MANAGERS]
        assert sent == [
            ("GET", f"/organizations/{ORG_ACME}/workspaces/{WS_ACME_ENGINEERING}/groups", {}, None)
        ]

        review, sent = await s.ok("review_access", {"workspace_id": WS_ACME_ENGINEERING})
        assert [(p["id"], p["name"], p.get("archived")) for p in review["projects"]] == [
            (PROJECT_API_PLATFORM, "API Platform", None),
            (PROJECT_DATA_PIPELINE, "Data Pipeline", None),
            (PROJECT_LEGACY_INTRANET, "Legacy Intranet", True),
        ]
        assert [(g["id"], g["name"], g["projects"]) for g in review["groups"]] == [
            (GROUP_ENGINEERS, "Engineers", [PROJECT_API_PLATFORM]),
            (GROUP_MANAGERS, "Managers", [PROJECT_API_PLATFORM]),
        ]
        assert [m["name"] for m in review["groups"][0]["members"]] == [
            "Alex Morgan",
            "Dana Okafor",
            "Elias Novak",
        ]
        assert sent == [  # the workspace list is a minute old: one project list, groups, links
            (
                "GET",
                f"/workspaces/{WS_ACME_ENGINEERING}/projects",
                {"active": "both", "per_page": "200", "page": "1"},
                None,
            ),
            ("GET", GROUPS, {}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_ENGINEERING}/project_groups",
                {"project_ids": f"{PROJECT_API_PLATFORM},{PROJECT_DATA_PIPELINE},{PROJECT_LEGACY_INTRANET}"},
                None,
            ),
            (
                "GET",
                f"/workspaces/{WS_ACME_ENGINEERING}/project_users",
                {"project_ids": f"{PROJECT_API_PLATFORM},{PROJECT_DATA_PIPELINE},{PROJECT_LEGACY_INTRANET}"},
                None,
            ),
        ]

        # -- writes that lose nothing: no confirmation needed ----------------------------------
        created, sent = await s.ok(
            "create_group",
            {
                "organization_id": ORG_ACME,
                "name": "Launch Team",
                "user_ids": [USER_BIANCA, USER_DANA, USER_BIANCA],
                "workspace_ids": [WS_ACME_DESIGN],
            },
        )
        assert created["group"]["group_id"] == NEW
        assert [m["name"] for m in created["group"]["members"]] == ["Bianca Reyes", "Dana Okafor"]
        assert sent == [
            (
                "POST",
                GROUPS,
                {},
                {"name": "Launch Team", "users": [USER_BIANCA, USER_DANA], "workspaces": [WS_ACME_DESIGN]},
            )
        ]

        renamed, sent = await s.ok(
            "update_group", {"organization_id": ORG_ACME, "group_id": NEW, "name": "Launch Crew"}
        )
        assert renamed["group"]["name"] == "Launch Crew"
        assert ids_of(renamed["removed_members"]) == ids_of(renamed["removed_workspaces"]) == []
        assert sent == [
            ("GET", GROUPS, {}, None),  # a rename keeps members and workspaces: read them first
            (
                "PUT",
                f"{GROUPS}/{NEW}",
                {},
                {"name": "Launch Crew", "users": [USER_BIANCA, USER_DANA], "workspaces": [WS_ACME_DESIGN]},
            ),
        ]

        patched, sent = await s.ok(
            "patch_group", {"organization_id": ORG_ACME, "group_id": NEW, "add_user_ids": [USER_CHEN]}
        )
        assert patched["complete"] is True and patched["failed"] == []
        assert sent == [
            ("PATCH", f"{GROUPS}/{NEW}", {}, [{"op": "add", "path": "/users", "value": [USER_CHEN]}])
        ]

        added, sent = await s.ok(
            "add_project_group",
            {"workspace_id": WS_ACME_DESIGN, "project_id": PROJECT_WEBSITE_REDESIGN, "group_id": NEW},
        )
        assert added["added"] is True
        assert sent == [("POST", LINKS, {}, {"group_id": NEW, "project_id": PROJECT_WEBSITE_REDESIGN})]

        links, sent = await s.ok(
            "list_project_groups", {"workspace_id": WS_ACME_DESIGN, "project_ids": [PROJECT_WEBSITE_REDESIGN]}
        )
        assert {(x["project_group_id"], x["group_id"]) for x in links["links"]} == {
            (4700102, GROUP_DESIGNERS),
            (FIRST_NEW_PROJECT_GROUP_ID, NEW),
        }
        assert sent == [("GET", LINKS, {"project_ids": str(PROJECT_WEBSITE_REDESIGN)}, None)]

        bulk, sent = await s.ok(
            "add_group_to_projects",
            {
                "workspace_id": WS_ACME_DESIGN,
                "group_id": NEW,
                "project_ids": [PROJECT_WEBSITE_REDESIGN, PROJECT_BRAND_REFRESH],
            },
        )
        assert bulk["done"] == [PROJECT_BRAND_REFRESH]
        assert bulk["skipped"] == {"already linked": [PROJECT_WEBSITE_REDESIGN]}
        assert bulk["complete"] is True
        assert sent == [
            ("GET", LINKS, {"project_ids": f"{PROJECT_WEBSITE_REDESIGN},{PROJECT_BRAND_REFRESH}"}, None),
            ("POST", LINKS, {}, {"group_id": NEW, "project_id": PROJECT_BRAND_REFRESH}),
        ]

        # -- destructive calls without confirm: refused with a preview, nothing mutated -------
        before = control.state()
        refusals: list[tuple[str, dict[str, Any], list[str]]] = [
            (
                "update_group",
                {"organization_id": ORG_ACME, "group_id": NEW, "user_ids": [USER_DANA]},
                ["'Launch Crew'", "members removed: Bianca Reyes (6120532), Chen Wei (6120617)"],
            ),
            (
                "patch_group",
                {"organization_id": ORG_ACME, "group_id": NEW, "remove_user_ids": [USER_CHEN]},
                ["members removed: Chen Wei (6120617)"],
            ),
            (
                "delete_group",
                {"organization_id": ORG_ACME, "group_id": NEW},
                ["Delete group 'Launch Crew'", "3 member(s)", "Dana Okafor (6120788)"],
            ),
            (
                "remove_project_group",
                {
                    "workspace_id": WS_ACME_DESIGN,
                    "project_id": PROJECT_BRAND_REFRESH,
                    "group_id": GROUP_DESIGNERS,
                },
                [
                    # Bianca and Chen are in Launch Crew too, which reaches Brand Refresh.
                    f"Remove Designers's link to Brand Refresh ({PROJECT_BRAND_REFRESH}) in Acme Design",
                    "link 4700101. Nobody loses access",
                    f"Brand Refresh ({PROJECT_BRAND_REFRESH}) stays open to Bianca Reyes (group Launch Crew)",
                ],
            ),
            (
                "remove_group_from_projects",
                {
                    "workspace_id": WS_ACME_DESIGN,
                    "group_id": NEW,
                    "project_ids": [PROJECT_WEBSITE_REDESIGN, PROJECT_BRAND_REFRESH],
                },
                [
                    f"Launch Crew ({NEW}) loses access to 2 project(s) in Acme Design",
                    f"Website Redesign ({PROJECT_WEBSITE_REDESIGN}, link {FIRST_NEW_PROJECT_GROUP_ID})",
                    f"Brand Refresh ({PROJECT_BRAND_REFRESH}, link {FIRST_NEW_PROJECT_GROUP_ID + 1})",
                    f"Dana Okafor loses access to Website Redesign ({PROJECT_WEBSITE_REDESIGN})",
                    f"Brand Refresh ({PROJECT_BRAND_REFRESH}) stays open to Bianca Reyes (group Designers)",
                ],
            ),
            (
                "remove_user_from_groups",
                {"organization_id": ORG_ACME, "user_id": USER_DANA},
                [
                    f"Engineers (group {GROUP_ENGINEERS})",
                    f"Launch Crew (group {NEW})",
                    "Still a direct member of 2 project(s), which groups do not change: API Platform",
                ],
            ),
        ]
        previews: list[Request] = []
        # An offboarding reads the person's direct memberships in each workspace, and the project
        # list (fresh) where they have some: what stays open to them is said, in names.
        dana_memberships = [
            ("GET", f"/workspaces/{WS_ACME_DESIGN}/project_users", {"user_id": str(USER_DANA)}, None),
            ("GET", f"/workspaces/{WS_ACME_ENGINEERING}/project_users", {"user_id": str(USER_DANA)}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_ENGINEERING}/projects",
                {"active": "both", "per_page": "200", "page": "1"},
                None,
            ),
        ]
        for tool, arguments, shown in refusals:
            message, sent = await s.error(tool, arguments)
            assert "Confirmation required; no change was sent to Toggl" in message, message
            assert "confirm: true" in message
            for fragment in shown:
                assert fragment in message, (tool, message)
            previews += sent
        assert [r for r in previews if r[0] != "GET"] == []
        # What decides what is lost is read from Toggl in each preview's own call (someone may have
        # changed things since): the group's members and workspaces, the links, and a deletion's
        # project lists. Names and the workspace list come from what this process already heard
        # from Toggl (never from what only another process said through Redis).
        assert previews == [
            # update_group: the group's members now
            ("GET", GROUPS, {}, None),
            # patch_group: the group's members now
            ("GET", GROUPS, {}, None),
            # delete_group: the group, then every project list and its links, in each workspace of
            # the organization (not only those the group is assigned to): a project created a
            # minute ago must not be missed, or undo could not restore its link
            ("GET", GROUPS, {}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/projects",
                {"active": "both", "per_page": "200", "page": "1"},
                None,
            ),
            (
                "GET",
                LINKS,
                {
                    "project_ids": f"{PROJECT_BRAND_REFRESH},{PROJECT_STUDIO_HANDBOOK},"
                    f"{PROJECT_WEBSITE_2019},{PROJECT_WEBSITE_REDESIGN}"
                },
                None,
            ),
            # ... Engineering's list too, though review_access read it a moment ago
            (
                "GET",
                f"/workspaces/{WS_ACME_ENGINEERING}/projects",
                {"active": "both", "per_page": "200", "page": "1"},
                None,
            ),
            (
                "GET",
                f"/workspaces/{WS_ACME_ENGINEERING}/project_groups",
                {"project_ids": f"{PROJECT_API_PLATFORM},{PROJECT_DATA_PIPELINE},{PROJECT_LEGACY_INTRANET}"},
                None,
            ),
            # ... and who keeps access to its (private) projects another way: their direct members
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/project_users",
                {"project_ids": f"{PROJECT_WEBSITE_REDESIGN},{PROJECT_BRAND_REFRESH}"},
                None,
            ),
            # remove_project_group: the link now, then who keeps access: the project's privacy
            # (its workspace's list), the groups (members), the project's direct members
            ("GET", LINKS, {"project_ids": str(PROJECT_BRAND_REFRESH)}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/projects",
                {"active": "both", "per_page": "200", "page": "1"},
                None,
            ),
            ("GET", GROUPS, {}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/project_users",
                {"project_ids": str(PROJECT_BRAND_REFRESH)},
                None,
            ),
            # remove_group_from_projects: the links now, and the same for who keeps access
            ("GET", LINKS, {"project_ids": f"{PROJECT_WEBSITE_REDESIGN},{PROJECT_BRAND_REFRESH}"}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/projects",
                {"active": "both", "per_page": "200", "page": "1"},
                None,
            ),
            ("GET", GROUPS, {}, None),
            (
                "GET",
                f"/workspaces/{WS_ACME_DESIGN}/project_users",
                {"project_ids": f"{PROJECT_WEBSITE_REDESIGN},{PROJECT_BRAND_REFRESH}"},
                None,
            ),
            # remove_user_from_groups: the groups holding the user now, and what stays open: their
            # direct memberships in each workspace, and the privacy of the projects they are in
            ("GET", GROUPS, {}, None),
            *dana_memberships,
        ]
        assert control.state() == before

        # -- the same with confirm: true -------------------------------------------------------
        unlinked, sent = await s.ok(
            "remove_project_group",
            {
                "workspace_id": WS_ACME_DESIGN,
                "project_id": PROJECT_BRAND_REFRESH,
                "group_id": GROUP_DESIGNERS,
                "confirm": True,
            },
        )
        assert unlinked["project_group_id"] == 4700101 and unlinked["removed"] is True
        # No earlier preview is trusted: the link is looked up again, then deleted.
        assert sent == [
            ("GET", LINKS, {"project_ids": str(PROJECT_BRAND_REFRESH)}, None),
            ("DELETE", f"{LINKS}/4700101", {}, None),
        ]

        bulk_removed, sent = await s.ok(
            "remove_group_from_projects",
            {
                "workspace_id": WS_ACME_DESIGN,
                "group_id": NEW,
                "project_ids": [PROJECT_WEBSITE_REDESIGN, PROJECT_BRAND_REFRESH],
                "confirm": True,
            },
        )
        assert bulk_removed["done"] == [PROJECT_WEBSITE_REDESIGN, PROJECT_BRAND_REFRESH]
        assert bulk_removed["complete"] is True
        assert sent == [
            ("GET", LINKS, {"project_ids": f"{PROJECT_WEBSITE_REDESIGN},{PROJECT_BRAND_REFRESH}"}, None),
            ("DELETE", f"{LINKS}/{FIRST_NEW_PROJECT_GROUP_ID}", {}, None),
            ("DELETE", f"{LINKS}/{FIRST_NEW_PROJECT_GROUP_ID + 1}", {}, None),
        ]

        replaced, sent = await s.ok(
            "update_group",
            {"organization_id": ORG_ACME, "group_id": NEW, "user_ids": [USER_DANA], "confirm": True},
        )
        assert ids_of(replaced["removed_members"]) == [USER_BIANCA, USER_CHEN]
        assert [m["user_id"] for m in replaced["group"]["members"]] == [USER_DANA]
        assert sent == [
            ("GET", GROUPS, {}, None),  # what is dropped is judged on Toggl's answer now
            (
                "PUT",
                f"{GROUPS}/{NEW}",
                {},
                {"name": "Launch Crew", "users": [USER_DANA], "workspaces": [WS_ACME_DESIGN]},
            ),
        ]

        moved, sent = await s.ok(
            "patch_group",
            {
                "organization_id": ORG_ACME,
                "group_id": NEW,
                "add_workspace_ids": [WS_ACME_ENGINEERING],
                "remove_workspace_ids": [WS_ACME_DESIGN],
                "confirm": True,
            },
        )
        assert moved["complete"] is True and len(moved["succeeded"]) == 2
        assert sent == [
            (
                "PATCH",
                f"{GROUPS}/{NEW}",
                {},
                [
                    {"op": "add", "path": "/workspaces", "value": [WS_ACME_ENGINEERING]},
                    {"op": "remove", "path": "/workspaces", "value": [WS_ACME_DESIGN]},
                ],
            )
        ]

        offboarded, sent = await s.ok(
            "remove_user_from_groups", {"organization_id": ORG_ACME, "user_id": USER_DANA, "confirm": True}
        )
        assert offboarded["done"] == [GROUP_ENGINEERS, NEW] and offboarded["complete"] is True
        leave = [{"op": "remove", "path": "/users", "value": [USER_DANA]}]
        assert sent == [
            ("GET", GROUPS, {}, None),
            *dana_memberships,
            ("PATCH", f"{GROUPS}/{GROUP_ENGINEERS}", {}, leave),
            ("PATCH", f"{GROUPS}/{NEW}", {}, leave),
        ]

        deleted, sent = await s.ok(
            "delete_group", {"organization_id": ORG_ACME, "group_id": NEW, "confirm": True}
        )
        assert deleted["group_id"] == NEW and deleted["deleted"] is True
        assert sent == [("DELETE", f"{GROUPS}/{NEW}", {}, None)]

        quota, sent = await s.ok("get_quota", {"organization_id": ORG_ACME})
        assert quota["source"] == "recent answer" and quota["remaining"] < 1_000_000
        assert sent == []  # answered from the headers of the last Toggl answer

    # -- what the sandbox holds afterwards ---------------------------------------------------------
    groups_now = control.groups(ORG_ACME)
    assert set(groups_now) == {GROUP_DESIGNERS, GROUP_ENGINEERS, GROUP_MANAGERS}
    assert groups_now[GROUP_ENGINEERS]["user_ids"] == [USER_ALEX, USER_ELIAS]
    assert groups_now[GROUP_DESIGNERS]["user_ids"] == [USER_BIANCA, USER_CHEN]
    acme_design_links = {link for link in control.links() if link[0] == WS_ACME_DESIGN}
    assert acme_design_links == {
        (WS_ACME_DESIGN, PROJECT_WEBSITE_REDESIGN, GROUP_DESIGNERS),
        (WS_ACME_DESIGN, PROJECT_STUDIO_HANDBOOK, GROUP_DESIGNERS),
    }
    # 9 reads (list_workspaces is answered from the cache), 4 for the access review, 9 reads inside
    # write tools, 20 for the previews (who keeps access is read for each removal's question, and
    # an offboarding reads the person's direct memberships), 13 writes: nothing else was spent
    assert len(control.requests()) == 55


class Human:
    """Answers the server's confirmation questions from a script, and remembers what was asked."""

    def __init__(self) -> None:
        self.answers: list[ElicitResult] = []
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        self.asked.append(params.message)
        return self.answers.pop(0)


@pytest.mark.parametrize("era", ERAS)
async def test_confirmation_is_asked_over_stdio_and_only_an_accept_deletes(
    era: str, server_env: dict[str, str], control: Any
) -> None:
    human = Human()
    before = control.state()
    async with stdio_server(server_env, era=era, elicitation_callback=human) as client:
        s = Session(client, control)
        engineers = {"organization_id": ORG_ACME, "group_id": GROUP_ENGINEERS}
        for answer, said in [
            (ElicitResult(action="decline"), "the user declined"),
            (ElicitResult(action="cancel"), "the user cancelled the confirmation"),
            (ElicitResult(action="accept", content={"confirm": False}), "did not check the confirmation box"),
        ]:
            human.answers, human.asked = [answer], []
            message, sent = await s.error("delete_group", engineers)
            assert said in message and "no change was sent to Toggl" in message, message
            assert len(human.asked) == 1
            assert "Delete group 'Engineers'" in human.asked[0]
            assert "Alex Morgan (6120451), Dana Okafor (6120788), Elias Novak (6120843)" in human.asked[0]
            assert [r for r in sent if r[0] != "GET"] == []
        assert control.state() == before

        human.answers, human.asked = [ElicitResult(action="accept", content={"confirm": True})], []
        deleted, sent = await s.ok("delete_group", {"organization_id": ORG_ACME, "group_id": GROUP_DESIGNERS})
        assert {k: v for k, v in deleted.items() if k != "requests"} == {
            "group_id": GROUP_DESIGNERS,
            "deleted": True,
            "name": "Designers",
            # The question's reads say what stays open, for the admin.
            "still_open": [
                f"Public, so still open to everyone in the workspace: Studio Handbook ({PROJECT_STUDIO_HANDBOOK}).",
            ],
        }
        assert len(human.asked) == 1 and "Bianca Reyes (6120532), Chen Wei (6120617)" in human.asked[0]
        assert [r for r in sent if r[0] != "GET"] == [("DELETE", f"{GROUPS}/{GROUP_DESIGNERS}", {}, None)]

    groups_now = control.groups(ORG_ACME)
    assert GROUP_DESIGNERS not in groups_now
    assert GROUP_ENGINEERS in groups_now
    assert all(group != GROUP_DESIGNERS for _, _, group in control.links())
    assert [r.method for r in control.mutating()] == ["DELETE"]


async def test_read_only_mode_over_stdio_lists_only_reading_tools(
    server_env: dict[str, str], control: Any
) -> None:
    async with stdio_server(server_env, "--read-only", era="modern") as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == READ_TOOLS
        for t in tools:
            assert t.annotations is not None and t.annotations.read_only_hint is True, t.name
            assert t.annotations.destructive_hint is False, t.name
        assert "Read-only mode" in (client.session.instructions or "")
        refused = await client.call_tool(
            "delete_group", {"organization_id": ORG_ACME, "group_id": GROUP_DESIGNERS}
        )
        assert refused.is_error and "Unknown tool: delete_group" in text_of(refused)
    assert control.requests() == []
    assert GROUP_DESIGNERS in control.groups()


async def test_the_sandbox_flag_serves_demo_data_and_says_so_on_stderr(tmp_path: Path) -> None:
    stderr_path = tmp_path / "server.stderr"
    with stderr_path.open("w") as errlog:
        env = {"PATH": os.environ["PATH"]}  # no token, no URL: --sandbox needs neither
        async with stdio_server(env, "--sandbox", era="legacy", errlog=errlog) as client:
            assert "THIS IS A SANDBOX" in (client.session.instructions or "")
            result = await client.call_tool("list_organizations", {})
            assert not result.is_error, text_of(result)
            assert result.structured_content is not None
            names = [o["name"] for o in result.structured_content["organizations"]]
            assert names[0] == "Acme Studio"
    stderr = stderr_path.read_text()
    assert "SANDBOX" in stderr, stderr
    assert "sandbox-token" not in stderr


async def test_a_link_removed_between_bulk_preview_and_confirmation_is_skipped_not_failed(
    server_env: dict[str, str], control: Any
) -> None:
    both = [PROJECT_WEBSITE_REDESIGN, PROJECT_BRAND_REFRESH]
    bulk = {"workspace_id": WS_ACME_DESIGN, "group_id": GROUP_DESIGNERS, "project_ids": both}
    async with stdio_server(server_env, era="legacy") as client:
        s = Session(client, control)
        message, _ = await s.error("remove_group_from_projects", bulk)
        assert "(2040011, link 4700101)" in message and "(2040023, link 4700102)" in message
        # The user first removes one link on its own ...
        removed, _ = await s.ok(
            "remove_project_group",
            {"workspace_id": WS_ACME_DESIGN, "project_group_id": 4700101, "confirm": True},
        )
        assert removed["removed"] is True
        # ... then approves the bulk removal.
        result = await client.call_tool("remove_group_from_projects", {**bulk, "confirm": True})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["failed"] == [], result.structured_content
    assert result.structured_content["complete"] is True
    assert result.structured_content["done"] == [PROJECT_WEBSITE_REDESIGN]
    assert result.structured_content["skipped"] == {"not linked": [PROJECT_BRAND_REFRESH]}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_cancelled_bulk_run_stops_between_items_and_resumes_over_stdio(era: str) -> None:
    """The client gives up (notifications/cancelled, or on 2026-07-28 the request's own end): the
    server finishes the request in flight, sends no more, and the next call resumes."""
    from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread, demo

    projects = [demo.megacorp_project_id(n) for n in range(2, 42)]
    arguments = {
        "workspace_id": demo.WS_MEGACORP_DELIVERY,
        "group_id": demo.GROUP_MEGACORP_LAST,
        "project_ids": projects,
    }
    with SandboxThread(SandboxConfig(large_org=True, latency=0.05)) as sb:
        env = {"TOGGL_API_TOKEN": sb.token, "TOGGL_API_URL": sb.url, "TOGGL_RATE_PER_SEC": "0"}
        env["PATH"] = os.environ["PATH"]
        env["TOGGL_MCP_JOURNAL"] = "off"  # never the user's state folder

        def posted() -> list[int]:
            log = sb.sandbox.request_log()
            return [e["json"]["project_id"] for e in log if e["method"] == "POST" and e["status"] == 200]

        async with stdio_server(env, era=era) as client:
            five_done = anyio.Event()

            async def progress(done: float, total: float | None, message: str | None) -> None:
                if done >= 5:
                    five_done.set()

            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool("add_group_to_projects", arguments, progress_callback=progress)

                tg.start_soon(call)
                with anyio.fail_after(20):
                    await five_done.wait()
                tg.cancel_scope.cancel()
            with anyio.fail_after(10):  # the request in flight is answered, then nothing more is sent
                while any(e["status"] is None for e in sb.sandbox.request_log()) or (  # noqa: ASYNC110
                    len(posted()) < 5
                ):
                    await anyio.sleep(0.02)
            stopped_at = len(posted())
            assert 5 <= stopped_at < len(projects)
            result = await client.call_tool("add_group_to_projects", arguments)
        assert result.structured_content is not None and result.structured_content["complete"] is True
        assert len(result.structured_content["skipped"]["already linked"]) >= stopped_at
        assert sorted(posted()) == sorted(projects), "nothing done twice, nothing lost"


def test_a_sandbox_server_stopped_with_sigterm_removes_its_temporary_folder(tmp_path: Path) -> None:
    """Hosts stop a server with SIGTERM, some with stdin still open after a session (the Vercel AI
    SDK aborts its child): the server ends at once, as SIGTERM always ended it, and the sandbox's
    temporary folder (with its journal) goes with it instead of piling up in /tmp."""
    import json
    import signal
    import subprocess

    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "toggl_groups_mcp", "--sandbox"],
        env=env,
        stdin=subprocess.PIPE,  # left open, as under such a host
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write((json.dumps(message) + "\n").encode())
        process.stdin.flush()

    try:
        hello = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        }
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
        assert b'"id":1' in process.stdout.readline()
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "list_organizations", "arguments": {}},
            }
        )
        assert b"Acme Studio" in process.stdout.readline()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("toggl-sandbox-")]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("toggl-sandbox-")]
