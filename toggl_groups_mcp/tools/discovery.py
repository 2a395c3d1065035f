"""Finding ids: organizations, workspaces, projects, organization users, and the quota."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import app_state
from ..toggl.errors import reset_time
from . import scope
from .args import OrganizationId, Text, WorkspaceId
from .registry import Safety, tool

Page = Annotated[int, Field(ge=1, le=10_000, description="Page number, from 1")]


class Organization(BaseModel):
    id: int
    name: str
    admin: bool | None = Field(
        default=None, description="True when the user administers it (needed for groups)"
    )


class OrganizationList(BaseModel):
    organizations: list[Organization]


class Workspace(BaseModel):
    id: int
    name: str
    organization_id: int | None = None
    admin: bool | None = None


class WorkspaceList(BaseModel):
    workspaces: list[Workspace]


class Project(BaseModel):
    id: int
    name: str
    active: bool | None = None
    client_id: int | None = None


class ProjectPage(BaseModel):
    projects: list[Project]
    page: int
    per_page: int
    more: bool = Field(description="True when the next page may hold more projects")


class OrganizationUser(BaseModel):
    user_id: int = Field(description="Toggl user id: what groups take")
    name: str | None = None
    email: str | None = None
    admin: bool | None = None
    inactive: bool | None = None


class UserPage(BaseModel):
    users: list[OrganizationUser]
    page: int
    per_page: int
    more: bool = Field(description="True when the next page may hold more users")


class Quota(BaseModel):
    organization_id: int | None
    remaining: int = Field(description="Requests left in the current hour")
    resets_in_secs: int = Field(description="Seconds until the quota resets")
    resets_at: str | None = Field(default=None, description="When it resets, UTC")
    total: int | None = Field(default=None, description="Requests allowed per hour, when Toggl says")
    source: Literal["recent answer", "toggl"] = Field(
        description="'recent answer': read from the headers of a recent request, costing nothing"
    )


def _picked(item: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    return {k: item.get(k) for k in model.model_fields if k in item}


@tool("list_organizations", title="List organizations", safety=Safety.READ)
async def list_organizations(ctx: Context) -> OrganizationList:
    """List the organizations the user belongs to, with ids. Cached for a minute."""
    orgs = await scope.my_organizations(app_state(ctx))
    return OrganizationList(
        organizations=[Organization.model_validate(_picked(o, Organization)) for o in orgs]
    )


@tool("list_workspaces", title="List workspaces", safety=Safety.READ)
async def list_workspaces(
    ctx: Context,
    organization_id: Annotated[
        int | None, Field(ge=1, description="Only workspaces of this organization")
    ] = None,
) -> WorkspaceList:
    """List the workspaces the user can see, with ids and their organization. Cached for a minute."""
    workspaces = await scope.my_workspaces(app_state(ctx))
    if organization_id is not None:
        workspaces = [w for w in workspaces if w.get("organization_id") == organization_id]
    return WorkspaceList(workspaces=[Workspace.model_validate(_picked(w, Workspace)) for w in workspaces])


@tool("list_projects", title="List projects", safety=Safety.READ)
async def list_projects(
    ctx: Context,
    workspace_id: WorkspaceId = None,
    name: Annotated[str | None, Text, Field(description="Only projects whose name contains this")] = None,
    active: Annotated[
        Literal["true", "false", "both"], Field(description="Active projects, archived ones, or both")
    ] = "true",
    page: Page = 1,
    per_page: Annotated[int, Field(ge=1, le=200, description="Projects per page, at most 200")] = 50,
) -> ProjectPage:
    """Find projects in a workspace by name, to get their ids. Cached for a minute."""
    state = app_state(ctx)
    ws = await scope.workspace_id(state, workspace_id)
    params: dict[str, Any] = {"active": active, "page": page, "per_page": per_page}
    if name is not None:
        params["search"] = name

    async def load() -> list[dict[str, Any]]:
        data = await state.toggl.request("GET", f"/workspaces/{ws}/projects", params=params)
        return [p for p in data or [] if isinstance(p, dict) and "id" in p]

    key = ("projects", ws, name, active, page, per_page)
    projects = await state.cache.get_or_load(key, load)
    return ProjectPage(
        projects=[Project.model_validate(_picked(p, Project)) for p in projects],
        page=page,
        per_page=per_page,
        more=len(projects) >= per_page,
    )


@tool("list_organization_users", title="List organization users", safety=Safety.READ)
async def list_organization_users(
    ctx: Context,
    organization_id: OrganizationId = None,
    filter: Annotated[
        str | None, Text, Field(description="Only users whose name or email contains this")
    ] = None,
    page: Page = 1,
    per_page: Annotated[int, Field(ge=1, le=200, description="Users per page")] = 50,
) -> UserPage:
    """Find people in an organization by name or email, to get the user_id groups take.

    Cached for a minute."""
    state = app_state(ctx)
    org = await scope.organization_id(state, organization_id)
    params: dict[str, Any] = {"page": page, "per_page": per_page}
    if filter is not None:
        params["filter"] = filter

    async def load() -> list[dict[str, Any]]:
        data = await state.toggl.request("GET", f"/organizations/{org}/users", params=params)
        return [u for u in data or [] if isinstance(u, dict) and "user_id" in u]

    users = await state.cache.get_or_load(("users", org, filter, page, per_page), load)
    return UserPage(
        users=[OrganizationUser.model_validate(_picked(u, OrganizationUser)) for u in users],
        page=page,
        per_page=per_page,
        more=len(users) >= per_page,
    )


# A quota figure read from a response header is trusted for this long.
QUOTA_FRESH_SECS = 60.0


@tool("get_quota", title="Show the Toggl API quota", safety=Safety.READ)
async def get_quota(ctx: Context, organization_id: OrganizationId = None) -> Quota:
    """How many Toggl requests are left this hour and when the quota resets.

    Free: read from the last answer Toggl sent, when it is recent; otherwise one request."""
    state = app_state(ctx)
    # No look-up just to pick an organization: any recent figure, or Toggl's list, will do.
    org = organization_id or state.settings.organization_id
    seen = state.toggl.last_quota(org)
    now = state.toggl.clock()
    if seen is not None and now - seen.seen_at < QUOTA_FRESH_SECS:
        remaining, resets_in = seen.current(now)
        return Quota(
            organization_id=org,
            remaining=remaining,
            resets_in_secs=int(resets_in),
            resets_at=reset_time(resets_in),
            source="recent answer",
        )
    data = await state.toggl.request("GET", "/me/quota")
    rows = [q for q in data or [] if isinstance(q, dict)]
    row = next((q for q in rows if org is None or q.get("organization_id") == org), {})
    if not row:
        raise ToolError(
            f"Toggl reported no quota for organization {org}; check the id with list_organizations."
        )
    try:
        resets = max(0.0, float(row.get("resets_in_secs") or 0))
        remaining = int(row.get("remaining") or 0)
    except (TypeError, ValueError):
        raise ToolError(f"Toggl's quota answer was unreadable: {str(row)[:200]}") from None
    return Quota(
        organization_id=row.get("organization_id", org),
        remaining=remaining,
        resets_in_secs=int(resets),
        resets_at=reset_time(resets),
        total=row.get("total"),
        source="toggl",
    )
