"""The access review: who can reach what in a workspace, as one grid.

Groups down the side (with their members), projects across the top, a mark where a group can
access a project; below the groups, the people who are direct members of a project, and on top the
projects marked public (everyone in the workspace) or archived: the picture an admin approves is
every way in, not only the groups. In a host with MCP Apps the result is shown in an interactive
view (`access_review.html`, beside this module) where a person can stage group changes and apply
them; every other client, and the model, get the same grid as compact JSON.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import app_state
from ..toggl.models import Member, TogglGroup, TogglProjectUser, parse_project_users
from . import lookup, scope
from .access import PUBLIC_MEANS, user_names
from .args import Id, Search, WorkspaceId, dedupe
from .budget import ENVELOPE, fit, size
from .groups import read_groups
from .registry import Safety, View, tool

VIEW = View(
    uri="ui://toggl-groups/access-review.html",
    html="access_review.html",
    title="Access review",
    calls=("review_access", "add_group_to_projects", "remove_group_from_projects"),
)


class ReviewProject(BaseModel):
    id: int
    name: str
    public: bool | None = Field(default=None, description="Only for public projects: true")
    archived: bool | None = Field(default=None, description="Only for archived projects: true")


class ReviewPerson(BaseModel):
    user_id: int
    name: str | None = None
    projects: list[int] = Field(description="Ids of the projects above they are a direct member of")


class ReviewGroup(BaseModel):
    id: int
    name: str
    members: list[Member]
    projects: list[int] = Field(description="Ids of the projects above that the group can access")


class AccessReview(BaseModel):
    organization_id: int
    workspace_id: int
    workspace: str | None = Field(default=None, description="The workspace's name")
    projects: list[ReviewProject]
    groups: list[ReviewGroup] = Field(
        description="Groups assigned to the workspace or linked to its projects"
    )
    direct: list[ReviewPerson] = Field(description="Direct project members, apart from any group")
    projects_total: int
    groups_total: int
    direct_total: int
    note: str | None = Field(default=None, description="What public means, when a project is")
    shown: str | None = Field(default=None, description="Set when the grid was cut to fit: how to narrow it")


async def _direct_rows(ctx: Context, ws: int, project_ids: list[int]) -> list[TogglProjectUser]:
    """Direct members of the grid's projects: one query per 200 projects, or, for more, Toggl's
    list for the whole workspace in one request (`project_ids` is optional on project_users,
    unlike project_groups)."""
    if len(project_ids) <= lookup.LINK_QUERY_IDS:
        return await lookup.project_users_of(ctx, ws, project_ids)
    data = await app_state(ctx).toggl.request("GET", lookup.project_users_path(ws))
    wanted = set(project_ids)
    return [row for row in parse_project_users(data) if row.direct and row.project_id in wanted]


def _in_review(group: TogglGroup, ws: int, linked: set[int]) -> bool:
    return ws in group.workspaces or group.group_id in linked


@tool(
    "review_access",
    title="Review a workspace's access",
    safety=Safety.READ,
    view=VIEW,
)
async def review_access(
    ctx: Context,
    workspace_id: WorkspaceId = None,
    group_ids: Annotated[list[Id] | None, Field(min_length=1, description="Only these")] = None,
    project_name: Annotated[str | None, Search, Field(description="Part of the name")] = None,
) -> AccessReview:
    """A workspace's access grid for an admin (a view in MCP Apps hosts): projects marked public or
    archived × groups with members, plus direct members. 1 request per 200 projects, plus 2."""
    # No organization_id: the workspace's organization comes with the workspace list that names it.
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    org = await lookup.organization_of(state, ws)
    if org is None:
        raise ToolError(
            f"Workspace {ws} is not among the user's workspaces; list_organizations lists them. "
            "Nothing else was read."
        )
    workspace = lookup.name_of(state, "workspace", ws)

    projects = sorted(await lookup.all_projects(state, ws), key=lambda p: p.name.casefold())
    if project_name is not None:
        needle = project_name.casefold()
        projects = [p for p in projects if needle in p.name.casefold()]
        if not projects:
            raise ToolError(
                f"No project in workspace {ws} has {project_name!r} in its name; list_projects lists them."
            )
    groups = await read_groups(ctx, org)
    project_ids = [p.id for p in projects]
    links = await lookup.links_of(ctx, ws, project_ids) if projects else []
    reaches: dict[int, set[int]] = {}
    for link in links:
        reaches.setdefault(link.group_id, set()).add(link.pid)
    direct_rows = await _direct_rows(ctx, ws, project_ids) if projects else []
    memberships: dict[int, set[int]] = {}
    for row in direct_rows:
        memberships.setdefault(row.user_id, set()).add(row.project_id)
    names = await user_names(ctx, org, list(memberships))

    wanted = dedupe(group_ids)
    if wanted is not None:
        by_id = {g.group_id: g for g in groups}
        unknown = [gid for gid in wanted if gid not in by_id]
        if unknown:
            near = lookup.listing([lookup.labelled(g.name, g.group_id) for g in groups], most=10)
            raise ToolError(
                f"Organization {org} has no group {', '.join(map(str, unknown))}. Groups: {near}."
            )
        chosen = [by_id[gid] for gid in wanted]
    else:
        chosen = [g for g in groups if _in_review(g, ws, set(reaches))]
    chosen.sort(key=lambda g: g.name.casefold())

    review = AccessReview(
        organization_id=org,
        workspace_id=ws,
        workspace=workspace,
        projects=[
            ReviewProject(
                id=p.id, name=p.name, public=True if p.public else None, archived=None if p.active else True
            )
            for p in projects
        ],
        groups=[],
        direct=[],
        projects_total=len(projects),
        groups_total=len(chosen),
        direct_total=len(memberships),
    )
    # Cut to the text budget: up to a third of it for the columns, what they leave for the rows.
    budget = state.settings.text_budget
    shown_projects = fit(review.projects, ENVELOPE + (budget - ENVELOPE) // 3)
    review.projects = review.projects[:shown_projects]
    columns_size = sum(size(p) for p in review.projects)
    columns = {p.id for p in review.projects}
    rows = [
        ReviewGroup(
            id=g.group_id,
            name=g.name,
            members=[Member.from_toggl(u) for u in g.users],
            projects=[p.id for p in projects if p.id in columns and p.id in reaches.get(g.group_id, ())],
        )
        for g in chosen
    ]
    # Direct members, by name: a person shown only where the shown columns hold their membership.
    people = sorted(
        (
            ReviewPerson(
                user_id=uid,
                name=names.get(uid),
                projects=[p.id for p in projects if p.id in columns and p.id in held],
            )
            for uid, held in memberships.items()
        ),
        key=lambda person: (person.name or "").casefold(),
    )
    people = [person for person in people if person.projects]
    # The rows share what the columns leave: direct members up to a third of it (they are part of
    # the truth, never crowded out by groups), the groups the rest.
    rest = budget - columns_size
    shown_people = fit(people, ENVELOPE + (rest - ENVELOPE) // 3)
    review.direct = people[:shown_people]
    shown_groups = fit(rows, rest - sum(size(p) for p in review.direct))
    review.groups = rows[:shown_groups]
    if any(p.public for p in review.projects):
        review.note = PUBLIC_MEANS
    if shown_projects < len(projects) or shown_groups < len(rows) or shown_people < len(memberships):
        review.shown = (
            f"{shown_projects} of {len(projects)} projects, {shown_groups} of {len(rows)} groups and "
            f"{shown_people} of {len(memberships)} direct members shown; narrow with project_name or "
            "group_ids"
        )
    return review
