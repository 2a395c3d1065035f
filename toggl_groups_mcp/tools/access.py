"""Access at a glance: who is in a group and what it can reach, who can reach a project.

A person reaches a project three ways: it is public (everyone in the workspace), they are a direct
member, or a linked group holds them (`paths`). An answer that leaves a way out is a wrong answer:
each project here says all three, in names."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import AppState, app_state, call_memo
from ..toggl.models import Member, TogglGroup, TogglProjectUser, parse_groups
from . import lookup, scope
from .args import Id, OrganizationId, Search, WorkspaceId, dedupe
from .budget import fit
from .discovery import ORG_USERS_PER_PAGE, organization_users
from .groups import groups_path, read_groups
from .paths import paths_of
from .registry import Safety, tool

# Said once per answer that holds a public project, not on every project.
PUBLIC_MEANS = "public: everyone in the workspace can track time on it, whatever its members and groups"
# Organization users read for the names of direct members no other answer named (200 a page).
MAX_USER_PAGES = 25


class Named(BaseModel):
    id: int
    name: str | None = None


class ProjectRef(BaseModel):
    id: int
    name: str | None = None
    workspace_id: int
    public: bool | None = Field(default=None, description="Only for public projects: true")
    archived: bool | None = Field(default=None, description="Only for archived projects: true")


class GroupDetail(BaseModel):
    group_id: int
    name: str
    members: list[Member]
    workspaces: list[Named]
    projects: list[ProjectRef] = Field(description="Projects the group can access")
    note: str | None = Field(default=None, description="What a mark means, when one is used")
    shown: str | None = Field(default=None, description="Set when a list was cut to fit: what is left out")


class GroupAccess(BaseModel):
    group_id: int
    name: str | None = None
    project_group_id: int = Field(description="The link; remove_project_group takes it")
    members: list[Member] | None = None


class DirectMember(BaseModel):
    user_id: int
    name: str | None = None
    manager: bool | None = Field(default=None, description="Only for project managers: true")
    custom_rate: bool | None = Field(
        default=None, description="Only when they have their own rate or labor cost here: true"
    )

    @classmethod
    def from_row(cls, row: TogglProjectUser, names: dict[int, str]) -> DirectMember:
        return cls(
            user_id=row.user_id,
            name=names.get(row.user_id),
            manager=True if row.manager else None,
            custom_rate=True if row.rate is not None or row.labor_cost is not None else None,
        )


class ProjectAccess(BaseModel):
    project_id: int
    name: str | None = None
    public: bool = Field(description="True: everyone in the workspace can track time on it")
    archived: bool | None = Field(default=None, description="Only for archived projects: true")
    direct: list[DirectMember] = Field(description="Direct members of the project")
    groups: list[GroupAccess] = Field(description="Groups linked to the project, with their members")


class ProjectAccessList(BaseModel):
    workspace_id: int
    projects: list[ProjectAccess]
    total: int = Field(description="Matching projects")
    not_found: list[int] | None = Field(default=None, description="Ids that are no project of this workspace")
    note: str | None = Field(default=None, description="What public means, when a project is")
    shown: str | None = Field(
        default=None, description="Set when the list was cut to fit: how to see the rest"
    )


async def user_names(ctx: Context, org: int, user_ids: list[int]) -> dict[int, str]:
    """Names for these people, for the fewest requests: names already heard; else the
    organization's groups (1 request, none when this call read them); else organization users, 200
    a page (kept a minute), until every one is found."""
    state = app_state(ctx)
    names: dict[int, str] = {}

    def look_up() -> list[int]:
        for uid in user_ids:
            if uid not in names and (name := lookup.shown_name(state, "user", uid)):
                names[uid] = name
        return [uid for uid in user_ids if uid not in names]

    if not look_up():
        return names
    if ("groups", org) not in call_memo(ctx):
        await read_groups(ctx, org)
        if not look_up():
            return names
    for page in range(1, MAX_USER_PAGES + 1):
        rows = await organization_users(state, org, None, page, ORG_USERS_PER_PAGE)
        if not look_up() or len(rows) < ORG_USERS_PER_PAGE:
            break
    return names


async def organization_of(state: AppState, ws: int, given: int | None) -> int:
    org = given or await lookup.organization_of(state, ws)
    return org if org is not None else await scope.organization_id(state, None)


async def _find_group(ctx: Context, org: int, group_id: int | None, name: str | None) -> TogglGroup:
    if (group_id is None) == (name is None):
        raise ToolError("Give group_id or name (not both). Nothing was sent to Toggl.")
    state = app_state(ctx)
    if group_id is not None:
        groups = await read_groups(ctx, org)
        match = [g for g in groups if g.group_id == group_id]
    else:
        assert name is not None
        data = await state.toggl.request("GET", groups_path(org), params={"name": name})
        groups = parse_groups(data)
        match = [g for g in groups if g.name.casefold() == name.casefold()]
    lookup.remember_groups(state, groups)
    if not match:
        near = lookup.listing([lookup.labelled(g.name, g.group_id) for g in groups], most=10)
        wanted = f"group {group_id}" if group_id is not None else f"group named {name!r}"
        raise ToolError(f"Organization {org} has no {wanted}. Groups found: {near}.")
    return match[0]


@tool("get_group", title="Show a group's members and access", safety=Safety.READ)
async def get_group(
    ctx: Context,
    group_id: Annotated[int | None, Field(ge=1, description="Or give name")] = None,
    name: Annotated[str | None, Search, Field(description="Group name, any case")] = None,
    organization_id: OrganizationId = None,
) -> GroupDetail:
    """A group's members, workspaces and every project it reaches (marked public or archived). 1
    request, plus 1 per 200 projects in the organization."""
    state = app_state(ctx)
    org = await scope.organization_id(state, organization_id)
    group = await _find_group(ctx, org, group_id, name)
    workspace_names = await lookup.workspace_names(state)
    # A read tool: the project lists may be the cached ones (a minute); the links are read now.
    reached = await lookup.projects_of_group(ctx, org, group)
    projects = [
        ProjectRef(
            id=p.id,
            name=p.name,
            workspace_id=p.workspace_id,
            public=True if p.public else None,
            archived=None if p.active else True,
        )
        for p, _ in sorted(reached, key=lambda pair: pair[0].name.casefold())
    ]
    members = [Member.from_toggl(u) for u in group.users]
    detail = GroupDetail(
        group_id=group.group_id,
        name=group.name,
        members=members,
        workspaces=[Named(id=w, name=workspace_names.get(w)) for w in group.workspaces],
        projects=projects,
    )
    if any(p.public for p in projects):
        detail.note = (
            "public: everyone in the workspace can track time on it, so the group adds no access "
            "there; projects without the mark are private"
        )
    budget = state.settings.text_budget
    shown_projects = fit(projects, budget // 2)
    shown_members = fit(members, budget // 2)
    cut = []
    if shown_projects < len(projects):
        detail.projects = projects[:shown_projects]
        cut.append(f"{shown_projects} of {len(projects)} projects shown (get_project_access finds one)")
    if shown_members < len(members):
        detail.members = members[:shown_members]
        cut.append(f"{shown_members} of {len(members)} members shown")
    detail.shown = "; ".join(cut) or None
    return detail


@tool("get_project_access", title="Show who can access projects", safety=Safety.READ)
async def get_project_access(
    ctx: Context,
    workspace_id: WorkspaceId = None,
    project_ids: Annotated[
        list[Id] | None, Field(min_length=1, max_length=200, description="Up to 200, or give project_name")
    ] = None,
    project_name: Annotated[str | None, Search, Field(description="Part of the name")] = None,
    organization_id: OrganizationId = None,
) -> ProjectAccessList:
    """Who can track time on projects: public or not, direct members, linked groups with members.
    3 requests per 200 projects, plus up to 1 per 200 org users for unknown names."""
    if (project_ids is None) == (project_name is None):
        raise ToolError("Give project_ids or project_name (not both). Nothing was sent to Toggl.")
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id, organization_id)
    matching: list[lookup.Project] = []
    if project_ids is not None:
        ids = dedupe(project_ids) or []
    else:
        assert project_name is not None
        matching = await lookup.find_projects(state, ws, project_name)
        ids = [p.id for p in sorted(matching, key=lambda p: p.name.casefold())]
        if not ids:
            raise ToolError(
                f"No project in workspace {ws} has {project_name!r} in its name; list_projects lists them."
            )
    # A read tool: the workspace's project list may be the cached one; links and members are read now.
    paths = await paths_of(ctx, ws, ids, fresh=False, known=matching)
    missing = [pid for pid in ids if paths[pid].project is None]
    found = [paths[pid] for pid in ids if pid not in missing]
    groups: dict[int, TogglGroup] = {}
    names: dict[int, str] = {}
    if any(p.links or p.direct for p in found):
        org = await organization_of(state, ws, organization_id)
        if any(p.links for p in found):
            groups = {g.group_id: g for g in await read_groups(ctx, org)}
        direct = list(dict.fromkeys(row.user_id for p in found for row in p.direct))
        names = await user_names(ctx, org, direct) if direct else {}
    projects = [
        ProjectAccess(
            project_id=p.project_id,
            name=p.project.name if p.project else None,
            public=p.public,
            archived=True if p.archived else None,
            direct=[DirectMember.from_row(row, names) for row in p.direct],
            groups=[
                GroupAccess(
                    group_id=link.group_id,
                    name=group.name if group else None,
                    project_group_id=link.id,
                    members=[Member.from_toggl(u) for u in group.users] if group else None,
                )
                for link in p.links
                for group in [groups.get(link.group_id)]
            ],
        )
        for p in found
    ]
    shown = fit(projects, state.settings.text_budget)
    result = ProjectAccessList(
        workspace_id=ws,
        projects=projects[:shown],
        total=len(projects),
        not_found=missing or None,
        note=PUBLIC_MEANS if any(p.public for p in projects[:shown]) else None,
    )
    if shown < len(projects):
        rest = [p.project_id for p in projects[shown:]]
        more = f" (and {len(rest) - 20} more)" if len(rest) > 20 else ""
        result.shown = (
            f"{shown} of {len(projects)} projects shown; narrow project_name, or ask with "
            f"project_ids for the rest: {rest[:20]}{more}"
        )
    return result
