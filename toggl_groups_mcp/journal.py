"""The change journal: every change this server makes to Toggl, with what it takes to reverse it.

Toggl keeps no history of groups: a deleted group is gone with its members, workspaces and
project links. So before a change is sent, its *intent* is appended here, with everything needed
to take it back (a group's name, members, workspaces and links; a link's project and group; a
rename's old name), written and fsynced; after Toggl answers, its *outcome* (done, failed with
Toggl's message, or unknown when the answer was lost). A change with no outcome (the process was
killed while it was in flight) reads as unknown.

The file is JSON Lines, append-only, one record a line:

    {"type": "intent", "change_id": "...", "time": "...", "tool": "...", "arguments": {...},
     "organization_id": 1, "workspace_id": 2, "effect": {"kind": "...", ...},
     "run": "..." (items of one bulk call), "undoes": "..." (an undo)}
    {"type": "step", "change_id": "...", "time": "...", "result": {...}}   (a multi-request change)
    {"type": "outcome", "change_id": "...", "time": "...", "outcome": "done|failed|unknown",
     "message": "...", "result": {...}}

It rotates by size (`journal.jsonl` → `journal.jsonl.1` → ...), keeping `keep` older files that
`changes()` still reads. Several processes may share one journal (the workers of a team server,
or two hosts on one machine): every append, rotation and read holds an exclusive `flock` on
`journal.jsonl.lock` beside it, so records never interleave and a rotation never renames a file
under another process's write. (flock needs a local file system; not NFS.) A line that does not parse (a crash mid-write) is skipped with a warning.
Files are created 0600 in a 0700 folder; the token, anything carrying it, and Toggl's
`api_token` fields never go in.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets as random
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from .toggl.client import redact

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 4_000_000
DEFAULT_KEEP = 5


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_change_id() -> str:
    """Sortable by time, unique without coordination: `c` + milliseconds in base 36 + random."""
    stamp = int(time.time() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while stamp:
        stamp, rest = divmod(stamp, 36)
        text = digits[rest] + text
    return f"c{text}{random.token_hex(2)}"


@dataclass
class Change:
    """A change as the journal tells it: its intent, its steps, and its outcome if one came."""

    change_id: str
    time: str
    tool: str
    arguments: dict[str, Any]
    effect: dict[str, Any]
    organization_id: int | None = None
    workspace_id: int | None = None
    run: str | None = None
    undoes: str | None = None
    outcome: str = "unknown"  # until an outcome record says otherwise
    finished: bool = False
    message: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.effect.get("kind", ""))


class Journal:
    """An append-only JSON Lines journal, safe across threads and processes."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        secrets: Iterable[str] = (),
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.secrets = tuple(s for s in secrets if s and s.strip())
        self._thread_lock = threading.Lock()
        self._open()
        self._lock_path = self.path.with_name(f"{self.path.name}.lock")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """This process's threads, then every process on the file (flock is per open file)."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    # -- writing ---------------------------------------------------------------------------------

    def _open(self) -> None:
        folder = self.path.parent
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(self.path, 0o600)
        if created:
            self._sync_folder()

    def _sync_folder(self) -> None:
        """A new or renamed file survives a power loss only once its folder's entry is on disk."""
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        for index in range(self.keep, 0, -1):
            older = self._numbered(index)
            if index == self.keep:
                older.unlink(missing_ok=True)
                continue
            if older.exists():
                older.replace(self._numbered(index + 1))
        if self.keep > 0:
            self.path.replace(self._numbered(1))
        else:
            self.path.unlink(missing_ok=True)
        self._sync_folder()
        self._open()

    def _numbered(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and fsync it before returning."""
        line = json.dumps(redact(record, self.secrets), ensure_ascii=False, separators=(",", ":"))
        for secret in self.secrets:  # a secret that survived as part of a longer key or value
            line = line.replace(secret, "[redacted]")
        data = (line + "\n").encode()
        with self._lock():
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                self._open()
                size = 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
                size = 0
            if size and not self._ends_a_line():
                # A line torn by a crash: end it, so this record starts a line of its own.
                data = b"\n" + data
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:  # a short write is finished, not lost
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)

    def _ends_a_line(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def begin(
        self,
        *,
        tool: str,
        arguments: dict[str, Any],
        effect: dict[str, Any],
        organization_id: int | None = None,
        workspace_id: int | None = None,
        run: str | None = None,
        undoes: str | None = None,
    ) -> str:
        change_id = new_change_id()
        record: dict[str, Any] = {
            "type": "intent",
            "change_id": change_id,
            "time": now(),
            "tool": tool,
            "arguments": {k: v for k, v in arguments.items() if v is not None},
            "organization_id": organization_id,
            "workspace_id": workspace_id,
            "effect": effect,
        }
        if run is not None:
            record["run"] = run
        if undoes is not None:
            record["undoes"] = undoes
        self.append(record)
        return change_id

    def step(self, change_id: str, result: dict[str, Any]) -> None:
        self.append({"type": "step", "change_id": change_id, "time": now(), "result": result})

    def finish(
        self,
        change_id: str,
        outcome: str,
        *,
        message: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "type": "outcome",
            "change_id": change_id,
            "time": now(),
            "outcome": outcome,
        }
        if message:
            record["message"] = message
        if result:
            record["result"] = result
        self.append(record)

    # The same, off the event loop: an fsync may take milliseconds.
    async def abegin(self, **kwargs: Any) -> str:
        return await anyio.to_thread.run_sync(lambda: self.begin(**kwargs))

    async def astep(self, change_id: str, result: dict[str, Any]) -> None:
        await anyio.to_thread.run_sync(self.step, change_id, result)

    async def afinish(self, change_id: str, outcome: str, **kwargs: Any) -> None:
        await anyio.to_thread.run_sync(lambda: self.finish(change_id, outcome, **kwargs))

    # -- reading ---------------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """Oldest first: the numbered files from the highest, then the current one."""
        numbered = [self._numbered(i) for i in range(self.keep, 0, -1)]
        return [p for p in [*numbered, self.path] if p.exists()]

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first. Read under the writers' lock: a rotation in another thread
        or process must not rename a file between listing it and opening it."""
        with self._lock():
            lines = [(path, number, raw) for path in self.files() for number, raw in self._lines(path)]
        for path, number, raw in lines:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                log.warning("journal %s line %d does not parse; skipped", path, number)
                continue
            if isinstance(record, dict) and isinstance(record.get("change_id"), str):
                yield record
            else:
                log.warning("journal %s line %d is not a journal record; skipped", path, number)

    @staticmethod
    def _lines(path: Path) -> list[tuple[int, bytes]]:
        with path.open("rb") as handle:
            return list(enumerate(handle, start=1))

    def changes(self) -> list[Change]:
        """Every change, oldest first, with its steps and outcome."""
        found: dict[str, Change] = {}
        for record in self.records():
            kind, change_id = record.get("type"), record["change_id"]
            if kind == "intent":
                try:
                    found[change_id] = Change(
                        change_id=change_id,
                        time=str(record.get("time", "")),
                        tool=str(record.get("tool", "")),
                        arguments=dict(record.get("arguments") or {}),
                        effect=dict(record.get("effect") or {}),
                        organization_id=record.get("organization_id"),
                        workspace_id=record.get("workspace_id"),
                        run=record.get("run"),
                        undoes=record.get("undoes"),
                    )
                except (TypeError, ValueError):
                    log.warning("journal record %s is malformed; skipped", change_id)
            elif change_id in found and kind in ("step", "outcome"):
                result = record.get("result") or {}
                if not isinstance(result, dict):
                    log.warning("journal record for %s has a malformed result; skipped", change_id)
                    continue
                change = found[change_id]
                if kind == "step":
                    change.steps.append(result)
                    continue
                change.outcome = str(record.get("outcome", "unknown"))
                change.finished = True
                message = record.get("message")
                change.message = message if isinstance(message, str) else None
                change.result = result
        return list(found.values())

    def find(self, change_id: str) -> Change | None:
        return next((c for c in self.changes() if c.change_id == change_id), None)
