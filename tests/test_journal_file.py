"""The change journal as a file: what is on disk, when, with which permissions, and what never is.

Unit tests on `Journal`, and through a real in-memory MCP client (both protocol eras) on a server
talking loopback HTTP to the embedded sandbox: the intent is on disk before Toggl sees the request,
each outcome (done, failed with Toggl's words, unknown when the answer was lost) follows, a crash
mid-write costs one line and no more, rotation keeps what `list_changes` needs, and the token never
gets in. Nothing here writes outside pytest's tmp_path: HOME and XDG_STATE_HOME point into it
wherever a default path could be taken.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import respx
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

import toggl_groups_mcp.__main__ as cli
from tests.conftest import BASE, CANARY_TOKEN, make_settings
from toggl_groups_mcp import journal as journal_module
from toggl_groups_mcp.config import Settings, default_journal_path
from toggl_groups_mcp.journal import Change, Journal
from toggl_groups_mcp.sandbox import RunningSandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

BASIC = base64.b64encode(f"{CANARY_TOKEN}:api_token".encode()).decode()
FORBIDDEN = (CANARY_TOKEN, BASIC)
JOURNAL_TOOLS = {"list_changes", "undo_change"}
DESIGNERS_PATH = f"/api/v9/organizations/{ids.ORG_ACME}/groups/{ids.GROUP_DESIGNERS}"
# What deleting Designers loses, in the demo data: the journal must hold all of it beforehand.
DESIGNERS_EFFECT = {
    "kind": "group_deleted",
    "group_id": ids.GROUP_DESIGNERS,
    "name": "Designers",
    "users": [[ids.USER_BIANCA, "Bianca Reyes"], [ids.USER_CHEN, "Chen Wei"]],
    "workspaces": [[ids.WS_ACME_DESIGN, "Acme Design"]],
    "links": [
        {
            "workspace_id": ids.WS_ACME_DESIGN,
            "project_id": ids.PROJECT_BRAND_REFRESH,
            "project": "Brand Refresh",
            "link_id": 4700101,
        },
        {
            "workspace_id": ids.WS_ACME_DESIGN,
            "project_id": ids.PROJECT_STUDIO_HANDBOOK,
            "project": "Studio Handbook",
            "link_id": ids.LINK_DESIGNERS_HANDBOOK,
        },
        {
            "workspace_id": ids.WS_ACME_DESIGN,
            "project_id": ids.PROJECT_WEBSITE_REDESIGN,
            "project": "Website Redesign",
            "link_id": 4700102,
        },
    ],
}


# -- helpers -----------------------------------------------------------------------------------------


def lines_of(path: Path) -> list[dict[str, Any]]:
    """Every record of one journal file; each line must parse."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def kinds(path: Path) -> list[tuple[str, str]]:
    return [(r["type"], r["change_id"]) for r in lines_of(path)]


def journal_files(path: Path) -> list[Path]:
    """The journal and its rotated files, whatever exists, by name (not the lock or key file)."""
    return sorted(
        p
        for p in path.parent.iterdir()
        if p.name.startswith(path.name) and not p.name.endswith((".lock", ".key"))
    )


def all_text(path: Path) -> str:
    return "\n".join(p.read_text() for p in journal_files(path))


def by_id(journal: Journal) -> dict[str, Change]:
    return {c.change_id: c for c in journal.changes()}


def ok(result: CallToolResult) -> dict[str, Any]:
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def error_of(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return "\n".join(getattr(block, "text", "") for block in result.content)


def mode_of(file: Path) -> int:
    return stat.S_IMODE(file.stat().st_mode)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


class OsSpy:
    """The journal module's `os`, with `write` and `fsync` observed (everything else is os)."""

    def __init__(self) -> None:
        self.fsynced: list[str] = []  # the journal file's whole text at each fsync of it
        self.synced_paths: list[str] = []  # every path fsynced, folders included
        self.short_write_once = False
        self.writes = 0
        self.disk_full_at: int | None = None  # the n-th write (1-based) fails with ENOSPC
        self.paths: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        fd = os.open(path, flags, mode)
        self.paths[fd] = os.fspath(path)
        return fd

    def write(self, fd: int, data: bytes) -> int:
        self.writes += 1
        if self.writes == self.disk_full_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.short_write_once and len(data) > 1:
            self.short_write_once = False
            return os.write(fd, data[: len(data) // 2])  # a short write, as on a nearly full disk
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)
        path = Path(self.paths[fd])
        self.synced_paths.append(str(path))
        if path.is_file() and ".key" not in path.name:  # the journal's text, not its key's
            self.fsynced.append(path.read_text())


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> OsSpy:
    watcher = OsSpy()
    monkeypatch.setattr(journal_module, "os", watcher)
    return watcher


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and XDG_STATE_HOME in tmp_path: a default journal path can only land in here."""
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "state"))
    monkeypatch.delenv("TOGGL_MCP_JOURNAL", raising=False)
    return root


@pytest.fixture(params=["legacy", "auto"])
def era(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2025-11-25 with initialize, and the stateless 2026-07-28."""
    return str(request.param)


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.jsonl"


Serve = Callable[..., Any]


@pytest.fixture
def served(era: str) -> Serve:
    """served(journal_path, config=None, **settings): (client, running sandbox) on a fresh sandbox."""

    @asynccontextmanager
    async def open_(
        journal_path: Path | None, config: SandboxConfig | None = None, **settings: Any
    ) -> AsyncIterator[tuple[Client, RunningSandbox]]:
        async with running_sandbox(config or SandboxConfig()) as sb:
            async with connect_to(sb, journal_path, era, **settings) as client:
                yield client, sb

    return open_


@asynccontextmanager
async def connect_to(
    sb: RunningSandbox, journal_path: Path | None, era: str, **settings: Any
) -> AsyncIterator[Client]:
    values: dict[str, Any] = {
        "api_token": SecretStr(sb.token),
        "api_url": sb.url,
        "journal_path": journal_path,
        **settings,
    }
    with anyio.fail_after(30):
        async with Client(build_server(make_settings(**values)), mode=era) as client:
            yield client


async def delete_designers(client: Client) -> CallToolResult:
    return await client.call_tool(
        "delete_group", {"group_id": ids.GROUP_DESIGNERS, "organization_id": ids.ORG_ACME, "confirm": True}
    )


async def create(client: Client, name: str) -> dict[str, Any]:
    return ok(
        await client.call_tool(
            "create_group",
            {"organization_id": ids.ORG_ACME, "name": name, "user_ids": [ids.USER_DANA]},
        )
    )


async def list_changes(client: Client, **arguments: Any) -> dict[str, Any]:
    return ok(await client.call_tool("list_changes", arguments))


# -- records and their order on disk --------------------------------------------------------------------


def test_intent_steps_and_outcome_are_one_json_line_each_and_read_back_as_one_change(jpath: Path) -> None:
    journal = Journal(jpath)
    change_id = journal.begin(
        tool="update_group",
        arguments={"group_id": 5, "name": "New", "user_ids": None},
        effect={"kind": "group_changed", "group_id": 5, "renamed": ["Old", "New"]},
        organization_id=7,
        run="crun",
    )
    journal.step(change_id, {"group_id": 5})
    journal.finish(change_id, "partial", message="Toggl refused one", result={"failed_ops": []})
    raw = jpath.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 3
    intent, step, outcome = lines_of(jpath)
    assert intent["type"] == "intent" and intent["tool"] == "update_group"
    assert intent["arguments"] == {"group_id": 5, "name": "New"}  # None left out
    assert (intent["organization_id"], intent["workspace_id"], intent["run"]) == (7, None, "crun")
    assert step == {
        "type": "step",
        "change_id": change_id,
        "time": step["time"],
        "result": {"group_id": 5},
        "tag": step["tag"],
    }
    assert all(len(record["tag"]) == 64 for record in (intent, step, outcome))
    assert (outcome["type"], outcome["outcome"], outcome["message"]) == (
        "outcome",
        "partial",
        "Toggl refused one",
    )
    assert outcome["result"] == {"failed_ops": []}
    (change,) = Journal(jpath).changes()
    assert (change.change_id, change.outcome, change.finished) == (change_id, "partial", True)
    assert change.effect["renamed"] == ["Old", "New"] and change.steps == [{"group_id": 5}]
    assert change.message == "Toggl refused one" and change.run == "crun"


def test_a_change_without_an_outcome_reads_as_unknown_and_unfinished(jpath: Path) -> None:
    journal = Journal(jpath)
    done = journal.begin(tool="t", arguments={}, effect={"kind": "link_added"})
    journal.finish(done, "done")
    lost = journal.begin(tool="t", arguments={}, effect={"kind": "link_added"})
    changes = by_id(Journal(jpath))
    assert (changes[done].outcome, changes[done].finished) == ("done", True)
    assert (changes[lost].outcome, changes[lost].finished) == ("unknown", False)


def test_begin_returns_only_after_the_intent_is_written_and_fsynced(jpath: Path, spy: OsSpy) -> None:
    journal = Journal(jpath)
    change_id = journal.begin(
        tool="delete_group", arguments={"group_id": 1}, effect={"kind": "group_deleted"}
    )
    assert spy.fsynced, "begin returned without an fsync"
    assert f'"change_id":"{change_id}"' in spy.fsynced[-1]
    assert spy.fsynced[-1].endswith("\n")
    journal.finish(change_id, "done")
    assert len(spy.fsynced) == 2  # one fsync per record
    assert '"outcome":"done"' in spy.fsynced[-1]


def test_creating_or_rotating_a_file_fsyncs_the_folder_too(jpath: Path, spy: OsSpy) -> None:
    journal = Journal(jpath, max_bytes=1, keep=2)
    journal.begin(tool="t", arguments={}, effect={})  # the first record of a new file
    assert str(jpath.parent) in spy.synced_paths
    spy.synced_paths.clear()
    journal.begin(tool="t", arguments={}, effect={})  # a rename, then a new file
    assert str(jpath.parent) in spy.synced_paths


# -- through the server: intent before the request, then the outcome ------------------------------------


async def test_the_intent_is_on_disk_before_toggl_receives_the_delete(served: Serve, jpath: Path) -> None:
    seen_at_delete: list[list[dict[str, Any]]] = []
    async with served(jpath) as (client, sb):
        log_request = sb.sandbox.log_request

        def on_request(method: str, path: str, query: bytes, body: bytes) -> dict[str, Any]:
            if method == "DELETE":
                assert path == DESIGNERS_PATH
                # Read from disk, as another process would, the moment Toggl has the request.
                seen_at_delete.append([r for f in journal_files(jpath) for r in lines_of(f)])
            return log_request(method, path, query, body)

        sb.sandbox.log_request = on_request  # type: ignore[method-assign]
        deleted = ok(await delete_designers(client))
    assert len(seen_at_delete) == 1
    records = seen_at_delete[0]
    assert [r["type"] for r in records] == ["intent"]  # no outcome yet
    (intent,) = records
    assert intent["change_id"] == deleted["change_id"]
    assert intent["tool"] == "delete_group" and intent["organization_id"] == ids.ORG_ACME
    assert intent["effect"] == DESIGNERS_EFFECT
    after = lines_of(jpath)
    assert [r["type"] for r in after] == ["intent", "outcome"]
    assert after[1]["outcome"] == "done" and after[1]["change_id"] == deleted["change_id"]
    assert "message" not in after[1]


async def test_the_intent_was_fsynced_before_the_delete_left(served: Serve, jpath: Path, spy: OsSpy) -> None:
    order: list[str] = []
    async with served(jpath) as (client, sb):
        log_request = sb.sandbox.log_request

        def on_request(method: str, path: str, query: bytes, body: bytes) -> dict[str, Any]:
            if method == "DELETE":
                order.append(f"DELETE after {len(spy.fsynced)} fsync(s)")
            return log_request(method, path, query, body)

        sb.sandbox.log_request = on_request  # type: ignore[method-assign]
        ok(await delete_designers(client))
    assert order == ["DELETE after 1 fsync(s)"]
    assert '"tool":"delete_group"' in spy.fsynced[0] and '"type":"outcome"' not in spy.fsynced[0]


async def test_a_refusal_before_anything_is_sent_leaves_no_record(served: Serve, jpath: Path) -> None:
    async with served(jpath) as (client, _):
        # Globex's Designers, asked for in Acme: the server finds no such group and sends nothing.
        result = await client.call_tool(
            "delete_group",
            {"group_id": ids.GROUP_GLOBEX_DESIGNERS, "organization_id": ids.ORG_ACME, "confirm": True},
        )
        assert "no group" in error_of(result)
        assert (await list_changes(client))["changes"] == []
    assert Journal(jpath).changes() == []


async def test_a_4xx_from_toggl_is_a_failed_outcome_with_toggls_message(served: Serve, jpath: Path) -> None:
    async with served(jpath) as (client, sb):
        # A group of another organization: Toggl (the sandbox's own rules) refuses the link.
        linked = await client.call_tool(
            "add_project_group",
            {
                "workspace_id": ids.WS_ACME_DESIGN,
                "project_id": ids.PROJECT_BRAND_REFRESH,
                "group_id": ids.GROUP_GLOBEX_DESIGNERS,
            },
        )
        assert "Group not found" in error_of(linked)
        sb.sandbox.faults.fail_next(status=400, method="DELETE", message="Unknown group at organization")
        assert "Unknown group at organization" in error_of(await delete_designers(client))
        listed = {c["tool"]: c for c in (await list_changes(client))["changes"]}
    link, delete = (by_tool(Journal(jpath))[t] for t in ("add_project_group", "delete_group"))
    assert (link.outcome, delete.outcome) == ("failed", "failed")
    assert link.message is not None and "Group not found" in link.message and "400" in link.message
    assert delete.message is not None and "Unknown group at organization" in delete.message
    assert delete.effect == DESIGNERS_EFFECT  # the intent is whole, though nothing happened
    assert listed["add_project_group"]["outcome"] == listed["delete_group"]["outcome"] == "failed"
    assert ids.GROUP_DESIGNERS in {g["id"] for g in sb.sandbox.store.snapshot()["groups"]}


def by_tool(journal: Journal) -> dict[str, Change]:
    return {c.tool: c for c in journal.changes()}


async def test_an_answer_lost_after_toggl_applied_the_post_is_an_unknown_outcome(
    served: Serve, jpath: Path
) -> None:
    async with served(jpath) as (client, sb):
        sb.sandbox.faults.drop_next(method="POST", after_apply=True)
        result = await client.call_tool(
            "add_project_group",
            {
                "workspace_id": ids.WS_ACME_ENGINEERING,
                "project_id": ids.PROJECT_DATA_PIPELINE,
                "group_id": ids.GROUP_ENGINEERS,
            },
        )
        error_of(result)
        (line,) = (await list_changes(client))["changes"]
        applied = {(x["project_id"], x["group_id"]) for x in sb.sandbox.store.snapshot()["project_groups"]}
    assert (ids.PROJECT_DATA_PIPELINE, ids.GROUP_ENGINEERS) in applied  # it did happen
    (change,) = Journal(jpath).changes()
    assert (change.outcome, change.finished) == ("unknown", True)
    assert change.message is not None and "POST" in change.message
    assert line["outcome"] == "unknown"


async def test_a_create_whose_answer_was_lost_is_checked_and_recorded_as_what_happened(
    served: Serve, jpath: Path
) -> None:
    async with served(jpath) as (client, sb):
        # Dropped before Toggl applied it: the follow-up GET finds no such group.
        sb.sandbox.faults.drop_next(method="POST", path=f"/organizations/{ids.ORG_ACME}/groups")
        lost = await client.call_tool("create_group", {"organization_id": ids.ORG_ACME, "name": "Never Made"})
        assert "was not created (checked afterwards)" in error_of(lost)
        # Dropped after Toggl applied it: the follow-up GET finds it.
        sb.sandbox.faults.drop_next(
            method="POST", path=f"/organizations/{ids.ORG_ACME}/groups", after_apply=True
        )
        made = await client.call_tool(
            "create_group", {"organization_id": ids.ORG_ACME, "name": "Made Anyway"}
        )
        assert not made.is_error
    never, anyway = Journal(jpath).changes()
    assert (never.outcome, never.finished) == ("failed", True)
    assert (anyway.outcome, anyway.result) == (
        "done",
        {"group_id": made.structured_content["group"]["group_id"]},
    )


async def test_a_delete_whose_every_attempt_lost_its_answer_is_unknown(served: Serve, jpath: Path) -> None:
    async with served(jpath) as (client, sb):
        # DELETE is retried twice after a lost answer: lose all three.
        sb.sandbox.faults.drop_next(3, method="DELETE", after_apply=True)
        error_of(await delete_designers(client))
        deletes = [r for r in sb.sandbox.request_log() if r["method"] == "DELETE"]
    assert [r["fault"] for r in deletes] == ["dropped_after_apply"] * 3
    (change,) = Journal(jpath).changes()
    assert (change.outcome, change.finished) == ("unknown", True)
    assert change.effect == DESIGNERS_EFFECT


async def test_a_timeout_after_toggl_received_the_post_is_an_unknown_outcome(
    served: Serve, jpath: Path
) -> None:
    async with served(jpath, timeout=0.3) as (client, sb):
        app = sb.sandbox.app
        dispatch = app._dispatch
        go_on = anyio.Event()

        async def slow(scope: Any, body: bytes) -> Any:
            if scope["method"] == "POST":
                await go_on.wait()  # Toggl got it, and answers after the client gave up
            return await dispatch(scope, body)

        app._dispatch = slow  # type: ignore[method-assign]
        try:
            result = await client.call_tool(
                "add_project_group",
                {
                    "workspace_id": ids.WS_ACME_ENGINEERING,
                    "project_id": ids.PROJECT_DATA_PIPELINE,
                    "group_id": ids.GROUP_ENGINEERS,
                },
            )
        finally:
            go_on.set()
        assert "did not answer" in error_of(result)
    (change,) = Journal(jpath).changes()
    assert (change.outcome, change.finished) == ("unknown", True)
    assert change.message is not None and "in time" in change.message


async def test_every_mutating_result_carries_the_change_id_it_was_journaled_under(
    served: Serve, jpath: Path
) -> None:
    async with served(jpath) as (client, _):
        made = await create(client, "Journal Probe")
        run = ok(
            await client.call_tool(
                "add_group_to_projects",
                {
                    "workspace_id": ids.WS_ACME_ENGINEERING,
                    "group_id": ids.GROUP_DESIGNERS,
                    "project_ids": [ids.PROJECT_API_PLATFORM, ids.PROJECT_DATA_PIPELINE],
                },
            )
        )
        listed = (await list_changes(client))["changes"]
    changes = Journal(jpath).changes()
    assert [c.tool for c in changes] == ["create_group", "add_group_to_projects", "add_group_to_projects"]
    assert made["change_id"] == changes[0].change_id and changes[0].result == {
        "group_id": made["group"]["group_id"]
    }
    assert {c.run for c in changes[1:]} == {run["change_id"]}
    assert [c.outcome for c in changes] == ["done"] * 3
    assert [line["change_id"] for line in listed] == [run["change_id"], made["change_id"]]
    assert [i["outcome"] for i in listed[0]["items"]] == ["done", "done"]


# -- when the journal cannot be written ---------------------------------------------------------------


def mutations(sb: RunningSandbox) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in sb.sandbox.request_log() if r["method"] != "GET"]


async def test_when_the_intent_cannot_be_written_nothing_is_sent(
    served: Serve, jpath: Path, spy: OsSpy
) -> None:
    async with served(jpath) as (client, sb):
        spy.disk_full_at = spy.writes + 1
        result = await client.call_tool(
            "create_group", {"organization_id": ids.ORG_ACME, "name": "Disk Full"}
        )
        assert result.is_error
        assert mutations(sb) == []  # no intent on disk, no request
    assert Journal(jpath).changes() == []


async def test_when_the_intent_cannot_be_written_the_error_says_why(
    served: Serve, jpath: Path, spy: OsSpy
) -> None:
    async with served(jpath) as (client, _):
        spy.disk_full_at = spy.writes + 1
        result = await client.call_tool(
            "create_group", {"organization_id": ids.ORG_ACME, "name": "Disk Full"}
        )
    text = error_of(result)
    assert text.strip() != "Error executing tool create_group"
    assert "journal" in text.lower()


async def test_when_the_outcome_cannot_be_written_the_change_is_still_reported(
    served: Serve, jpath: Path, spy: OsSpy
) -> None:
    async with served(jpath) as (client, sb):
        spy.disk_full_at = spy.writes + 2  # the intent is written, the outcome is not
        result = await client.call_tool(
            "create_group", {"organization_id": ids.ORG_ACME, "name": "Half Done"}
        )
        made = [g["id"] for g in sb.sandbox.store.snapshot()["groups"] if g["name"] == "Half Done"]
    assert len(made) == 1  # Toggl did create it
    (change,) = Journal(jpath).changes()
    assert change.outcome == "unknown"  # as the journal tells it: no outcome
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert str(made[0]) in text, f"the call hides that group {made[0]} was created: {text!r}"


def test_reading_while_another_thread_rotates_does_not_fail(jpath: Path) -> None:
    journal = Journal(jpath, max_bytes=1, keep=2)
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            journal.finish(journal.begin(tool="t", arguments={}, effect={}), "done")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            journal.changes()
    finally:
        stop.set()
        writer.join()


def _append_many(path: str, tag: str, count: int) -> None:
    """One process of the test below: `count` changes, each an intent and an outcome."""
    journal = Journal(Path(path), max_bytes=6_000, keep=1_000)
    for n in range(count):
        change_id = journal.begin(tool=tag, arguments={"n": n, "pad": "x" * 150}, effect={"kind": "t"})
        journal.finish(change_id, "done")


def test_processes_sharing_one_journal_lose_and_tear_no_record(
    jpath: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Workers of a team server append to one file: with rotations every few records, racing
    processes must neither interleave lines nor rotate each other's records away."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    count, tags = 150, ["w0", "w1", "w2", "w3"]
    workers = [spawn.Process(target=_append_many, args=(str(jpath), tag, count)) for tag in tags]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp.journal"):
        changes = Journal(jpath, max_bytes=6_000, keep=1_000).changes()
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert len(journal_files(jpath)) > 20  # it did rotate, many times
    for tag in tags:
        mine = [c for c in changes if c.tool == tag]
        assert sorted(c.arguments["n"] for c in mine) == list(range(count))
        assert all(c.outcome == "done" for c in mine)


# -- a crash mid-write ----------------------------------------------------------------------------------


def torn(journal: Journal, change_id: str) -> None:
    """What a crash in the middle of writing the outcome leaves: half a line, no newline."""
    line = json.dumps({"type": "outcome", "change_id": change_id, "time": "2026-01-01T00:00:00.000Z"})
    with journal.path.open("ab") as handle:
        handle.write(line[: len(line) // 2].encode())


def test_a_truncated_last_line_is_skipped_with_a_warning(
    jpath: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(jpath)
    first = journal.begin(tool="create_group", arguments={"name": "A"}, effect={"kind": "group_created"})
    journal.finish(first, "done", result={"group_id": 1})
    second = journal.begin(tool="delete_group", arguments={"group_id": 1}, effect={"kind": "group_deleted"})
    torn(journal, second)
    with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp.journal"):
        changes = by_id(Journal(jpath))
    assert list(changes) == [first, second]
    assert (changes[first].outcome, changes[first].result) == ("done", {"group_id": 1})
    assert (changes[second].outcome, changes[second].finished) == ("unknown", False)
    warnings = [r for r in caplog.records if r.name == "toggl_groups_mcp.journal"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "line 4" in warnings[0].getMessage() and str(jpath) in warnings[0].getMessage()


def test_a_truncated_multibyte_character_is_skipped_too(
    jpath: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(jpath)
    kept = journal.begin(tool="create_group", arguments={"name": "Équipe"}, effect={"kind": "group_created"})
    with jpath.open("ab") as handle:
        handle.write('{"type":"intent","change_id":"cx","tool":"É'.encode()[:-1])  # half of É
    with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp.journal"):
        assert [c.change_id for c in Journal(jpath).changes()] == [kept]
    assert any("does not parse" in r.getMessage() for r in caplog.records)


def test_the_first_record_after_a_truncated_line_is_not_lost(jpath: Path) -> None:
    journal = Journal(jpath)
    crashed = journal.begin(tool="delete_group", arguments={}, effect={"kind": "group_deleted"})
    torn(journal, crashed)
    restarted = Journal(jpath)  # the server starting again on the same journal
    after = restarted.begin(tool="create_group", arguments={"name": "B"}, effect={"kind": "group_created"})
    restarted.finish(after, "done")
    changes = by_id(Journal(jpath))
    assert after in changes, "the intent written after the torn line was lost"
    assert changes[after].outcome == "done"
    assert changes[crashed].outcome == "unknown"
    assert len(jpath.read_text().splitlines()) == 4  # the torn fragment ends up a line of its own


def test_a_short_write_does_not_leave_half_an_intent(jpath: Path, spy: OsSpy) -> None:
    journal = Journal(jpath)
    spy.short_write_once = True
    try:
        change_id = journal.begin(tool="delete_group", arguments={}, effect={"kind": "group_deleted"})
    except OSError:
        return  # refusing to go on is fine too: nothing would be sent
    assert not spy.short_write_once  # the short write did happen
    assert change_id in by_id(Journal(jpath)), "begin() returned, but its intent is not on disk"
    assert jpath.read_bytes().count(b"\n") == 1


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"outcome","change_id":"%s","outcome":"done","result":"not an object"}',
        '{"type":"step","change_id":"%s","result":"not an object"}',
        '{"type":"intent","change_id":"%s","arguments":"not an object","effect":{}}',
        '["a list", "%s"]',
        '{"type":"outcome","change_id":null}',
    ],
    ids=["outcome-result", "step-result", "intent-arguments", "list", "no-id"],
)
def test_a_well_formed_line_of_the_wrong_shape_is_skipped_not_fatal(
    jpath: Path, line: str, request: pytest.FixtureRequest
) -> None:
    journal = Journal(jpath)
    kept = journal.begin(tool="t", arguments={}, effect={"kind": "group_created"})
    with jpath.open("a") as handle:
        handle.write((line % kept if "%s" in line else line) + "\n")
    assert kept in by_id(Journal(jpath))


async def test_a_server_on_a_journal_with_a_torn_line_starts_and_lists_what_is_whole(
    served: Serve, jpath: Path, caplog: pytest.LogCaptureFixture, era: str
) -> None:
    async with served(jpath) as (client, sb):
        made = await create(client, "Before The Crash")
        journal = Journal(jpath)
        crashed = journal.begin(
            tool="delete_group",
            arguments={"group_id": made["group"]["group_id"]},
            effect={
                "kind": "group_deleted",
                "group_id": made["group"]["group_id"],
                "name": "Before The Crash",
            },
            organization_id=ids.ORG_ACME,
        )
        torn(journal, crashed)
        with caplog.at_level(logging.WARNING, logger="toggl_groups_mcp.journal"):
            async with connect_to(sb, jpath, era) as restarted:
                tools = {t.name for t in (await restarted.list_tools()).tools}
                assert JOURNAL_TOOLS <= tools
                listed = (await list_changes(restarted))["changes"]
    assert [(c["change_id"], c["outcome"]) for c in listed] == [
        (crashed, "unknown"),
        (made["change_id"], "done"),
    ]
    assert any("does not parse" in r.getMessage() for r in caplog.records)


async def test_a_change_made_after_restarting_on_a_torn_journal_is_listed(served: Serve, jpath: Path) -> None:
    # The journal a crashed server left, then a new server on it.
    journal = Journal(jpath)
    crashed = journal.begin(tool="delete_group", arguments={}, effect={"kind": "group_deleted"})
    torn(journal, crashed)
    async with served(jpath) as (client, _):
        made = await create(client, "After The Crash")
        listed = [c["change_id"] for c in (await list_changes(client))["changes"]]
    assert listed[-1] == crashed
    assert made["change_id"] in listed


# -- rotation ---------------------------------------------------------------------------------------------


def test_rotation_keeps_at_most_keep_older_files_and_reads_them_oldest_first(jpath: Path) -> None:
    journal = Journal(jpath, max_bytes=1, keep=3)  # every record after the first in a file rotates
    made = []
    for n in range(5):
        change_id = journal.begin(tool="t", arguments={"n": n}, effect={"kind": "group_created"})
        journal.finish(change_id, "done")
        made.append(change_id)
        assert len(journal_files(jpath)) <= 4
    names = [p.name for p in journal_files(jpath)]
    assert names == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2", "journal.jsonl.3"]
    assert [len(lines_of(p)) for p in journal_files(jpath)] == [1, 1, 1, 1]
    # One record a file, newest in the current one; .3 the oldest kept.
    assert [kinds(p) for p in journal.files()] == [
        [("intent", made[3])],
        [("outcome", made[3])],
        [("intent", made[4])],
        [("outcome", made[4])],
    ]
    assert journal.files() == [jpath.with_name(f"journal.jsonl.{i}") for i in (3, 2, 1)] + [jpath]
    changes = Journal(jpath, keep=3).changes()
    assert [(c.change_id, c.outcome) for c in changes] == [(made[3], "done"), (made[4], "done")]


def test_rotation_by_size_keeps_each_file_under_the_limit(jpath: Path) -> None:
    journal = Journal(jpath, max_bytes=1_000, keep=2)
    for n in range(40):
        change_id = journal.begin(tool="t", arguments={"n": n}, effect={"kind": "group_created"})
        journal.finish(change_id, "done")
    files = journal_files(jpath)
    assert [p.name for p in files] == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2"]
    assert all(p.stat().st_size <= 1_000 for p in files)
    records = [r for p in journal.files() for r in lines_of(p)]
    assert records[-1]["type"] == "outcome"
    numbers = [r["arguments"]["n"] for r in records if r["type"] == "intent"]
    assert numbers == sorted(numbers) and numbers[-1] == 39  # oldest first, nothing reordered


async def test_list_changes_reads_changes_whose_records_live_in_rotated_files(
    served: Serve, jpath: Path
) -> None:
    async with served(jpath, journal_max_bytes=1, journal_keep=10) as (client, _):
        first = await create(client, "Rotated One")
        second = await create(client, "Rotated Two")
        run = ok(
            await client.call_tool(
                "add_group_to_projects",
                {
                    "workspace_id": ids.WS_ACME_ENGINEERING,
                    "group_id": second["group"]["group_id"],
                    "project_ids": [ids.PROJECT_API_PLATFORM, ids.PROJECT_DATA_PIPELINE],
                },
            )
        )
        listed = (await list_changes(client))["changes"]
    files = Journal(jpath, keep=10).files()
    assert len(files) == 8 and files[-1] == jpath  # one record a file
    last_item = lines_of(files[-2])[0]["change_id"]
    # The last change's intent is in .1, its outcome in the current file.
    assert (kinds(files[-2]), kinds(jpath)) == ([("intent", last_item)], [("outcome", last_item)])
    assert [(c["change_id"], c["outcome"]) for c in listed] == [
        (run["change_id"], "done"),
        (second["change_id"], "done"),
        (first["change_id"], "done"),
    ]
    assert [i["outcome"] for i in listed[0]["items"]] == ["done", "done"]
    assert listed[0]["items"][-1]["change_id"] == last_item
    assert listed[2]["summary"].startswith("created group 'Rotated One'")


async def test_rotation_past_keep_drops_the_oldest_files_and_list_changes_still_works(
    served: Serve, jpath: Path
) -> None:
    async with served(jpath, journal_max_bytes=1, journal_keep=2) as (client, _):
        for n in range(3):
            last = await create(client, f"Kept {n}")
            assert len(journal_files(jpath)) <= 3
        listed = (await list_changes(client))["changes"]
    assert [p.name for p in journal_files(jpath)] == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2"]
    # .2 holds the outcome of a change whose intent went with the dropped file: not listed.
    assert [(c["change_id"], c["outcome"]) for c in listed] == [(last["change_id"], "done")]


# -- permissions --------------------------------------------------------------------------------------------


def test_a_new_folder_is_0700_and_the_file_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.jsonl"
    with umask(0):
        journal = Journal(path)
        journal.finish(journal.begin(tool="t", arguments={}, effect={}), "done")
    assert mode_of(path.parent) == 0o700
    assert mode_of(path) == 0o600


def test_the_file_is_0600_when_the_folder_exists_already(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with umask(0):
        Journal(folder / "journal.jsonl").begin(tool="t", arguments={}, effect={})
    assert mode_of(folder / "journal.jsonl") == 0o600
    assert mode_of(folder) == 0o755  # someone else's folder is left as it is


def test_an_existing_readable_journal_is_made_0600(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    path.chmod(0o644)
    Journal(path)
    assert mode_of(path) == 0o600


def test_rotated_and_recreated_files_stay_0600(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    with umask(0):
        journal = Journal(path, max_bytes=1, keep=3)
        for _ in range(3):
            journal.finish(journal.begin(tool="t", arguments={}, effect={}), "done")
        path.unlink()  # removed under a running server: recreated on the next record
        journal.begin(tool="t", arguments={}, effect={})
    files = journal_files(path)
    assert len(files) == 4
    assert {p.name: mode_of(p) for p in files} == {p.name: 0o600 for p in files}


async def test_the_server_creates_its_journal_folder_0700_and_file_0600(
    served: Serve, tmp_path: Path
) -> None:
    path = tmp_path / "fresh" / "journal.jsonl"
    with umask(0o022):
        async with served(path) as (client, _):
            assert path.exists()  # opened at start, before any change
            await create(client, "Permissions")
    assert mode_of(path.parent) == 0o700
    assert mode_of(path) == 0o600


# -- secrecy -----------------------------------------------------------------------------------------------


def test_the_journal_writes_no_secret_and_no_api_token_key(jpath: Path) -> None:
    journal = Journal(jpath, secrets=FORBIDDEN)
    change_id = journal.begin(
        tool="create_group",
        arguments={"name": f"Team {CANARY_TOKEN}", "note": f"Basic {BASIC}", "api_token": CANARY_TOKEN},
        effect={
            "kind": "group_created",
            "name": f"Team {CANARY_TOKEN}",
            "users": [[1, f"Mallory {CANARY_TOKEN}x"]],
            "nested": {"API-Token": "anything", "deeper": [{"ApiToken": 1, "keep": f"{BASIC}{BASIC}"}]},
            CANARY_TOKEN: "a key",
        },
        organization_id=7,
    )
    journal.step(change_id, {"group_id": 9, "api_token": CANARY_TOKEN})
    journal.finish(change_id, "failed", message=f"Toggl said: bad token {CANARY_TOKEN} ({BASIC})")
    text = all_text(jpath)
    for secret in FORBIDDEN:
        assert secret not in text
    assert "api_token" not in text.lower().replace("-", "_") and "apitoken" not in text.lower()
    (change,) = Journal(jpath).changes()
    assert change.arguments == {"name": "Team [redacted]", "note": "Basic [redacted]"}
    assert change.effect == {
        "kind": "group_created",
        "name": "Team [redacted]",
        "users": [[1, "Mallory [redacted]x"]],
        "nested": {"deeper": [{"keep": "[redacted][redacted]"}]},
        "[redacted]": "a key",
    }
    assert change.steps == [{"group_id": 9}]
    assert change.message == "Toggl said: bad token [redacted] ([redacted])"
    assert (change.outcome, change.organization_id) == ("failed", 7)


def leaky_toggl(router: respx.MockRouter) -> None:
    """Toggl echoing the canary everywhere it could: names, an error body, api_token fields."""
    org, ws, gid = 7, 70, 501
    group = {
        "group_id": gid,
        "name": f"Support {CANARY_TOKEN}",
        "api_token": CANARY_TOKEN,
        "users": [{"user_id": 1, "name": f"Ada {CANARY_TOKEN}", "api_token": CANARY_TOKEN}],
        "workspaces": [ws],
    }
    router.get(f"/organizations/{org}/groups").respond(json=[group])
    router.post(f"/organizations/{org}/groups").respond(
        json={**group, "group_id": 502, "name": f"Team {CANARY_TOKEN}"}
    )
    router.get("/me/workspaces").respond(
        json=[{"id": ws, "name": f"Main {BASIC}", "organization_id": org, "api_token": CANARY_TOKEN}]
    )
    router.get(f"/workspaces/{ws}/projects").respond(
        json=[{"id": 900, "name": f"Secret {CANARY_TOKEN}", "workspace_id": ws, "active": True}]
    )
    router.get(f"/workspaces/{ws}/project_groups").respond(
        json=[{"id": 4000, "group_id": gid, "pid": 900, "wid": ws, "api_token": CANARY_TOKEN}]
    )
    router.get(f"/workspaces/{ws}/project_users").respond(
        json=[{"id": 80, "project_id": 900, "user_id": 1, "api_token": CANARY_TOKEN}]
    )
    router.delete(f"/organizations/{org}/groups/{gid}").respond(
        400, json={"error": {"message": f"token {CANARY_TOKEN} (Basic {BASIC}) may not delete this"}}
    )


async def test_nothing_toggl_echoes_and_no_argument_puts_the_token_in_the_journal(
    tmp_path: Path, era: str
) -> None:
    path = tmp_path / "leaky" / "journal.jsonl"
    settings = make_settings(journal_path=path, organization_id=7, workspace_id=70)
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        leaky_toggl(router)
        async with Client(build_server(settings), mode=era) as client:
            made = ok(
                await client.call_tool(
                    "create_group", {"name": f"Team {CANARY_TOKEN}", "user_ids": [1], "workspace_ids": [70]}
                )
            )
            refused = await client.call_tool("delete_group", {"group_id": 501, "confirm": True})
            assert "may not delete this" in error_of(refused)
            listed = (await list_changes(client))["changes"]
    text = all_text(path)
    for secret in FORBIDDEN:
        assert secret not in text
        assert secret not in json.dumps(listed)
    assert "api_token" not in text
    create_change, delete_change = Journal(path).changes()
    assert create_change.change_id == made["change_id"]
    assert create_change.arguments["name"] == "Team [redacted]"
    assert create_change.effect["name"] == "Team [redacted]"
    assert create_change.result == {"group_id": 502}
    assert delete_change.effect == {
        "kind": "group_deleted",
        "group_id": 501,
        "name": "Support [redacted]",
        "users": [[1, "Ada [redacted]"]],
        "workspaces": [[70, "Main [redacted]"]],
        "links": [{"workspace_id": 70, "project_id": 900, "project": "Secret [redacted]", "link_id": 4000}],
    }
    assert delete_change.outcome == "failed"
    assert delete_change.message is not None
    assert "token [redacted] (Basic [redacted]) may not delete this" in delete_change.message


# -- without a journal --------------------------------------------------------------------------------------


def tree(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def untouched(*folders: Path) -> None:
    for folder in folders:
        assert not folder.exists() or not any(folder.rglob("*")), f"something was written in {folder}"


async def test_journal_off_lists_no_journal_tools_writes_nothing_and_gives_no_change_id(
    home: Path, tmp_path: Path, era: str
) -> None:
    env = {"TOGGL_API_TOKEN": "x", "TOGGL_MCP_JOURNAL": "off"}
    assert Settings.from_env(env).journal_path is None
    async with running_sandbox(SandboxConfig()) as sb:
        settings = Settings.from_env(
            {**env, "TOGGL_API_TOKEN": sb.token, "TOGGL_API_URL": sb.url, "TOGGL_RATE_PER_SEC": "0"}
        )
        async with Client(build_server(settings), mode=era) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            made = await create(client, "Unjournaled")
            deleted = ok(await delete_designers(client))
            assert (await client.call_tool("list_changes", {})).is_error
    assert not tools & JOURNAL_TOOLS
    for result in (made, deleted):
        assert result.get("change_id") is None
    untouched(home, tmp_path / "state")


@pytest.mark.parametrize("word", ["off", "OFF", " none ", "0", "false", "no"])
def test_every_spelling_of_off_disables_the_journal(word: str) -> None:
    assert Settings.from_env({"TOGGL_API_TOKEN": "x", "TOGGL_MCP_JOURNAL": word}).journal_path is None


def test_toggl_mcp_journal_names_the_path_and_the_sizes(tmp_path: Path, home: Path) -> None:
    settings = Settings.from_env(
        {
            "TOGGL_API_TOKEN": "x",
            "TOGGL_MCP_JOURNAL": str(tmp_path / "mine.jsonl"),
            "TOGGL_MCP_JOURNAL_MAX_BYTES": "1234",
            "TOGGL_MCP_JOURNAL_KEEP": "2",
        }
    )
    assert (settings.journal_path, settings.journal_max_bytes, settings.journal_keep) == (
        tmp_path / "mine.jsonl",
        1234,
        2,
    )
    tilde = Settings.from_env({"TOGGL_API_TOKEN": "x", "TOGGL_MCP_JOURNAL": "~/j/journal.jsonl"})
    assert tilde.journal_path == home / "j" / "journal.jsonl"
    untouched(home)  # reading settings creates nothing


def test_unset_the_journal_goes_to_the_platform_state_folder(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": "x"})
    assert (settings.journal_max_bytes, settings.journal_keep) == (4_000_000, 5)
    assert settings.journal_path == home / "state" / "toggl-groups-mcp" / "journal.jsonl"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_journal_path() == home / ".local" / "state" / "toggl-groups-mcp" / "journal.jsonl"
    assert Settings.from_env({"TOGGL_API_TOKEN": "x", "TOGGL_MCP_JOURNAL": "  "}).journal_path == (
        home / ".local" / "state" / "toggl-groups-mcp" / "journal.jsonl"
    )
    untouched(home)


async def test_a_server_on_the_default_path_writes_only_in_the_state_folder(home: Path) -> None:
    async with running_sandbox(SandboxConfig()) as sb:
        settings = Settings.from_env({"TOGGL_API_TOKEN": sb.token, "TOGGL_API_URL": sb.url})
        async with Client(build_server(settings), mode="legacy") as client:
            made = await create(client, "Default Path")
    path = home / "state" / "toggl-groups-mcp" / "journal.jsonl"
    assert [c.change_id for c in Journal(path).changes()] == [made["change_id"]]
    assert tree(home) == [
        Path("state"),
        Path("state/toggl-groups-mcp"),
        Path("state/toggl-groups-mcp/journal.jsonl"),
        Path("state/toggl-groups-mcp/journal.jsonl.key"),
        Path("state/toggl-groups-mcp/journal.jsonl.lock"),
    ]


Served = list[tuple[Settings, bool]]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path) -> Served:
    """What `toggl-groups-mcp ARGS` serves with (and whether the journal's folder existed then),
    without serving MCP; temp folders go to tmp_path."""
    seen: Served = []

    async def capture(settings: Settings, args: Any) -> None:
        path = settings.journal_path
        seen.append((settings, path is not None and path.parent.is_dir()))

    monkeypatch.setattr(cli, "_serve", capture)
    monkeypatch.setattr(cli, "configure_logging", lambda *a, **k: None)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TOGGL_API_TOKEN", "cli-token")
    return seen


def test_no_journal_on_the_command_line_turns_it_off(started: Served, tmp_path: Path) -> None:
    cli.main(["--no-journal"])
    cli.main(["--sandbox", "--no-journal"])
    assert [s.journal_path for s, _ in started] == [None, None]
    assert started[1][0].sandbox
    untouched(tmp_path / "tmp", tmp_path / "home")


def test_the_sandbox_journals_to_a_fresh_temp_folder_unless_one_is_named(
    started: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.main(["--sandbox"])
    cli.main(["--sandbox"])
    (first, first_there), (second, second_there) = ((s.journal_path, there) for s, there in started)
    assert first is not None and second is not None and first != second
    assert first_there and second_there
    for path in (first, second):
        assert path.name == "journal.jsonl" and path.parent.parent == tmp_path / "tmp"
    monkeypatch.setenv("TOGGL_MCP_JOURNAL", str(tmp_path / "named.jsonl"))
    cli.main(["--sandbox"])
    assert started[-1][0].journal_path == tmp_path / "named.jsonl"
    untouched(tmp_path / "home")


async def test_results_lose_change_id_only_without_a_journal(served: Serve) -> None:
    async with served(None) as (client, _):
        tools = {t.name for t in (await client.list_tools()).tools}
        made = await create(client, "No Journal")
        run = ok(
            await client.call_tool(
                "add_group_to_projects",
                {
                    "workspace_id": ids.WS_ACME_ENGINEERING,
                    "group_id": made["group"]["group_id"],
                    "project_ids": [ids.PROJECT_API_PLATFORM],
                },
            )
        )
    assert not tools & JOURNAL_TOOLS
    assert made.get("change_id") is None and run.get("change_id") is None
