"""Crash safety of the change journal: `python -m toggl_groups_mcp` over stdio, killed with SIGKILL
while a change is in flight at the (session) Toggl sandbox.

The sandbox holds the chosen request after logging it and before answering (a hook on its
dispatch: the latency knob would slow every read before it too, and leave a race between the
answer and the kill). The test polls the sandbox's request log until that request is there with no
status, then kills the server. Afterwards every journal file must parse, the change in flight must
read as `unknown` (to `Journal.changes()` and to `list_changes` of a fresh server on the same
journal), and every change made before it must be intact with its outcome.

Every server process gets TOGGL_MCP_JOURNAL, HOME, XDG_STATE_HOME and TMPDIR inside tmp_path.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

from toggl_groups_mcp.journal import Change, Journal
from toggl_groups_mcp.sandbox import SandboxThread
from toggl_groups_mcp.sandbox.demo import (
    GROUP_DESIGNERS,
    ORG_ACME,
    PROJECT_API_PLATFORM,
    PROJECT_BRAND_REFRESH,
    PROJECT_DATA_PIPELINE,
    PROJECT_LEGACY_INTRANET,
    USER_DANA,
    WS_ACME_DESIGN,
    WS_ACME_ENGINEERING,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

API = "/api/v9"
SESSION_TIMEOUT = 30
# Writes its pid where the test can read it, then becomes `python -m toggl_groups_mcp` (same pid).
BOOT = (
    "import os, sys, pathlib; pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); "
    "os.execv(sys.executable, [sys.executable, '-m', 'toggl_groups_mcp'])"
)


# -- the sandbox holding one request in flight --------------------------------------------------------


class Hold:
    """Holds the matching Toggl requests (after `let_through` of them passed) in the sandbox: logged,
    with no status, unanswered, until released; then they are processed as usual."""

    def __init__(self, app: Any, method: str, path: str, let_through: int) -> None:
        self.app, self.method, self.path = app, method, path
        self.let_through = let_through
        self.release = threading.Event()
        self.held = 0
        self.finished = threading.Event()
        self.original = app._dispatch

    async def dispatch(self, scope: Any, body: bytes) -> Any:
        if scope["method"] != self.method or not scope["path"].startswith(self.path):
            return await self.original(scope, body)
        if self.let_through > 0:
            self.let_through -= 1
            return await self.original(scope, body)
        self.held += 1
        try:
            await anyio.to_thread.run_sync(self.release.wait)
            return await self.original(scope, body)
        finally:
            self.held -= 1
            if not self.held:
                self.finished.set()


@pytest.fixture
def hold(sandbox: SandboxThread) -> Iterator[Callable[..., Hold]]:
    """hold(method, path, let_through=0): arm a Hold on the session sandbox; released (and waited
    for, so nothing lands after the sandbox's reset) at the end of the test."""
    app = sandbox.sandbox.app
    armed: list[Hold] = []

    def arm(method: str, path: str, let_through: int = 0) -> Hold:
        assert not armed, "one hold per test"
        holding = Hold(app, method, API + path, let_through)
        app._dispatch = holding.dispatch
        armed.append(holding)
        return holding

    yield arm
    for holding in armed:
        holding.release.set()
        if holding.held:
            holding.finished.wait(10)
    if "_dispatch" in vars(app):
        del app._dispatch


# -- the server process -----------------------------------------------------------------------------


@pytest.fixture
def env(sandbox: SandboxThread, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    temp = tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    return {
        "TOGGL_API_TOKEN": sandbox.token,
        "TOGGL_API_URL": sandbox.url,
        "TOGGL_RATE_PER_SEC": "0",
        "TOGGL_MCP_JOURNAL": str(tmp_path / "journal" / "journal.jsonl"),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "TMPDIR": str(temp),
        "PATH": os.environ["PATH"],
    }


class Server:
    def __init__(self, client: Client, pid: int) -> None:
        self.client = client
        self.pid = pid


@asynccontextmanager
async def server(env: dict[str, str], mode: str, pidfile: Path | None = None) -> AsyncIterator[Server]:
    """`python -m toggl_groups_mcp` over stdio in `mode`; with `pidfile`, started through BOOT so the
    test knows its pid. A server killed meanwhile is fine on the way out."""
    args = ["-c", BOOT, str(pidfile)] if pidfile else ["-m", "toggl_groups_mcp"]
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    with anyio.fail_after(SESSION_TIMEOUT):
        async with Client(stdio_client(params, errlog=sys.stderr), mode=mode) as client:
            yield Server(client, read_pid(pidfile) if pidfile else 0)


def read_pid(pidfile: Path) -> int:
    return int(pidfile.read_text())


def ok(result: CallToolResult) -> dict[str, Any]:
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def in_flight(control: Any, method: str, path: str, count: int = 1) -> None:
    """Until the sandbox's request log shows `count` such requests, the last one unanswered."""
    with anyio.fail_after(10):
        while True:
            seen = [
                r
                for r in await anyio.to_thread.run_sync(control.requests)
                if (r.method, r.path) == (method, path)
            ]
            if len(seen) >= count and seen[-1].status is None:
                return
            await anyio.sleep(0.01)


async def kill_during(
    running: Server,
    control: Any,
    tool: str,
    arguments: dict[str, Any],
    method: str,
    path: str,
    count: int = 1,
) -> None:
    """Call `tool`, and kill -9 the server once the sandbox holds its `count`-th `method path`."""
    ended = anyio.Event()

    async def call() -> None:
        try:
            await running.client.call_tool(tool, arguments)
        except Exception:  # the connection dies with the server
            pass
        finally:
            ended.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call)
        await in_flight(control, method, path, count)
        assert not ended.is_set(), "the call ended before the kill"
        os.kill(running.pid, signal.SIGKILL)
        with anyio.move_on_after(5):
            await ended.wait()
        tasks.cancel_scope.cancel()
    await until_dead(running.pid)


async def until_dead(pid: int) -> None:
    """Until the killed server is gone, or a zombie waiting for its parent's wait()."""
    with anyio.fail_after(5):
        while True:
            if process_state(pid) in (None, "Z", "X"):
                return
            await anyio.sleep(0.01)


def process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


# -- what the journal says afterwards ----------------------------------------------------------------


def assert_every_line_parses(path: Path) -> list[dict[str, Any]]:
    """Every line of every journal file is a JSON record, except at most a torn last line."""
    files = sorted(p for p in path.parent.glob(path.name + "*") if not p.name.endswith(".key"))
    assert files, "no journal was written"
    records: list[dict[str, Any]] = []
    for file in files:
        lines = file.read_bytes().split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                records.append(json.loads(raw))
            except ValueError:
                last = number == len(lines) and file == path
                assert last, f"{file.name} line {number} does not parse: {raw[:80]!r}"
    return records


def intact(change: Change, tool: str) -> None:
    assert change.tool == tool
    assert (change.outcome, change.finished) == ("done", True), change


async def listed(env: dict[str, str], mode: str) -> list[dict[str, Any]]:
    """list_changes from a fresh server process on the same journal."""
    async with server(env, mode) as fresh:
        tools = {t.name for t in (await fresh.client.list_tools()).tools}
        assert {"list_changes", "undo_change"} <= tools
        lines: list[dict[str, Any]] = ok(await fresh.client.call_tool("list_changes", {}))["changes"]
    return lines


# -- the tests ---------------------------------------------------------------------------------------


async def test_kill_9_while_a_delete_is_in_flight(
    env: dict[str, str], control: Any, hold: Callable[..., Hold], tmp_path: Path
) -> None:
    path = Path(env["TOGGL_MCP_JOURNAL"])
    delete_path = f"/organizations/{ORG_ACME}/groups/{GROUP_DESIGNERS}"
    async with server(env, "legacy", tmp_path / "server.pid") as running:
        client = running.client
        made = ok(
            await client.call_tool(
                "create_group",
                {"organization_id": ORG_ACME, "name": "Crash Survivors", "user_ids": [USER_DANA]},
            )
        )
        new_group = made["group"]["group_id"]
        linked = ok(
            await client.call_tool(
                "add_project_group",
                {"workspace_id": WS_ACME_DESIGN, "project_id": PROJECT_BRAND_REFRESH, "group_id": new_group},
            )
        )
        renamed = ok(
            await client.call_tool(
                "update_group",
                {"organization_id": ORG_ACME, "group_id": new_group, "name": "Crash Survivors 2"},
            )
        )
        holding = hold("DELETE", delete_path)
        await kill_during(
            running,
            control,
            "delete_group",
            {"group_id": GROUP_DESIGNERS, "organization_id": ORG_ACME, "confirm": True},
            "DELETE",
            delete_path,
        )
    assert holding.held == 1  # Toggl still has it: the server died waiting for the answer

    records = assert_every_line_parses(path)
    assert [r["type"] for r in records] == ["intent", "outcome"] * 3 + ["intent"]
    changes = Journal(path).changes()
    assert [c.change_id for c in changes[:3]] == [
        made["change_id"],
        linked["change_id"],
        renamed["change_id"],
    ]
    for change, tool in zip(changes, ("create_group", "add_project_group", "update_group"), strict=False):
        intact(change, tool)
    assert changes[0].result == {"group_id": new_group}
    assert changes[2].effect["renamed"] == ["Crash Survivors", "Crash Survivors 2"]
    crashed = changes[3]
    assert (crashed.tool, crashed.outcome, crashed.finished) == ("delete_group", "unknown", False)
    # What undo needs to recreate the group was on disk before the request left.
    assert crashed.effect["name"] == "Designers" and len(crashed.effect["users"]) == 2
    assert {link["project"] for link in crashed.effect["links"]} == {
        "Brand Refresh",
        "Studio Handbook",
        "Website Redesign",
    }

    lines = await listed(env, "legacy")
    assert [(line["change_id"], line["tool"], line["outcome"]) for line in lines] == [
        (crashed.change_id, "delete_group", "unknown"),
        (renamed["change_id"], "update_group", "done"),
        (linked["change_id"], "add_project_group", "done"),
        (made["change_id"], "create_group", "done"),
    ]
    # Released now, Toggl finishes the delete the dead server never heard about: unknown was right.
    holding.release.set()
    assert holding.finished.wait(10)
    assert GROUP_DESIGNERS not in control.groups(ORG_ACME)


async def test_kill_9_in_the_middle_of_a_bulk_run(
    env: dict[str, str], control: Any, hold: Callable[..., Hold], tmp_path: Path
) -> None:
    path = Path(env["TOGGL_MCP_JOURNAL"])
    links_path = f"/workspaces/{WS_ACME_ENGINEERING}/project_groups"
    projects = [PROJECT_API_PLATFORM, PROJECT_DATA_PIPELINE, PROJECT_LEGACY_INTRANET]
    async with server(env, "auto", tmp_path / "server.pid") as running:
        client = running.client
        made = ok(
            await client.call_tool("create_group", {"organization_id": ORG_ACME, "name": "Before The Run"})
        )
        linked = ok(
            await client.call_tool(
                "add_project_group",
                {
                    "workspace_id": WS_ACME_DESIGN,
                    "project_id": PROJECT_BRAND_REFRESH,
                    "group_id": made["group"]["group_id"],
                },
            )
        )
        holding = hold("POST", links_path, let_through=1)  # the first item goes through, the second is held
        await kill_during(
            running,
            control,
            "add_group_to_projects",
            {"workspace_id": WS_ACME_ENGINEERING, "group_id": GROUP_DESIGNERS, "project_ids": projects},
            "POST",
            links_path,
            count=2,
        )
    assert holding.held == 1
    posts = [r for r in control.requests() if (r.method, r.path) == ("POST", links_path)]
    assert [(r.json["project_id"], r.status) for r in posts] == [
        (PROJECT_API_PLATFORM, 200),
        (PROJECT_DATA_PIPELINE, None),
    ]

    assert_every_line_parses(path)
    changes = Journal(path).changes()
    intact(changes[0], "create_group")
    intact(changes[1], "add_project_group")
    assert [c.change_id for c in changes[:2]] == [made["change_id"], linked["change_id"]]
    items = changes[2:]
    assert [(c.tool, c.effect["project_id"], c.outcome, c.finished) for c in items] == [
        ("add_group_to_projects", PROJECT_API_PLATFORM, "done", True),
        ("add_group_to_projects", PROJECT_DATA_PIPELINE, "unknown", False),
    ]  # the third item was never begun
    run = items[0].run
    assert run is not None and items[1].run == run
    assert items[0].result.get("link_id") is None or isinstance(items[0].result["link_id"], int)

    lines = await listed(env, "auto")
    assert [(line["change_id"], line["outcome"]) for line in lines] == [
        (run, "partial"),
        (linked["change_id"], "done"),
        (made["change_id"], "done"),
    ]
    assert [(i["change_id"], i["outcome"]) for i in lines[0]["items"]] == [
        (items[0].change_id, "done"),
        (items[1].change_id, "unknown"),
    ]
