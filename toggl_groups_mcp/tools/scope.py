"""Which organization or workspace a call is about: the argument, then the environment, then the
only one the user has (looked up once per process, cached), else an error listing the choices.

The argument may be a name: `named_scope` turns it into the id once, at the tool boundary, so the
tools themselves only ever see ids."""

from __future__ import annotations

import re
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


def _choices(items: list[dict[str, Any]], most: int | None = None) -> str:
    shown = items if most is None else items[:most]
    listed = ", ".join(f"{i['id']} ({i.get('name', '?')})" for i in shown) or "none"
    return listed if len(shown) == len(items) else f"{listed} and {len(items) - len(shown)} more"


# The arguments that take a name as well as an id, and what they name.
NAMEABLE = {"organization_id": "organization", "workspace_id": "workspace"}
# Names listed in an error when a name matches none; the list tools show the rest.
MOST_CHOICES = 20
_DIGITS = re.compile(r"[0-9]+")


def _folded(name: Any) -> str:
    return name.strip().casefold() if isinstance(name, str) else ""


async def _organization_names(state: AppState) -> dict[int, str]:
    return {int(o["id"]): str(o.get("name") or o["id"]) for o in await my_organizations(state)}


async def _named(
    state: AppState,
    field: str,
    given: str,
    rows: list[dict[str, Any]],
    org: int | None = None,
    narrows: bool = False,
) -> int:
    """The id of the one row named `given` (exact, any case), or an error naming the field."""
    what = NAMEABLE[field]
    wanted = _folded(given)
    matches = [row for row in rows if _folded(row.get("name")) == wanted]
    if len(matches) == 1:
        return int(matches[0]["id"])
    if not matches:
        # Those whose name holds the text first: the likely meant ones.
        near = [row for row in rows if wanted in _folded(row.get("name"))]
        rest = [row for row in rows if row not in near]
        where = "" if org is None else f" in organization {(await _organization_names(state)).get(org, org)}"
        raise ToolError(
            f"{field}: no {what}{where} is named {given.strip()!r} (names match exactly, any case). "
            f"Pass one of these ids or names: {_choices(near + rest, MOST_CHOICES)}"
        )
    if what == "workspace":
        orgs: dict[Any, str] = {**await _organization_names(state)}
        listed = ", ".join(
            f"{w['id']} (organization {orgs.get(w.get('organization_id'), w.get('organization_id'))})"
            for w in matches
        )
        how = "the id, or organization_id to say which organization's" if narrows else "the id"
        raise ToolError(
            f"workspace_id: {len(matches)} workspaces are named {given.strip()!r}: {listed}. Pass {how}."
        )
    raise ToolError(
        f"{field}: {len(matches)} organizations are named {given.strip()!r}: {_choices(matches)}. Pass the id."
    )


async def named_scope(
    state: AppState, arguments: dict[str, Any], *, takes_organization: bool = True
) -> dict[str, Any]:
    """`arguments` with an organization or workspace given by name (or as digits in a string)
    replaced by its id, from the cached /me/organizations and /me/workspaces (no request when
    cached). A workspace name is looked for in the organization the call names, when it names
    one (`takes_organization`: the tool has that argument, so an error may suggest it). `state`
    is the deciding view for a call that changes Toggl: then the names come from
    answers Toggl gave this process, never from Redis."""
    resolved = dict(arguments)
    for field, what in NAMEABLE.items():
        given = resolved.get(field)
        if not isinstance(given, str):
            continue
        if not given.strip():
            raise ToolError(f"{field}: give the {what}'s id or name, not a blank. Nothing was sent to Toggl.")
        if _DIGITS.fullmatch(given.strip()):
            resolved[field] = int(given.strip())
    org = resolved.get("organization_id")
    if isinstance(org, str):
        org = resolved["organization_id"] = await _named(
            state, "organization_id", org, await my_organizations(state)
        )
    ws = resolved.get("workspace_id")
    if isinstance(ws, str):
        rows = await my_workspaces(state)
        within = org if isinstance(org, int) and not isinstance(org, bool) else None
        if within is not None:
            rows = [w for w in rows if w.get("organization_id") == within]
        narrows = takes_organization and within is None
        resolved["workspace_id"] = await _named(state, "workspace_id", ws, rows, within, narrows)
    return resolved


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
