"""Access at a glance: who is in a group and what it can reach, who can reach a project."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import app_state
from ..toggl.models import Member, TogglGroup, parse_groups
from . import lookup, scope
from .args import Id, OrganizationId, Search, WorkspaceId, dedupe
from .budget import fit
from .groups import groups_path, read_groups
from .registry import Safety, tool


class Named(BaseModel):
    id: int
    name: str | None = None


class ProjectRef(BaseModel):
    id: int
    name: str | None = None
    workspace_id: int
    archived: bool | None = Field(default=None, description="Only for archived projects: true")


class GroupDetail(BaseModel):
    group_id: int
    name: str
    members: list[Member]
    workspaces: list[Named]
    projects: list[ProjectRef] = Field(description="Projects the group can access")
    shown: str | None = Field(default=None, description="Set when a list was cut to fit: what is left out")


class GroupAccess(BaseModel):
    group_id: int
    name: str | None = None
    project_group_id: int = Field(description="The link; remove_project_group takes it")
    members: list[Member] | None = None


class ProjectAccess(BaseModel):
    project_id: int
    name: str | None = None
    groups: list[GroupAccess] = Field(description="Groups that can access the project")


class ProjectAccessList(BaseModel):
    workspace_id: int
    projects: list[ProjectAccess]
    total: int = Field(description="Matching projects")
    shown: str | None = Field(
        default=None, description="Set when the list was cut to fit: how to see the rest"
    )


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
    """A group's members, workspaces and projects."""
    state = app_state(ctx)
    org = await scope.organization_id(state, organization_id)
    group = await _find_group(ctx, org, group_id, name)
    workspace_names = await lookup.workspace_names(state)
    reached = await lookup.projects_of_group(ctx, org, group)
    projects = [
        ProjectRef(id=p.id, name=p.name, workspace_id=p.workspace_id, archived=None if p.active else True)
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
        list[Id] | None, Field(min_length=1, max_length=200, description="Or give project_name")
    ] = None,
    project_name: Annotated[str | None, Search, Field(description="Part of the name")] = None,
    organization_id: OrganizationId = None,
) -> ProjectAccessList:
    """Who can access projects: groups and members."""
    if (project_ids is None) == (project_name is None):
        raise ToolError("Give project_ids or project_name (not both). Nothing was sent to Toggl.")
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id, organization_id)
    if project_ids is not None:
        ids = dedupe(project_ids) or []
        names = await lookup.project_names(state, ws, ids)
    else:
        assert project_name is not None
        matching = await lookup.find_projects(state, ws, project_name)
        ids = [p.id for p in sorted(matching, key=lambda p: p.name.casefold())]
        names = {p.id: p.name for p in matching}
        if not ids:
            raise ToolError(
                f"No project in workspace {ws} has {project_name!r} in its name; list_projects lists them."
            )
    links = await lookup.links_of(ctx, ws, ids)
    groups: dict[int, TogglGroup] = {}
    if links:
        org = organization_id or await lookup.organization_of(state, ws)
        if org is None:
            org = await scope.organization_id(state, None)
        groups = {g.group_id: g for g in await read_groups(ctx, org)}
        lookup.remember_groups(state, groups.values())
    by_project: dict[int, list[GroupAccess]] = {pid: [] for pid in ids}
    for link in links:
        group = groups.get(link.group_id)
        by_project.setdefault(link.pid, []).append(
            GroupAccess(
                group_id=link.group_id,
                name=group.name if group else None,
                project_group_id=link.id,
                members=[Member.from_toggl(u) for u in group.users] if group else None,
            )
        )
    projects = [ProjectAccess(project_id=pid, name=names.get(pid), groups=by_project[pid]) for pid in ids]
    shown = fit(projects, state.settings.text_budget)
    result = ProjectAccessList(workspace_id=ws, projects=projects[:shown], total=len(projects))
    if shown < len(projects):
        rest = [p.project_id for p in projects[shown:]]
        more = f" (and {len(rest) - 20} more)" if len(rest) > 20 else ""
        result.shown = (
            f"{shown} of {len(projects)} projects shown; narrow project_name, or ask with "
            f"project_ids for the rest: {rest[:20]}{more}"
        )
    return result
