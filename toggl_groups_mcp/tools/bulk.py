"""Bulk access changes: many projects for one group, or every group of one user.

Each tool reads once to learn what is already so, skips it, and does the rest one request at a
time (the client paces them within Toggl's limits), reporting progress. If Toggl stops answering
(quota, rate limit, outage) the tool stops cleanly and says which items remain, so calling it
again resumes without repeating anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import AppState, app_state, call_memo, deciding_state
from ..toggl.errors import TogglError
from ..toggl.models import TogglGroup, TogglProjectGroup
from . import journaling, lookup, removals, scope
from .args import GroupId, Id, OrganizationId, Search, WorkspaceId, dedupe
from .confirm import Approval, ConfirmArg, Confirmation, Preview, StrictBool, gate, require_approval
from .groups import groups_path, read_groups
from .project_groups import MAX_PROJECT_IDS, add_link, group_name, links_path
from .registry import Safety, tool

# Failures after which the next request would fail the same way: stop and report what remains.
STOPPING_KINDS = {"quota", "plan", "rate_limited", "network", "timeout"}


class Failure(BaseModel):
    id: int = Field(description="The project or group that failed")
    reason: str = Field(description="Toggl's answer and what to do")


class BulkResult(BaseModel):
    name: str | None = Field(default=None, description="The group's name (offboarding: the user's)")
    done: list[int] = Field(description="Ids changed by this call")
    skipped: dict[str, list[int]] | None = Field(
        default=None, description="Ids left alone, by why (already linked, not linked, archived, ...)"
    )
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
    still_open: list[str] | None = Field(
        default=None, description="Who still reaches the projects, and how: tell the admin"
    )
    change_id: str | None = Field(
        default=None, description="undo_change takes it (the whole run; list_changes shows items)"
    )


class _Run:
    def __init__(
        self,
        ctx: Context,
        todo: list[int],
        skipped: list[int] | dict[str, list[int]],
        *,
        kind: str,
        owner: str | None,
    ) -> None:
        self.ctx = ctx
        self.todo = todo
        self.kind = kind
        if isinstance(skipped, list):  # ids with nothing to do (offboarding)
            skipped = {"nothing to do": skipped} if skipped else {}
        self.result = BulkResult(
            name=owner, done=[], skipped=skipped or None, failed=[], remaining=[], complete=False
        )

    async def each(
        self, action_for: str, act: Callable[[int], Awaitable[str | None]], *, since: float | None = None
    ) -> BulkResult:
        """Run `act` on each id; it returns None when done, or Toggl's reason for refusing.

        Within a time budget: desktop hosts give up on a tool call after 60 s, and changes made
        after that are changes the model never hears of. So the run stops in time, like a quota
        stop, and the next call resumes. A cancelled call stops between two items: the request
        in flight is finished (shielded), so what was done is known."""
        state = app_state(self.ctx)
        clock = state.toggl.clock
        started = clock() if since is None else since  # `since`: a run that began earlier (offboarding)
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
        skipped = [i for ids in (r.skipped or {}).values() for i in ids]
        r.names = _names(state, self.kind, [*self.todo, *skipped]) or None
        # A bulk run spends quota: say what is left, from headers already seen (no request).
        toggl = app_state(self.ctx).toggl
        try:
            seen = await toggl.last_quota()
        except TogglError:  # Redis gone: the run's own result matters more than this figure
            seen = None
        if seen is not None:
            r.quota_remaining = seen.current(toggl.clock())[0]
        return r


# The projects of a bulk change: by ids, or by part of a name (`project_name`).
ProjectIds = Annotated[
    list[Id] | None,
    Field(min_length=1, max_length=MAX_PROJECT_IDS, description="Up to 200, or project_name"),
]
ProjectName = Annotated[str | None, Search, Field(description="Part of the name, any case")]
IncludeArchived = Annotated[StrictBool, Field(description="Archived ones too")]

ALREADY_LINKED = "already linked"
NOT_LINKED = "not linked"
ARCHIVED = "archived"
NOT_IN_WORKSPACE = "not in this workspace"


@dataclass
class _Projects:
    """The projects a bulk change is about, as this call found them."""

    wanted: list[int]
    skipped: dict[str, list[int]] = field(default_factory=dict)
    known: list[lookup.Project] = field(default_factory=list)  # read in this call (a search)

    def skip(self, why: str, ids: Iterable[int]) -> None:
        found = list(ids)
        if found:
            self.skipped.setdefault(why, []).extend(found)


def _check_projects(project_ids: list[int] | None, project_name: str | None, include_archived: bool) -> None:
    if (project_ids is None) == (project_name is None):
        raise ToolError(
            "Give exactly one of project_ids and project_name (part of the projects' names). "
            "Nothing was sent to Toggl."
        )
    if include_archived and project_name is None:
        raise ToolError(
            "include_archived goes with project_name: project_ids are taken as given, archived or "
            "not. Nothing was sent to Toggl."
        )


async def _projects(
    ctx: Context, ws: int, project_ids: list[int] | None, project_name: str | None, include_archived: bool
) -> _Projects:
    """By ids: as given. By name: Toggl's search, read in this call (the preview and the body share
    it); archived projects are skipped unless `include_archived`."""
    if project_name is None:
        return _Projects(dedupe(project_ids) or [])
    memo = call_memo(ctx)
    key = ("project-search", ws, project_name)
    if key not in memo:
        memo[key] = await lookup.find_projects(deciding_state(ctx), ws, project_name, fresh=True)
    matched: list[lookup.Project] = memo[key]
    found = _Projects([p.id for p in matched if p.active or include_archived], known=matched)
    found.skip(ARCHIVED, [p.id for p in matched if not p.active and not include_archived])
    if not matched:
        raise ToolError(
            f"No project in workspace {ws} has {project_name!r} in its name (archived ones included); "
            "nothing was changed. list_projects shows the workspace's projects."
        )
    if len(found.wanted) > MAX_PROJECT_IDS:
        raise ToolError(
            f"project_name {project_name!r} matches {len(found.wanted)} projects, more than "
            f"{MAX_PROJECT_IDS} at a time; nothing was changed. Use more of the name, or project_ids."
        )
    return found


@tool(
    "add_group_to_projects",
    title="Give a group access to many projects",
    safety=Safety.WRITE,
    idempotent=True,
)
async def add_group_to_projects(
    ctx: Context,
    group_id: GroupId,
    project_ids: ProjectIds = None,
    project_name: ProjectName = None,
    include_archived: IncludeArchived = False,
    workspace_id: WorkspaceId = None,
) -> BulkResult:
    """Links a group to many projects, by ids or part of a name; says what it skipped and why.
    One: add_project_group. Does not ask first. 2 requests, plus 1 per link."""
    _check_projects(project_ids, project_name, include_archived)
    # As in add_project_group: the default workspace and the journal's names only as Toggl told
    # this process, never as Redis said.
    state = deciding_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    projects = await _projects(ctx, ws, project_ids, project_name, include_archived)
    wanted = projects.wanted
    links = await lookup.links_of(ctx, ws, wanted) if wanted else []
    linked = {x.pid for x in links if x.group_id == group_id}
    todo = [p for p in wanted if p not in linked]
    projects.skip(ALREADY_LINKED, [p for p in wanted if p in linked])

    run_id = journaling.new_run(ctx)

    async def link(project_id: int) -> str | None:
        effect = journaling.link_effect(state, "link_added", ws, project_id, group_id)
        arguments = {"workspace_id": ws, "group_id": group_id, "project_ids": [project_id]}
        async with journaling.recording(
            ctx, "add_group_to_projects", arguments, effect, workspace_id=ws, run=run_id
        ) as entry:
            entry.result = await add_link(state, ws, project_id, group_id)
        return None

    run = _Run(ctx, todo, projects.skipped, kind="project", owner=_group(state, group_id))
    return _with_run(await run.each("linking project", link), run_id)


@dataclass
class _Removal:
    """What remove_group_from_projects takes away, as read in this call (preview and body)."""

    ws: int
    projects: _Projects
    links: dict[int, TogglProjectGroup]  # project id -> the group's link to it
    after: removals.Aftermath | None  # what stays open: read for the question


async def _removal(
    ctx: Context,
    workspace_id: int | None,
    group_id: int,
    project_ids: list[int] | None,
    project_name: str | None,
    include_archived: bool,
    *,
    question: bool,
) -> _Removal:
    """What the removal takes away. For the `question` also what stays open (privacy, groups,
    direct members), kept for the body's result; `confirm: true` without a question reads only
    what it must to act (the links), as the preview the model was shown said the rest."""
    memo = call_memo(ctx)
    key = ("removal", group_id)
    if key in memo:
        known: _Removal = memo[key]
        return known
    state = deciding_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    projects = await _projects(ctx, ws, project_ids, project_name, include_archived)
    every = await lookup.links_of(ctx, ws, projects.wanted) if projects.wanted else []
    wanted = set(projects.wanted)
    links = {x.pid: x for x in every if x.group_id == group_id and x.pid in wanted}
    unlinked = [p for p in projects.wanted if p not in links]
    removal = _Removal(ws, projects, links, None)
    if question:
        removal.after = await removals.unlinking(
            ctx, ws, group_id, list(links), links=every, known=projects.known
        )
        if project_name is None and unlinked:
            # An id that is not in the workspace's list (read for the privacy above, or here) is
            # not "not linked": say that it was not found.
            listed = {p.id for p in await lookup.all_projects(state, ws, fresh=True)}
            projects.skip(NOT_IN_WORKSPACE, [p for p in unlinked if p not in listed])
            unlinked = [p for p in unlinked if p in listed]
        memo[key] = removal
    projects.skip(NOT_LINKED, unlinked)
    return removal


async def _remove_preview(
    ctx: Context,
    workspace_id: int | None,
    group_id: int,
    project_ids: list[int] | None,
    project_name: str | None,
    include_archived: bool,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    _check_projects(project_ids, project_name, include_archived)
    state = deciding_state(ctx)

    async def preview() -> Preview | None:
        removal = await _removal(
            ctx, workspace_id, group_id, project_ids, project_name, include_archived, question=True
        )
        if not removal.links or removal.after is None:
            return None
        ws = removal.ws
        workspace = lookup.labelled((await lookup.workspace_names(state)).get(ws), ws, "workspace")
        group = lookup.labelled(await group_name(ctx, ws, group_id), group_id, "Group")
        projects = [
            f"{x.paths.project.name if x.paths.project else 'project'} ({x.paths.project_id}, "
            f"link {removal.links[x.paths.project_id].id})"
            for x in removal.after.left
        ]
        lines = [lookup.listing(projects, most=50)]
        lost = removal.after.lost_text()
        lines += ([lost] if lost else []) + removal.after.still_open()
        archived = removal.projects.skipped.get(ARCHIVED, [])
        if archived:
            lines.append(
                f"left alone, archived: {len(archived)} project(s) (include_archived to include them)"
            )
        loses = "loses its link to" if removal.after.nobody_loses else "loses access to"
        return Preview(f"{group} {loses} {len(removal.links)} project(s) in {workspace}:", lines)

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
    approval: Annotated[Approval, Resolve(_remove_preview)],
    project_ids: ProjectIds = None,
    project_name: ProjectName = None,
    include_archived: IncludeArchived = False,
    workspace_id: WorkspaceId = None,
    confirm: StrictBool = ConfirmArg,
) -> BulkResult:
    """Unlinks a group from many projects, by ids or part of a name; one: remove_project_group.
    Asks the user first; says who keeps access. 1 request, plus 1 per link (its preview 4)."""
    _check_projects(project_ids, project_name, include_archived)
    require_approval(approval, f"remove group {group_id} from projects")
    state = deciding_state(ctx)
    removal = await _removal(
        ctx, workspace_id, group_id, project_ids, project_name, include_archived, question=False
    )
    ws, links = removal.ws, removal.links
    todo = [p for p in removal.projects.wanted if p in links]

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

    run = _Run(ctx, todo, removal.projects.skipped, kind="project", owner=_group(state, group_id))
    result = await run.each("unlinking project", unlink)
    if removal.after is not None:
        # What stays open, for the projects this run really unlinked.
        done = set(result.done)
        left = [x for x in removal.after.left if x.paths.project_id in done]
        result.still_open = removals.Aftermath(removal.after.group, left).still_open() or None
    return _with_run(result, run_id)


def _group(state: AppState, group_id: int) -> str | None:
    return lookup.shown_name(state, "group", group_id)


def _names(state: AppState, kind: str, ids: Iterable[int]) -> dict[str, str]:
    """Names this process already heard (no request is spent on them in a result)."""
    return {str(i): n for i in ids if (n := lookup.shown_name(state, kind, i))}


def _groups_of(groups: list[TogglGroup], user_id: int) -> list[TogglGroup]:
    return [g for g in groups if user_id in g.user_ids]


# The person an offboarding is about: by id, or by name or email (saves the model a lookup call).
UserIdArg = Annotated[int | None, Field(ge=1, description="User id, or user")]
UserArg = Annotated[str | None, Search, Field(description="Or exact name or email")]
# Strict, like confirm: a string "yes" must not widen what a destructive call ends.
AlsoProjects = Annotated[StrictBool, Field(description="Also end direct project memberships")]


async def _offboard_preview(
    ctx: Context,
    organization_id: int | None,
    user_id: int | None,
    user: str | None,
    also_projects: bool,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    from . import project_users  # here: it builds on this module

    project_users.check_person(user_id, user)
    state = deciding_state(ctx)

    async def preview() -> Preview | None:
        org = await scope.organization_id(state, organization_id)
        person = await project_users.who(ctx, org, user_id, user)
        holding = _groups_of(await read_groups(ctx, org), person.user_id)
        found = await project_users.reach(ctx, org, person, public=True, groups_stay=False)
        ending = found.memberships if also_projects else []
        if not holding and not ending:
            return None
        what = [f"{len(holding)} group(s)"] if holding else []
        if ending:
            what.append(f"their direct membership of {len(ending)} project(s)")
        lines = (
            [lookup.listing([f"{g.name} (group {g.group_id})" for g in holding], most=50)] if holding else []
        )
        lines += [m.line() for m in ending]
        lines += project_users.what_stays(found, [m.project_id for m in ending])
        return Preview(
            f"Remove {found.shown} from {' and '.join(what)} in organization {org}; they lose the "
            "project access these give:",
            lines,
        )

    return await gate(ctx, confirm, preview)


class OffboardResult(BulkResult):
    projects: BulkResult | None = Field(
        default=None, description="also_projects: the direct memberships ended (ids are projects)"
    )


@tool(
    "remove_user_from_groups",
    title="Remove a user from every group",
    safety=Safety.DESTRUCTIVE,
    idempotent=True,
)
async def remove_user_from_groups(
    ctx: Context,
    approval: Annotated[Approval, Resolve(_offboard_preview)],
    user_id: UserIdArg = None,
    user: UserArg = None,
    also_projects: AlsoProjects = False,
    organization_id: OrganizationId = None,
    confirm: StrictBool = ConfirmArg,
) -> OffboardResult:
    """Offboarding: removes a person from every group; also_projects ends their direct project
    memberships too (one run, one undo). Asks first; says what stays open. 1 request, +1 per
    workspace and per 200 projects, +1 per group or membership."""
    from . import project_users  # here: it builds on this module

    project_users.check_person(user_id, user)
    require_approval(approval, "remove a user from groups")
    state = deciding_state(ctx)
    started = state.toggl.clock()
    org = await scope.organization_id(state, organization_id)
    person = await project_users.who(ctx, org, user_id, user)
    holding = _groups_of(await read_groups(ctx, org), person.user_id)
    found = await project_users.reach(ctx, org, person, public=True, groups_stay=False)
    name = found.person.name or lookup.shown_name(state, "user", person.user_id)
    run_id = journaling.new_run(ctx)
    by_id = {g.group_id: g for g in holding}

    async def leave(group_id: int) -> str | None:
        effect = journaling.changed_group(state, by_id[group_id], users_removed=[person.user_id])
        arguments = {"organization_id": org, "user_id": person.user_id, "group_id": group_id}
        async with journaling.recording(
            ctx, "remove_user_from_groups", arguments, effect, organization_id=org, run=run_id
        ) as entry:
            data = await state.toggl.request(
                "PATCH",
                groups_path(org, group_id),
                json=[{"op": "remove", "path": "/users", "value": [person.user_id]}],
            )
            failures = data.get("failure") if isinstance(data, dict) else None
            if failures:
                entry.outcome = "failed"
                return f"Toggl refused: {failures[0].get('message', 'no reason given')}"
        return None

    if holding:
        groups = await _Run(ctx, list(by_id), [], kind="group", owner=name).each("leaving group", leave)
    else:
        groups = BulkResult(name=name, done=[], failed=[], remaining=[], complete=True)
    result = OffboardResult.model_validate(groups.model_dump())
    if also_projects and found.memberships:
        if groups.stopped:
            # The groups' run stopped (quota, time): the memberships are not started; a second
            # call finds both what is left of the groups and every membership.
            result.projects = BulkResult(
                name=name,
                done=[],
                failed=[],
                remaining=[m.project_id for m in found.memberships],
                stopped="Not started: the groups' run stopped first. Call again to continue.",
                complete=False,
            )
        else:
            result.projects = await project_users.end_memberships(
                ctx, org, found, tool_name="remove_user_from_groups", run_id=run_id, since=started
            )
        result.complete = result.complete and result.projects.complete
        result.quota_remaining = result.projects.quota_remaining or result.quota_remaining
    ended = result.projects.done if result.projects else []
    result.still_open = project_users.what_stays(found, ended) or None
    sent = [result, *([result.projects] if result.projects else [])]
    if run_id is not None and any(r.done or r.failed for r in sent):
        result.change_id = run_id
    return result


def _with_run(result: BulkResult, run_id: str | None) -> BulkResult:
    """The run's id, when the journal recorded at least one of its items."""
    if run_id is not None and (result.done or result.failed):
        result.change_id = run_id
    return result
