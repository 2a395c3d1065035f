"""Project groups: a group's access to a project, in a workspace."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import AppState, app_state, call_memo, deciding_state
from ..toggl.models import ProjectLink, TogglProjectGroup, parse_links
from . import journaling, lookup, removals, scope
from .args import GroupId, Id, ProjectId, WorkspaceId, dedupe
from .budget import fit
from .confirm import Approval, ConfirmArg, Confirmation, Preview, StrictBool, gate, require_approval
from .groups import read_groups
from .registry import Safety, tool

# Toggl takes the ids in one query parameter; keep URLs comfortably short.
MAX_PROJECT_IDS = 200


class LinkList(BaseModel):
    links: list[ProjectLink] = Field(description="Which group can access which project")
    total: int
    shown: str | None = Field(
        default=None, description="Set when the list was cut to fit: how to see the rest"
    )


class LinkAdded(BaseModel):
    workspace_id: int
    project_id: int
    project: str | None = None
    group_id: int
    group: str | None = None
    added: bool = True
    change_id: str | None = journaling.CHANGE_ID


class LinkRemoved(BaseModel):
    workspace_id: int
    project_group_id: int
    project_id: int
    project: str | None = None
    group_id: int
    group: str | None = None
    removed: bool = True
    still_open: list[str] | None = Field(
        default=None, description="Who still reaches the project, and how: tell the admin"
    )
    change_id: str | None = journaling.CHANGE_ID


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
            description="Project ids, up to 200",
        ),
    ],
    workspace_id: WorkspaceId = None,
) -> LinkList:
    """Groups linked to these projects, with link ids; get_project_access says who can track time,
    every way. 1 request per 200 projects."""
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    links = [ProjectLink.from_toggl(x) for x in await fetch_links(state, ws, dedupe(project_ids) or [])]
    for link in links:  # names this process already heard; no request is spent on them here
        link.project = lookup.name_of(state, "project", link.project_id)
        link.group = lookup.name_of(state, "group", link.group_id)
    shown = fit(links, state.settings.text_budget)
    result = LinkList(links=links[:shown], total=len(links))
    if shown < len(links):
        result.shown = f"{shown} of {len(links)} links shown: ask for fewer project_ids at a time."
    return result


@tool("add_project_group", title="Give a group access to a project", safety=Safety.WRITE, idempotent=False)
async def add_project_group(
    ctx: Context,
    project_id: ProjectId,
    group_id: GroupId,
    workspace_id: WorkspaceId = None,
) -> LinkAdded:
    """Links a group to one project; add_group_to_projects does many. Does not ask first.
    1 request."""
    # The default workspace and the journal's names: only as Toggl told this process, never as
    # Redis said (`deciding_state`).
    state = deciding_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    effect = journaling.link_effect(state, "link_added", ws, project_id, group_id)
    arguments = {"workspace_id": ws, "project_id": project_id, "group_id": group_id}
    async with journaling.recording(ctx, "add_project_group", arguments, effect, workspace_id=ws) as entry:
        entry.result = await add_link(state, ws, project_id, group_id)
    return LinkAdded(
        workspace_id=ws,
        project_id=project_id,
        project=lookup.shown_name(state, "project", project_id),
        group_id=group_id,
        group=lookup.shown_name(state, "group", group_id),
        change_id=entry.change_id,
    )


async def add_link(state: AppState, ws: int, project_id: int, group_id: int) -> dict[str, Any]:
    """POST one link; what the journal keeps of the answer (the new link's id, when given)."""
    data = await state.toggl.request(
        "POST", links_path(ws), json={"group_id": group_id, "project_id": project_id}, group_id=group_id
    )
    link_id = data.get("id") if isinstance(data, dict) else None
    return {"link_id": link_id} if isinstance(link_id, int) else {}


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
    links = await lookup.links_of(ctx, ws, [project_id])
    for link in links:
        if link.group_id == group_id and link.pid == project_id:
            return link
    state = app_state(ctx)
    holders = [
        lookup.labelled(lookup.name_of(state, "group", x.group_id), x.group_id, "group") for x in links
    ]
    raise ToolError(
        f"Group {group_id} has no access to project {project_id} in workspace {ws}; nothing to remove "
        f"and nothing was changed. Groups with access: {lookup.listing(holders)}."
    )


async def _link_by_id(ctx: Context, ws: int, link_id: int) -> TogglProjectGroup:
    """Which project and group a link joins: Toggl lists links only by project, so the workspace's
    projects are queried 200 at a time until the link turns up. The links are read in the call;
    the project list may be this process's cached one, and is read again only when the link is
    not found through it (a project created since)."""
    state = app_state(ctx)
    asked: set[int] = set()
    for fresh in (False, True):
        # The second pass queries only projects the first did not (none, unless the list changed).
        project_ids = [p.id for p in await lookup.all_projects(state, ws, fresh=fresh) if p.id not in asked]
        asked.update(project_ids)
        for start in range(0, len(project_ids), lookup.LINK_QUERY_IDS):
            for link in await lookup.links_of(ctx, ws, project_ids[start : start + lookup.LINK_QUERY_IDS]):
                if link.id == link_id:
                    return link
    raise ToolError(
        f"Workspace {ws} has no project-group link {link_id}; nothing was changed. "
        "get_project_access or list_project_groups show the links."
    )


async def _the_link(
    ctx: Context, ws: int, project_group_id: int | None, project_id: int | None, group_id: int | None
) -> TogglProjectGroup:
    if project_group_id is not None:
        return await _link_by_id(ctx, ws, project_group_id)
    assert project_id is not None and group_id is not None
    return await _find_link(ctx, ws, project_id, group_id)


async def group_name(ctx: Context, ws: int, group_id: int) -> str | None:
    """As heard in this call, else from the organization's group list (a preview a person reads)."""
    state = app_state(ctx)
    known = lookup.name_of(state, "group", group_id)
    org = None if known else await lookup.organization_of(state, ws)
    if org is not None:
        known = next((g.name for g in await read_groups(ctx, org) if g.group_id == group_id), None)
    return known


async def _remove_preview(
    ctx: Context,
    workspace_id: int | None,
    project_group_id: int | None,
    project_id: int | None,
    group_id: int | None,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    _check_link_args(project_group_id, project_id, group_id)
    state = deciding_state(ctx)

    async def preview() -> Preview:
        ws = await scope.workspace_id(state, workspace_id)
        link = await _the_link(ctx, ws, project_group_id, project_id, group_id)
        after = await removals.unlinking(ctx, ws, link.group_id, [link.pid])
        call_memo(ctx)[("after-unlinking", link.id)] = after  # the result says it too
        group = await group_name(ctx, ws, link.group_id) or f"Group {link.group_id}"
        project = after.left[0].label
        workspace = lookup.labelled((await lookup.workspace_names(state)).get(ws), ws, "workspace")
        still_open = after.still_open()
        if after.nobody_loses:
            return Preview(
                f"Remove {group}'s link to {project} in {workspace}, link {link.id}. {still_open[0]}",
                still_open[1:],
            )
        lost = after.lost_text()
        return Preview(
            f"{group} loses access to {project} in {workspace}, link {link.id}:",
            [lost, *still_open] if lost else ["its members lose the access this link gave them"],
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
    project_group_id: Annotated[int | None, Field(ge=1, description="The link id")] = None,
    project_id: Annotated[int | None, Field(ge=1, description="With group_id")] = None,
    group_id: Annotated[int | None, Field(ge=1, description="With project_id")] = None,
    confirm: StrictBool = ConfirmArg,
) -> LinkRemoved:
    """Removes one group-project link; many: remove_group_from_projects. Asks the user first;
    says who keeps access. 2 requests (its preview 5)."""
    _check_link_args(project_group_id, project_id, group_id)
    require_approval(approval, "remove project access")
    state = deciding_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    link = await _the_link(ctx, ws, project_group_id, project_id, group_id)
    # What stays open, as the question read it in this call; `confirm: true` without a question
    # reads no more than the link (the preview the model was shown said it).
    after: removals.Aftermath | None = call_memo(ctx).get(("after-unlinking", link.id))
    effect = journaling.link_effect(state, "link_removed", ws, link.pid, link.group_id, link.id)
    arguments = {
        "workspace_id": ws,
        "project_group_id": project_group_id,
        "project_id": project_id,
        "group_id": group_id,
    }
    async with journaling.recording(ctx, "remove_project_group", arguments, effect, workspace_id=ws) as entry:
        await state.toggl.request("DELETE", links_path(ws, link.id))
    return LinkRemoved(
        change_id=entry.change_id,
        workspace_id=ws,
        project_group_id=link.id,
        project_id=link.pid,
        project=lookup.shown_name(state, "project", link.pid),
        group_id=link.group_id,
        group=lookup.shown_name(state, "group", link.group_id),
        still_open=(after.still_open() or None) if after else None,
    )
