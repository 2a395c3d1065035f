"""Offboarding that closes every door: groups, direct project memberships, and what stays open.

A person reaches a project three ways: public, direct member, or a linked group. Taking them out
of every group while they are a direct member of private projects must not read as "done"; the
preview and the result name the memberships left and the public projects, and `also_projects`
(or remove_user_from_projects) ends the memberships, naming what each one loses: the manager
flag, the person's own rate and labor cost. Through a real MCP client, against exact requests
(respx) and the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from mcp import Client
from mcp.types import ElicitResult
from pydantic import SecretStr

from tests.conftest import Connect, accept, error_text, make_settings
from toggl_groups_mcp.sandbox import SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG, WS, LAB = 10, 100, 200
ANN = 7
DESIGN = {"group_id": 1, "name": "Design", "users": [{"user_id": ANN, "name": "Ann Lee"}], "workspaces": [WS]}
DEV = {"group_id": 2, "name": "Dev", "users": [{"user_id": 8, "name": "Bo"}], "workspaces": [WS]}
PAYROLL, HANDBOOK, WIKI = 11, 12, 13
MEMBERSHIPS: list[dict[str, Any]] = [
    {"id": 555, "project_id": PAYROLL, "user_id": ANN, "workspace_id": WS, "manager": True, "rate": 95.0,
     "labor_cost": 60.0},
    {"id": 556, "project_id": WIKI, "user_id": ANN, "workspace_id": WS, "manager": False, "rate": None,
     "labor_cost": None},
]  # fmt: skip


def organization(toggl: respx.MockRouter, memberships: list[dict[str, Any]] = MEMBERSHIPS) -> None:
    """Ann: in Design (linked to Payroll), a direct member of Payroll (manager, own rate and labor
    cost) and of Wiki (nothing of her own); Handbook is public. A second workspace, Lab, where she
    has nothing."""
    toggl.get("/me/workspaces").respond(
        json=[
            {"id": WS, "name": "Studio", "organization_id": ORG},
            {"id": LAB, "name": "Lab", "organization_id": ORG},
            {"id": 999, "name": "Elsewhere", "organization_id": 99},
        ]
    )
    toggl.get(f"/organizations/{ORG}/groups").respond(json=[DESIGN, DEV])
    toggl.get(f"/workspaces/{WS}/project_users", params={"user_id": str(ANN)}).respond(json=memberships)
    toggl.get(f"/workspaces/{LAB}/project_users", params={"user_id": str(ANN)}).respond(json=[])
    toggl.get(f"/workspaces/{WS}/projects").respond(
        json=[
            {"id": PAYROLL, "name": "Payroll", "is_private": True, "active": True},
            {"id": HANDBOOK, "name": "Handbook", "is_private": False, "active": True},
            {"id": WIKI, "name": "Wiki", "is_private": True, "active": True},
        ]
    )
    toggl.get(f"/workspaces/{LAB}/projects").respond(
        json=[{"id": 21, "name": "Lab notes", "is_private": True}]
    )
    toggl.get(f"/workspaces/{WS}/project_groups").respond(
        json=[{"id": 901, "group_id": 1, "pid": PAYROLL, "wid": WS}]
    )


def sent(toggl: respx.MockRouter, since: int = 0) -> list[str]:
    """Each request as `METHOD /path?query`, in order."""
    return [
        f"{c.request.method} {c.request.url.path.removeprefix('/api/v9')}"
        + (f"?{c.request.url.query.decode()}" if c.request.url.query else "")
        for c in list(toggl.calls)[since:]
    ]


PREVIEW_READS = [
    f"GET /organizations/{ORG}/groups",
    "GET /me/workspaces",
    f"GET /workspaces/{WS}/project_users?user_id={ANN}",
    f"GET /workspaces/{WS}/projects?active=both&per_page=200&page=1",
    f"GET /workspaces/{LAB}/project_users?user_id={ANN}",
    f"GET /workspaces/{LAB}/projects?active=both&per_page=200&page=1",
]


async def test_an_offboarding_preview_names_the_direct_memberships_it_leaves_and_the_public_projects(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    async with connect() as client:
        text = error_text(
            await client.call_tool("remove_user_from_groups", {"organization_id": ORG, "user_id": ANN})
        )
    assert "Remove Ann Lee (7) from 1 group(s)" in text and "Design (group 1)" in text, text
    assert (
        "Still a direct member of 2 project(s), which groups do not change: Payroll (11) in Studio, "
        "Wiki (13) in Studio." in text
    ), text
    assert "Public, so open to them while they are a member of the workspace: Handbook (Studio)." in text
    assert "Dev" not in text and "Lab notes" not in text
    assert sent(toggl) == PREVIEW_READS
    assert not [c for c in toggl.calls if c.request.method != "GET"]


async def test_an_offboarding_without_also_projects_reports_the_memberships_still_open(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    patch = toggl.patch(f"/organizations/{ORG}/groups/1").respond(json={"success": [], "failure": []})
    async with connect() as client:
        result = await client.call_tool(
            "remove_user_from_groups", {"organization_id": ORG, "user_id": ANN, "confirm": True}
        )
    data = result.structured_content
    assert data is not None and data["done"] == [1] and data["complete"] is True
    assert data["still_open"] == [
        "Still a direct member of 2 project(s), which groups do not change: Payroll (11) in Studio, Wiki (13) "
        "in Studio. also_projects: true, or remove_user_from_projects, ends them.",
        "Public, so open to them while they are a member of the workspace: Handbook (Studio).",
    ]
    assert "projects" not in data
    assert patch.call_count == 1
    assert not [c for c in toggl.calls if c.request.method == "DELETE"]


async def test_also_projects_ends_the_memberships_in_the_same_run_and_names_what_each_loses(
    toggl: respx.MockRouter, connect: Connect, tmp_path: Path
) -> None:
    organization(toggl)
    patch = toggl.patch(f"/organizations/{ORG}/groups/1").respond(json={"success": [], "failure": []})
    deletes = toggl.delete(url__regex=rf"/workspaces/{WS}/project_users/\d+").respond(json=555)
    args = {"organization_id": ORG, "user_id": ANN, "also_projects": True}
    async with connect(journal_path=tmp_path / "journal.jsonl") as client:
        text = error_text(await client.call_tool("remove_user_from_groups", args))
        start = len(toggl.calls)
        result = await client.call_tool("remove_user_from_groups", {**args, "confirm": True})
    assert "Remove Ann Lee (7) from 1 group(s) and their direct membership of 2 project(s)" in text, text
    # Design is gone too, so Payroll is left with no way in: the preview says what is lost.
    assert "- Payroll (11) in Studio: manager, own hourly rate 95, labor cost 60; no other way in" in text
    assert "- Wiki (13) in Studio: no role or rate of their own; no other way in" in text
    assert "Still a direct member" not in text and "Handbook (Studio)" in text
    data = result.structured_content
    assert data is not None, error_text(result)
    assert data["done"] == [1] and data["projects"]["done"] == [PAYROLL, WIKI] and data["complete"] is True
    assert data["projects"]["names"] == {"11": "Payroll", "13": "Wiki"}
    assert data["still_open"] == [
        "Public, so open to them while they are a member of the workspace: Handbook (Studio)."
    ]
    assert data["change_id"]
    # The apply: the groups, the memberships (read in the call), Studio's list again (it decides
    # what stays open), then one PATCH and one DELETE per membership; Lab's list is this process's.
    assert sent(toggl, start) == [
        f"GET /organizations/{ORG}/groups",
        f"GET /workspaces/{WS}/project_users?user_id={ANN}",
        f"GET /workspaces/{WS}/projects?active=both&per_page=200&page=1",
        f"GET /workspaces/{LAB}/project_users?user_id={ANN}",
        f"PATCH /organizations/{ORG}/groups/1",
        f"DELETE /workspaces/{WS}/project_users/555",
        f"DELETE /workspaces/{WS}/project_users/556",
    ]
    assert data["requests"] == 7
    assert json.loads(patch.calls.last.request.content) == [
        {"op": "remove", "path": "/users", "value": [ANN]}
    ]
    assert deletes.call_count == 2


async def test_remove_user_from_projects_says_which_projects_stay_open_and_refuses_without_confirmation(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    deletes = toggl.delete(url__regex=r"/project_users/\d+").respond(json=1)
    async with connect() as client:
        text = error_text(
            await client.call_tool("remove_user_from_projects", {"organization_id": ORG, "user_id": ANN})
        )
    assert "Confirmation required; no change was sent to Toggl." in text
    assert "End Ann Lee (7)'s direct membership of 2 project(s); lost with each:" in text, text
    # She stays in Design, which is linked to Payroll: that door stays open, and the preview says so.
    assert (
        "- Payroll (11) in Studio: manager, own hourly rate 95, labor cost 60; still open to them: group Design"
        in text
    )
    assert "- Wiki (13) in Studio: no role or rate of their own; no other way in" in text
    assert deletes.call_count == 0
    assert sent(toggl) == [
        "GET /me/workspaces",
        f"GET /workspaces/{WS}/project_users?user_id={ANN}",
        f"GET /workspaces/{WS}/projects?active=both&per_page=200&page=1",
        f"GET /workspaces/{WS}/project_groups?project_ids={PAYROLL}%2C{WIKI}",
        f"GET /organizations/{ORG}/groups",
        f"GET /workspaces/{LAB}/project_users?user_id={ANN}",
    ]


async def test_remove_user_from_projects_ends_only_the_projects_named_and_skips_the_rest(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    deletes = toggl.delete(f"/workspaces/{WS}/project_users/556").respond(json=556)
    async with connect() as client:
        result = await client.call_tool(
            "remove_user_from_projects",
            {"workspace_id": WS, "user_id": ANN, "project_ids": [WIKI, HANDBOOK], "confirm": True},
        )
    data = result.structured_content
    assert data is not None, error_text(result)
    assert data["done"] == [WIKI] and data["skipped"] == {"not a direct member": [HANDBOOK]}
    assert data["still_open"] == [
        "None of these projects stays open to them: no public project, no linked group holding them."
    ]
    assert deletes.call_count == 1
    # workspace_id given: that workspace only, and its organization from the workspace list.
    assert f"GET /workspaces/{LAB}/project_users?user_id={ANN}" not in sent(toggl)


async def test_a_person_named_by_part_of_their_name_must_be_exactly_one(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    users = toggl.get(f"/organizations/{ORG}/users").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=[
                {"user_id": ANN, "name": "Ann Lee", "email": "ann@studio.test"},
                {"user_id": 9, "name": "Annika Berg", "email": "annika@studio.test"},
            ]
            if request.url.params["filter"] == "ann"
            else [
                {
                    "user_id": ANN,
                    "name": "Ann Lee",
                    "email": "ann@studio.test",
                    "workspaces": [{"workspace_id": WS}],
                }
            ],
        )
    )
    async with connect() as client:
        several = error_text(
            await client.call_tool("remove_user_from_projects", {"organization_id": ORG, "user": "ann"})
        )
        one = error_text(
            await client.call_tool("remove_user_from_projects", {"organization_id": ORG, "user": "Ann Lee"})
        )
        both = error_text(
            await client.call_tool(
                "remove_user_from_groups", {"organization_id": ORG, "user": "x", "user_id": 3}
            )
        )
    assert "user: 2 people match 'ann': Ann Lee <ann@studio.test> (user_id 7), Annika Berg" in several, (
        several
    )
    assert "Pass user_id" in several and "Confirmation" not in several
    assert "End Ann Lee (7)'s direct membership of 2 project(s)" in one, one
    assert "Give exactly one of user_id and user" in both
    assert users.call_count == 2
    # The organization said Ann is a member of Studio only: Lab is not read.
    assert f"GET /workspaces/{LAB}/project_users?user_id={ANN}" not in sent(toggl)
    assert not [c for c in toggl.calls if c.request.method != "GET"]


async def test_with_elicitation_the_human_sees_what_is_lost_and_their_answer_decides(
    toggl: respx.MockRouter, connect: Connect, mode: str
) -> None:
    """Both eras: the question is asked mid-request on 2025-11-25, and by a second request on
    2026-07-28; a decline sends nothing, a yes ends the memberships."""
    organization(toggl)
    deletes = toggl.delete(url__regex=rf"/workspaces/{WS}/project_users/\d+").respond(json=1)
    asked: list[str] = []

    def answering(yes: bool) -> Any:
        async def answer(message: str) -> ElicitResult:
            asked.append(message)
            if not yes:
                return ElicitResult(action="decline")
            return await accept()(message)

        return answer

    args = {"organization_id": ORG, "user_id": ANN}
    async with connect(answer=answering(False)) as client:
        declined = await client.call_tool("remove_user_from_projects", args)
    assert "declined" in error_text(declined) and deletes.call_count == 0
    async with connect(answer=answering(True)) as client:
        result = await client.call_tool("remove_user_from_projects", args)
    assert result.structured_content is not None, error_text(result)
    assert result.structured_content["done"] == [PAYROLL, WIKI]
    assert len(asked) == 2
    assert (
        "Payroll (11) in Studio: manager, own hourly rate 95, labor cost 60; still open to them: group Design"
        in asked[1]
    )
    assert result.structured_content["still_open"] == [
        "Still open to them another way: Payroll (11) in Studio (group Design)."
    ]
    assert deletes.call_count == 2


async def test_a_quota_stop_says_what_remains_and_a_second_call_finishes(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    toggl.patch(f"/organizations/{ORG}/groups/1").respond(json={"success": [], "failure": []})
    toggl.delete(f"/workspaces/{WS}/project_users/555").respond(json=555)
    toggl.delete(f"/workspaces/{WS}/project_users/556").respond(
        402, json="Quota exceeded", headers={"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "60"}
    )
    args = {"organization_id": ORG, "user_id": ANN, "also_projects": True, "confirm": True}
    async with connect() as client:
        result = await client.call_tool("remove_user_from_groups", args)
    data = result.structured_content
    assert data is not None, error_text(result)
    assert data["complete"] is False
    assert data["projects"]["done"] == [PAYROLL] and data["projects"]["remaining"] == [WIKI]
    assert "Quota" in data["projects"]["stopped"] or "quota" in data["projects"]["stopped"]
    # What is still open says so: Wiki was not ended.
    assert (
        data["still_open"][0].startswith("Still a direct member of 1 project(s)")
        and "Wiki" in data["still_open"][0]
    )


# -- against the sandbox -------------------------------------------------------------------------


async def test_in_the_sandbox_an_offboarding_leaves_a_direct_membership_reports_it_then_closes_it(
    tmp_path: Path,
) -> None:
    """Chen Wei is in Designers and a direct member of Data Pipeline: leaving every group still
    leaves Data Pipeline open, the result says so, and remove_user_from_projects closes it."""
    async with running_sandbox(SandboxConfig()) as sb:
        settings = make_settings(
            api_token=SecretStr(sb.token), api_url=sb.url, journal_path=tmp_path / "j.jsonl"
        )
        async with Client(build_server(settings), mode="legacy") as client:
            left = await client.call_tool(
                "remove_user_from_groups",
                {"organization_id": ids.ORG_ACME, "user": "Chen Wei", "confirm": True},
            )
            data = left.structured_content
            assert data is not None, error_text(left)
            assert data["done"] == [ids.GROUP_DESIGNERS]
            assert "Data Pipeline" in data["still_open"][0] and "Acme Engineering" in data["still_open"][0]
            assert any("Studio Handbook (Acme Design)" in line for line in data["still_open"])
            rows = [r for r in sb.sandbox.store.state.project_users.values() if r.user_id == ids.USER_CHEN]
            assert [r.project_id for r in rows] == [ids.PROJECT_DATA_PIPELINE]

            closed = await client.call_tool(
                "remove_user_from_projects",
                {"organization_id": ids.ORG_ACME, "user_id": ids.USER_CHEN, "confirm": True},
            )
            data = closed.structured_content
            assert data is not None, error_text(closed)
            assert data["done"] == [ids.PROJECT_DATA_PIPELINE] and data["name"] == "Chen Wei"
            assert not [
                r for r in sb.sandbox.store.state.project_users.values() if r.user_id == ids.USER_CHEN
            ]
            again = await client.call_tool(
                "remove_user_from_groups", {"organization_id": ids.ORG_ACME, "user_id": ids.USER_CHEN}
            )
            data = again.structured_content
            assert data is not None, error_text(again)
            assert data["done"] == [] and data["complete"] is True
            assert data["still_open"] == [
                "Public, so open to them while they are a member of the workspace: Studio Handbook (Acme Design)."
            ]


async def test_a_workspace_whose_memberships_toggl_refuses_is_said_to_be_unchecked_not_empty(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    organization(toggl)
    toggl.get(f"/workspaces/{LAB}/project_users", params={"user_id": str(ANN)}).respond(
        403, json="User does not have access to this resource."
    )
    async with connect() as client:
        text = error_text(
            await client.call_tool("remove_user_from_groups", {"organization_id": ORG, "user_id": ANN})
        )
    assert "Still a direct member of 2 project(s)" in text, text
    assert "Not checked: Toggl refused to list direct memberships in Lab" in text, text
    assert "they may still be a direct member of projects there" in text
