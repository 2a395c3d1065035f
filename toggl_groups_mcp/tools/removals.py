"""What taking a group's access away really changes, in names.

Removing a group's link (remove_project_group, remove_group_from_projects) or the group itself
(delete_group) cuts its members off a project only when nothing else lets them in: a public
project stays open to everyone in the workspace, and a member who is also a direct project member,
or in another group linked to the project, keeps access. A preview that says "Design loses access"
when nobody does gets the wrong thing approved, and a result that says so gets the wrong thing told
to the admin: both say what stays open, here.

Requests, read in the call (what decides a question is never taken from a cache): the project list
(fresh, 1 per 200 projects of the workspace, often already read by the caller), and only when a
project is private and the group has members: the organization's groups (1) and the projects'
direct members (1 per 200 projects). The links are the caller's, read in the same call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mcp.server.mcpserver import Context

from ..state import app_state, call_memo
from ..toggl.models import TogglGroup, TogglProjectGroup
from . import lookup
from .lookup import Project
from .paths import Paths, keeps_access

# How many projects a list of who keeps access names one by one.
MOST_PROJECTS = 10


@dataclass
class Left:
    """One project after one group's link to it is gone."""

    paths: Paths
    kept: dict[int, list[str]] = field(default_factory=dict)  # member -> the ways still open
    lost: list[int] = field(default_factory=list)  # members cut off

    @property
    def label(self) -> str:
        project = self.paths.project
        return lookup.labelled(project.name if project else None, self.paths.project_id, "project")


@dataclass
class Aftermath:
    """What a removal leaves open, project by project, for the group's members."""

    group: TogglGroup | None
    left: list[Left]

    def _member(self, user_id: int) -> str:
        names = {u.user_id: u.name for u in self.group.users} if self.group else {}
        return names.get(user_id) or f"user {user_id}"

    @property
    def nobody_loses(self) -> bool:
        return bool(self.left) and all(not x.lost for x in self.left) and self._members_known

    @property
    def _members_known(self) -> bool:
        return self.group is not None or all(x.paths.public for x in self.left)

    def lost_text(self) -> str | None:
        """Who is cut off, for a preview: `Cy, Di lose access to Payroll (13)`."""
        lost = [x for x in self.left if x.lost]
        if not lost:
            return None
        cut = {u for x in lost for u in x.lost}
        people = [u for u in (self.group.user_ids if self.group else sorted(cut)) if u in cut]
        verb = "loses" if len(people) == 1 else "lose"
        said = (
            f"{lookup.listing([self._member(u) for u in people])} {verb} access to "
            f"{lookup.listing([x.label for x in lost])}"
        )
        if any(set(x.lost) != set(people) for x in lost):
            said += ", except where named below"
        return said

    def still_open(self) -> list[str]:
        """Short sentences: what stays open after the removal, and to whom. Empty when every
        member of the group loses access to every project."""
        if not self.left:
            return []
        said: list[str] = []
        public = [x for x in self.left if x.paths.public]
        kept = [x for x in self.left if not x.paths.public and x.kept]
        if self.group is not None and not self.group.users:
            return [f"Nobody loses access: {self.group.name or 'the group'} has no members."]
        if self.nobody_loses:
            if len(self.left) == 1 and public:
                return [
                    f"Nobody loses access: {public[0].label} is public, open to everyone in the workspace."
                ]
            if len(self.left) == 1:
                group = self.group.name if self.group else "the group"
                said.append(
                    f"Nobody loses access: every member of {group} reaches {self.left[0].label} another way."
                )
            else:
                said.append(
                    "Nobody loses access: each project is public or its members reach it another way."
                )
        if public:
            said.append(
                f"Public, so still open to everyone in the workspace: {lookup.listing([x.label for x in public])}."
            )
        for x in kept[:MOST_PROJECTS]:
            who = lookup.listing([f"{self._member(u)} ({', '.join(ways)})" for u, ways in x.kept.items()])
            said.append(f"{x.label} stays open to {who}.")
        if len(kept) > MOST_PROJECTS:
            said.append(
                f"Members keep access another way to {len(kept) - MOST_PROJECTS} more project(s); "
                "get_project_access shows them."
            )
        return said


def _links_read(ctx: Context, ws: int, project_id: int) -> list[TogglProjectGroup] | None:
    """The project's links as this call already read them (a link found by its id: the workspace
    was queried 200 projects at a time), or None when it did not."""
    for key, value in call_memo(ctx).items():
        if (
            isinstance(key, tuple)
            and len(key) == 3
            and key[:2] == ("links", ws)
            and isinstance(key[2], tuple)
            and project_id in key[2]
        ):
            return [x for x in value if x.pid == project_id]
    return None


async def unlinking(
    ctx: Context,
    ws: int,
    group_id: int,
    project_ids: Iterable[int],
    *,
    links: Iterable[TogglProjectGroup] | None = None,
    known: Iterable[Project] = (),
    org: int | None = None,
) -> Aftermath:
    """What removing `group_id`'s links to these projects of one workspace leaves open. `links`:
    every link of these projects (all groups) as read in this call, else read here (the chunks
    the caller asked with are reused); `known`: the projects as read in this call."""
    state = app_state(ctx)
    ids = list(dict.fromkeys(project_ids))
    if not ids:
        return Aftermath(None, [])
    projects = {p.id: p for p in known if p.workspace_id == ws}
    if any(pid not in projects for pid in ids):
        projects = {p.id: p for p in await lookup.all_projects(state, ws, fresh=True)} | projects
    if links is None:
        found: list[TogglProjectGroup] = []
        for pid in ids:
            read = _links_read(ctx, ws, pid)
            found += read if read is not None else await lookup.links_of(ctx, ws, [pid])
        links = found
    paths = {pid: Paths(pid, projects.get(pid)) for pid in ids}
    for link in links:
        if link.pid in paths:
            paths[link.pid].links.append(link)
    private = [pid for pid in ids if not paths[pid].public]
    group: TogglGroup | None = None
    groups: dict[int, TogglGroup] = {}
    if private:
        from .groups import read_groups  # here: groups.py imports this module

        org = org if org is not None else await lookup.organization_of(state, ws)
        if org is not None:
            groups = {g.group_id: g for g in await read_groups(ctx, org)}
            group = groups.get(group_id)
    return await _aftermath(ctx, ws, group, groups, [paths[pid] for pid in ids])


async def _aftermath(
    ctx: Context, ws: int, group: TogglGroup | None, groups: Mapping[int, TogglGroup], paths: list[Paths]
) -> Aftermath:
    members = group.user_ids if group else []
    private = [p.project_id for p in paths if not p.public]
    if members and private:
        for row in await lookup.project_users_of(ctx, ws, private):
            for p in paths:
                if p.project_id == row.project_id:
                    p.direct.append(row)
    left: list[Left] = []
    for p in paths:
        if p.public:
            left.append(Left(p))
            continue
        kept = keeps_access(p, members, groups, except_groups=[group.group_id] if group else [])
        left.append(Left(p, kept, [u for u in members if u not in kept]))
    return Aftermath(group, left)


async def deleting(
    ctx: Context,
    group: TogglGroup,
    groups: Iterable[TogglGroup],
    reached: list[tuple[Project, TogglProjectGroup]],
) -> Aftermath:
    """What deleting `group` leaves open on the projects it reaches (`lookup.projects_of_group`,
    whose links of every project of each workspace this call already read)."""
    state = app_state(ctx)
    by_id = {g.group_id: g for g in groups}
    left: list[Left] = []
    for ws in dict.fromkeys(project.workspace_id for project, _ in reached):
        # The links of the group's projects: the chunks projects_of_group asked, reused.
        every = [p.id for p in await lookup.all_projects(state, ws, fresh=True)]
        mine = {project.id: project for project, _ in reached if project.workspace_id == ws}
        paths = {pid: Paths(pid, project) for pid, project in mine.items()}
        for link in await lookup.links_of(ctx, ws, every):
            if link.pid in paths:
                paths[link.pid].links.append(link)
        left += (await _aftermath(ctx, ws, group, by_id, list(paths.values()))).left
    left.sort(key=lambda x: x.label.casefold())
    return Aftermath(group, left)
