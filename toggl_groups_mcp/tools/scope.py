"""Which organization or workspace a call is about: the argument, then the environment, then the
only one the user has (looked up once per process, cached), else an error listing the choices."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from ..state import AppState


async def my_organizations(state: AppState) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        data = await state.toggl.request("GET", "/me/organizations")
        return [o for o in data or [] if isinstance(o, dict) and "id" in o]

    return await state.cache.get_or_load(("me", "organizations"), load)


async def my_workspaces(state: AppState) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        data = await state.toggl.request("GET", "/me/workspaces")
        return [w for w in data or [] if isinstance(w, dict) and "id" in w]

    return await state.cache.get_or_load(("me", "workspaces"), load)


def _choices(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{i['id']} ({i.get('name', '?')})" for i in items) or "none"


async def organization_id(state: AppState, given: int | None) -> int:
    if given is not None:
        return given
    if state.settings.organization_id is not None:
        return state.settings.organization_id
    orgs = await my_organizations(state)
    if len(orgs) == 1:
        return int(orgs[0]["id"])
    raise ToolError(
        "organization_id is required: the user belongs to "
        f"{len(orgs)} organizations. Choose one and pass organization_id: {_choices(orgs)}"
    )


async def workspace_id(state: AppState, given: int | None, organization_id: int | None = None) -> int:
    if given is not None:
        return given
    if state.settings.workspace_id is not None:
        return state.settings.workspace_id
    workspaces = await my_workspaces(state)
    if organization_id is not None:
        workspaces = [w for w in workspaces if w.get("organization_id") == organization_id]
    if len(workspaces) == 1:
        return int(workspaces[0]["id"])
    raise ToolError(
        "workspace_id is required: the user has "
        f"{len(workspaces)} workspaces. Choose one and pass workspace_id: {_choices(workspaces)}"
    )
