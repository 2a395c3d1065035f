"""The change journal's added latency per mutating call, fsync included, against the same call
without the journal.

Two in-process servers of this tree (``build_server``), each behind the SDK's in-memory ``Client``
(era 2025-11-25, no elicitation, so ``confirm: true`` lets a destructive call through with no
preview), on the same sandbox over loopback HTTP, pacing off: one with the journal on, in a fresh
temporary directory (``tempfile.mkdtemp``: the disk of /tmp), one with it off (``journal_path``
None, as ``--no-journal``). Each runs pairs of calls that leave the sandbox as it was:

- link: ``add_project_group`` (Managers gains Brand Refresh), then ``remove_project_group`` of the
  same project and group with ``confirm: true``;
- member: ``patch_group`` adding Dana Okafor to Designers, then removing her with ``confirm: true``.

Every call is timed alone (``perf_counter`` around ``call_tool``); on and off alternate pair by
pair (which goes first alternates too), after a few warm-up pairs each, so drift hits both alike.
A call that answers an error, or a pair that does not leave the sandbox as it was, stops the run.
Per pair kind: median and p95 per call, on and off, the difference of the medians and their
ratio, and the Toggl requests per pair (the sandbox's log), since the journal may make a call
read before it writes (``patch_group`` reads the group it changes).

Then, apart from any server: ``Journal.append`` alone (one JSON line written and fsynced) of a
record taken from the run's journal, called directly and through ``anyio.to_thread`` as the tools
call it, in a directory of its own on the same disk; and the journal's bytes per change (intent +
steps + outcome lines) per tool, from the run's file, with one ``delete_group`` of Designers and
its ``undo_change`` added for the largest kinds. The sandbox is reset afterwards. Figures only:
nothing here asserts on a timing.

Importing this module starts nothing.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from toggl_groups_mcp.sandbox import demo

from .overhead import Latencies as Series  # seconds per call, with median and p95
from .report import Row, ms

WARMUP_PAIRS = 5


@dataclass
class PairResult:
    key: str
    label: str
    on: Series = field(default_factory=Series)
    off: Series = field(default_factory=Series)
    requests_on: set[int] = field(default_factory=set)  # Toggl requests per pair
    requests_off: set[int] = field(default_factory=set)

    @property
    def added(self) -> float:
        return self.on.median - self.off.median

    @property
    def ratio(self) -> float:
        return self.on.median / self.off.median


@dataclass
class JournalResult:
    pairs: int
    results: list[PairResult]
    append: Series
    append_threaded: Series  # the same through anyio.to_thread, as the tools call it
    appended_bytes: int
    bytes_per_change: dict[str, list[int]]  # tool -> sizes of its changes
    max_bytes: int
    keep: int
    where: str  # the filesystem the journal was on


@dataclass(frozen=True)
class Pair:
    key: str
    label: str
    calls: tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]


PAIRS = [
    Pair(
        "link",
        "`add_project_group` + `remove_project_group` (confirm)",
        (
            (
                "add_project_group",
                {
                    "workspace_id": demo.WS_ACME_DESIGN,
                    "project_id": demo.PROJECT_BRAND_REFRESH,
                    "group_id": demo.GROUP_MANAGERS,
                },
            ),
            (
                "remove_project_group",
                {
                    "workspace_id": demo.WS_ACME_DESIGN,
                    "project_id": demo.PROJECT_BRAND_REFRESH,
                    "group_id": demo.GROUP_MANAGERS,
                    "confirm": True,
                },
            ),
        ),
    ),
    Pair(
        "member",
        "`patch_group` add a member + remove them (confirm)",
        (
            (
                "patch_group",
                {
                    "organization_id": demo.ORG_ACME,
                    "group_id": demo.GROUP_DESIGNERS,
                    "add_user_ids": [demo.USER_DANA],
                },
            ),
            (
                "patch_group",
                {
                    "organization_id": demo.ORG_ACME,
                    "group_id": demo.GROUP_DESIGNERS,
                    "remove_user_ids": [demo.USER_DANA],
                    "confirm": True,
                },
            ),
        ),
    ),
]


def filesystem_of(path: Path) -> str:
    """`ext4 /dev/vda` for the mount holding `path` (Linux), else ''."""
    best = ("", "", "")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path).startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[1]):
                best = (device, mount, kind)
    except (OSError, ValueError):
        return ""
    return f"{best[2]} ({best[0]}, mounted on {best[1]})" if best[2] else ""


def _comparable(sandbox: Any) -> Any:
    """The groups (members, workspaces) and links as sets, without ids the pairs renew."""
    state = sandbox.store.snapshot()
    groups = sorted(
        (g["id"], g["name"], sorted(g["user_ids"]), sorted(g["workspace_ids"])) for g in state["groups"]
    )
    links = sorted((x["workspace_id"], x["project_id"], x["group_id"]) for x in state["project_groups"])
    return groups, links


def _build(sandbox_thread: Any, journal_path: Path | None) -> Any:
    from pydantic import SecretStr

    from toggl_groups_mcp.config import Settings
    from toggl_groups_mcp.server import build_server

    settings = Settings(
        api_token=SecretStr(sandbox_thread.token),
        api_url=sandbox_thread.url,
        rate_per_sec=None,
        journal_path=journal_path,
    )
    return build_server(settings)


async def _call(client: Any, name: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(name, arguments)
    if result.is_error:
        text = "".join(getattr(block, "text", "") for block in result.content)
        raise RuntimeError(f"bench journal: {name}({arguments}) answered an error: {text[:500]}")
    return result


def _requests(sandbox: Any) -> int:
    with sandbox._log_lock:
        return len(sandbox.requests)


async def measure_journal(sandbox_thread: Any, *, pairs: int, warmup: int = WARMUP_PAIRS) -> JournalResult:
    from mcp import Client

    from toggl_groups_mcp.journal import DEFAULT_KEEP, DEFAULT_MAX_BYTES, Journal

    sandbox = sandbox_thread.sandbox
    sandbox.reset()
    folder = Path(tempfile.mkdtemp(prefix="toggl-bench-journal-"))
    path = folder / "journal.jsonl"
    try:
        results = [PairResult(p.key, p.label) for p in PAIRS]
        async with AsyncExitStack() as stack:
            on = await stack.enter_async_context(Client(_build(sandbox_thread, path), mode="legacy"))
            off = await stack.enter_async_context(Client(_build(sandbox_thread, None), mode="legacy"))
            start = _comparable(sandbox)

            async def one_pair(
                client: Any, pair: Pair, series: Series | None, counts: set[int] | None
            ) -> None:
                before = _requests(sandbox)
                for name, arguments in pair.calls:
                    began = time.perf_counter()
                    await _call(client, name, arguments)
                    if series is not None:
                        series.samples.append(time.perf_counter() - began)
                if counts is not None:
                    counts.add(_requests(sandbox) - before)

            for pair, result in zip(PAIRS, results, strict=True):
                for _ in range(warmup):
                    await one_pair(on, pair, None, None)
                    await one_pair(off, pair, None, None)
                sides = [(on, result.on, result.requests_on), (off, result.off, result.requests_off)]
                for index in range(pairs):
                    for client, series, counts in sides if index % 2 == 0 else sides[::-1]:
                        await one_pair(client, pair, series, counts)
                if _comparable(sandbox) != start:
                    raise RuntimeError(
                        f"bench journal: the {pair.key} pairs did not leave the sandbox as it was"
                    )

            # The largest kinds, for their size only: a deletion (2 members, 2 projects) and its undo.
            deleted = await _call(
                on,
                "delete_group",
                {"organization_id": demo.ORG_ACME, "group_id": demo.GROUP_DESIGNERS, "confirm": True},
            )
            change_id = deleted.structured_content["change_id"]
            undone = await _call(on, "undo_change", {"change_id": change_id, "confirm": True})
            if not undone.structured_content.get("complete"):
                raise RuntimeError(f"bench journal: the undo of the deletion did not complete: {undone}")

        # Journal.append alone, fsync included, of a real intent record, in a journal of its own.
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        sample = next(r for r in records if r.get("type") == "intent" and r.get("tool") == "patch_group")
        raw = Journal(folder / "append" / "journal.jsonl")
        appended = Series()
        for _ in range(max(2 * pairs, 50)):
            began = time.perf_counter()
            raw.append(sample)
            appended.samples.append(time.perf_counter() - began)
        threaded = Series()
        for _ in range(max(2 * pairs, 50)):
            began = time.perf_counter()
            await anyio.to_thread.run_sync(raw.append, sample)
            threaded.samples.append(time.perf_counter() - began)
        appended_bytes = len(json.dumps(sample, ensure_ascii=False, separators=(",", ":")).encode()) + 1

        per_change: dict[str, int] = defaultdict(int)
        tools: dict[str, str] = {}
        for line in path.read_bytes().splitlines(keepends=True):
            record = json.loads(line)
            per_change[record["change_id"]] += len(line)
            if record.get("type") == "intent":
                tools[record["change_id"]] = record["tool"]
        sizes: dict[str, list[int]] = defaultdict(list)
        for change, size in per_change.items():
            sizes[tools.get(change, "?")].append(size)
        return JournalResult(
            pairs=pairs,
            results=results,
            append=appended,
            append_threaded=threaded,
            appended_bytes=appended_bytes,
            bytes_per_change=dict(sizes),
            max_bytes=DEFAULT_MAX_BYTES,
            keep=DEFAULT_KEEP,
            where=filesystem_of(folder),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        sandbox.reset()


def _requests_text(counts: set[int]) -> str:
    return "/".join(str(c) for c in sorted(counts))


def rows(found: JournalResult) -> list[Row]:
    out: list[Row] = []
    for result in found.results:
        out += [
            Row(
                f"journal: {result.label}, per call, journal on, median / p95",
                f"{ms(result.on.median)} / {ms(result.on.p95)}",
                f"journal off: {ms(result.off.median)} / {ms(result.off.p95)}; "
                f"{found.pairs} pairs each, in-memory client",
            ),
            Row(
                f"journal: added latency per call, {result.key} pair (on - off, medians)",
                f"{result.added * 1000:+.2f} ms ({result.ratio:.2f}x)",
                f"Toggl requests per pair: {_requests_text(result.requests_on)} on, "
                f"{_requests_text(result.requests_off)} off",
            ),
        ]
    out.append(
        Row(
            "journal: one `Journal.append` (one line written + fsync), median / p95",
            f"{ms(found.append.median)} / {ms(found.append.p95)}",
            f"through a worker thread, as tools call it: {ms(found.append_threaded.median)} / "
            f"{ms(found.append_threaded.p95)}; {len(found.append.samples)} appends each of a "
            f"{found.appended_bytes} B intent; {found.where or 'temp dir'}",
        )
    )
    sizes = found.bytes_per_change
    order = [
        "add_project_group",
        "remove_project_group",
        "patch_group",
        "delete_group",
        "undo_change",
    ]
    shown = [t for t in order if t in sizes] + sorted(t for t in sizes if t not in order)
    every = [s for t in shown for s in sizes[t]]
    typical = statistics.median(every)
    out.append(
        Row(
            "journal: bytes per change (intent + steps + outcome), median per tool",
            "; ".join(f"`{t}` {statistics.median(sizes[t]):,.0f} B" for t in shown),
            f"`delete_group` of Designers (2 members, 2 projects), `undo_change` its restore; "
            f"a {found.max_bytes:,} B file holds about {found.max_bytes // typical:,.0f} changes of "
            f"{typical:,.0f} B, {found.keep} older files kept",
        )
    )
    return out
