"""The journal's integrity tags: undo acts only on records this server wrote.

Every record carries an HMAC-SHA256 tag keyed by `journal.jsonl.key` (0600, beside the journal).
A hand-written, altered, copied or replayed line is listed as not verified and never undone; a
forged step or outcome of a real change is ignored, so it cannot steer that change's undo. Driven
through a real MCP client (both protocol eras) on a server talking loopback HTTP to the sandbox.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from tests.conftest import make_settings, tool_error
from tests.test_undo import mutations, ok
from toggl_groups_mcp.journal import Journal
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG, DESIGN = ids.ORG_ACME, ids.WS_ACME_DESIGN
Open = Callable[..., AbstractAsyncContextManager[tuple[Client, Sandbox]]]


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.jsonl"


@pytest.fixture(params=["legacy", "auto"])
def served(request: pytest.FixtureRequest, jpath: Path) -> Open:
    """A client (no elicitation: confirm: true is the user's yes) of a journaling server on a
    fresh sandbox."""

    @asynccontextmanager
    async def open_() -> AsyncIterator[tuple[Client, Sandbox]]:
        async with running_sandbox(SandboxConfig()) as sb:
            settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url, journal_path=jpath)
            async with Client(build_server(settings), mode=request.param) as client:
                yield client, sb.sandbox

    return open_


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plant(path: Path, *records: dict[str, Any]) -> None:
    """What someone who can write the journal file, but not read its key, can do: append lines."""
    with path.open("a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def forged_intent(change_id: str, effect: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "type": "intent",
        "change_id": change_id,
        "time": "2026-12-01T10:00:00.000Z",
        "tool": "delete_group",
        "arguments": {},
        "organization_id": ORG,
        "workspace_id": None,
        "effect": effect,
        **more,
    }


def done(change_id: str, **result: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "outcome",
        "change_id": change_id,
        "time": "2026-12-01T10:00:01.000Z",
        "outcome": "done",
    }
    if result:
        record["result"] = result
    return record


FORGED_DELETE = {
    "kind": "group_deleted",
    "group_id": 999001,
    "name": "Backdoor",
    "users": [[ids.USER_DANA, "Dana Okafor"]],
    "workspaces": [[DESIGN, "Acme Design"]],
    "links": [
        {"workspace_id": DESIGN, "project_id": ids.PROJECT_BRAND_REFRESH, "project": "Brand Refresh"},
        {"workspace_id": DESIGN, "project_id": ids.PROJECT_WEBSITE_REDESIGN, "project": "Website Redesign"},
    ],
}
FORGED_CHANGE = {
    "kind": "group_changed",
    "group_id": ids.GROUP_DESIGNERS,
    "name": "Designers",
    "users_removed": [[ids.USER_DANA, "Dana Okafor"]],  # undone by adding Dana
}
FORGED_UNLINK = {
    "kind": "link_removed",
    "workspace_id": DESIGN,
    "project_id": ids.PROJECT_BRAND_REFRESH,
    "project": "Brand Refresh",
    "group_id": ids.GROUP_MANAGERS,
    "group": "Managers",
    "link_id": 1,
}


async def a_genuine_change(client: Client) -> dict[str, Any]:
    """A change this server made, so that the journal and its key exist."""
    return ok(await client.call_tool("create_group", {"organization_id": ORG, "name": "Launch Team"}))


@pytest.mark.parametrize(
    ("effect", "tag"),
    [
        (FORGED_DELETE, None),
        (FORGED_CHANGE, None),
        (FORGED_UNLINK, None),
        (FORGED_DELETE, "0" * 64),
        (FORGED_CHANGE, "f" * 64),
    ],
    ids=["delete-untagged", "change-untagged", "unlink-untagged", "delete-bad-tag", "change-bad-tag"],
)
async def test_a_hand_written_intent_is_refused_by_undo_and_nothing_is_sent(
    served: Open, jpath: Path, effect: dict[str, Any], tag: str | None
) -> None:
    async with served() as (client, sandbox):
        await a_genuine_change(client)
        record = forged_intent("cforged1", effect)
        if tag is not None:
            record["tag"] = tag
        plant(jpath, record, done("cforged1"))
        sent = len(sandbox.request_log())
        result = await client.call_tool("undo_change", {"change_id": "cforged1", "confirm": True})
        assert mutations(sandbox, sent) == []
    text = tool_error(result)
    assert "cforged1" in text and "integrity tag" in text and "No change was sent to Toggl" in text


async def test_list_changes_shows_an_unverified_record_as_such_and_a_genuine_one_plainly(
    served: Open, jpath: Path
) -> None:
    async with served() as (client, _):
        genuine = await a_genuine_change(client)
        plant(jpath, forged_intent("cforged1", FORGED_DELETE), done("cforged1"))
        listed = ok(await client.call_tool("list_changes", {}))["changes"]
    by_id = {line["change_id"]: line for line in listed}
    assert by_id["cforged1"]["verified"] is False
    assert "integrity tag" in by_id["cforged1"]["warning"]
    assert "verified" not in by_id[genuine["change_id"]]
    assert "warning" not in by_id[genuine["change_id"]]


async def test_a_genuine_record_copied_under_another_change_id_fails_its_tag(
    served: Open, jpath: Path
) -> None:
    async with served() as (client, sandbox):
        deleted = ok(
            await client.call_tool(
                "delete_group", {"organization_id": ORG, "group_id": ids.GROUP_DESIGNERS, "confirm": True}
            )
        )
        copies = [
            dict(r, change_id="ccopied1") for r in lines_of(jpath) if r["change_id"] == deleted["change_id"]
        ]
        plant(jpath, *copies)
        sent = len(sandbox.request_log())
        result = await client.call_tool("undo_change", {"change_id": "ccopied1", "confirm": True})
        assert mutations(sandbox, sent) == []
    assert "integrity tag does not match" in tool_error(result)


async def test_a_replayed_intent_line_is_suspicious_and_not_undone(served: Open, jpath: Path) -> None:
    async with served() as (client, sandbox):
        deleted = ok(
            await client.call_tool(
                "delete_group", {"organization_id": ORG, "group_id": ids.GROUP_DESIGNERS, "confirm": True}
            )
        )
        intent = next(r for r in lines_of(jpath) if r["change_id"] == deleted["change_id"])
        plant(jpath, intent)  # the very same line, tag and all, a second time
        sent = len(sandbox.request_log())
        result = await client.call_tool("undo_change", {"change_id": deleted["change_id"], "confirm": True})
        assert mutations(sandbox, sent) == []
        listed = ok(await client.call_tool("list_changes", {}))["changes"]
    assert "appears twice" in tool_error(result)
    (line,) = listed
    assert line["verified"] is False and line["outcome"] == "done"  # the first record stands


async def test_a_forged_outcome_cannot_point_the_undo_of_a_real_create_at_another_group(
    served: Open, jpath: Path
) -> None:
    async with served() as (client, sandbox):
        created = await a_genuine_change(client)
        made = next(g["id"] for g in sandbox.store.snapshot()["groups"] if g["name"] == "Launch Team")
        plant(jpath, done(created["change_id"], group_id=ids.GROUP_ENGINEERS))
        sent = len(sandbox.request_log())
        ok(await client.call_tool("undo_change", {"change_id": created["change_id"], "confirm": True}))
        assert mutations(sandbox, sent) == [("DELETE", f"/organizations/{ORG}/groups/{made}")]
        listed = ok(await client.call_tool("list_changes", {"tool": "create_group"}))["changes"]
    assert "1 later journal record(s)" in listed[0]["warning"] and "verified" not in listed[0]


async def test_a_forged_failed_outcome_does_not_stop_a_real_change_from_being_undone(
    served: Open, jpath: Path
) -> None:
    async with served() as (client, sandbox):
        created = await a_genuine_change(client)
        plant(jpath, dict(done(created["change_id"]), outcome="failed"))
        result = ok(
            await client.call_tool("undo_change", {"change_id": created["change_id"], "confirm": True})
        )
        assert not any(g["name"] == "Launch Team" for g in sandbox.store.snapshot()["groups"])
    assert result["complete"] is True and result["restored"]


async def test_a_forged_undo_does_not_make_a_real_change_look_undone(served: Open, jpath: Path) -> None:
    async with served() as (client, sandbox):
        created = await a_genuine_change(client)
        plant(
            jpath,
            forged_intent("cforgedundo", {"kind": "group_deleted"}, undoes=created["change_id"]),
            done("cforgedundo"),
        )
        listed = ok(await client.call_tool("list_changes", {"tool": "create_group"}))["changes"]
        assert "undone_by" not in listed[0]
        ok(await client.call_tool("undo_change", {"change_id": created["change_id"], "confirm": True}))
        assert not any(g["name"] == "Launch Team" for g in sandbox.store.snapshot()["groups"])


async def test_a_forged_item_slipped_into_a_real_bulk_run_is_left_out_of_its_undo(
    served: Open, jpath: Path
) -> None:
    projects = [ids.PROJECT_BRAND_REFRESH, ids.PROJECT_WEBSITE_REDESIGN]
    async with served() as (client, sandbox):
        run = ok(
            await client.call_tool(
                "add_group_to_projects",
                {"workspace_id": DESIGN, "group_id": ids.GROUP_MANAGERS, "project_ids": projects},
            )
        )
        plant(jpath, forged_intent("cforged2", FORGED_DELETE, run=run["change_id"]), done("cforged2"))
        sent = len(sandbox.request_log())
        undone = ok(await client.call_tool("undo_change", {"change_id": run["change_id"], "confirm": True}))
        assert [m for m in mutations(sandbox, sent) if m[0] != "DELETE"] == []  # no group made
        assert len(mutations(sandbox, sent)) == 2  # the two real links removed
    assert any("cforged2 was not undone" in note for note in undone["nothing_to_do"])


async def test_records_written_before_tags_are_listed_but_not_undone(served: Open, jpath: Path) -> None:
    jpath.parent.mkdir(mode=0o700)
    plant(
        jpath,
        forged_intent("cold1", {**FORGED_DELETE, "name": "Old Times"}),  # an old server's line
        done("cold1"),
    )
    async with served() as (client, sandbox):
        listed = ok(await client.call_tool("list_changes", {}))["changes"]
        sent = len(sandbox.request_log())
        result = await client.call_tool("undo_change", {"change_id": "cold1", "confirm": True})
        assert mutations(sandbox, sent) == []
    assert listed[0]["change_id"] == "cold1" and listed[0]["verified"] is False
    assert "written before" in listed[0]["warning"]
    assert "no integrity tag" in tool_error(result)


# -- the tag and the key, on disk -------------------------------------------------------------------


def test_every_record_is_tagged_over_its_whole_content_and_the_key_is_not_in_the_journal(
    jpath: Path,
) -> None:
    journal = Journal(jpath)
    change_id = journal.begin(tool="t", arguments={"a": 1}, effect={"kind": "link_added"})
    journal.step(change_id, {"group_id": 5})
    journal.finish(change_id, "done")
    key = journal.key_path.read_text().strip()
    assert journal.key_path == jpath.with_name("journal.jsonl.key")
    assert stat.S_IMODE(journal.key_path.stat().st_mode) == 0o600 and len(bytes.fromhex(key)) == 32
    assert key not in jpath.read_text()
    records = lines_of(jpath)
    assert [r["type"] for r in records] == ["intent", "step", "outcome"]
    assert all(len(r["tag"]) == 64 for r in records)
    (change,) = Journal(jpath).changes()
    assert change.verified and change.steps == [{"group_id": 5}] and change.outcome == "done"
    # One changed value anywhere in a record, and its tag no longer matches.
    altered = [dict(r, time="2026-01-01T00:00:00.000Z") if r["type"] == "step" else r for r in records]
    jpath.write_text("".join(json.dumps(r) + "\n" for r in altered))
    (change,) = Journal(jpath).changes()
    assert change.verified and change.steps == [] and change.ignored == 1


def test_a_key_file_that_others_can_read_is_refused(jpath: Path) -> None:
    journal = Journal(jpath)
    journal.begin(tool="t", arguments={}, effect={})
    os.chmod(journal.key_path, 0o640)
    with pytest.raises(OSError, match="can be read by group or others"):
        Journal(jpath).changes()


def test_a_journal_whose_key_is_gone_lists_its_changes_as_unverified(jpath: Path) -> None:
    journal = Journal(jpath)
    journal.finish(journal.begin(tool="t", arguments={}, effect={}), "done")
    journal.key_path.unlink()
    (change,) = Journal(jpath, lazy=True).changes()
    assert not change.verified and change.trouble == "no-key"
