"""Project groups: a group's access to a project, in a workspace."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import AppState, app_state, call_memo
from ..toggl.models import ProjectLink, TogglProjectGroup, parse_links
from . import scope
from .args import GroupId, Id, ProjectId, WorkspaceId, dedupe
from .confirm import Approval, ConfirmArg, Confirmation, Preview, StrictBool, gate, require_approval
from .registry import Safety, tool

# Toggl takes the ids in one query parameter; keep URLs comfortably short.
MAX_PROJECT_IDS = 200


class LinkList(BaseModel):
    links: list[ProjectLink] = Field(description="Which group can access which project")
    count: int


class LinkAdded(BaseModel):
    workspace_id: int
    project_id: int
    group_id: int
    added: bool = True


class LinkRemoved(BaseModel):
    workspace_id: int
    project_group_id: int
    project_id: int | None = None
    group_id: int | None = None
    removed: bool = True


def links_path(ws: int, link_id: int | None = None) -> str:
    base = f"/workspaces/{ws}/project_groups"
    return base if link_id is None else f"{base}/{link_id}"


async def fetch_links(state: AppState, ws: int, project_ids: list[int]) -> list[TogglProjectGroup]:
    data = await state.toggl.request(
        "GET", links_path(ws), params={"project_ids": ",".join(map(str, project_ids))}
    )
    return parse_links(data)


@tool("list_project_groups", title="List project access of groups", safety=Safety.READ)
async def list_project_groups(
    ctx: Context,
    project_ids: Annotated[
        list[Id],
        Field(
            min_length=1,
            max_length=MAX_PROJECT_IDS,
            description="Projects to look at (see list_projects); Toggl requires at least one",
        ),
    ],
    workspace_id: WorkspaceId = None,
) -> LinkList:
    """List which groups can access the given projects (one Toggl request).

    Each link has the project_group_id that remove_project_group takes."""
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    links = await fetch_links(state, ws, dedupe(project_ids) or [])
    return LinkList(links=[ProjectLink.from_toggl(x) for x in links], count=len(links))


@tool("add_project_group", title="Give a group access to a project", safety=Safety.WRITE, idempotent=False)
async def add_project_group(
    ctx: Context,
    project_id: ProjectId,
    group_id: GroupId,
    workspace_id: WorkspaceId = None,
) -> LinkAdded:
    """Give a group access to a project (one Toggl request).

    A group created seconds ago may not be visible to Toggl yet; the server waits and retries."""
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    await state.toggl.request(
        "POST", links_path(ws), json={"group_id": group_id, "project_id": project_id}, group_id=group_id
    )
    return LinkAdded(workspace_id=ws, project_id=project_id, group_id=group_id)


def _check_link_args(project_group_id: int | None, project_id: int | None, group_id: int | None) -> None:
    if project_group_id is not None and (project_id is not None or group_id is not None):
        raise ToolError(
            "Give either project_group_id, or both project_id and group_id, not both forms. "
            "Nothing was sent to Toggl."
        )
    if project_group_id is None and (project_id is None or group_id is None):
        missing = "project_id" if project_id is None else "group_id"
        raise ToolError(
            f"{missing} is missing: give project_group_id, or both project_id and group_id. "
            "Nothing was sent to Toggl."
        )


async def _find_link(ctx: Context, ws: int, project_id: int, group_id: int) -> TogglProjectGroup:
    """The link, as Toggl answers for this call (the preview's read serves the body too)."""
    memo = call_memo(ctx)
    key = ("links", ws, project_id)
    if key not in memo:
        memo[key] = await fetch_links(app_state(ctx), ws, [project_id])
    links: list[TogglProjectGroup] = memo[key]
    for link in links:
        if link.group_id == group_id and link.pid == project_id:
            return link
    groups = sorted({x.group_id for x in links})
    raise ToolError(
        f"Group {group_id} has no access to project {project_id} in workspace {ws}; nothing to remove "
        f"and nothing was changed. Groups with access: {groups or 'none'}."
    )


async def _remove_preview(
    ctx: Context,
    workspace_id: int | None,
    project_group_id: int | None,
    project_id: int | None,
    group_id: int | None,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    _check_link_args(project_group_id, project_id, group_id)
    state = app_state(ctx)

    async def preview() -> Preview:
        ws = await scope.workspace_id(state, workspace_id)
        if project_group_id is not None:
            return Preview(
                f"Remove project-group link {project_group_id} in workspace {ws}: the group's members "
                "lose the access to the project that this link gave them."
            )
        assert project_id is not None and group_id is not None
        link = await _find_link(ctx, ws, project_id, group_id)
        return Preview(
            f"Remove group {group_id}'s access to project {project_id} in workspace {ws} "
            f"(link {link.id}): the group's members lose the access it gave them."
        )

    return await gate(ctx, confirm, preview)


@tool(
    "remove_project_group",
    title="Remove a group's access to a project",
    safety=Safety.DESTRUCTIVE,
    idempotent=True,
)
async def remove_project_group(
    ctx: Context,
    approval: Annotated[Approval, Resolve(_remove_preview)],
    workspace_id: WorkspaceId = None,
    project_group_id: Annotated[
        int | None, Field(ge=1, description="The link's id from list_project_groups")
    ] = None,
    project_id: Annotated[
        int | None, Field(ge=1, description="With group_id, instead of project_group_id")
    ] = None,
    group_id: Annotated[
        int | None, Field(ge=1, description="With project_id, instead of project_group_id")
    ] = None,
    confirm: StrictBool = ConfirmArg,
) -> LinkRemoved:
    """Remove a group's access to a project.

    Name the link by project_group_id, or by project_id and group_id (then it is looked up with
    one request). Needs the user's confirmation."""
    _check_link_args(project_group_id, project_id, group_id)
    require_approval(approval, "remove project access")
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    link_id = project_group_id
    if link_id is None:
        assert project_id is not None and group_id is not None
        link_id = (await _find_link(ctx, ws, project_id, group_id)).id
    await state.toggl.request("DELETE", links_path(ws, link_id))
    return LinkRemoved(workspace_id=ws, project_group_id=link_id, project_id=project_id, group_id=group_id)
