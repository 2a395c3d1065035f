"""Names beside ids, for the fewest requests: what this process already heard, then Toggl.

A person asks in names ("take Design off Legacy Intranet") and wants the answer in names. Every
read that carries names (groups and their members, projects, workspaces, organization users)
feeds a name book; results look names up there first and ask Toggl only for what is missing.

A call that changes Toggl (`state.deciding_state`) names things in its questions and its journal
only as Toggl told this process (during the call or earlier), never as another process said
through Redis; what decides what the change loses (members, links, a deletion's project lists) it
reads during the call. `shown_name` is for results, and may use any name heard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context

from ..state import AppState, CallNames, app_state, call_memo, read_fresh
from ..toggl.models import TogglGroup, TogglProjectGroup, TogglProjectUser, parse_links, parse_project_users
from . import scope

# Toggl takes the project ids of a project_groups query in one parameter; 200 keeps URLs short.
LINK_QUERY_IDS = 200
PROJECTS_PER_PAGE = 200
# A workspace larger than this is not read whole for names (50 pages of 200).
MAX_PROJECT_PAGES = 50


def remember(state: AppState, kind: str, item_id: int, name: Any) -> None:
    if isinstance(name, str) and name:
        state.names.put((kind, item_id), name)


def name_of(state: AppState, kind: str, item_id: int) -> str | None:
    """The name to show in a question or to journal: in a deciding call, one Toggl told this
    process (in this call or earlier), never one only another process said through Redis."""
    found = state.names.get((kind, item_id))
    return found if isinstance(found, str) else None


def shown_name(state: AppState, kind: str, item_id: int) -> str | None:
    """The name to label a result with: any this process (or, with Redis, any process) heard."""
    names = state.names
    found = names.shown((kind, item_id)) if isinstance(names, CallNames) else names.get((kind, item_id))
    return found if isinstance(found, str) else None


def remember_groups(state: AppState, groups: Iterable[TogglGroup]) -> None:
    for group in groups:
        remember(state, "group", group.group_id, group.name)
        for user in group.users:
            remember(state, "user", user.user_id, user.name)


def remember_rows(state: AppState, kind: str, rows: Iterable[dict[str, Any]], id_key: str = "id") -> None:
    for row in rows:
        if isinstance(row.get(id_key), int):
            remember(state, kind, row[id_key], row.get("name"))


def labelled(name: str | None, item_id: int, kind: str = "") -> str:
    """`Design (601)`, or `group 601` when the name is unknown."""
    return f"{name} ({item_id})" if name else f"{kind or 'id'} {item_id}".strip()


def listing(items: list[str], most: int = 15) -> str:
    """A short list for a preview: the first `most`, then how many more."""
    if len(items) <= most:
        return ", ".join(items) or "none"
    return ", ".join(items[:most]) + f", and {len(items) - most} more"


# -- workspaces and organizations ------------------------------------------------------------------


async def workspace_rows(state: AppState) -> list[dict[str, Any]]:
    rows = await scope.my_workspaces(state)
    remember_rows(state, "workspace", rows)
    return rows


async def workspace_names(state: AppState) -> dict[int, str]:
    return {int(w["id"]): str(w.get("name") or "") for w in await workspace_rows(state)}


async def organization_of(state: AppState, workspace_id: int) -> int | None:
    for row in await workspace_rows(state):
        if row.get("id") == workspace_id and isinstance(row.get("organization_id"), int):
            return int(row["organization_id"])
    return None


# -- projects ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    workspace_id: int
    active: bool = True
    # `is_private: false` in Toggl: everyone in the workspace can track time on it. A project whose
    # answer lacks the field counts as private: a wrong "public" would hide who really has access.
    public: bool = False


async def _project_pages(state: AppState, ws: int, search: str | None = None) -> AsyncIterator[list[Project]]:
    """Every project of a workspace, archived ones too, a page at a time. Toggl has been seen
    answering more than `per_page`, and a page may repeat: stop when a page brings nothing new."""
    seen: set[int] = set()
    params: dict[str, Any] = {"active": "both", "per_page": PROJECTS_PER_PAGE}
    if search is not None:
        params["search"] = search
    for page in range(1, MAX_PROJECT_PAGES + 1):
        data = await state.toggl.request("GET", f"/workspaces/{ws}/projects", params={**params, "page": page})
        rows = [p for p in data or [] if isinstance(p, dict) and isinstance(p.get("id"), int)]
        fresh = [p for p in rows if p["id"] not in seen]
        seen.update(p["id"] for p in fresh)
        remember_rows(state, "project", fresh)
        yield [
            Project(
                p["id"],
                str(p.get("name") or ""),
                ws,
                p.get("active") is not False,
                p.get("is_private") is False,
            )
            for p in fresh
        ]
        if not fresh or len(rows) < PROJECTS_PER_PAGE:
            return


def projects_key(ws: int) -> tuple[Any, ...]:
    """The cache key of a workspace's whole project list (`all_projects`). A deciding call that
    finds through it what a change loses reads it in the call (`fresh=True`: `projects_of_group`)."""
    return ("all-projects", ws)


async def all_projects(state: AppState, ws: int, *, fresh: bool = False) -> list[Project]:
    """A workspace's projects, kept for a minute like other discovery answers. `fresh`: in a
    deciding call, read during the call even when this process has the list (`state.read_fresh`)."""

    async def load() -> list[list[Any]]:
        found: list[list[Any]] = []
        async for page in _project_pages(state, ws):
            found += [[p.id, p.name, p.active, p.public] for p in page]
        return found

    key = projects_key(ws)
    rows = await (read_fresh(state.cache, key, load) if fresh else state.cache.get_or_load(key, load))
    return _projects(rows, ws)


def _projects(rows: list[list[Any]], ws: int) -> list[Project]:
    """Cached rows (JSON, so that processes can share them) back into projects. Rows read from
    Redis have been checked to be [id, name, active, public] (`shared.plausible`)."""
    return [
        Project(int(pid), str(name), ws, bool(active), bool(public)) for pid, name, active, public in rows
    ]


async def _cached_projects(state: AppState, ws: int) -> list[Project] | None:
    rows = await state.cache.get(projects_key(ws))
    return None if rows is None else _projects(rows, ws)


async def project_names(state: AppState, ws: int, ids: Iterable[int]) -> dict[int, str]:
    """Names of these projects: from the name book, else from the workspace's project list, read
    only as far as needed."""
    wanted = list(dict.fromkeys(ids))
    names = {pid: n for pid in wanted if (n := name_of(state, "project", pid))}
    missing = {pid for pid in wanted if pid not in names}
    if not missing:
        return names
    cached = await _cached_projects(state, ws)
    if cached is not None:
        names.update({p.id: p.name for p in cached if p.id in missing})
        return names
    async for page in _project_pages(state, ws):
        for project in page:
            if project.id in missing:
                names[project.id] = project.name
                missing.discard(project.id)
        if not missing:
            break
    return names


async def find_projects(state: AppState, ws: int, text: str, *, fresh: bool = False) -> list[Project]:
    """Projects whose name contains `text` (any case), archived ones too: from the workspace's
    list when this process has it, else by Toggl's search, a page at a time. `fresh`: by the
    search, read in this call (a deciding call changes what matched)."""
    needle = text.casefold()
    cached = None if fresh else await _cached_projects(state, ws)
    if cached is not None:
        return [p for p in cached if needle in p.name.casefold()]
    found: list[Project] = []
    async for page in _project_pages(state, ws, search=text):
        found += [p for p in page if needle in p.name.casefold()]
    return found


# -- links and groups, as Toggl answers for this call -------------------------------------------


async def links_of(ctx: Context, ws: int, project_ids: list[int]) -> list[TogglProjectGroup]:
    """Who can access these projects: one project_groups query per 200 projects, read once per
    call (the preview and the body share it)."""
    memo = call_memo(ctx)
    state = app_state(ctx)
    found: list[TogglProjectGroup] = []
    for start in range(0, len(project_ids), LINK_QUERY_IDS):
        chunk = tuple(project_ids[start : start + LINK_QUERY_IDS])
        key = ("links", ws, chunk)
        if key not in memo:
            data = await state.toggl.request(
                "GET", f"/workspaces/{ws}/project_groups", params={"project_ids": ",".join(map(str, chunk))}
            )
            memo[key] = parse_links(data)
        found += memo[key]
    return found


def project_users_path(ws: int, row_id: int | None = None) -> str:
    base = f"/workspaces/{ws}/project_users"
    return base if row_id is None else f"{base}/{row_id}"


async def project_users_of(ctx: Context, ws: int, project_ids: list[int]) -> list[TogglProjectUser]:
    """The direct members of these projects (project users), one query per 200 projects, read
    once per call like `links_of`. Rows Toggl lists for a group's members are left out: the group's
    own link says that path."""
    memo = call_memo(ctx)
    state = app_state(ctx)
    found: list[TogglProjectUser] = []
    for start in range(0, len(project_ids), LINK_QUERY_IDS):
        chunk = tuple(project_ids[start : start + LINK_QUERY_IDS])
        key = ("project-users", ws, chunk)
        if key not in memo:
            data = await state.toggl.request(
                "GET", project_users_path(ws), params={"project_ids": ",".join(map(str, chunk))}
            )
            memo[key] = [row for row in parse_project_users(data) if row.direct and row.project_id in chunk]
        found += memo[key]
    return found


async def memberships_of(ctx: Context, ws: int, user_id: int) -> list[TogglProjectUser]:
    """One person's direct project memberships in a workspace: one request, read once per call."""
    memo = call_memo(ctx)
    key = ("user-projects", ws, user_id)
    if key not in memo:
        data = await app_state(ctx).toggl.request("GET", project_users_path(ws), params={"user_id": user_id})
        memo[key] = [row for row in parse_project_users(data) if row.direct and row.user_id == user_id]
    rows: list[TogglProjectUser] = memo[key]
    return rows


async def projects_of_group(
    ctx: Context, org: int, group: TogglGroup
) -> list[tuple[Project, TogglProjectGroup]]:
    """The projects a group can access, with their links: in every workspace of its organization,
    not only those it is assigned to, since a link can outlive (or predate) the assignment and a
    deletion preview must not understate what is lost."""
    state = app_state(ctx)
    # The workspace list may be this process's cached one: the group's own workspaces (read in the
    # call) are always scanned; only a workspace created within the cache's minute, and holding a
    # link of a group not assigned to it, could be left out.
    in_org = [int(w["id"]) for w in await workspace_rows(state) if w.get("organization_id") == org]
    reached: dict[int, tuple[Project, TogglProjectGroup]] = {}
    for ws in dict.fromkeys([*group.workspaces, *in_org]):
        # Always read in a deciding call (delete_group and its journal), even when this process
        # has the list cached: the links a deletion loses are found through it, and a project
        # created a minute ago must not be missed, or the question understates the loss and
        # undo cannot restore that link. (A read tool, get_group_access, takes the cached list.)
        projects = {p.id: p for p in await all_projects(state, ws, fresh=True)}
        for link in await links_of(ctx, ws, list(projects)):
            if link.group_id == group.group_id and link.pid in projects:
                reached[link.id] = (projects[link.pid], link)
    return list(reached.values())


# -- a person named instead of numbered (offboarding) ----------------------------------------------

# Candidates listed when a name or email matches several people.
MOST_CANDIDATES = 10


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str | None
    # The workspaces the organization says they are a member of; None when it did not say.
    workspaces: tuple[int, ...] | None = None


async def find_person(ctx: Context, org: int, text: str) -> Person:
    """The one person of the organization whose name or email is `text` (any case), or whom the
    text alone finds: one organization users request (Toggl's `filter`), read in the call. Several or none: a ToolError naming the
    `user` field, listing the candidates with their ids."""
    from ..state import deciding_state  # here: only this lookup decides on a discovery answer

    state = deciding_state(ctx)
    params = {"filter": text, "page": 1, "per_page": 200}

    async def load() -> list[dict[str, Any]]:
        data = await state.toggl.request("GET", f"/organizations/{org}/users", params=params)
        return [u for u in data or [] if isinstance(u, dict) and isinstance(u.get("user_id"), int)]

    # Read in the call (the key list_organization_users uses, so a read tool may take this answer
    # later): the person's row says which workspaces hold their memberships, and that decides which
    # a removal reads and ends, so a minute-old answer must not leave a workspace out.
    rows: list[dict[str, Any]] = await read_fresh(state.cache, ("users", org, text, 1, 200), load)
    remember_rows(state, "user", rows, id_key="user_id")
    wanted = text.strip().casefold()
    exact = [
        r
        for r in rows
        if wanted in (str(r.get("name") or "").casefold(), str(r.get("email") or "").casefold())
    ]
    found = exact if len(exact) == 1 else rows
    if len(found) != 1:
        from mcp.server.mcpserver.exceptions import ToolError  # here: only this error needs it

        if not rows:
            said = f"nobody in organization {org} has {text.strip()!r} in their name or email"
        else:
            shown = [
                f"{r.get('name') or '?'} <{r.get('email') or '?'}> (user_id {r['user_id']})"
                for r in (exact or rows)
            ]
            said = (
                f"{len(exact or rows)} people match {text.strip()!r}: {listing(shown, most=MOST_CANDIDATES)}"
            )
        raise ToolError(
            f"user: {said}. Pass user_id, or the person's full name or email. Nothing was changed in Toggl."
        )
    row = found[0]
    places = row.get("workspaces")
    workspaces = None
    if isinstance(places, list):
        workspaces = tuple(
            int(w["workspace_id"])
            for w in places
            if isinstance(w, dict) and isinstance(w.get("workspace_id"), int)
        )
    name = row.get("name")
    return Person(int(row["user_id"]), name if isinstance(name, str) and name else None, workspaces)
