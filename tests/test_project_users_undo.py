"""Undoing an offboarding: the direct memberships come back with their manager flag, the person's
own rate and labor cost (from today on: past entries are not rewritten), and the groups with them;
a membership that exists again is left alone; a journal line this server did not write is never
acted on. Through a real MCP client, against exact requests and the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import respx
from mcp import Client
from pydantic import SecretStr

from tests.conftest import Connect, error_text, make_settings
from tests.test_journal_integrity import done, lines_of, plant
from tests.test_offboarding import ANN, ORG, PAYROLL, WIKI, WS, organization
from tests.test_undo import mutations, ok
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.sandbox.model import ProjectUser
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

Open = Callable[..., AbstractAsyncContextManager[tuple[Client, Sandbox]]]
ENGINEERING = ids.WS_ACME_ENGINEERING


@pytest.fixture(params=["legacy", "auto"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Open:
    """A journaling server (its client has no elicitation: confirm: true is the user's yes) on a
    fresh sandbox, in both protocol eras."""

    @asynccontextmanager
    async def open_() -> AsyncIterator[tuple[Client, Sandbox]]:
        async with running_sandbox(SandboxConfig()) as sb:
            settings = make_settings(
                api_token=SecretStr(sb.token), api_url=sb.url, journal_path=tmp_path / "journal.jsonl"
            )
            async with Client(build_server(settings), mode=request.param) as client:
                yield client, sb.sandbox

    return open_


def memberships(sandbox: Sandbox, user_id: int) -> list[tuple[int, bool, float | None, float | None]]:
    """The person's direct memberships, as (project, manager, rate, labor cost), ids aside."""
    rows = sandbox.store.state.project_users.values()
    return sorted((r.project_id, r.manager, r.rate, r.labor_cost) for r in rows if r.user_id == user_id)


def members_of(sandbox: Sandbox, group_id: int) -> list[int]:
    return sorted(sandbox.store.state.groups[group_id].user_ids)


DANA_BEFORE = [
    (ids.PROJECT_API_PLATFORM, True, ids.DANA_RATE, ids.DANA_LABOR_COST),
    (ids.PROJECT_DATA_PIPELINE, False, ids.DANA_RATE, ids.DANA_LABOR_COST),
]


async def test_undoing_a_complete_offboarding_restores_groups_memberships_manager_rate_and_labor_cost(
    served: Open,
) -> None:
    async with served() as (client, sandbox):
        assert memberships(sandbox, ids.USER_DANA) == DANA_BEFORE
        engineers = members_of(sandbox, ids.GROUP_ENGINEERS)
        off = ok(
            await client.call_tool(
                "remove_user_from_groups",
                {
                    "organization_id": ids.ORG_ACME,
                    "user_id": ids.USER_DANA,
                    "also_projects": True,
                    "confirm": True,
                },
            )
        )
        assert off["projects"]["done"] == [ids.PROJECT_API_PLATFORM, ids.PROJECT_DATA_PIPELINE]
        assert memberships(sandbox, ids.USER_DANA) == []
        assert ids.USER_DANA not in members_of(sandbox, ids.GROUP_ENGINEERS)

        listed = ok(await client.call_tool("list_changes", {}))["changes"][0]
        assert listed["change_id"] == off["change_id"] and len(listed["items"]) == 3
        assert (
            "Dana Okafor (6120788) stopped being a direct member of API Platform "
            f"({ids.PROJECT_API_PLATFORM}) (manager, rate 95, labor cost 60)"
        ) in [item["summary"] for item in listed["items"]]

        start = len(sandbox.request_log())
        undo = ok(await client.call_tool("undo_change", {"change_id": off["change_id"]}))
        assert undo["complete"] is True, undo
        assert memberships(sandbox, ids.USER_DANA) == DANA_BEFORE
        assert members_of(sandbox, ids.GROUP_ENGINEERS) == engineers
        assert any(
            "API Platform" in line and "manager, rate 95, labor cost 60" in line for line in undo["restored"]
        )
        # One read of the run's memberships (one workspace), one of the groups, then the writes.
        assert sorted(mutations(sandbox, start)) == sorted(
            [
                ("POST", f"/workspaces/{ENGINEERING}/project_users"),
                ("POST", f"/workspaces/{ENGINEERING}/project_users"),
                ("PATCH", f"/organizations/{ids.ORG_ACME}/groups/{ids.GROUP_ENGINEERS}"),
            ]
        )
        assert undo["requests"] == 5

        # Undoing it twice does nothing; undoing the undo ends the memberships again.
        twice = ok(await client.call_tool("undo_change", {"change_id": off["change_id"]}))
        assert twice["restored"] == [] and "already undone" in " ".join(twice["nothing_to_do"])
        again = ok(await client.call_tool("undo_change", {"change_id": undo["change_id"], "confirm": True}))
        assert again["complete"] is True and memberships(sandbox, ids.USER_DANA) == []


async def test_an_undo_leaves_a_membership_that_exists_again_alone(served: Open) -> None:
    async with served() as (client, sandbox):
        off = ok(
            await client.call_tool(
                "remove_user_from_projects",
                {"workspace_id": ENGINEERING, "user": "Chen Wei", "confirm": True},
            )
        )
        assert off["done"] == [ids.PROJECT_DATA_PIPELINE]
        # Someone made Chen a member of Data Pipeline again, in Toggl, with a rate of his own.
        sandbox.store.state.project_users[4899999] = ProjectUser(
            4899999, ENGINEERING, ids.PROJECT_DATA_PIPELINE, ids.USER_CHEN, rate=50.0
        )
        start = len(sandbox.request_log())
        undo = ok(await client.call_tool("undo_change", {"change_id": off["change_id"]}))
        assert undo["restored"] == [] and mutations(sandbox, start) == []
        assert undo["nothing_to_do"] == [
            f"Chen Wei ({ids.USER_CHEN}) is a direct member of Data Pipeline ({ids.PROJECT_DATA_PIPELINE}) again"
        ]
        assert memberships(sandbox, ids.USER_CHEN) == [(ids.PROJECT_DATA_PIPELINE, False, 50.0, None)]


async def test_a_forged_membership_record_is_never_undone(served: Open, tmp_path: Path) -> None:
    """Someone who can write the journal but not read its key plants a removal of a membership
    that would make Bianca a manager of API Platform with a rate: undo refuses it."""
    async with served() as (client, sandbox):
        await client.call_tool(
            "remove_user_from_projects",
            {"workspace_id": ENGINEERING, "user_id": ids.USER_CHEN, "confirm": True},
        )
        journal = tmp_path / "journal.jsonl"
        real = next(r for r in lines_of(journal) if r.get("type") == "intent")
        forged = {
            **{k: v for k, v in real.items() if k not in ("tag", "run")},
            "change_id": "cmxforged0001",
            "effect": {
                **real["effect"],
                "user_id": ids.USER_BIANCA,
                "user": "Bianca",
                "project_id": ids.PROJECT_API_PLATFORM,
                "manager": True,
                "rate": 500.0,
            },
        }
        tagged_copy = {  # a real tag on altered content, outside its run
            **{k: v for k, v in real.items() if k != "run"},
            "effect": forged["effect"],
            "change_id": "cmxforged0002",
        }
        plant(journal, forged, done("cmxforged0001"), tagged_copy, done("cmxforged0002"))
        start = len(sandbox.request_log())
        for change_id in ("cmxforged0001", "cmxforged0002"):
            text = error_text(
                await client.call_tool("undo_change", {"change_id": change_id, "confirm": True})
            )
            assert "cannot be undone" in text and "No change was sent to Toggl" in text, text
        assert mutations(sandbox, start) == []
        assert memberships(sandbox, ids.USER_BIANCA) == []
        listed = ok(await client.call_tool("list_changes", {}))["changes"]
        assert {
            c["change_id"]: c.get("verified") for c in listed if c["change_id"].startswith("cmxforged")
        } == {
            "cmxforged0001": False,
            "cmxforged0002": False,
        }


async def test_the_undo_re_adds_each_membership_with_exactly_what_it_carried(
    toggl: respx.MockRouter, connect: Connect, tmp_path: Path
) -> None:
    """Exact bodies: the manager flag always; a rate and a labor cost only where the person had
    their own, each applied from today ("start-today"), so past time entries keep their rates."""
    organization(toggl)
    toggl.delete(url__regex=rf"/workspaces/{WS}/project_users/\d+").respond(json=1)
    async with connect(journal_path=tmp_path / "journal.jsonl") as client:
        off = await client.call_tool(
            "remove_user_from_projects", {"organization_id": ORG, "user_id": ANN, "confirm": True}
        )
        change_id = (off.structured_content or {}).get("change_id")
        assert change_id, error_text(off)
        # Now Toggl answers that Ann is no longer a member of either project.
        now = toggl.get(
            f"/workspaces/{WS}/project_users", params={"project_ids": f"{WIKI},{PAYROLL}"}
        ).respond(json=[{"id": 700, "project_id": PAYROLL, "user_id": 8, "workspace_id": WS}])
        posts = toggl.post(f"/workspaces/{WS}/project_users").respond(json={"id": 777})
        undo = await client.call_tool("undo_change", {"change_id": change_id})
    data = undo.structured_content
    assert data is not None and data["complete"] is True, error_text(undo)
    assert now.call_count == 1  # the run's memberships read together
    assert [json.loads(c.request.content) for c in posts.calls] == [
        {"project_id": WIKI, "user_id": ANN, "manager": False},
        {
            "project_id": PAYROLL,
            "user_id": ANN,
            "manager": True,
            "rate": 95.0,
            "rate_change_mode": "start-today",
            "labor_cost": 60.0,
            "labor_cost_change_mode": "start-today",
        },
    ]
    assert data["restored"][1] == (
        "Ann Lee (7) is a direct member of Payroll (11) again, with manager, rate 95, labor cost 60 "
        "(applying from today; past time entries unchanged)"
    )
