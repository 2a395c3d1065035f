"""Direct project memberships (project users): ending them, and saying what stays open.

A person reaches a project three ways (paths.py): the project is public, they are a direct member,
or a linked group holds them. An offboarding that takes someone out of every group while they are
still a direct member of private projects tells the admin a door is closed when it is not. Here:
`remove_user_from_projects` ends direct memberships, and `remove_user_from_groups` with
`also_projects` ends them in the same run (bulk.py), with this module's code and journal records,
so one undo_change puts everything back.

A membership can carry the person's manager flag and their own hourly rate and labor cost on that
project: removing it loses them, so the question says so and the journal keeps them for the undo.

Requests, read in the call: 1 project_users query per workspace (`user_id`: the person's rows
only; every workspace of the organization unless one is given, or only the person's when the
organization says which), that workspace's project list (read in the call where a membership
ends, since privacy decides what stays open; 1 per 200 projects), and for private projects only:
their group links (1 per 200) and the organization's groups (1, only when a link could hold the
person). Then 1 DELETE per membership.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..state import call_memo, deciding_state
from ..toggl.errors import TogglError
from ..toggl.models import TogglProjectUser
from . import journaling, lookup, scope
from .args import Id, OrganizationId, WorkspaceId, dedupe
from .bulk import BulkResult, UserArg, UserIdArg, _Run, _with_run
from .confirm import Approval, ConfirmArg, Confirmation, Preview, StrictBool, gate, require_approval
from .groups import read_groups
from .lookup import Person, Project
from .paths import PUBLIC, Paths
from .registry import Safety, tool

MAX_PROJECTS = 200
NOT_A_MEMBER = "not a direct member"


@dataclass
class Membership:
    """One direct membership, as read in this call, and the ways into its project once it ends."""

    row: TogglProjectUser
    ws: int
    workspace: str | None
    project: Project | None
    still: list[str] = field(default_factory=list)

    @property
    def project_id(self) -> int:
        return self.row.project_id

    @property
    def label(self) -> str:
        """`Data Pipeline (5102) in Acme Engineering`, `(archived)` when it is."""
        name = self.project.name if self.project else None
        archived = " (archived)" if self.project is not None and not self.project.active else ""
        return f"{lookup.labelled(name, self.project_id, 'project')}{archived} in {self.workspace or self.ws}"

    def carries(self) -> str:
        """What ending it loses beside the access: `manager, own rate 95, labor cost 60`."""
        parts = ["manager"] if self.row.manager else []
        if self.row.rate is not None:
            parts.append(f"own hourly rate {self.row.rate:g}")
        if self.row.labor_cost is not None:
            parts.append(f"labor cost {self.row.labor_cost:g}")
        return ", ".join(parts) or "no role or rate of their own"

    def line(self) -> str:
        """A preview line: the project, what is lost, and whether the person still gets in."""
        after = f"still open to them: {', '.join(self.still)}" if self.still else "no other way in"
        return f"{self.label}: {self.carries()}; {after}"


@dataclass
class Reach:
    """One person's direct memberships (in the workspaces read) and the public projects there."""

    person: Person
    memberships: list[Membership] = field(default_factory=list)
    public: list[str] = field(default_factory=list)  # labels of the active public projects
    skipped: dict[str, list[int]] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)  # workspaces whose memberships Toggl refused

    @property
    def shown(self) -> str:
        return lookup.labelled(self.person.name, self.person.user_id, "user")

    def named(self, state: Any) -> None:
        """The person's name as this call heard it (a group's member list, the users filter)."""
        if self.person.name is None:
            name = lookup.name_of(state, "user", self.person.user_id)
            if name:
                self.person = Person(self.person.user_id, name, self.person.workspaces)


def check_person(user_id: int | None, user: str | None) -> None:
    if (user_id is None) == (user is None):
        raise ToolError(
            "Give exactly one of user_id and user (the person's name or email). Nothing was sent to Toggl."
        )


async def who(ctx: Context, org: int, user_id: int | None, user: str | None) -> Person:
    """The person by id, or by name or email (one organization users request, `lookup.find_person`)."""
    check_person(user_id, user)
    if user is not None:
        return await lookup.find_person(ctx, org, user)
    assert user_id is not None
    return Person(user_id, lookup.name_of(deciding_state(ctx), "user", user_id))


async def reach(
    ctx: Context,
    org: int,
    person: Person,
    *,
    workspace_id: int | None = None,
    project_ids: list[int] | None = None,
    public: bool = False,
    groups_stay: bool = True,
) -> Reach:
    """The person's direct memberships, read in this call, with what stays open once each ends.
    `public`: also the public projects of the workspaces read (open to them while they are members
    of the workspace). `groups_stay`: the person keeps their groups (remove_user_from_projects), so
    a linked group holding them counts as a way in; False when the same run takes them out of every
    group."""
    state = deciding_state(ctx)
    memo = call_memo(ctx)
    key = ("reach", org, person.user_id, workspace_id, tuple(project_ids or ()), public, groups_stay)
    if key in memo:
        found: Reach = memo[key]
        return found
    rows = await lookup.workspace_rows(state)
    names = {int(w["id"]): str(w.get("name") or "") or None for w in rows}
    if workspace_id is not None:
        spaces = [workspace_id]
    else:
        spaces = [int(w["id"]) for w in rows if w.get("organization_id") == org]
        if person.workspaces is not None:  # the organization said where they are a member
            spaces = [ws for ws in spaces if ws in person.workspaces]
    found = Reach(person)
    wanted = set(project_ids) if project_ids is not None else None
    for ws in spaces:
        try:
            direct = await lookup.memberships_of(ctx, ws, person.user_id)
        except TogglError as error:
            if error.status not in (401, 403, 404) or workspace_id is not None:
                raise
            # Not an admin of that workspace: say it was not read, never that nothing is there.
            found.unread.append(names.get(ws) or str(ws))
            continue
        mine = [r for r in direct if wanted is None or r.project_id in wanted]
        if not mine and not public:
            continue
        # Where a membership ends the list is read in the call (privacy decides what stays open);
        # elsewhere it only names the public projects, and this process's list may do.
        projects = {p.id: p for p in await lookup.all_projects(state, ws, fresh=bool(mine))}
        for project in projects.values():
            lookup.remember(state, "project", project.id, project.name)
        here = [Membership(r, ws, names.get(ws), projects.get(r.project_id)) for r in mine]
        for m in here:
            if m.project is not None and m.project.public:
                m.still.append(PUBLIC)
        if groups_stay:
            await _groups_holding(ctx, org, ws, person.user_id, [m for m in here if not m.still])
        found.memberships += here
        if public:
            found.public += [
                f"{p.name} ({names.get(ws) or ws})" for p in projects.values() if p.public and p.active
            ]
    if wanted is not None:
        members = {m.project_id for m in found.memberships}
        missing = [pid for pid in project_ids or [] if pid not in members]
        if missing:
            found.skipped[NOT_A_MEMBER] = missing
    found.named(state)
    memo[key] = found
    return found


async def _groups_holding(ctx: Context, org: int, ws: int, user_id: int, private: list[Membership]) -> None:
    """For private projects: the linked groups that hold the person (they keep the way in)."""
    if not private:
        return
    links = await lookup.links_of(ctx, ws, [m.project_id for m in private])
    if not links:
        return
    groups = {g.group_id: g for g in await read_groups(ctx, org)}
    for m in private:
        paths = Paths(m.project_id, m.project, [m.row], [x for x in links if x.pid == m.project_id])
        m.still += paths.ways(user_id, groups, except_direct=True)


def still_open(memberships: Iterable[Membership]) -> list[str]:
    """After memberships end: which of those projects the person can still use, and how."""
    ended = list(memberships)
    if not ended:
        return []
    kept = [m for m in ended if m.still]
    if not kept:
        return ["None of these projects stays open to them: no public project, no linked group holding them."]
    return [
        "Still open to them another way: "
        + lookup.listing([f"{m.label} ({', '.join(m.still)})" for m in kept])
        + "."
    ]


def unread(found: Reach) -> list[str]:
    if not found.unread:
        return []
    return [
        f"Not checked: Toggl refused to list direct memberships in {lookup.listing(found.unread)} (an admin "
        "of those workspaces can); they may still be a direct member of projects there."
    ]


def what_stays(found: Reach, ended: Iterable[int] = ()) -> list[str]:
    """For an offboarding: the direct memberships that remain (groups do not change them), and the
    public projects they can use while they are a member of the workspace."""
    gone = set(ended)
    left = [m for m in found.memberships if m.project_id not in gone]
    said: list[str] = []
    if left:
        said.append(
            f"Still a direct member of {len(left)} project(s), which groups do not change: "
            + lookup.listing([m.label for m in left])
            + ". also_projects: true, or remove_user_from_projects, ends them."
        )
    said += unread(found)
    if found.public:
        said.append(
            "Public, so open to them while they are a member of the workspace: "
            + lookup.listing(found.public)
            + "."
        )
    return said


async def end_memberships(
    ctx: Context,
    org: int,
    found: Reach,
    *,
    tool_name: str,
    run_id: str | None,
    since: float | None = None,
) -> BulkResult:
    """DELETE each membership, journaled one by one (`member_removed`, everything to re-add it),
    as a bulk run: progress, time budget (from `since`, when the run began earlier), stops on
    quota and says what remains; a second call finds only what is left."""
    state = deciding_state(ctx)
    by_project = {m.project_id: m for m in found.memberships}
    user_id = found.person.user_id

    async def end(project_id: int) -> str | None:
        m = by_project[project_id]
        effect = journaling.member_effect(state, "member_removed", m.ws, m.row)
        arguments = {"workspace_id": m.ws, "user_id": user_id, "project_ids": [project_id]}
        async with journaling.recording(
            ctx, tool_name, arguments, effect, organization_id=org, workspace_id=m.ws, run=run_id
        ):
            await state.toggl.request("DELETE", lookup.project_users_path(m.ws, m.row.id))
        return None

    run = _Run(ctx, list(by_project), dict(found.skipped), kind="project", owner=found.person.name)
    return await run.each("ending membership of project", end, since=since)


ProjectIds = Annotated[
    list[Id] | None, Field(min_length=1, max_length=MAX_PROJECTS, description="Up to 200; default: all")
]


async def _scope(ctx: Context, organization_id: int | None, workspace_id: int | None) -> int:
    state = deciding_state(ctx)
    if organization_id is None and workspace_id is not None:
        org = await lookup.organization_of(state, workspace_id)
        if org is not None:
            return org
    return await scope.organization_id(state, organization_id)


async def _preview(
    ctx: Context,
    user_id: int | None,
    user: str | None,
    project_ids: list[int] | None,
    workspace_id: int | None,
    organization_id: int | None,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    check_person(user_id, user)

    async def preview() -> Preview | None:
        org = await _scope(ctx, organization_id, workspace_id)
        person = await who(ctx, org, user_id, user)
        found = await reach(ctx, org, person, workspace_id=workspace_id, project_ids=dedupe(project_ids))
        if not found.memberships:
            return None
        return Preview(
            f"End {found.shown}'s direct membership of {len(found.memberships)} project(s); lost with each:",
            [m.line() for m in found.memberships] + unread(found),
        )

    return await gate(ctx, confirm, preview)


@tool(
    "remove_user_from_projects",
    title="End a person's direct project memberships",
    safety=Safety.DESTRUCTIVE,
    idempotent=True,
)
async def remove_user_from_projects(
    ctx: Context,
    approval: Annotated[Approval, Resolve(_preview)],
    user_id: UserIdArg = None,
    user: UserArg = None,
    project_ids: ProjectIds = None,
    workspace_id: WorkspaceId = None,
    organization_id: OrganizationId = None,
    confirm: StrictBool = ConfirmArg,
) -> BulkResult:
    """Ends a person's direct project memberships (all by default), losing manager flag, own rate
    and labor cost; groups: remove_user_from_groups. Asks first; says what stays open. 1 request
    per workspace and per 200 projects, +1 per membership."""
    check_person(user_id, user)
    require_approval(approval, "end direct project memberships")
    org = await _scope(ctx, organization_id, workspace_id)
    person = await who(ctx, org, user_id, user)
    found = await reach(ctx, org, person, workspace_id=workspace_id, project_ids=dedupe(project_ids))
    run_id = journaling.new_run(ctx)
    result = await end_memberships(ctx, org, found, tool_name="remove_user_from_projects", run_id=run_id)
    result.name = found.person.name or lookup.shown_name(deciding_state(ctx), "user", person.user_id)
    done = set(result.done)
    result.still_open = (
        still_open(m for m in found.memberships if m.project_id in done) + unread(found) or None
    )
    return _with_run(result, run_id)
