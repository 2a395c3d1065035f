"""Recording changes in the journal: what each tool captures before it writes, and the outcome.

Every tool that changes Toggl wraps each write in `recording(...)` with an *effect*: a plain dict
that says what the change does and carries everything needed to reverse it, in ids and names,
read before the request leaves. The kinds:

- `group_created`  {name, users, workspaces}; the outcome's result has `group_id`
- `group_restored` the same, made by an undo of `group_deleted` (with the links it re-adds)
- `group_deleted`  {group_id, name, users, workspaces, links: [{workspace_id, project_id, project, link_id}]}
- `group_changed`  {group_id, name, renamed: [old, new], users_added, users_removed,
                    workspaces_added, workspaces_removed}; people and workspaces as [id, name]
- `link_added`     {workspace_id, project_id, project, group_id, group}; result has `link_id`
- `link_removed`   the same with `link_id`
- `member_removed` {workspace_id, workspace, project_id, project, user_id, user, project_user_id,
                    manager, rate, labor_cost}: a direct project membership and what it carried
- `member_added`   the same, made by an undo of `member_removed`; result has `project_user_id`

Every record is tagged by the journal (journal.py): undo_change acts only on records whose tag
checks out. Without a journal (`--no-journal`) recording costs nothing and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..journal import Journal, new_change_id
from ..state import AppState, app_state
from ..toggl.errors import TogglError
from ..toggl.models import TogglGroup, TogglProjectUser
from . import lookup

log = logging.getLogger(__name__)

# In every result of a change, when the journal is on.
CHANGE_ID: Any = Field(default=None, description="undo_change takes it")


@dataclass
class Entry:
    """One change being made: the tool sets `result` (new ids) and may mark an error's outcome."""

    change_id: str | None
    result: dict[str, Any] = field(default_factory=dict)
    # The outcome if a ToolError ends the change (a TogglError says so itself).
    on_error: str = "failed"
    # A change that did what it could and reports the rest (an undo with conflicts).
    outcome: str = "done"


def journal_of(ctx: Context) -> Journal | None:
    return app_state(ctx).journal


@asynccontextmanager
async def recording(
    ctx: Context,
    tool: str,
    arguments: dict[str, Any],
    effect: dict[str, Any],
    *,
    organization_id: int | None = None,
    workspace_id: int | None = None,
    run: str | None = None,
    undoes: str | None = None,
) -> AsyncIterator[Entry]:
    """Journal the intent (fsynced) before the block sends anything, and its outcome after."""
    journal = journal_of(ctx)
    if journal is None:
        yield Entry(None)
        return
    try:
        change_id = await journal.abegin(
            tool=tool,
            arguments=arguments,
            effect=effect,
            organization_id=organization_id,
            workspace_id=workspace_id,
            run=run,
            undoes=undoes,
        )
    except OSError as error:
        # No record, no request: a change the journal cannot keep is not made.
        raise ToolError(
            f"The change journal ({journal.path}) could not be written ({error.strerror or error}), so "
            "nothing was sent to Toggl. Free disk space or fix the file, or run with --no-journal."
        ) from None
    entry = Entry(change_id)
    outcome, message = "unknown", None
    try:
        yield entry
        outcome = entry.outcome
    except TogglError as error:
        outcome = "unknown" if error.effect == "unknown" else "failed"
        message = error.describe()
        raise
    except ToolError as error:
        outcome, message = entry.on_error, str(error)
        raise
    finally:
        # Written even when the call is cancelled: what was sent is known, or said to be unknown.
        # A journal that fails now must not hide what Toggl did: the change reads as unknown there.
        with anyio.CancelScope(shield=True):
            try:
                await journal.afinish(change_id, outcome, message=message, result=entry.result or None)
            except OSError as error:
                log.warning("the change journal could not record the outcome of %s: %s", change_id, error)


# -- capturing what a change would lose -------------------------------------------------------------


def people(state: AppState, ids: Iterable[int], known: TogglGroup | None = None) -> list[list[Any]]:
    """[id, name] pairs: names from the group as read, else from the name book."""
    names = {u.user_id: u.name for u in known.users} if known else {}
    return [[i, names.get(i) or lookup.name_of(state, "user", i)] for i in ids]


def places(state: AppState, ids: Iterable[int]) -> list[list[Any]]:
    return [[i, lookup.name_of(state, "workspace", i)] for i in ids]


async def deleted_group(ctx: Context, org: int, group: TogglGroup) -> dict[str, Any]:
    """Everything a deletion loses, to recreate it: name, members, workspaces and project links
    (in every workspace of the organization, as the delete preview reads them)."""
    state = app_state(ctx)
    await lookup.workspace_rows(state)  # workspace names, usually cached
    reached = await lookup.projects_of_group(ctx, org, group)
    return {
        "kind": "group_deleted",
        "group_id": group.group_id,
        "name": group.name,
        "users": people(state, group.user_ids, group),
        "workspaces": places(state, group.workspaces),
        "links": [
            {
                "workspace_id": project.workspace_id,
                "project_id": project.id,
                "project": project.name,
                "link_id": link.id,
            }
            for project, link in sorted(reached, key=lambda pair: pair[0].name.casefold())
        ],
    }


def changed_group(
    state: AppState,
    before: TogglGroup,
    *,
    name: str | None = None,
    users_added: Iterable[int] = (),
    users_removed: Iterable[int] = (),
    workspaces_added: Iterable[int] = (),
    workspaces_removed: Iterable[int] = (),
) -> dict[str, Any]:
    effect: dict[str, Any] = {"kind": "group_changed", "group_id": before.group_id, "name": before.name}
    if name is not None and name != before.name:
        effect["renamed"] = [before.name, name]
    for key, values in (
        ("users_added", people(state, users_added, before)),
        ("users_removed", people(state, users_removed, before)),
        ("workspaces_added", places(state, workspaces_added)),
        ("workspaces_removed", places(state, workspaces_removed)),
    ):
        if values:
            effect[key] = values
    return effect


def link_effect(
    state: AppState, kind: str, ws: int, project_id: int, group_id: int, link_id: int | None = None
) -> dict[str, Any]:
    effect: dict[str, Any] = {
        "kind": kind,
        "workspace_id": ws,
        "project_id": project_id,
        "project": lookup.name_of(state, "project", project_id),
        "group_id": group_id,
        "group": lookup.name_of(state, "group", group_id),
    }
    if link_id is not None:
        effect["link_id"] = link_id
    return effect


def member_effect(state: AppState, kind: str, ws: int, row: TogglProjectUser) -> dict[str, Any]:
    """A direct project membership, with everything needed to put it back as it was: the manager
    flag and the person's own rate and labor cost on that project (None: none of their own)."""
    return {
        "kind": kind,
        "workspace_id": ws,
        "workspace": lookup.name_of(state, "workspace", ws),
        "project_id": row.project_id,
        "project": lookup.name_of(state, "project", row.project_id),
        "user_id": row.user_id,
        "user": lookup.name_of(state, "user", row.user_id),
        "project_user_id": row.id,
        "manager": row.manager,
        "rate": row.rate,
        "labor_cost": row.labor_cost,
    }


def new_run(ctx: Context) -> str | None:
    """An id shared by the items of one bulk call, so the call can be undone whole."""
    return new_change_id() if journal_of(ctx) is not None else None
