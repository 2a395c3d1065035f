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
     "run": "..." (items of one bulk call), "undoes": "..." (an undo), "tag": "..."}
    {"type": "step", "change_id": "...", "time": "...", "result": {...}, "tag": "..."}
    {"type": "outcome", "change_id": "...", "time": "...", "outcome": "done|failed|unknown",
     "message": "...", "result": {...}, "tag": "..."}

Integrity: undo acts on what the journal says, so a line someone else wrote must not be able to
grant access. Every record carries `tag`, an HMAC-SHA256 of the record without it (sorted-key
compact JSON, ASCII), keyed by 32 random bytes in `journal.jsonl.key` beside the journal (0600,
made on the first write, never inside the journal). `changes()` marks a change whose intent is
untagged (written before tags), wrongly tagged (altered or forged) or present twice (a copied
line) as not verified, and ignores the untrusted steps and outcomes of a verified change;
undo_change takes back verified changes only. Removing whole lines is not detected.

Files are opened with O_NOFOLLOW and checked by fstat (a regular file of this user), and made
0600 through the open file, never by path: a link planted at the journal, its lock, its key or
a rotated file is refused, and its target left as it was. The folder must be this user's and
not writable by group or others; missing folders are made 0700. A journal opened `lazy` (one
per user of a per-user-token server) creates nothing until its first change.

It rotates by size (`journal.jsonl` → `journal.jsonl.1` → ...), keeping `keep` older files that
`changes()` still reads. Several processes may share one journal (the workers of a team server,
or two hosts on one machine): every append, rotation and read holds an exclusive `flock` on
`journal.jsonl.lock` beside it, so records never interleave and a rotation never renames a file
under another process's write. (flock needs a local file system; not NFS.) A line that does not
parse (a crash mid-write) is skipped with a warning. The token, anything carrying it, and
Toggl's `api_token` fields never go in.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets as random
import stat
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
KEY_BYTES = 32


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


class JournalUnsafe(OSError):
    """A journal path this server will not use: a link, not a regular file, another user's, or
    in a folder that others can write. The message says which and why, in one line."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unsafe journal path"


def _dumps(record: Any) -> str:
    """One line of JSON; a lone surrogate (Toggl sends any string) is written as its escape."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        line.encode()
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return line


def canonical(record: dict[str, Any]) -> bytes:
    """What a tag covers: the record without its tag, as sorted-key compact ASCII JSON."""
    body = {k: v for k, v in record.items() if k != "tag"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def tag_of(key: bytes, record: dict[str, Any]) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


# Why a change's records cannot be trusted (Change.trouble), said to the model and the person.
UNTAGGED = "untagged"  # written before records were tagged, or its tag was removed
MISMATCH = "mismatch"  # its tag does not match: altered, forged, or the key changed
DUPLICATE = "duplicate"  # its intent is in the journal twice: a copied line
NO_KEY = "no-key"  # tagged, but the key file is gone


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
    # Its intent's tag checked out (and the intent is there once); only then may it be undone.
    verified: bool = False
    trouble: str | None = None  # why not, when not: UNTAGGED, MISMATCH, DUPLICATE or NO_KEY
    ignored: int = 0  # later records for a verified change that failed the check, left out

    @property
    def kind(self) -> str:
        return str(self.effect.get("kind", ""))


def _owner_problem(what: str, path: Path, info: os.stat_result) -> str | None:
    me = os.geteuid()
    if info.st_uid != me:
        return f"{what} {path} belongs to uid {info.st_uid}, not to this user (uid {me})"
    return None


def _folder_problem(folder: Path) -> str | None:
    """The journal's folder: this user's, and writable by no one else. (Followed if it is a link:
    a link the user made to their own folder is theirs to make.)"""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return None  # made 0700 on the first write
    except OSError as error:
        return f"the journal folder {folder} cannot be read ({error.strerror or error})"
    if not stat.S_ISDIR(info.st_mode):
        return f"the journal folder {folder} is not a folder"
    problem = _owner_problem("the journal folder", folder, info)
    if problem:
        return problem
    if info.st_mode & 0o022:
        return (
            f"the journal folder {folder} can be written by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); make it 0700"
        )
    return None


def _stat_problem(path: Path, info: os.stat_result, *, secret: bool = False) -> str | None:
    """What is wrong with a journal, lock, key or rotated file as stat (or lstat) saw it: it must
    be a regular file of this user's, not a link; a key, readable by this user alone."""
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link; the journal follows none"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    problem = _owner_problem("the journal file", path, info)
    if problem:
        return problem
    if secret and info.st_mode & 0o077:
        return (
            f"the journal key {path} can be read by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); it may have leaked: remove it (older records "
            "then stay listed but cannot be undone) or make it 0600 if it did not"
        )
    return None


def _file_problem(path: Path, *, secret: bool = False) -> str | None:
    """An existing journal, lock, key or rotated file, looked at without opening it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return _stat_problem(path, info, secret=secret)


def _open_checked(path: Path, flags: int, *, secret: bool = False) -> int:
    """Open without following a link, then check what was opened (a regular file of this user's)
    and make it 0600 through the descriptor, never the path."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise JournalUnsafe(f"{path} is a symbolic link; the journal follows none") from None
        if error.errno in (errno.ENXIO, errno.ENODEV, errno.EISDIR):
            raise JournalUnsafe(f"{path} is not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        problem = _stat_problem(path, info, secret=secret)
        if problem:
            raise JournalUnsafe(problem)
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def startup_problem(path: Path) -> str | None:
    """Said before a server starts (one line, exit 2): why the journal at `path` (the folder, and
    any journal, lock, key or rotated file already there) cannot be used."""
    problem = Journal(path, lazy=True).problem()
    if problem is None:
        return None
    return (
        f"the change journal cannot be used: {problem}. Nothing was changed; fix it, name another "
        "path in TOGGL_MCP_JOURNAL, or run with --no-journal"
    )


class Journal:
    """An append-only JSON Lines journal, safe across threads and processes."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        secrets: Iterable[str] = (),
        lazy: bool = False,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.secrets = tuple(s for s in secrets if s and s.strip())
        self._thread_lock = threading.Lock()
        self._lock_path = self.path.with_name(f"{self.path.name}.lock")
        self.key_path = self.path.with_name(f"{self.path.name}.key")
        self._key: bytes | None = None
        self._folder_made = False
        if not lazy:
            problem = self.problem()
            if problem:
                raise JournalUnsafe(problem)
            with self._lock():
                os.close(self._open_journal())
                self._key_for_writing()

    def problem(self) -> str | None:
        """What makes this journal's folder or files unusable, without touching anything."""
        return (
            _folder_problem(self.path.parent)
            or next(
                (
                    problem
                    for path in (self.path, self._lock_path, *self._numbered_all())
                    if (problem := _file_problem(path))
                ),
                None,
            )
            or _file_problem(self.key_path, secret=True)
        )

    def _numbered_all(self) -> list[Path]:
        return [self._numbered(i) for i in range(1, self.keep + 1)]

    def _make_folder(self) -> None:
        """The folder and any missing parents, each 0700 (not the umask's choice); then checked."""
        if self._folder_made:
            return
        folder = self.path.parent
        missing = []
        while not os.path.lexists(folder):
            missing.append(folder)
            folder = folder.parent
        for each in reversed(missing):
            try:
                os.mkdir(each, 0o700)
            except FileExistsError:
                pass
        problem = _folder_problem(self.path.parent)
        if problem:
            raise JournalUnsafe(problem)
        self._folder_made = True

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """This process's threads, then every process on the file (flock is per open file)."""
        with self._thread_lock:
            self._make_folder()
            fd = _open_checked(self._lock_path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    # -- the key -----------------------------------------------------------------------------------

    def _read_key(self) -> bytes | None:
        """The key, if the key file exists (under the lock). A key file that is a link, not a
        regular file, not this user's, readable by others or malformed is refused."""
        if self._key is not None:
            return self._key
        try:
            fd = _open_checked(self.key_path, os.O_RDONLY, secret=True)
        except FileNotFoundError:
            return None
        try:
            raw = os.read(fd, 4 * KEY_BYTES + 2)
        finally:
            os.close(fd)
        try:
            key = bytes.fromhex(raw.decode("ascii").strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise JournalUnsafe(f"the journal key {self.key_path} is malformed; this server did not write it")
        self._key = key
        return key

    def _key_for_writing(self) -> bytes:
        """The key, made on the first write: written whole to a new file (O_EXCL|O_NOFOLLOW, 0600)
        and fsynced, then linked into place, which fails rather than replace one that exists."""
        key = self._read_key()
        if key is not None:
            return key
        fresh = os.urandom(KEY_BYTES)
        spare = self.key_path.with_name(f"{self.key_path.name}.{random.token_hex(6)}.new")
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, fresh.hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(spare, self.key_path, follow_symlinks=False)
        except FileExistsError:
            pass  # another process made it first: read theirs
        finally:
            os.unlink(spare)
        self._sync_folder()
        key = self._read_key()
        assert key is not None
        return key

    def _verified(self, record: dict[str, Any], key: bytes | None) -> str | None:
        """None when the record's tag checks out, else why not."""
        tag = record.get("tag")
        if not isinstance(tag, str):
            return UNTAGGED
        if key is None:
            return NO_KEY
        return None if hmac.compare_digest(tag, tag_of(key, record)) else MISMATCH

    # -- writing ---------------------------------------------------------------------------------

    def _open_journal(self) -> int:
        """The current file, opened for appending (made 0600 if new, the folder then fsynced)."""
        created = not os.path.lexists(self.path)
        fd = _open_checked(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        if created:
            self._sync_folder()
        return fd

    def _sync_folder(self) -> None:
        """A new or renamed file survives a power loss only once its folder's entry is on disk."""
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        """Renames only: a rename moves a link itself, never what it points to."""
        for index in range(self.keep, 0, -1):
            older = self._numbered(index)
            if index == self.keep:
                if os.path.lexists(older):
                    older.unlink()
                continue
            if os.path.lexists(older):
                older.replace(self._numbered(index + 1))
        if self.keep > 0:
            self.path.replace(self._numbered(1))
        else:
            self.path.unlink(missing_ok=True)
        self._sync_folder()

    def _numbered(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def _sealed(self, record: dict[str, Any], key: bytes) -> bytes:
        """The record as written: redacted, then tagged over exactly what is on disk."""
        line = _dumps(redact(record, self.secrets))
        scrubbed = line
        for secret in self.secrets:  # a secret that survived as part of a longer key or value
            scrubbed = scrubbed.replace(secret, "[redacted]")
        body: dict[str, Any] = json.loads(scrubbed)
        body["tag"] = tag_of(key, body)
        return (_dumps(body) + "\n").encode()

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and fsync it before returning."""
        with self._lock():
            data = self._sealed(record, self._key_for_writing())
            fd = self._open_journal()
            try:
                size = os.fstat(fd).st_size
                if size and size + len(data) > self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = self._open_journal()
                    size = 0
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # A line torn by a crash: end it, so this record starts a line of its own.
                    data = b"\n" + data
                view = memoryview(data)
                while view:  # a short write is finished, not lost
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                if fd >= 0:
                    os.close(fd)

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
        """Oldest first: the numbered files from the highest, then the current one. A link in
        their place is listed, and refused when read."""
        numbered = [self._numbered(i) for i in range(self.keep, 0, -1)]
        return [p for p in [*numbered, self.path] if os.path.lexists(p)]

    def _entries(self) -> tuple[list[tuple[dict[str, Any], str | None]], bytes | None]:
        """Every record, oldest first, with why its tag does not check out (None when it does).
        Read under the writers' lock: a rotation in another thread or process must not rename a
        file between listing it and opening it. A journal never written is read as empty, and
        nothing (no folder, lock or key) is created for it."""
        if not self.files():
            return [], None
        with self._lock():
            key = self._read_key()
            lines = [(path, number, raw) for path in self.files() for number, raw in self._lines(path)]
        found: list[tuple[dict[str, Any], str | None]] = []
        for path, number, raw in lines:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                log.warning("journal %s line %d does not parse; skipped", path, number)
                continue
            if isinstance(record, dict) and isinstance(record.get("change_id"), str):
                found.append((record, self._verified(record, key)))
            else:
                log.warning("journal %s line %d is not a journal record; skipped", path, number)
        return found, key

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first, as written (tags included, checked or not)."""
        for record, _ in self._entries()[0]:
            yield record

    @staticmethod
    def _lines(path: Path) -> list[tuple[int, bytes]]:
        fd = _open_checked(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            return list(enumerate(handle, start=1))

    def changes(self) -> list[Change]:
        """Every change, oldest first, with its steps and outcome. A change is `verified` when its
        intent's tag checks out and it is there once; a verified change takes only verified steps
        and outcomes (others are counted in `ignored`). An unverified change (written before tags,
        or forged) is read as it was, to be listed, never undone."""
        found: dict[str, Change] = {}
        entries, _ = self._entries()
        for record, trouble in entries:
            kind, change_id = record.get("type"), record["change_id"]
            if kind == "intent":
                if change_id in found:
                    # A second intent of one change. The first stands: a forged one is left out
                    # like any forged record; a genuine one copied (replayed) distrusts the change.
                    first = found[change_id]
                    if trouble is not None and first.verified:
                        first.ignored += 1
                    elif first.verified:
                        first.verified, first.trouble = False, DUPLICATE
                    continue
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
                        verified=trouble is None,
                        trouble=trouble,
                    )
                except (TypeError, ValueError):
                    log.warning("journal record %s is malformed; skipped", change_id)
            elif change_id in found and kind in ("step", "outcome"):
                change = found[change_id]
                if trouble is not None and change.trouble in (None, DUPLICATE):
                    change.ignored += 1  # a forged step or outcome must not steer an undo
                    continue
                result = record.get("result") or {}
                if not isinstance(result, dict):
                    log.warning("journal record for %s has a malformed result; skipped", change_id)
                    continue
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
