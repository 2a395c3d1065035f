"""The journal's files are its own: no link is followed, no one else's file or folder is used.

A link planted at the journal, its lock, its key or a rotated file, a FIFO or a device named as
the journal, a folder others can write or another user owns: each is refused (one stderr line and
exit 2 when started from the command line; a tool error naming the file, with nothing sent to
Toggl, when planted under a running server), and what a link points to is left exactly as it
was. Missing folders are made 0700 whatever the umask. A per-user-token server makes a user's
journal on their first change, never for a token that only reads.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from pydantic import SecretStr

from tests.conftest import make_settings, tool_error
from tests.test_http_transport import serving
from toggl_groups_mcp.journal import Journal
from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, running_sandbox
from toggl_groups_mcp.sandbox import demo as ids
from toggl_groups_mcp.sandbox.config import DEFAULT_TOKEN, SECOND_TOKEN
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

ORG = ids.ORG_ACME
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
NOBODY = 65534


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "state"
    made.mkdir(mode=0o700)
    return made


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """Someone's file a planted link points to: it must be left exactly as it was."""
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    victim.chmod(0o644)
    return victim


def untouched(victim: Path) -> bool:
    return victim.read_text() == "precious\n" and mode_of(victim) == 0o644


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, tool_error(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def mutations(sandbox: Sandbox, since: int = 0) -> list[str]:
    return [r["method"] for r in sandbox.request_log()[since:] if r["method"] in MUTATING]


# -- links ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["journal.jsonl", "journal.jsonl.lock", "journal.jsonl.key"])
def test_a_link_planted_at_the_journal_its_lock_or_its_key_is_refused_and_its_target_untouched(
    folder: Path, target: Path, name: str
) -> None:
    (folder / name).symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        Journal(folder / "journal.jsonl").begin(tool="t", arguments={}, effect={})
    assert untouched(target)
    assert (folder / name).is_symlink()


@pytest.mark.parametrize("name", ["journal.jsonl", "journal.jsonl.lock", "journal.jsonl.key"])
def test_a_dangling_link_planted_there_creates_nothing_where_it_points(
    folder: Path, tmp_path: Path, name: str
) -> None:
    nowhere = tmp_path / "elsewhere" / "created-by-the-journal"
    nowhere.parent.mkdir()
    (folder / name).symlink_to(nowhere)
    with pytest.raises(OSError):
        Journal(folder / "journal.jsonl").begin(tool="t", arguments={}, effect={})
    assert not nowhere.exists()


def test_a_link_planted_at_a_rotated_file_is_never_read_nor_written_through(
    folder: Path, target: Path
) -> None:
    path = folder / "journal.jsonl"
    journal = Journal(path, max_bytes=1, keep=3)
    journal.finish(journal.begin(tool="t", arguments={}, effect={}), "done")
    (folder / "journal.jsonl.2").symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        journal.changes()
    journal.begin(tool="t", arguments={}, effect={})  # rotates: renames move links, not targets
    journal.begin(tool="t", arguments={}, effect={})  # and again, dropping the oldest
    assert untouched(target)


async def test_a_link_planted_under_a_running_server_refuses_the_change_and_sends_nothing(
    folder: Path, target: Path
) -> None:
    path = folder / "journal.jsonl"
    async with running_sandbox(SandboxConfig()) as sb:
        settings = make_settings(api_token=SecretStr(sb.token), api_url=sb.url, journal_path=path)
        async with Client(build_server(settings), mode="legacy") as client:
            path.unlink()
            path.symlink_to(target)
            sent = len(sb.sandbox.request_log())
            result = await client.call_tool("create_group", {"organization_id": ORG, "name": "Planted"})
            assert mutations(sb.sandbox, sent) == []
            listed = await client.call_tool("list_changes", {})
    assert "symbolic link" in tool_error(result) and "nothing was sent" in tool_error(result)
    assert "symbolic link" in tool_error(listed)
    assert untouched(target)


# -- not a regular file, not ours ----------------------------------------------------------------------


@contextmanager
def fifo(path: Path) -> Iterator[None]:
    """A FIFO with a reader held open, so that a writer opening it never blocks."""
    os.mkfifo(path)
    os.chmod(path, 0o666)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield
    finally:
        os.close(reader)


def test_a_fifo_named_as_the_journal_is_refused(folder: Path) -> None:
    with fifo(folder / "journal.jsonl"), pytest.raises(OSError, match="not a regular file"):
        Journal(folder / "journal.jsonl")
    assert mode_of(folder / "journal.jsonl") == 0o666


def test_a_character_device_named_as_the_journal_is_neither_chmodded_nor_written(folder: Path) -> None:
    """/dev/null's stand-in: a node of the same device in a temporary folder (never the real one)."""
    device = folder / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("needs root to make a device node")  # CI runs as root; the FIFO test covers it
    device.chmod(0o666)
    with pytest.raises(OSError, match="not a regular file"):
        Journal(device)
    assert mode_of(device) == 0o666


def test_a_journal_file_of_another_user_is_refused(folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file away")  # CI runs as root
    path = folder / "journal.jsonl"
    path.write_text("")
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(OSError, match=f"belongs to uid {NOBODY}"):
        Journal(path)


def test_a_folder_that_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(OSError, match="can be written by group or others"):
        Journal(shared / "journal.jsonl")
    assert list(shared.iterdir()) == []


def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder away")  # CI runs as root
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(OSError, match=f"belongs to uid {NOBODY}"):
        Journal(theirs / "journal.jsonl")
    assert list(theirs.iterdir()) == []


def test_every_missing_folder_is_made_0700_even_with_umask_0(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "journal.jsonl"
    with umask(0):
        Journal(path).begin(tool="t", arguments={}, effect={})
    assert [mode_of(p) for p in (tmp_path / "a", tmp_path / "a" / "b", path.parent)] == [0o700] * 3


# -- the command line: one line, exit 2 ------------------------------------------------------------------


def start(journal: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOGGL_MCP_JOURNAL": str(journal)}
    return subprocess.run(
        [sys.executable, "-m", "toggl_groups_mcp", "--sandbox"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("bad", ["link", "fifo", "open-folder", "their-folder", "key-link"])
def test_the_server_refuses_to_start_on_a_bad_journal_path_with_one_line_and_exit_2(
    tmp_path: Path, target: Path, bad: str
) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    journal = folder / "journal.jsonl"
    if bad == "link":
        journal.symlink_to(target)
    elif bad == "key-link":
        (folder / "journal.jsonl.key").symlink_to(target)
    elif bad == "fifo":
        with fifo(journal):
            ran = start(journal)
    elif bad == "open-folder":
        folder.chmod(0o777)
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to give a folder away")  # CI runs as root
        os.chown(folder, NOBODY, NOBODY)
    if bad != "fifo":
        ran = start(journal)
    lines = ran.stderr.strip().splitlines()
    assert ran.returncode == 2, ran.stderr
    assert len(lines) == 1 and lines[0].startswith("toggl-groups-mcp: the change journal cannot be used")
    assert untouched(target)


# -- per-user journals, made on the first change ----------------------------------------------------------


@asynccontextmanager
async def as_user(url: str, token: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"X-Toggl-Api-Token": token}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        yield client


async def test_a_user_who_only_reads_gets_no_journal_file_and_the_first_change_makes_one(
    folder: Path,
) -> None:
    async with running_sandbox(SandboxConfig()) as sb:
        settings = make_settings(
            api_token=SecretStr(sb.token),
            api_url=sb.url,
            journal_path=folder / "journal.jsonl",
            per_user_tokens=True,
            sandbox=True,
        )
        with anyio.fail_after(60):
            async with serving(settings) as url:
                for token in (DEFAULT_TOKEN, SECOND_TOKEN, "x" * 32):  # the last, Toggl refuses
                    async with as_user(url, token) as client:
                        await client.call_tool("list_groups", {"organization_id": ORG})
                        listed = await client.call_tool("list_changes", {})
                        if token != "x" * 32:
                            assert ok(listed) == {"changes": [], "total": 0, "requests": 0}
                assert os.listdir(folder) == []
                async with as_user(url, DEFAULT_TOKEN) as client:
                    ok(await client.call_tool("create_group", {"organization_id": ORG, "name": "First"}))
                    (line,) = ok(await client.call_tool("list_changes", {}))["changes"]
    made = sorted(os.listdir(folder))
    assert len(made) == 3 and all(name.startswith("journal-") for name in made)
    assert [name.rsplit(".", 1)[-1] for name in made] == ["jsonl", "key", "lock"]
    assert line["tool"] == "create_group" and "verified" not in line
