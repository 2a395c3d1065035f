"""Bulk access changes: many projects for one group, or every group of one user.

Each tool reads once to learn what is already so, skips it, and does the rest one request at a
time (the client paces them within Toggl's limits), reporting progress. If Toggl stops answering
(quota, rate limit, outage) the tool stops cleanly and says which items remain, so calling it
again resumes without repeating anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, Elicit, Resolve
from pydantic import BaseModel, Field

from ..state import AppState, app_state, deciding_state
from ..toggl.errors import TogglError
from ..toggl.models import TogglGroup, TogglProjectGroup
from . import journaling, lookup, scope
from .args import GroupId, Id, OrganizationId, WorkspaceId, dedupe
from .confirm import Approval, ConfirmArg, Confirmation, Preview, StrictBool, gate, require_approval
from .groups import groups_path, read_groups
from .project_groups import MAX_PROJECT_IDS, add_link, fetch_links, group_name, links_path
from .registry import Safety, tool

# Failures after which the next request would fail the same way: stop and report what remains.
STOPPING_KINDS = {"quota", "plan", "rate_limited", "network", "timeout"}


class Failure(BaseModel):
    id: int = Field(description="The project or group that failed")
    reason: str = Field(description="Toggl's answer and what to do")


class BulkResult(BaseModel):
    name: str | None = Field(default=None, description="The group's name (offboarding: the user's)")
    done: list[int] = Field(description="Ids changed by this call")
    skipped: list[int] = Field(description="Ids already in the wanted state: nothing to do")
    failed: list[Failure] = Field(description="Ids Toggl refused, with the reason")
    remaining: list[int] = Field(
        description="Ids not attempted because the run stopped; call again to resume"
    )
    stopped: str | None = Field(default=None, description="Why the run stopped early, if it did")
    complete: bool = Field(description="True when every id is done or skipped")
    quota_remaining: int | None = Field(
        default=None, description="Toggl requests left this hour, from Toggl's last answer"
    )
    names: dict[str, str] | None = Field(default=None, description="Names of the ids above")
    change_id: str | None = Field(
        default=None, description="undo_change takes it (the whole run; list_changes shows items)"
    )


class _Run:
    def __init__(
        self, ctx: Context, todo: list[int], skipped: list[int], *, kind: str, owner: str | None
    ) -> None:
        self.ctx = ctx
        self.todo = todo
        self.kind = kind
        self.result = BulkResult(
            name=owner, done=[], skipped=skipped, failed=[], remaining=[], complete=False
        )

    async def each(self, action_for: str, act: Callable[[int], Awaitable[str | None]]) -> BulkResult:
        """Run `act` on each id; it returns None when done, or Toggl's reason for refusing.

        Within a time budget: desktop hosts give up on a tool call after 60 s, and changes made
        after that are changes the model never hears of. So the run stops in time, like a quota
        stop, and the next call resumes. A cancelled call stops between two items: the request
        in flight is finished (shielded), so what was done is known."""
        state = app_state(self.ctx)
        clock = state.toggl.clock
        started = clock()
        slowest = 0.0
        total = len(self.todo)
        for index, item in enumerate(self.todo):
            elapsed = clock() - started
            if index and elapsed + slowest > state.settings.bulk_seconds:
                self.result.remaining = self.todo[index:]
                self.result.stopped = (
                    f"Stopped after {elapsed:.0f} s so that the answer arrives before the client's "
                    f"timeout; {len(self.result.remaining)} left. Call again with the same arguments to "
                    "continue: nothing done is repeated."
                )
                break
            item_started = clock()
            try:
                with anyio.CancelScope(shield=True):
                    refused = await act(item)
            except TogglError as error:
                reason = f"{error.describe()}. {error.hint()}"
                if error.kind in STOPPING_KINDS or (error.status or 0) >= 500:
                    if error.effect == "unknown":
                        self.result.failed.append(Failure(id=item, reason=reason))
                        self.result.remaining = self.todo[index + 1 :]
                    else:
                        self.result.remaining = self.todo[index:]
                    self.result.stopped = reason
                    break
                self.result.failed.append(Failure(id=item, reason=reason))
            else:
                if refused is None:
                    self.result.done.append(item)
                else:
                    self.result.failed.append(Failure(id=item, reason=refused))
            slowest = max(slowest, clock() - item_started)
            await self.ctx.report_progress(index + 1, total, f"{action_for} {item} ({index + 1}/{total})")
        r = self.result
        r.complete = not r.failed and not r.remaining
        r.names = _names(state, self.kind, [*self.todo, *r.skipped]) or None
        # A bulk run spends quota: say what is left, from headers already seen (no request).
        toggl = app_state(self.ctx).toggl
        try:
            seen = await toggl.last_quota()
        except TogglError:  # Redis gone: the run's own result matters more than this figure
            seen = None
        if seen is not None:
            r.quota_remaining = seen.current(toggl.clock())[0]
        return r


def _project_list(what: str) -> object:
    return Field(min_length=1, max_length=MAX_PROJECT_IDS, description=what)


@tool(
    "add_group_to_projects",
    title="Give a group access to many projects",
    safety=Safety.WRITE,
    idempotent=True,
)
async def add_group_to_projects(
    ctx: Context,
    group_id: GroupId,
    project_ids: Annotated[list[Id], _project_list("Project ids")],
    workspace_id: WorkspaceId = None,
) -> BulkResult:
    """Give a group access to many projects."""
    # As in add_project_group: the default workspace and the journal's names only as Toggl told
    # this process, never as Redis said.
    state = deciding_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    wanted = dedupe(project_ids) or []
    linked = {x.pid for x in await fetch_links(state, ws, wanted) if x.group_id == group_id}
    todo = [p for p in wanted if p not in linked]

    run_id = journaling.new_run(ctx)

    async def link(project_id: int) -> str | None:
        effect = journaling.link_effect(state, "link_added", ws, project_id, group_id)
        arguments = {"workspace_id": ws, "group_id": group_id, "project_ids": [project_id]}
        async with journaling.recording(
            ctx, "add_group_to_projects", arguments, effect, workspace_id=ws, run=run_id
        ) as entry:
            entry.result = await add_link(state, ws, project_id, group_id)
        return None

    run = _Run(ctx, todo, [p for p in wanted if p in linked], kind="project", owner=_group(state, group_id))
    return _with_run(await run.each("linking project", link), run_id)


async def _links_to_remove(
    ctx: Context, ws: int, group_id: int, project_ids: list[int]
) -> dict[int, TogglProjectGroup]:
    """The group's links to these projects, as Toggl answers for this call (preview and body)."""
    return {x.pid: x for x in await lookup.links_of(ctx, ws, project_ids) if x.group_id == group_id}


def _group(state: AppState, group_id: int) -> str | None:
    return lookup.shown_name(state, "group", group_id)


def _names(state: AppState, kind: str, ids: Iterable[int]) -> dict[str, str]:
    """Names this process already heard (no request is spent on them in a result)."""
    return {str(i): n for i in ids if (n := lookup.shown_name(state, kind, i))}


async def _remove_preview(
    ctx: Context, workspace_id: int | None, group_id: int, project_ids: list[int], confirm: bool
) -> Confirmation | Elicit[Confirmation]:
    state = deciding_state(ctx)

    async def preview() -> Preview | None:
        ws = await scope.workspace_id(state, workspace_id)
        links = await _links_to_remove(ctx, ws, group_id, dedupe(project_ids) or [])
        if not links:
            return None
        names = await lookup.project_names(state, ws, list(links))
        workspace = (await lookup.workspace_names(state)).get(ws)
        group = await group_name(ctx, ws, group_id)
        projects = [f"{names.get(pid) or 'project'} ({pid}, link {link.id})" for pid, link in links.items()]
        return Preview(
            f"{lookup.labelled(group, group_id, 'Group')} loses access to {len(links)} project(s) in "
            f"{lookup.labelled(workspace, ws, 'workspace')}:",
            [lookup.listing(projects, most=50)],
        )

    return await gate(ctx, confirm, preview)


@tool(
    "remove_group_from_projects",
    title="Remove a group's access to many projects",
    safety=Safety.DESTRUCTIVE,
    idempotent=True,
)
async def remove_group_from_projects(
    ctx: Context,
    group_id: GroupId,
    project_ids: Annotated[list[Id], _project_list("Project ids")],
    approval: Annotated[Approval, Resolve(_remove_preview)],
    workspace_id: WorkspaceId = None,
    confirm: StrictBool = ConfirmArg,
) -> BulkResult:
    """Remove a group's access to many projects."""
    require_approval(approval, f"remove group {group_id} from projects")
    state = deciding_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    wanted = dedupe(project_ids) or []
    links = await _links_to_remove(ctx, ws, group_id, wanted)
    todo = [p for p in wanted if p in links]

    run_id = journaling.new_run(ctx)

    async def unlink(project_id: int) -> str | None:
        link = links[project_id]
        effect = journaling.link_effect(state, "link_removed", ws, project_id, group_id, link.id)
        arguments = {"workspace_id": ws, "group_id": group_id, "project_ids": [project_id]}
        async with journaling.recording(
            ctx, "remove_group_from_projects", arguments, effect, workspace_id=ws, run=run_id
        ):
            await state.toggl.request("DELETE", links_path(ws, link.id))
        return None

    run = _Run(
        ctx, todo, [p for p in wanted if p not in links], kind="project", owner=_group(state, group_id)
    )
    return _with_run(await run.each("unlinking project", unlink), run_id)


def _groups_of(groups: list[TogglGroup], user_id: int) -> list[TogglGroup]:
    return [g for g in groups if user_id in g.user_ids]


async def _offboard_preview(
    ctx: Context, organization_id: int | None, user_id: int, confirm: bool
) -> Confirmation | Elicit[Confirmation]:
    state = deciding_state(ctx)

    async def preview() -> Preview | None:
        org = await scope.organization_id(state, organization_id)
        holding = _groups_of(await read_groups(ctx, org), user_id)
        if not holding:
            return None
        person = lookup.labelled(lookup.name_of(state, "user", user_id), user_id, "user")
        return Preview(
            f"Remove {person} from {len(holding)} group(s) in organization {org}; they lose the "
            "project access these groups give:",
            [lookup.listing([f"{g.name} (group {g.group_id})" for g in holding], most=50)],
        )

    return await gate(ctx, confirm, preview)


@tool(
    "remove_user_from_groups",
    title="Remove a user from every group",
    safety=Safety.DESTRUCTIVE,
    idempotent=True,
)
async def remove_user_from_groups(
    ctx: Context,
    user_id: Annotated[int, Field(ge=1, description="User id")],
    approval: Annotated[Approval, Resolve(_offboard_preview)],
    organization_id: OrganizationId = None,
    confirm: StrictBool = ConfirmArg,
) -> BulkResult:
    """Offboarding: remove a person from all groups."""
    require_approval(approval, f"remove user {user_id} from groups")
    state = deciding_state(ctx)
    org = await scope.organization_id(state, organization_id)
    holding = _groups_of(await read_groups(ctx, org), user_id)
    person = lookup.shown_name(state, "user", user_id)
    if not holding:
        return BulkResult(name=person, done=[], skipped=[], failed=[], remaining=[], complete=True)

    run_id = journaling.new_run(ctx)
    by_id = {g.group_id: g for g in holding}

    async def leave(group_id: int) -> str | None:
        effect = journaling.changed_group(state, by_id[group_id], users_removed=[user_id])
        arguments = {"organization_id": org, "user_id": user_id, "group_id": group_id}
        async with journaling.recording(
            ctx, "remove_user_from_groups", arguments, effect, organization_id=org, run=run_id
        ) as entry:
            data = await state.toggl.request(
                "PATCH",
                groups_path(org, group_id),
                json=[{"op": "remove", "path": "/users", "value": [user_id]}],
            )
            failures = data.get("failure") if isinstance(data, dict) else None
            if failures:
                entry.outcome = "failed"
                return f"Toggl refused: {failures[0].get('message', 'no reason given')}"
        return None

    run = _Run(ctx, [g.group_id for g in holding], [], kind="group", owner=person)
    return _with_run(await run.each("leaving group", leave), run_id)


def _with_run(result: BulkResult, run_id: str | None) -> BulkResult:
    """The run's id, when the journal recorded at least one of its items."""
    if run_id is not None and (result.done or result.failed):
        result.change_id = run_id
    return result
