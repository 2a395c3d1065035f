"""The change journal's tools: what this server changed in Toggl, and taking a change back.

`list_changes` reads the journal (journal.py). `undo_change` reverses one change, or every item
of a bulk run, from what the journal captured before the change was sent, checked against
Toggl as it is now: it does what it safely can, reports exactly what it restored and what it
could not and why, and a second call resumes without repeating anything. An undo that would
itself lose something (deleting the group it created, removing members or links that were
added) passes the same confirmation gate as any destructive tool. An undo is journaled like any
change, so it can be undone in turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, StringConstraints

from ..journal import DUPLICATE, MISMATCH, NO_KEY, UNTAGGED, Change, Journal, new_change_id
from ..state import app_state, call_memo
from ..toggl.errors import TogglError, mend
from ..toggl.models import TogglGroup
from . import journaling, lookup
from .budget import fit
from .bulk import STOPPING_KINDS
from .confirm import (
    Approval,
    ConfirmArg,
    Confirmation,
    Preview,
    StrictBool,
    asked_before_this_read,
    gate,
    require_approval,
)
from .groups import PATCH_MAX_OPS, groups_path, read_groups
from .journaling import Entry
from .project_groups import add_link, links_path
from .registry import Safety, tool

ChangeIdArg = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=40)]


# -- reading the journal -------------------------------------------------------------------------


def _journal(ctx: Context) -> Journal:
    journal = app_state(ctx).journal
    if journal is None:  # the tools are not registered without one; a direct call still says why
        raise ToolError(
            "This server keeps no change journal (--no-journal), so there is nothing to list or undo."
        )
    return journal


def read_changes(journal: Journal) -> list[Change]:
    """The journal's changes, or a ToolError that says why it cannot be read (a link or another
    user's file where the journal should be, a key file that is refused)."""
    try:
        return journal.changes()
    except OSError as error:
        raise ToolError(
            f"The change journal ({journal.path}) could not be read: {error}. Nothing was sent to Toggl."
        ) from None


def distrust(change: Change, key_path: Any = None) -> str | None:
    """Why a change cannot be undone on the journal's word, or None when it can."""
    if change.verified:
        return None
    why = {
        UNTAGGED: "its journal record has no integrity tag (written before this server tagged its "
        "records, or the tag was removed)",
        MISMATCH: "its journal record's integrity tag does not match (the record was altered or "
        "forged, or the journal key was replaced)",
        DUPLICATE: "its intent appears twice in the journal (a copied line)",
        NO_KEY: f"its journal record is tagged but the journal key{f' ({key_path})' if key_path else ''} "
        "is missing, so the tag cannot be checked",
    }.get(change.trouble or UNTAGGED, "its journal record is not verified")
    return why


def warning_of(change: Change) -> str | None:
    """What list_changes says about a change whose records are not all trusted."""
    why = distrust(change)
    if why is not None:
        return f"Not verified: {why}. Listed as recorded; undo_change refuses it."
    if change.ignored:
        return (
            f"{change.ignored} later journal record(s) for this change fail the integrity check "
            "(forged or altered) and were ignored."
        )
    return None


def undone_by(changes: list[Change]) -> dict[str, Change]:
    """For each change taken back, the undo that did it: an undo counts while it is done and not
    itself undone (undoing an undo puts the change back). An unverified undo never counts for a
    verified change: a forged line must not make a real change look taken back."""
    verified = {c.change_id: c.verified for c in changes}
    undos: dict[str, list[Change]] = {}
    for change in changes:
        if change.undoes and (change.verified or not verified.get(change.undoes, False)):
            undos.setdefault(change.undoes, []).append(change)
    memo: dict[str, Change | None] = {}

    def effective_undo(change_id: str) -> Change | None:
        if change_id not in memo:
            memo[change_id] = None  # no cycles in time, but never loop on a corrupt journal
            memo[change_id] = next(
                (
                    u
                    for u in reversed(undos.get(change_id, []))
                    if u.outcome == "done" and not effective_undo(u.change_id)
                ),
                None,
            )
        return memo[change_id]

    found = {}
    for change in changes:
        undo = effective_undo(change.change_id)
        if undo is not None:
            found[change.change_id] = undo
    return found


def printable(text: Any) -> Any:
    """Text from the journal as it can be answered: a lone surrogate (a line written by hand, or
    by a version that kept them) cannot be sent as UTF-8 JSON, and is shown as U+FFFD (`mend`)."""
    if isinstance(text, str):
        return mend(text)
    if isinstance(text, list):
        return [printable(item) for item in text]
    return text


def _people(pairs: Iterable[Any]) -> str:
    return lookup.listing([lookup.labelled(p[1], p[0], "user") for p in pairs], most=5)


def _places(pairs: Iterable[Any]) -> str:
    return lookup.listing([lookup.labelled(p[1], p[0], "workspace") for p in pairs], most=5)


def with_names(state: Any, effect: dict[str, Any]) -> dict[str, Any]:
    """The effect with names it lacks filled from the name book (no request): a change recorded
    before anything read its names still lists in names once they are known."""
    filled = dict(effect)
    for key, kind in (
        ("group", "group"),
        ("project", "project"),
        ("user", "user"),
        ("workspace", "workspace"),
    ):
        id_key = f"{key}_id"
        if not filled.get(key) and isinstance(filled.get(id_key), int):
            filled[key] = lookup.name_of(state, kind, filled[id_key])
    if not filled.get("name") and isinstance(filled.get("group_id"), int):
        filled["name"] = lookup.name_of(state, "group", filled["group_id"])
    for key, kind in (
        ("users", "user"),
        ("users_added", "user"),
        ("users_removed", "user"),
        ("workspaces", "workspace"),
        ("workspaces_added", "workspace"),
        ("workspaces_removed", "workspace"),
    ):
        if filled.get(key):
            filled[key] = [[p[0], p[1] or lookup.name_of(state, kind, p[0])] for p in filled[key]]
    return filled


def summary(change: Change, state: Any = None) -> str:
    """One line in names: what the change did."""
    e, kind = change.effect, change.kind
    if state is not None:
        e = with_names(state, e)
    group = lookup.labelled(
        e.get("name") or e.get("group"), e.get("group_id") or change.result.get("group_id") or 0, "group"
    )
    said: str
    if kind in ("group_created", "group_restored"):
        new = change.result.get("group_id")
        made = "recreated" if kind == "group_restored" else "created"
        said = (
            f"{made} group {e.get('name')!r}{f' ({new})' if new else ''}: {len(e.get('users') or [])} "
            f"member(s), {len(e.get('workspaces') or [])} workspace(s)"
        )
        if kind == "group_restored":
            said += f", {len(e.get('links') or [])} project(s)"
    elif kind == "group_deleted":
        said = (
            f"deleted group {group}: {len(e.get('users') or [])} member(s), "
            f"{len(e.get('workspaces') or [])} workspace(s), {len(e.get('links') or [])} project(s)"
        )
    elif kind == "group_changed":
        parts = []
        if e.get("renamed"):
            parts.append(f"renamed {e['renamed'][0]!r} to {e['renamed'][1]!r}")
        for key, verb, show in (
            ("users_added", "added", _people),
            ("users_removed", "removed", _people),
            ("workspaces_added", "added workspace(s)", _places),
            ("workspaces_removed", "removed workspace(s)", _places),
        ):
            if e.get(key):
                parts.append(f"{verb} {show(e[key])}")
        said = f"changed group {group}: {'; '.join(parts) or 'nothing'}"
    elif kind in ("link_added", "link_removed"):
        verb = "gained" if kind == "link_added" else "lost"
        said = (
            f"{lookup.labelled(e.get('group'), e.get('group_id', 0), 'group')} {verb} access to "
            f"{lookup.labelled(e.get('project'), e.get('project_id', 0), 'project')}"
        )
    elif kind in ("member_added", "member_removed"):
        said = (
            f"{lookup.labelled(e.get('user'), e.get('user_id', 0), 'user')} "
            f"{'became' if kind == 'member_added' else 'stopped being'} a direct member of "
            f"{lookup.labelled(e.get('project'), e.get('project_id', 0), 'project')}"
        )
        kept = _carried(e)
        if kept:
            said += f" ({kept})"
    else:
        said = f"{change.tool} ({kind or 'unknown change'})"
    return f"undo of {change.undoes}: {said}" if change.undoes else said


def _carried(e: dict[str, Any]) -> str:
    """What a direct membership carried: `manager, rate 95, labor cost 60`."""
    parts = ["manager"] if e.get("manager") is True else []
    for key, label in (("rate", "rate"), ("labor_cost", "labor cost")):
        if isinstance(e.get(key), int | float) and not isinstance(e.get(key), bool):
            parts.append(f"{label} {e[key]:g}")
    return ", ".join(parts)


VERIFIED_FIELD: Any = Field(
    default=None,
    description="false: the journal record is not signed by this server (older, altered or forged); "
    "undo_change refuses it",
)
WARNING_FIELD: Any = Field(default=None, description="Why this change's records are not all trusted")


class ChangeItem(BaseModel):
    change_id: str
    summary: str
    outcome: str
    undone_by: str | None = None
    verified: Literal[False] | None = VERIFIED_FIELD
    warning: str | None = WARNING_FIELD


class ChangeLine(BaseModel):
    change_id: str = Field(description="undo_change takes it")
    time: str
    tool: str
    summary: str
    outcome: str = Field(description="done, failed, partial, or unknown (the answer was lost)")
    undone_by: str | None = Field(default=None, description="The undo that took it back")
    items: list[ChangeItem] | None = Field(default=None, description="A bulk run's items")
    verified: Literal[False] | None = VERIFIED_FIELD
    warning: str | None = WARNING_FIELD


class ChangeList(BaseModel):
    changes: list[ChangeLine] = Field(description="Newest first")
    total: int
    shown: str | None = Field(default=None, description="Set when the list was cut: how to see the rest")


def _utc(text: str) -> str:
    """An ISO date or time, any offset, as the journal writes times (UTC, ending in Z). One that
    falls outside years 1 to 9999 in UTC (0001-01-01T00:00+23:59) is clamped to that range."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"since: {text!r} is not an ISO date or time (2026-11-30 or 2026-11-30T09:00Z)."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except OverflowError:
        offset = when.utcoffset()
        when = datetime.min if offset is not None and offset > timedelta(0) else datetime.max
        when = when.replace(tzinfo=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _touches_group(change: Change, group_id: int) -> bool:
    e = change.effect
    return group_id in (e.get("group_id"), change.result.get("group_id"))


def _run_outcome(items: list[Change]) -> str:
    outcomes = {c.outcome for c in items}
    return outcomes.pop() if len(outcomes) == 1 else "partial"


@tool("list_changes", title="List changes this server made", safety=Safety.READ)
async def list_changes(
    ctx: Context,
    group_id: Annotated[int | None, Field(ge=1, description="Only this group's")] = None,
    tool: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, min_length=1),
        Field(description="Only this tool's"),
    ] = None,
    since: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, min_length=4),
        Field(description="ISO date or time"),
    ] = None,
) -> ChangeList:
    """Changes this server made, newest first, in names, with change ids for undo_change and
    whether undone. No Toggl request."""
    journal = _journal(ctx)
    state = app_state(ctx)
    since = _utc(since) if since is not None else None
    changes = read_changes(journal)
    undone = undone_by(changes)
    picked = [
        c
        for c in changes
        if (group_id is None or _touches_group(c, group_id))
        and (tool is None or c.tool == tool)
        and (since is None or c.time >= since)
    ]
    lines: list[ChangeLine] = []
    runs: dict[str, ChangeLine] = {}
    for change in reversed(picked):
        item_undo = undone.get(change.change_id)
        if change.run is None:
            lines.append(
                ChangeLine(
                    change_id=printable(change.change_id),
                    time=printable(change.time),
                    tool=printable(change.tool),
                    summary=printable(summary(change, state)),
                    outcome=printable(change.outcome),
                    undone_by=item_undo.change_id if item_undo else None,
                    verified=None if change.verified else False,
                    warning=warning_of(change),
                )
            )
            continue
        item = ChangeItem(
            change_id=printable(change.change_id),
            summary=printable(summary(change, state)),
            outcome=printable(change.outcome),
            undone_by=item_undo.change_id if item_undo else None,
            verified=None if change.verified else False,
            warning=warning_of(change),
        )
        line = runs.get(change.run)
        if line is None:
            line = runs[change.run] = ChangeLine(
                change_id=printable(change.run),
                time=printable(change.time),
                tool=printable(change.tool),
                summary="",
                outcome="",
                items=[],
            )
            lines.append(line)
        assert line.items is not None
        line.items.insert(0, item)
        line.time = printable(change.time)  # the run's first item, as items are read newest first
    for run_id, line in runs.items():
        items = [c for c in picked if c.run == run_id]
        assert line.items is not None
        line.outcome = _run_outcome(items)
        line.summary = f"{len(items)} change(s): " + lookup.listing([i.summary for i in line.items], most=3)
        undos = {i.undone_by for i in line.items}
        line.undone_by = undos.pop() if len(undos) == 1 else None
    shown = fit(lines, app_state(ctx).settings.text_budget)
    result = ChangeList(changes=lines[:shown], total=len(lines))
    if shown < len(lines):
        result.shown = f"{shown} of {len(lines)} shown; narrow with group_id, tool or since"
    return result


# -- undoing -----------------------------------------------------------------------------------


@dataclass
class Report:
    restored: list[str] = field(default_factory=list)
    could_not: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """How to take one change back, read from Toggl as it is now."""

    target: Change
    effect: dict[str, Any] = field(default_factory=dict)
    loses: list[str] = field(default_factory=list)
    requests: int = 0
    nothing: str | None = None  # why there is nothing to do
    conflicts: list[str] = field(default_factory=list)  # known before anything is sent
    act: Callable[[Entry, Report], Awaitable[None]] | None = None


def _group_name(group: TogglGroup) -> str:
    return lookup.labelled(group.name, group.group_id, "group")


async def _find_group(ctx: Context, org: int, group_id: int | None) -> TogglGroup | None:
    return next((g for g in await read_groups(ctx, org) if g.group_id == group_id), None)


def _org(change: Change) -> int:
    if not isinstance(change.organization_id, int):
        raise ToolError(f"Change {change.change_id} does not say its organization; it cannot be undone here.")
    return change.organization_id


async def _plan_delete_created(ctx: Context, target: Change, journal: Journal) -> Plan:
    org = _org(target)
    plan = Plan(target)
    gid = target.result.get("group_id")
    by_name = gid is None
    if by_name:  # the create's answer was lost: the group may exist under its name
        name = str(target.effect.get("name", "")).casefold()
        match = [g for g in await read_groups(ctx, org) if g.name.casefold() == name]
        gid = match[0].group_id if match else None
    group = await _find_group(ctx, org, current_group_id(ctx, gid))
    if group is None:
        plan.nothing = f"group {target.effect.get('name')!r} ({gid or 'never created'}) no longer exists"
        return plan
    plan.effect = await journaling.deleted_group(ctx, org, group)
    e = plan.effect
    plan.loses = [
        f"delete group {_group_name(group)}, with {len(e['users'])} member(s) ({_people(e['users'])}), "
        f"{len(e['workspaces'])} workspace(s) and access to {len(e['links'])} project(s)"
        + (f" ({lookup.listing([link['project'] for link in e['links']], most=10)})" if e["links"] else "")
        # Someone else may have made a group of that name: the person must know how it was found.
        + (f"; found by its name, since the answer to {target.change_id} was lost" if by_name else "")
    ]
    plan.requests = 1

    async def act(entry: Entry, report: Report) -> None:
        await app_state(ctx).toggl.request("DELETE", groups_path(org, group.group_id))
        report.restored.append(f"deleted group {_group_name(group)}, which {target.change_id} made")

    plan.act = act
    return plan


def _trusted(ctx: Context) -> list[Change]:
    """The verified changes this call read (`_plans`): the only ones an undo takes any word of."""
    trusted: list[Change] = call_memo(ctx).get(("trusted",), [])
    return trusted


def _earlier_restore(changes: list[Change], target: Change) -> tuple[int | None, dict[int, int]]:
    """What earlier undos of this deletion already did: the group they recreated, and the links
    they re-added (project id → link id), so a second call resumes instead of repeating."""
    group_id: int | None = None
    links: dict[int, int] = {}
    for change in changes:
        if change.undoes != target.change_id or change.kind != "group_restored":
            continue
        for step in [*change.steps, change.result]:
            if isinstance(step.get("group_id"), int):
                if step["group_id"] != group_id:
                    links = {}
                group_id = step["group_id"]
            if isinstance(step.get("project_id"), int):
                links[step["project_id"]] = step.get("link_id") or 0
    return group_id, links


async def _plan_recreate(ctx: Context, target: Change, journal: Journal) -> Plan:
    state = app_state(ctx)
    org = _org(target)
    e = target.effect
    name = str(e.get("name", ""))
    plan = Plan(target)
    earlier, linked = _earlier_restore(_trusted(ctx), target)
    groups = await read_groups(ctx, org)
    resumed = next((g for g in groups if g.group_id == earlier), None) if earlier else None
    if resumed is None:
        linked = {}
        if any(g.group_id == e.get("group_id") for g in groups):
            plan.nothing = f"group {name!r} ({e.get('group_id')}) still exists: the deletion did not happen"
            return plan
        taken = next((g for g in groups if g.name.casefold() == name.casefold()), None)
        if taken is not None:
            plan.conflicts.append(
                f"group {name!r} could not be recreated: the name is taken by group {taken.group_id}. "
                "Rename or delete that group, then call undo_change again"
            )
            return plan
    links = [link for link in e.get("links") or [] if link.get("project_id") not in linked]
    plan.effect = {
        "kind": "group_restored",
        "group_id": e.get("group_id"),  # the deleted group's id; the new one is in the result
        "name": name,
        "users": e.get("users") or [],
        "workspaces": e.get("workspaces") or [],
        "links": e.get("links") or [],
        "from": target.change_id,
    }
    plan.requests = (0 if resumed else 1) + len(links)

    async def act(entry: Entry, report: Report) -> None:
        group_id = resumed.group_id if resumed else await _recreate(ctx, org, e, entry, report)
        entry.result["group_id"] = group_id
        if resumed:
            report.restored.append(
                f"group {name!r} was recreated earlier as {group_id}; going on with its projects"
            )
        clock = state.toggl.clock
        started = clock()
        for index, link in enumerate(links):
            project = lookup.labelled(link.get("project"), link["project_id"], "project")
            if index and clock() - started > state.settings.bulk_seconds:
                rest = [lookup.labelled(x.get("project"), x["project_id"], "project") for x in links[index:]]
                report.could_not.append(
                    f"stopped after {clock() - started:.0f} s so the answer arrives in time; not yet "
                    f"re-added, call undo_change again to go on: {lookup.listing(rest)}"
                )
                entry.outcome = "partial"
                return
            try:
                added = await add_link(state, link["workspace_id"], link["project_id"], group_id)
            except TogglError as error:
                report.could_not.append(f"access to {project}: {error.describe()}")
                if error.kind in STOPPING_KINDS or (error.status or 0) >= 500:
                    rest = [
                        lookup.labelled(x.get("project"), x["project_id"], "project")
                        for x in links[index + 1 :]
                    ]
                    if rest:
                        report.could_not.append(
                            f"not tried, call undo_change again to go on: {lookup.listing(rest)}"
                        )
                    return
                continue
            if entry.change_id:  # a second call resumes after this link
                await journal.astep(entry.change_id, {"project_id": link["project_id"], **added})
            report.restored.append(f"{name} regained access to {project}")

    plan.act = act
    return plan


async def _recreate(ctx: Context, org: int, e: dict[str, Any], entry: Entry, report: Report) -> int:
    """POST the group with its members and workspaces; if Toggl refuses one of them (someone left
    the organization, a workspace is gone), create it bare and add them back one by one, so that
    each refusal is known and the rest is restored."""
    state = app_state(ctx)
    journal = _journal(ctx)
    name = str(e.get("name", ""))
    users = [p[0] for p in e.get("users") or []]
    workspaces = [p[0] for p in e.get("workspaces") or []]
    body = {"name": name, "users": users, "workspaces": workspaces}
    try:
        data = await state.toggl.request("POST", groups_path(org), json=body)
        one_by_one = False
    except TogglError as error:
        if error.status != 400 or not (users or workspaces):
            raise
        data = await state.toggl.request(
            "POST", groups_path(org), json={"name": name, "users": [], "workspaces": []}
        )
        one_by_one = True
    group_id = data.get("group_id") if isinstance(data, dict) else None
    if not isinstance(group_id, int):
        raise ToolError(
            f"Toggl accepted the recreated group {name!r} but did not answer with its id; check list_groups."
        )
    if entry.change_id:
        await journal.astep(entry.change_id, {"group_id": group_id})
    await state.toggl.note_created_group(group_id)
    if one_by_one:
        ops = [{"op": "add", "path": "/users", "value": [u]} for u in users] + [
            {"op": "add", "path": "/workspaces", "value": [w]} for w in workspaces
        ]
        refused = await _patch_each(ctx, org, group_id, ops)
        users = [u for u in users if ("add", "/users", u) not in refused]
        workspaces = [w for w in workspaces if ("add", "/workspaces", w) not in refused]
        report.could_not += [_refusal(e, key, why) for key, why in refused.items()]
    report.restored.append(
        f"recreated group {name!r} as {group_id} (it had {e.get('group_id')}) with {len(users)} member(s) "
        f"and {len(workspaces)} workspace(s)"
    )
    return group_id


def _refusal(e: dict[str, Any], key: tuple[str, str, int], why: str) -> str:
    op, path, value = key
    kind = "users" if path == "/users" else "workspaces"
    pairs = [*(e.get(kind) or []), *(e.get(f"{kind}_added") or []), *(e.get(f"{kind}_removed") or [])]
    name = next((p[1] for p in pairs if p[0] == value), None)
    label = lookup.labelled(name, value, "user" if kind == "users" else "workspace")
    verb = "added back" if op == "add" else "removed"
    return f"{label} could not be {verb}: {why}"


async def _patch_each(
    ctx: Context, org: int, group_id: int, ops: list[dict[str, Any]]
) -> dict[tuple[str, str, int], str]:
    """PATCH with one value per operation, so Toggl's answer tells each one: what it refused."""
    state = app_state(ctx)
    refused: dict[tuple[str, str, int], str] = {}
    for start in range(0, len(ops), PATCH_MAX_OPS):
        batch = ops[start : start + PATCH_MAX_OPS]
        data = await state.toggl.request("PATCH", groups_path(org, group_id), json=batch)
        failures = data.get("failure") if isinstance(data, dict) else None
        if not isinstance(data, dict) or ("success" not in data and "failure" not in data):
            for op in batch:
                refused[(op["op"], op["path"], op["value"][0])] = (
                    "Toggl's answer did not say whether this applied"
                )
            continue
        for failure in failures or []:
            patch = failure.get("patch") if isinstance(failure, dict) else None
            if isinstance(patch, dict) and isinstance(patch.get("value"), list) and patch["value"]:
                refused[(str(patch.get("op")), str(patch.get("path")), patch["value"][0])] = str(
                    failure.get("message") or "refused"
                )
    return refused


async def _plan_reverse_change(ctx: Context, target: Change) -> Plan:
    state = app_state(ctx)
    org = _org(target)
    e = target.effect
    plan = Plan(target)
    group = await _find_group(ctx, org, current_group_id(ctx, e.get("group_id")))
    if group is None:
        plan.nothing = f"group {e.get('name')!r} ({e.get('group_id')}) no longer exists"
        return plan
    failed = {
        (op.get("op"), op.get("path"), value)
        for op in target.result.get("failed_ops") or []
        for value in op.get("value") or []
    }

    def ids(key: str, op: str, path: str) -> list[int]:
        return [p[0] for p in e.get(key) or [] if (op, path, p[0]) not in failed]

    users_back = [u for u in ids("users_removed", "remove", "/users") if u not in group.user_ids]
    users_out = [u for u in ids("users_added", "add", "/users") if u in group.user_ids]
    ws_back = [w for w in ids("workspaces_removed", "remove", "/workspaces") if w not in group.workspaces]
    ws_out = [w for w in ids("workspaces_added", "add", "/workspaces") if w in group.workspaces]
    rename: str | None = None
    if e.get("renamed"):
        old, new = e["renamed"]
        if group.name == new:
            taken = next(
                (
                    g
                    for g in await read_groups(ctx, org)
                    if g.group_id != group.group_id and g.name.casefold() == old.casefold()
                ),
                None,
            )
            if taken is None:
                rename = old
            else:
                plan.conflicts.append(
                    f"{_group_name(group)} could not be renamed back to {old!r}: group {taken.group_id} has that name now"
                )
        elif group.name != old:
            plan.conflicts.append(
                f"{_group_name(group)} was renamed since to {group.name!r}; its name is left as it is"
            )
    if rename is None and not (users_back or users_out or ws_back or ws_out):
        if not plan.conflicts:
            plan.nothing = f"{_group_name(group)} is already as it was before {target.change_id}"
        return plan
    plan.effect = journaling.changed_group(
        state,
        group,
        name=rename,
        users_added=users_back,
        users_removed=users_out,
        workspaces_added=ws_back,
        workspaces_removed=ws_out,
    )
    # Names the journal kept (the group as read now knows only its current members).
    keys = ("users_added", "users_removed", "workspaces_added", "workspaces_removed")
    kept = {p[0]: p[1] for k in keys for p in e.get(k) or []}
    for key in keys:
        for pair in plan.effect.get(key) or []:
            pair[1] = pair[1] or kept.get(pair[0])
    if users_out:
        plan.loses.append(f"{_group_name(group)} loses member(s) {_people(plan.effect['users_removed'])}")
    if ws_out:
        plan.loses.append(
            f"{_group_name(group)} loses workspace(s) {_places(plan.effect['workspaces_removed'])}"
        )
    ops = (
        [{"op": "add", "path": "/users", "value": [u]} for u in users_back]
        + [{"op": "remove", "path": "/users", "value": [u]} for u in users_out]
        + [{"op": "add", "path": "/workspaces", "value": [w]} for w in ws_back]
        + [{"op": "remove", "path": "/workspaces", "value": [w]} for w in ws_out]
    )
    plan.requests = (1 if rename else 0) + -(-len(ops) // PATCH_MAX_OPS)

    async def act(entry: Entry, report: Report) -> None:
        if rename is not None:
            body = {"name": rename, "users": group.user_ids, "workspaces": group.workspaces}
            await state.toggl.request("PUT", groups_path(org, group.group_id), json=body)
            report.restored.append(f"renamed {group.name!r} back to {rename!r}")
            lookup.remember(state, "group", group.group_id, rename)
        if not ops:
            return
        refused = await _patch_each(ctx, org, group.group_id, ops)
        if refused:
            entry.result["failed_ops"] = [{"op": op, "path": path, "value": [v]} for op, path, v in refused]
            report.could_not += [_refusal(plan.effect, key, why) for key, why in refused.items()]
        for key, verb, show in (
            ("users_added", "added back", _people),
            ("users_removed", "removed", _people),
            ("workspaces_added", "added back workspace(s)", _places),
            ("workspaces_removed", "removed workspace(s)", _places),
        ):
            path = "/users" if key.startswith("users") else "/workspaces"
            op = "add" if key.endswith("added") else "remove"
            done = [p for p in plan.effect.get(key) or [] if (op, path, p[0]) not in refused]
            if done:
                report.restored.append(
                    f"{verb} {show(done)} ({lookup.labelled(group.name, group.group_id, 'group')})"
                )

    plan.act = act
    return plan


async def _plan_link(ctx: Context, target: Change) -> Plan:
    state = app_state(ctx)
    e = target.effect
    ws, pid, gid = e.get("workspace_id"), e.get("project_id"), current_group_id(ctx, e.get("group_id"))
    plan = Plan(target)
    if not all(isinstance(x, int) for x in (ws, pid, gid)):
        plan.nothing = "the journal does not say which link this was"
        return plan
    assert isinstance(ws, int) and isinstance(pid, int) and isinstance(gid, int)
    group = lookup.labelled(e.get("group"), gid, "group")
    project = lookup.labelled(e.get("project"), pid, "project")
    link = next((x for x in await _project_rows(ctx, "links", ws, pid) if x.group_id == gid), None)
    if target.kind == "link_added":
        if link is None:
            plan.nothing = f"{group} has no access to {project} any more"
            return plan
        plan.effect = journaling.link_effect(state, "link_removed", ws, pid, gid, link.id)
        plan.effect.update(project=e.get("project"), group=e.get("group"))
        plan.loses.append(f"{group} loses access to {project} (link {link.id})")
        plan.requests = 1

        async def unlink(entry: Entry, report: Report) -> None:
            await state.toggl.request("DELETE", links_path(ws, link.id))
            report.restored.append(f"{group} no longer has access to {project}")

        plan.act = unlink
        return plan
    if link is not None:
        plan.nothing = f"{group} already has access to {project}"
        return plan
    plan.effect = journaling.link_effect(state, "link_added", ws, pid, gid)
    plan.effect.update(project=e.get("project"), group=e.get("group"))
    plan.requests = 1

    async def relink(entry: Entry, report: Report) -> None:
        try:
            entry.result = await add_link(state, ws, pid, gid)
        except TogglError as error:
            if error.status is None or error.status >= 500 or error.kind in STOPPING_KINDS:
                raise
            report.could_not.append(f"{group} could not regain access to {project}: {error.describe()}")
            entry.outcome = "failed"
            return
        report.restored.append(f"{group} has access to {project} again")

    plan.act = relink
    return plan


# Re-adding a membership with its rate and labor cost, `rate_change_mode` and
# `labor_cost_change_mode` say which time entries the value applies to (Toggl's docs: "start-today",
# "override-current", "override-all"; the app's "change rate as of today / for all data" question,
# on plans with historical rates). "start-today": from 00:00 today on, while past entries keep the
# rates they have. That puts back what the removal lost, the rate this person gets on this project
# from now on, and rewrites no history: "override-all" would stamp this rate on every past entry,
# also those from before `rate_last_updated` when another rate applied, and "override-current"
# rewrites the whole current rate period back to its start. The removal did not touch past entries,
# so neither does its undo.
RESTORE_MODE = "start-today"


async def _plan_member(ctx: Context, target: Change) -> Plan:
    state = app_state(ctx)
    e = target.effect
    ws, pid, uid = e.get("workspace_id"), e.get("project_id"), e.get("user_id")
    plan = Plan(target)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (ws, pid, uid)):
        plan.nothing = "the journal does not say which membership this was"
        return plan
    assert isinstance(ws, int) and isinstance(pid, int) and isinstance(uid, int)
    person = lookup.labelled(e.get("user"), uid, "user")
    project = lookup.labelled(e.get("project"), pid, "project")
    row = next((r for r in await _project_rows(ctx, "members", ws, pid) if r.user_id == uid), None)
    if target.kind == "member_added":
        if row is None:
            plan.nothing = f"{person} is no longer a direct member of {project}"
            return plan
        plan.effect = journaling.member_effect(state, "member_removed", ws, row)
        plan.effect.update(project=e.get("project"), user=e.get("user"), workspace=e.get("workspace"))
        carried = _carried(plan.effect)
        plan.loses.append(
            f"{person} stops being a direct member of {project}" + (f" (loses {carried})" if carried else "")
        )
        plan.requests = 1

        async def end(entry: Entry, report: Report) -> None:
            await state.toggl.request("DELETE", lookup.project_users_path(ws, row.id))
            report.restored.append(f"{person} is no longer a direct member of {project}")

        plan.act = end
        return plan
    if row is not None:
        plan.nothing = f"{person} is a direct member of {project} again"
        return plan
    body: dict[str, Any] = {"project_id": pid, "user_id": uid, "manager": e.get("manager") is True}
    for key in ("rate", "labor_cost"):
        value = e.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[key] = value
            body[f"{key}_change_mode"] = RESTORE_MODE
    plan.effect = {**e, "kind": "member_added"}
    plan.effect.pop("project_user_id", None)
    plan.requests = 1

    async def readd(entry: Entry, report: Report) -> None:
        try:
            data = await state.toggl.request("POST", lookup.project_users_path(ws), json=body)
        except TogglError as error:
            if error.status is None or error.status >= 500 or error.kind in STOPPING_KINDS:
                raise
            report.could_not.append(
                f"{person} could not be made a direct member of {project} again: {error.describe()}"
            )
            entry.outcome = "failed"
            return
        if isinstance(data, dict) and isinstance(data.get("id"), int):
            entry.result = {"project_user_id": data["id"]}
        said = f"{person} is a direct member of {project} again"
        carried = _carried(e)
        if carried:
            said += f", with {carried}"
        if "rate" in body or "labor_cost" in body:
            said += " (applying from today; past time entries unchanged)"
        report.restored.append(said)

    plan.act = readd
    return plan


def restored_ids(changes: list[Change]) -> dict[int, int]:
    """A deleted group's id → the id Toggl gave it when an undo recreated it (the mapping the
    journal keeps), so that undoing an older change of the group reaches the group as it is now."""
    mapping: dict[int, int] = {}
    for change in changes:
        old, new = change.effect.get("group_id"), change.result.get("group_id")
        if change.kind == "group_restored" and isinstance(old, int) and isinstance(new, int):
            mapping[old] = new
    return mapping


def current_group_id(ctx: Context, group_id: Any) -> Any:
    mapping: dict[int, int] = call_memo(ctx).get(("restored-ids",), {})
    seen: set[int] = set()
    while group_id in mapping and group_id not in seen:
        seen.add(group_id)
        group_id = mapping[group_id]
    return group_id


async def plan_undo(ctx: Context, target: Change) -> Plan:
    journal = _journal(ctx)
    if target.outcome == "failed":
        return Plan(target, nothing=f"{target.change_id} failed, so Toggl has nothing to take back")
    kind = target.kind
    if kind in ("group_created", "group_restored"):
        return await _plan_delete_created(ctx, target, journal)
    if kind == "group_deleted":
        return await _plan_recreate(ctx, target, journal)
    if kind == "group_changed":
        return await _plan_reverse_change(ctx, target)
    if kind in ("link_added", "link_removed"):
        return await _plan_link(ctx, target)
    if kind in ("member_added", "member_removed"):
        return await _plan_member(ctx, target)
    return Plan(
        target, nothing=f"{target.change_id} is a change this server cannot reverse ({kind or 'unknown'})"
    )


def _targets(journal: Journal, change_id: str) -> tuple[list[Change], list[str], list[Change]]:
    """The changes to undo (a run's items newest first), the notes on those already undone or
    refused, and the verified changes of the journal: nothing an undo does rests on a record whose
    integrity tag does not check out."""
    changes = read_changes(journal)
    single = [c for c in changes if c.change_id == change_id]
    items = single or [c for c in changes if c.run == change_id][::-1]
    if not items:
        recent = [c.run or c.change_id for c in changes[::-1]]
        raise ToolError(
            f"No change {change_id!r} in the journal. Recent ones: {lookup.listing(list(dict.fromkeys(recent)), most=8)}; "
            "list_changes shows them."
        )
    refused = [c for c in items if not c.verified]
    if refused and len(refused) == len(items):
        why = distrust(refused[0], journal.key_path)
        raise ToolError(
            f"Not done: {change_id} cannot be undone because {why}, so this server cannot tell it from "
            "a line someone else wrote. No change was sent to Toggl. list_changes still shows it; "
            "to reverse it, make the opposite change with the other tools, with the user's approval."
        )
    changes = [c for c in changes if c.verified]
    items = [c for c in items if c.verified]
    undone = undone_by(changes)
    undos = {undone[c.change_id].run or undone[c.change_id].change_id for c in items if c.change_id in undone}
    if not single and len(undos) == 1 and all(c.change_id in undone for c in items):
        # A whole run taken back by one undo (a run itself when it had several items).
        notes = [f"{change_id} was already undone by {undos.pop()}"]
    else:
        notes = [
            f"{c.change_id} was already undone by {undone[c.change_id].change_id}"
            for c in items
            if c.change_id in undone
        ]
    notes += [
        f"{c.change_id} was not undone: {distrust(c, journal.key_path)}; it is not part of {change_id} "
        "as this server recorded it"
        for c in refused
    ]
    return [c for c in items if c.change_id not in undone], notes, changes


# What an undo reads per project, by the kinds of change that need it: the links (project_groups)
# or the direct members (project_users), with the project id of a row.
_PER_PROJECT: dict[str, tuple[tuple[str, ...], Callable[..., Awaitable[list[Any]]], Callable[[Any], int]]] = {
    "links": (("link_added", "link_removed"), lookup.links_of, lambda row: row.pid),
    "members": (("member_added", "member_removed"), lookup.project_users_of, lambda row: row.project_id),
}


async def _project_rows(ctx: Context, what: str, ws: int, project_id: int) -> list[Any]:
    """A project's links or direct members as this call read them: a run's projects are read
    together (below)."""
    read: dict[int, list[Any]] | None = call_memo(ctx).get((f"run-{what}", ws))
    if read is not None and project_id in read:
        return read[project_id]
    return await _PER_PROJECT[what][1](ctx, ws, [project_id])


async def _read_runs_together(ctx: Context, targets: list[Change]) -> None:
    """A bulk run's links and memberships in one query per workspace and 200 projects, not one per
    item."""
    memo = call_memo(ctx)
    for what, (kinds, read_rows, project_of) in _PER_PROJECT.items():
        by_ws: dict[int, list[int]] = {}
        for target in targets:
            e = target.effect
            if target.kind in kinds and isinstance(e.get("workspace_id"), int):
                if isinstance(e.get("project_id"), int):
                    by_ws.setdefault(e["workspace_id"], []).append(e["project_id"])
        for ws, projects in by_ws.items():
            if len(projects) < 2:
                continue
            projects = list(dict.fromkeys(projects))
            read: dict[int, list[Any]] = {pid: [] for pid in projects}
            for row in await read_rows(ctx, ws, projects):
                read.setdefault(project_of(row), []).append(row)
            memo[(f"run-{what}", ws)] = read


async def _plans(ctx: Context, change_id: str) -> tuple[list[Plan], list[str]]:
    memo_key = ("undo-plans", change_id)
    memo = call_memo(ctx)
    if memo_key not in memo:
        targets, notes, changes = _targets(_journal(ctx), change_id)
        memo[("trusted",)] = changes
        memo[("restored-ids",)] = restored_ids(changes)
        await _read_runs_together(ctx, targets)
        memo[memo_key] = ([await plan_undo(ctx, t) for t in targets], notes)
    plans: tuple[list[Plan], list[str]] = memo[memo_key]
    return plans


async def _undo_preview(ctx: Context, change_id: str, confirm: bool) -> Confirmation | Elicit[Confirmation]:
    async def preview() -> Preview | None:
        plans, _ = await _plans(ctx, change_id)
        loses = [line for plan in plans for line in plan.loses]
        if not loses:
            return None
        requests = sum(p.requests for p in plans)
        sends = f"{requests} change" + ("s" if requests != 1 else "")
        return Preview(f"Undo {change_id}; this sends {sends} to Toggl (paced) and loses:", loses)

    return await gate(ctx, confirm, preview)


class UndoResult(BaseModel):
    undid: str = Field(description="The change (or run) taken back")
    change_id: str | None = Field(default=None, description="This undo's own id: undo_change undoes it")
    restored: list[str] = Field(description="What was done, in names")
    could_not: list[str] = Field(description="What could not be, and why; call again to resume")
    nothing_to_do: list[str] | None = None
    complete: bool


@tool("undo_change", title="Undo a change this server made", safety=Safety.DESTRUCTIVE, idempotent=True)
async def undo_change(
    ctx: Context,
    change_id: Annotated[ChangeIdArg, Field(description="From list_changes or a result")],
    approval: Annotated[Approval, Resolve(_undo_preview)],
    confirm: StrictBool = ConfirmArg,
) -> UndoResult:
    """Reverses a change or bulk run, checked against Toggl now; asks the user first if anything
    is lost. 1 request per change sent, plus 1 read per organization or workspace."""
    require_approval(approval, f"undo {change_id}")
    plans, notes = await _plans(ctx, change_id)
    if asked_before_this_read(ctx):
        # The human answered after the plan was read: plan again from Toggl as it is now, and
        # refuse if the undo would now lose anything they were not shown.
        shown = {line for plan in plans for line in plan.loses}
        call_memo(ctx).clear()
        plans, notes = await _plans(ctx, change_id)
        unseen = [line for plan in plans for line in plan.loses if line not in shown]
        if unseen:
            raise ToolError(
                f"Not done: Toggl changed while the user was deciding, and undoing {change_id} would "
                f"now also: {'; '.join(unseen)}. No change was sent to Toggl. Call undo_change again "
                "to show the user the new preview."
            )
    report = Report()
    nothing = [*notes]
    run = new_change_id() if len(plans) > 1 else None
    own: str | None = None
    state = app_state(ctx)
    clock = state.toggl.clock
    started = clock()
    for index, plan in enumerate(plans):
        if index and clock() - started > state.settings.bulk_seconds:
            # Like a bulk run: answer before the host gives up; the next call goes on from here.
            left = len([p for p in plans[index:] if p.act is not None])
            report.could_not.append(
                f"stopped after {clock() - started:.0f} s so the answer arrives in time; {left} change(s) "
                f"left: call undo_change with {change_id} again to go on (nothing done is repeated)"
            )
            break
        report.could_not += plan.conflicts
        if plan.act is None:
            if plan.nothing:
                nothing.append(plan.nothing)
            continue
        target = plan.target
        async with journaling.recording(
            ctx,
            "undo_change",
            {"change_id": target.change_id},
            plan.effect,
            organization_id=target.organization_id,
            workspace_id=target.workspace_id,
            run=run,
            undoes=target.change_id,
        ) as entry:
            before = len(report.could_not)
            try:
                await plan.act(entry, report)
            except TogglError as error:
                report.could_not.append(f"undoing {target.change_id}: {error.describe()}. {error.hint()}")
                if error.effect == "unknown":
                    raise
                entry.outcome = "partial" if entry.result else "failed"
                if error.kind in STOPPING_KINDS:
                    break
                continue
            if len(report.could_not) > before and entry.outcome == "done":
                entry.outcome = "partial"
        own = run or entry.change_id
    return UndoResult(
        undid=change_id,
        change_id=own,
        restored=printable(report.restored),
        could_not=printable(report.could_not),
        nothing_to_do=printable(nothing) or None,
        complete=not report.could_not,
    )
