"""What the journal and undo must keep doing, each pinned by a test that a plausible slip breaks:
a call cancelled mid-request is journaled as unknown (not done); an undo of an older change of a
group reaches the group an undo recreated; a created group's changes are found by its new id;
a name with a lone surrogate and an extreme `since` offset are answered, not a bare error.
Through a real MCP client, both protocol eras, Toggl mocked at the wire or the sandbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from mcp import Client
from pydantic import SecretStr

from tests.conftest import make_settings
from tests.test_undo import ok
from toggl_groups_mcp.journal import Journal
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG = ids.ORG_ACME
Open = Callable[..., AbstractAsyncContextManager[tuple[Client, Sandbox]]]


@pytest.fixture(params=["legacy", "auto"])
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.jsonl"


@pytest.fixture
def served(era: str, jpath: Path) -> Open:
    @asynccontextmanager
    async def open_() -> AsyncIterator[tuple[Client, Sandbox]]:
        async with running_sandbox(SandboxConfig()) as sb:
            settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url, journal_path=jpath)
            async with Client(build_server(settings), mode=era) as client:
                yield client, sb.sandbox

    return open_


def members(sandbox: Sandbox, name: str) -> list[int]:
    groups = sandbox.store.snapshot()["groups"]
    (group,) = [g for g in groups if g["name"] == name and g["organization_id"] == ORG]
    return sorted(group["user_ids"])


# -- a cancelled call ---------------------------------------------------------------------------------------


async def test_a_call_cancelled_while_its_request_is_in_flight_is_journaled_as_unknown(
    era: str, jpath: Path
) -> None:
    started, never = anyio.Event(), anyio.Event()
    settings = make_settings(organization_id=1, journal_path=jpath)

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await never.wait()
        raise AssertionError("unreachable")  # pragma: no cover

    with respx.mock(base_url=settings.api_url, assert_all_called=False) as toggl:
        toggl.post("/organizations/1/groups").mock(side_effect=hang)
        with anyio.fail_after(20):
            async with Client(build_server(settings), mode=era) as client:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(lambda: client.call_tool("create_group", {"name": "In Flight"}))
                    await started.wait()
                    tg.cancel_scope.cancel()
    # The server has shut down: every outcome it was going to write is written.
    (change,) = Journal(jpath).changes()
    assert change.tool == "create_group"
    assert (change.outcome, change.finished) == ("unknown", True)


# -- chained undo -------------------------------------------------------------------------------------------


async def test_undoing_a_member_change_after_undoing_the_groups_deletion_reaches_the_recreated_group(
    served: Open,
) -> None:
    async with served() as (client, sandbox):
        added = ok(
            await client.call_tool(
                "patch_group",
                {"organization_id": ORG, "group_id": ids.GROUP_DESIGNERS, "add_user_ids": [ids.USER_DANA]},
            )
        )
        deleted = ok(
            await client.call_tool(
                "delete_group", {"organization_id": ORG, "group_id": ids.GROUP_DESIGNERS, "confirm": True}
            )
        )
        ok(await client.call_tool("undo_change", {"change_id": deleted["change_id"], "confirm": True}))
        assert ids.USER_DANA in members(sandbox, "Designers")  # recreated as deleted, Dana in it
        undone = ok(await client.call_tool("undo_change", {"change_id": added["change_id"], "confirm": True}))
        assert undone["complete"] is True
        assert ids.USER_DANA not in members(sandbox, "Designers")
        assert members(sandbox, "Designers") == sorted([ids.USER_BIANCA, ids.USER_CHEN])


# -- list_changes by a created group's id ---------------------------------------------------------------


async def test_list_changes_by_the_id_of_a_group_this_server_created_lists_its_creation(served: Open) -> None:
    async with served() as (client, sandbox):
        created = ok(await client.call_tool("create_group", {"organization_id": ORG, "name": "Launch Team"}))
        (new_id,) = [
            g["id"]
            for g in sandbox.store.snapshot()["groups"]
            if g["name"] == "Launch Team" and g["organization_id"] == ORG
        ]
        ok(await client.call_tool("create_group", {"organization_id": ORG, "name": "Other Team"}))
        listed = ok(await client.call_tool("list_changes", {"group_id": new_id}))
    assert [(c["change_id"], c["tool"]) for c in listed["changes"]] == [
        (created["change_id"], "create_group")
    ]


# -- names with a lone surrogate, and extreme offsets ----------------------------------------------------


LONE = "\ud800x"


def toggl_group(name: str, users: list[int]) -> dict[str, Any]:
    return {
        "group_id": 77,
        "name": name,
        "at": "2026-03-01T10:00:00+00:00",
        "permissions": None,
        "users": [{"user_id": u, "name": f"User {u}", "inactive": False, "joined": True} for u in users],
        "workspaces": [],
    }


async def test_a_group_name_with_a_lone_surrogate_from_toggl_is_answered_journaled_and_listed(
    era: str, jpath: Path
) -> None:
    settings = make_settings(organization_id=1, journal_path=jpath)
    body = json.dumps([toggl_group(LONE, [11])])  # "\ud800x" as JSON escapes it: Toggl may send it
    with respx.mock(base_url=settings.api_url, assert_all_called=False) as toggl:
        toggl.get("/organizations/1/groups").respond(
            200, content=body, headers={"content-type": "application/json"}
        )
        toggl.patch("/organizations/1/groups/77").respond(200, json=[])
        toggl.get("/organizations/1/users").respond(200, json=[])
        async with Client(build_server(settings), mode=era) as client:
            # The client turns Toggl's lone surrogate into U+FFFD once, for every answer.
            patched = ok(await client.call_tool("patch_group", {"group_id": 77, "add_user_ids": [12]}))
            listed = ok(await client.call_tool("list_changes", {}))
            found = ok(await client.call_tool("list_groups", {}))
    assert "\ufffdx" in json.dumps(patched, ensure_ascii=False)
    assert [g["name"] for g in found["groups"]] == ["\ufffdx"]
    (change,) = Journal(jpath).changes()
    assert change.effect["name"] == "\ufffdx" and change.verified
    (line,) = listed["changes"]
    assert "\ufffdx" in line["summary"]


def test_a_lone_surrogate_in_a_record_is_written_as_valid_utf8_and_read_back(jpath: Path) -> None:
    journal = Journal(jpath)
    change_id = journal.begin(
        tool="t", arguments={"name": LONE}, effect={"kind": "group_created", "name": LONE}
    )
    jpath.read_bytes().decode("utf-8")  # every byte valid UTF-8
    (change,) = Journal(jpath).changes()
    # Written as U+FFFD (the journal's text is what Toggl's client hands on), and verified.
    assert change.change_id == change_id and change.effect["name"] == "\ufffdx" and change.verified


@pytest.mark.parametrize(
    ("since", "listed"),
    [
        ("0001-01-01T00:00:00+23:59", 1),  # before year 1 in UTC: everything is since then
        ("0001-01-01", 1),
        ("9999-12-31T23:59:59-23:59", 0),  # after year 9999 in UTC: nothing is
        ("9999-12-31T23:59:59.999999Z", 0),
    ],
)
async def test_list_changes_takes_a_since_at_either_end_of_the_calendar(
    served: Open, since: str, listed: int
) -> None:
    async with served() as (client, _):
        ok(await client.call_tool("create_group", {"organization_id": ORG, "name": "Launch Team"}))
        result = ok(await client.call_tool("list_changes", {"since": since}))
    assert result["total"] == listed
