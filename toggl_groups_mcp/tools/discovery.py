"""Finding ids: organizations, workspaces, projects, organization users, and the quota."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, BaseModel, Field

from ..state import AppState, app_state
from ..toggl.errors import reset_time
from . import lookup, scope
from .args import OrganizationId, Search, WorkspaceId
from .budget import fit
from .registry import Safety, tool

Page = Annotated[int, Field(ge=1, description="From 1")]


class WorkspaceRef(BaseModel):
    id: int
    name: str | None = None


class Organization(BaseModel):
    id: int
    name: str
    admin: bool | None = Field(default=None, description="The user administers it (groups need that)")
    workspaces: list[WorkspaceRef]


class OrganizationList(BaseModel):
    organizations: list[Organization]
    # Required, so that a null is said: there is no default, the tools need the id.
    default_organization_id: int | None = Field(description="Used when a tool gets no organization_id")
    default_workspace_id: int | None = Field(description="Used when a tool gets no workspace_id")


# Flags that are the same on almost every item say nothing: keep only the exception.
OnlyTrue = Annotated[bool | None, AfterValidator(lambda flag: True if flag else None)]


class Workspace(BaseModel):
    id: int
    name: str
    organization_id: int | None = None
    admin: OnlyTrue = Field(default=None, description="Only when the user administers it: true")


class WorkspaceList(BaseModel):
    workspaces: list[Workspace]


class Project(BaseModel):
    id: int
    name: str
    # Always said: a model must not have to guess whether everyone can track time on it. A project
    # whose answer lacks `is_private` counts as private, as everywhere else (lookup.Project).
    public: bool = Field(description="True: everyone in the workspace can track time on it")
    archived: OnlyTrue = Field(default=None, description="Only for archived projects: true")
    client_id: int | None = None

    @classmethod
    def from_toggl(cls, row: dict[str, Any]) -> Project:
        return cls(
            id=row["id"],
            name=str(row.get("name") or ""),
            public=row.get("is_private") is False,
            archived=row.get("active") is False,
            client_id=row.get("client_id") if isinstance(row.get("client_id"), int) else None,
        )


class ProjectPage(BaseModel):
    projects: list[Project]
    page: int
    per_page: int
    more: bool = Field(description="True when the next page may hold more projects")
    shown: str | None = Field(default=None, description="Set when the page was cut to fit")


class OrganizationUser(BaseModel):
    user_id: int = Field(description="Toggl user id: what groups take")
    name: str | None = None
    email: str | None = None
    admin: OnlyTrue = Field(default=None, description="Only for organization admins: true")
    inactive: OnlyTrue = Field(default=None, description="Only for deactivated users: true")
    matched: list[str] | None = Field(default=None, description="With several filters: those that found them")


class UserPage(BaseModel):
    users: list[OrganizationUser]
    page: int
    per_page: int
    more: bool = Field(description="True when the next page may hold more users")
    shown: str | None = Field(default=None, description="Set when the page was cut to fit")
    unmatched: list[str] | None = Field(
        default=None, description="With several filters: those that found nobody"
    )


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


Item = TypeVar("Item", bound=BaseModel)


def _page_fit(
    items: list[Item], per_page: int, state: AppState, narrow: str
) -> tuple[list[Item], str | None]:
    """A page as asked for, and within the text budget. Toggl has been seen answering more than
    per_page: never pass on more than was asked for."""
    items = items[:per_page]
    shown = fit(items, state.settings.text_budget)
    if shown == len(items):
        return items, None
    return items[
        :shown
    ], f"{shown} of {len(items)} shown: ask for a smaller per_page, or narrow with {narrow}."


@tool("list_organizations", title="List organizations and workspaces", safety=Safety.READ)
async def list_organizations(ctx: Context) -> OrganizationList:
    """Your organizations and their workspaces, with the defaults used when none is given. Tools
    take these by name too. 2 requests, then cached."""
    state = app_state(ctx)
    orgs = await scope.my_organizations(state)
    workspaces = await lookup.workspace_rows(state)
    lookup.remember_rows(state, "organization", orgs)
    # The defaults as the tools would pick them, without a request more.
    default_org = state.settings.organization_id or (int(orgs[0]["id"]) if len(orgs) == 1 else None)
    in_org = [w for w in workspaces if default_org is None or w.get("organization_id") == default_org]
    result = OrganizationList(
        organizations=[
            Organization(
                id=o["id"],
                name=str(o.get("name") or ""),
                admin=o.get("admin") if isinstance(o.get("admin"), bool) else None,
                workspaces=[
                    WorkspaceRef(id=w["id"], name=w.get("name"))
                    for w in workspaces
                    if w.get("organization_id") == o["id"]
                ],
            )
            for o in orgs
        ],
        default_organization_id=default_org,
        default_workspace_id=state.settings.workspace_id
        or (int(in_org[0]["id"]) if len(in_org) == 1 else None),
    )
    return result


@tool("list_workspaces", title="List workspaces", safety=Safety.READ)
async def list_workspaces(
    ctx: Context,
    organization_id: Annotated[int | None, Field(ge=1, description="Organization")] = None,
) -> WorkspaceList:
    """Workspaces, optionally of one organization. 1 request, then cached."""
    workspaces = await lookup.workspace_rows(app_state(ctx))
    if organization_id is not None:
        workspaces = [w for w in workspaces if w.get("organization_id") == organization_id]
    return WorkspaceList(workspaces=[Workspace.model_validate(_picked(w, Workspace)) for w in workspaces])


@tool("list_projects", title="List projects", safety=Safety.READ)
async def list_projects(
    ctx: Context,
    workspace_id: WorkspaceId = None,
    name: Annotated[str | None, Search, Field(description="Part of the name")] = None,
    active: Annotated[
        Literal["true", "false", "both"], Field(description="true, false (archived only) or both")
    ] = "true",
    page: Page = 1,
    per_page: Annotated[int, Field(ge=1, le=200, description="Per page")] = 50,
) -> ProjectPage:
    """Projects by name (any case), marked public and archived. Who can access one:
    get_project_access."""
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
    lookup.remember_rows(state, "project", projects)
    items, shown = _page_fit([Project.from_toggl(p) for p in projects], per_page, state, "name")
    return ProjectPage(
        projects=items, page=page, per_page=per_page, more=len(projects) >= per_page, shown=shown
    )


# Name filters one call takes (one request each): enough for "Priya and Tom", not a bulk lookup.
MAX_FILTERS = 10
ORG_USERS_PER_PAGE = 200  # Toggl's most


async def organization_users(
    state: AppState, org: int, filter: str | None, page: int, per_page: int
) -> list[dict[str, Any]]:
    """One page of organization users (kept a minute, like other discovery answers), their names
    remembered."""
    params: dict[str, Any] = {"page": page, "per_page": per_page}
    if filter is not None:
        params["filter"] = filter

    async def load() -> list[dict[str, Any]]:
        data = await state.toggl.request("GET", f"/organizations/{org}/users", params=params)
        return [u for u in data or [] if isinstance(u, dict) and isinstance(u.get("user_id"), int)]

    users = await state.cache.get_or_load(("users", org, filter, page, per_page), load)
    lookup.remember_rows(state, "user", users, id_key="user_id")
    return users


Filters = Annotated[
    list[Annotated[str, Search]] | Annotated[str, Search] | None,
    Field(description=f"Part of name or email, or up to {MAX_FILTERS}"),
]


@tool("list_organization_users", title="List organization users", safety=Safety.READ)
async def list_organization_users(
    ctx: Context,
    organization_id: OrganizationId = None,
    filter: Filters = None,
    page: Page = 1,
    per_page: Annotated[int, Field(ge=1, le=200, description="Per page")] = 50,
) -> UserPage:
    """People (user ids) by name or email; a list of filters finds several, 1 request each."""
    state = app_state(ctx)
    filters = [filter] if not isinstance(filter, list) else list(dict.fromkeys(filter))
    if len(filters) > MAX_FILTERS or not filters:
        raise ToolError(
            f"filter: give 1 to {MAX_FILTERS} names or emails (got {len(filters)}). Nothing was sent to Toggl."
        )
    org = await scope.organization_id(state, organization_id)
    several = isinstance(filter, list) and len(filters) > 1
    people: dict[int, OrganizationUser] = {}
    unmatched: list[str] = []
    more = False
    for text in filters:
        users = await organization_users(state, org, text, page, per_page)
        more = more or len(users) >= per_page
        if not users and text is not None:
            unmatched.append(text)
        for row in users[:per_page]:
            person = people.get(row["user_id"])
            if person is None:
                person = people[row["user_id"]] = OrganizationUser.model_validate(
                    _picked(row, OrganizationUser)
                )
            if several and text is not None:
                person.matched = [*(person.matched or []), text]
    items, shown = _page_fit(list(people.values()), len(people), state, "filter")
    return UserPage(
        users=items,
        page=page,
        per_page=per_page,
        more=more,
        shown=shown,
        unmatched=unmatched if several and unmatched else None,
    )


# A quota figure read from a response header is trusted for this long.
QUOTA_FRESH_SECS = 60.0


@tool("get_quota", title="Show the Toggl API quota", safety=Safety.READ)
async def get_quota(ctx: Context, organization_id: OrganizationId = None) -> Quota:
    """Toggl requests left this hour and when they reset (each result's `requests` says what its
    call cost). 0 or 1 request."""
    state = app_state(ctx)
    # No look-up just to pick an organization: any recent figure, or Toggl's list, will do.
    org = organization_id or state.settings.organization_id
    seen = await state.toggl.last_quota(org)
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
