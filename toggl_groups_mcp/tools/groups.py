"""Groups: organization-scoped sets of users, assigned to workspaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..state import AppState, app_state, call_memo, deciding_state, forget_reads
from ..toggl.errors import TogglError
from ..toggl.models import (
    Group,
    Member,
    PatchFailure,
    PatchOp,
    TogglGroup,
    TogglProjectGroup,
    parse_groups,
)
from . import journaling, lookup, removals, scope
from .args import GroupId, GroupName, Id, OrganizationId, Search, Text, dedupe, id_list
from .budget import fit
from .confirm import (
    Approval,
    ConfirmArg,
    Confirmation,
    Preview,
    StrictBool,
    asked_before_this_read,
    gate,
    require_approval,
)
from .registry import Safety, format_error, tool

PATCH_MAX_OPS = 100
PATCH_MAX_VALUES = 100


class GroupList(BaseModel):
    groups: list[Group] = Field(description="Sorted by name")
    total: int = Field(description="Matching groups")
    shown: str | None = Field(
        default=None, description="Set when the list was cut to fit: how to see the rest"
    )


class GroupResult(BaseModel):
    group: Group
    change_id: str | None = journaling.CHANGE_ID


class NamedId(BaseModel):
    id: int
    name: str | None = None


class UpdatedGroup(BaseModel):
    change_id: str | None = journaling.CHANGE_ID
    group: Group
    added_members: list[Member]
    removed_members: list[Member]
    added_workspaces: list[NamedId]
    removed_workspaces: list[NamedId]


class PatchResult(BaseModel):
    group_id: int
    name: str | None = None
    complete: bool = Field(description="True when every operation succeeded")
    succeeded: list[PatchOp] = Field(description="Operations Toggl applied")
    failed: list[PatchFailure] = Field(description="Operations Toggl refused, with its reason")
    names: dict[str, str] | None = Field(default=None, description="Names of the users and workspaces above")
    change_id: str | None = journaling.CHANGE_ID


class DeletedGroup(BaseModel):
    group_id: int
    deleted: bool = True
    name: str | None = None
    still_open: list[str] | None = Field(
        default=None, description="Who still reaches the group's projects, and how: tell the admin"
    )
    change_id: str | None = journaling.CHANGE_ID


# -- shared helpers --------------------------------------------------------------------------------


def groups_path(org: int, group_id: int | None = None) -> str:
    base = f"/organizations/{org}/groups"
    return base if group_id is None else f"{base}/{group_id}"


async def read_groups(ctx: Context, org: int, *, again: bool = False) -> list[TogglGroup]:
    """Every group of the organization, as Toggl answers for this call (one request, shared by
    the call's preview and body; `again` asks once more)."""
    memo = call_memo(ctx)
    key = ("groups", org)
    if again or key not in memo:
        state = app_state(ctx)
        memo[key] = parse_groups(await state.toggl.request("GET", groups_path(org)))
        lookup.remember_groups(state, memo[key])
    groups: list[TogglGroup] = memo[key]
    return groups


async def read_group(ctx: Context, org: int, group_id: int, *, again: bool = False) -> TogglGroup:
    for group in await read_groups(ctx, org, again=again):
        if group.group_id == group_id:
            return group
    raise ToolError(
        f"Organization {org} has no group {group_id}; nothing was changed. Look the id up with list_groups."
    )


def known_group(ctx: Context, org: int, group_id: int) -> TogglGroup | None:
    """The group as this call already read it, without a request."""
    groups = call_memo(ctx).get(("groups", org)) or []
    return next((g for g in groups if g.group_id == group_id), None)


def _member_names(group: TogglGroup, user_ids: list[int]) -> str:
    names = {u.user_id: u.name for u in group.users}
    return lookup.listing([lookup.labelled(names.get(u), u, "user") for u in user_ids], most=25)


async def _workspace_labels(ctx: Context, workspace_ids: list[int]) -> str:
    names = await lookup.workspace_names(app_state(ctx)) if workspace_ids else {}
    return lookup.listing([lookup.labelled(names.get(w), w, "workspace") for w in workspace_ids])


# -- reads ------------------------------------------------------------------------------------------


@tool("list_groups", title="List groups", safety=Safety.READ)
async def list_groups(
    ctx: Context,
    organization_id: OrganizationId = None,
    name: Annotated[str | None, Search, Field(description="Part of the name")] = None,
    workspace_id: Annotated[int | None, Field(ge=1, description="Assigned workspace")] = None,
    user_id: Annotated[int | None, Field(ge=1, description="Holding this user")] = None,
    offset: Annotated[int, Field(ge=0, description="Groups to skip")] = 0,
) -> GroupList:
    """Groups and members; user_id gives one person's groups, without members."""
    state = app_state(ctx)
    org = await scope.organization_id(state, organization_id)
    params: dict[str, Any] = {}
    if name is not None:
        params["name"] = name
    if workspace_id is not None:
        params["workspace"] = workspace_id
    groups = parse_groups(await state.toggl.request("GET", groups_path(org), params=params or None))
    lookup.remember_groups(state, groups)
    if user_id is not None:
        # "Which groups is Kenji in?" wants the groups, not everyone else in them.
        groups = [g for g in groups if user_id in g.user_ids]
    return group_list(groups, offset, state.settings.text_budget, members=user_id is None)


def group_list(groups: list[TogglGroup], offset: int, budget: int, *, members: bool = True) -> GroupList:
    """Members in full when they fit (and are wanted); else member counts; then as many groups as
    fit."""
    rest = groups[offset:]
    full = [Group.from_toggl(g, with_members=members) for g in rest]
    if fit(full, budget) == len(full):
        return GroupList(groups=full, total=len(groups))
    brief = [Group.from_toggl(g, with_members=False) for g in rest]
    shown = fit(brief, budget)
    result = GroupList(groups=brief[:shown], total=len(groups))
    notes = ["Members left out to fit (get_group shows one group's)"] if members else []
    if shown < len(brief):
        notes.append(
            f"groups {offset + 1} to {offset + shown} of {len(groups)} shown: pass offset="
            f"{offset + shown} for the next, or narrow with name, workspace_id or user_id"
        )
    result.shown = "; ".join(notes) + "."
    return result


@tool("list_workspace_groups", title="List a workspace's groups", safety=Safety.READ)
async def list_workspace_groups(
    ctx: Context,
    organization_id: OrganizationId = None,
    workspace_id: Annotated[int | None, Field(ge=1, description="Workspace")] = None,
) -> GroupList:
    """A workspace's groups and members; list_groups covers the organization. 1 request."""
    state = app_state(ctx)
    org = await scope.organization_id(state, organization_id)
    ws = await scope.workspace_id(state, workspace_id, org)
    data = await state.toggl.request("GET", f"/organizations/{org}/workspaces/{ws}/groups")
    groups = parse_groups(data)
    lookup.remember_groups(state, groups)
    return group_list(groups, 0, state.settings.text_budget)


# -- writes ----------------------------------------------------------------------------------------


@tool("create_group", title="Create a group", safety=Safety.WRITE, idempotent=False)
async def create_group(
    ctx: Context,
    name: GroupName,
    organization_id: OrganizationId = None,
    user_ids: Annotated[list[Id] | None, id_list("Member user ids")] = None,
    workspace_ids: Annotated[list[Id] | None, id_list("Workspace ids")] = None,
) -> GroupResult:
    """Creates a group (members and workspaces optional); returns its id. Does not ask first.
    1 request."""
    # The default organization and the journal's names: only as Toggl told this process, never
    # as Redis said (with two organizations, a forged list of one would pick where it goes).
    state = deciding_state(ctx)
    org = await scope.organization_id(state, organization_id)
    body: dict[str, Any] = {"name": name}
    if user_ids is not None:
        body["users"] = dedupe(user_ids)
    if workspace_ids is not None:
        body["workspaces"] = dedupe(workspace_ids)
    effect = {
        "kind": "group_created",
        "name": name,
        "users": journaling.people(state, body.get("users", [])),
        "workspaces": journaling.places(state, body.get("workspaces", [])),
    }
    arguments = {"organization_id": org, "name": name, "user_ids": user_ids, "workspace_ids": workspace_ids}
    async with journaling.recording(ctx, "create_group", arguments, effect, organization_id=org) as entry:
        try:
            data = await state.toggl.request("POST", groups_path(org), json=body)
        except TogglError as error:
            if error.effect != "unknown":
                raise
            entry.on_error = "unknown"
            found = await _find_by_name(state, org, name, error, entry)
            entry.result = {"group_id": found.group_id}
            await state.toggl.note_created_group(found.group_id)
            lookup.remember_groups(state, [found])
            return GroupResult(group=Group.from_toggl(found), change_id=entry.change_id)
        if not (isinstance(data, dict) and isinstance(data.get("group_id"), int)):
            entry.on_error = "unknown"
            raise ToolError(
                f"Toggl accepted the new group {name!r} but did not answer with it; "
                "look it up with list_groups before doing anything else with it."
            )
        group = TogglGroup.model_validate(data)
        entry.result = {"group_id": group.group_id}
    await state.toggl.note_created_group(group.group_id)
    lookup.remember_groups(state, [group])
    return GroupResult(group=Group.from_toggl(group), change_id=entry.change_id)


async def _find_by_name(
    state: AppState, org: int, name: str, error: TogglError, entry: journaling.Entry
) -> TogglGroup:
    """After an ambiguous create: did it happen? One GET answers, truthfully (and the journal
    records what it answered)."""
    try:
        matches = parse_groups(await state.toggl.request("GET", groups_path(org), params={"name": name}))
    except TogglError as lookup:
        raise ToolError(
            f"{format_error('create_group', error)} The follow-up check failed too "
            f"({lookup.describe()}), so it is unknown whether group {name!r} was created. "
            "Check with list_groups before creating it again."
        ) from None
    for group in matches:
        if group.name.casefold() == name.casefold():
            return group
    entry.on_error = "failed"
    raise ToolError(
        f"{error.describe()}. The group {name!r} was not created (checked afterwards); "
        "it is safe to try again."
    )


def _update_losses(
    current: TogglGroup, user_ids: list[int] | None, workspace_ids: list[int] | None
) -> tuple[list[int], list[int]]:
    """The members and workspaces a PUT with these lists would drop from `current`."""
    users = [u for u in current.user_ids if user_ids is not None and u not in user_ids]
    workspaces = [w for w in current.workspaces if workspace_ids is not None and w not in workspace_ids]
    return users, workspaces


async def _losses_text(ctx: Context, group: TogglGroup, users: list[int], workspaces: list[int]) -> list[str]:
    lost = []
    if users:
        lost.append(f"members removed: {_member_names(group, users)}")
    if workspaces:
        lost.append(f"workspaces removed: {await _workspace_labels(ctx, workspaces)}")
    return lost


async def _update_preview(
    ctx: Context,
    organization_id: int | None,
    group_id: int,
    name: str | None,
    user_ids: list[int] | None,
    workspace_ids: list[int] | None,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    state = deciding_state(ctx)

    async def preview() -> Preview | None:
        if user_ids is None and workspace_ids is None:
            return None  # a rename drops nothing
        org = await scope.organization_id(state, organization_id)
        current = await read_group(ctx, org, group_id)
        users, workspaces = _update_losses(current, user_ids, workspace_ids)
        # What the human is shown is what the body may drop, and no more (see update_group).
        call_memo(ctx)[("approved", group_id)] = (set(users), set(workspaces))
        if not users and not workspaces:
            return None
        return Preview(
            f"Update group {current.name!r} (id {group_id}) in organization {org}:",
            await _losses_text(ctx, current, users, workspaces),
        )

    return await gate(ctx, confirm, preview)


@tool("update_group", title="Edit a group", safety=Safety.DESTRUCTIVE, idempotent=True)
async def update_group(
    ctx: Context,
    group_id: GroupId,
    approval: Annotated[Approval, Resolve(_update_preview)],
    organization_id: OrganizationId = None,
    name: Annotated[str | None, Text, Field(description="New name")] = None,
    user_ids: Annotated[
        list[Id] | None,
        id_list("All members (user ids)"),
    ] = None,
    workspace_ids: Annotated[
        list[Id] | None,
        id_list("All workspaces"),
    ] = None,
    confirm: StrictBool = ConfirmArg,
) -> UpdatedGroup:
    """Renames a group or replaces its whole member or workspace list (left out = removed);
    patch_group changes a few. Asks the user first if anything is dropped. 2 requests."""
    state = deciding_state(ctx)
    if name is None and user_ids is None and workspace_ids is None:
        raise ToolError("Nothing to change: give name, user_ids or workspace_ids. Nothing was sent to Toggl.")
    require_approval(approval, f"update group {group_id}")
    org = await scope.organization_id(state, organization_id)
    user_ids, workspace_ids = dedupe(user_ids), dedupe(workspace_ids)
    # A human who took a minute to answer may have let someone else change the group: read again.
    stale = asked_before_this_read(ctx)
    before = await read_group(ctx, org, group_id, again=stale)
    users_lost, workspaces_lost = _update_losses(before, user_ids, workspace_ids)
    if stale:
        approved_users, approved_workspaces = call_memo(ctx).get(("approved", group_id), (set(), set()))
        unseen_users = [u for u in users_lost if u not in approved_users]
        unseen_workspaces = [w for w in workspaces_lost if w not in approved_workspaces]
        if unseen_users or unseen_workspaces:
            raise ToolError(
                f"Not done: group {before.name!r} (id {group_id}) changed in Toggl while the user was "
                "deciding, and this update would now also drop what they were not shown: "
                f"{'; '.join(await _losses_text(ctx, before, unseen_users, unseen_workspaces))}. No change was sent to "
                "Toggl. Call update_group again to show the user the new preview."
            )
    new_name = name if name is not None else before.name
    new_users = user_ids if user_ids is not None else before.user_ids
    new_ws = workspace_ids if workspace_ids is not None else before.workspaces
    body = {"name": new_name, "users": new_users, "workspaces": new_ws}
    effect = journaling.changed_group(
        state,
        before,
        name=new_name,
        users_added=[u for u in new_users if u not in before.user_ids],
        users_removed=users_lost,
        workspaces_added=[w for w in new_ws if w not in before.workspaces],
        workspaces_removed=workspaces_lost,
    )
    arguments = {
        "organization_id": org,
        "group_id": group_id,
        "name": name,
        "user_ids": user_ids,
        "workspace_ids": workspace_ids,
    }
    async with journaling.recording(ctx, "update_group", arguments, effect, organization_id=org) as entry:
        data = await state.toggl.request("PUT", groups_path(org, group_id), json=body)
    if isinstance(data, dict) and "group_id" in data:
        after = TogglGroup.model_validate(data)
    else:
        # No group in the answer: report what was sent, members included (not an empty group).
        names = {u.user_id: u.name for u in before.users}
        users = [{"user_id": u, "name": names.get(u)} for u in new_users]
        after = TogglGroup.model_validate(
            {"group_id": group_id, "name": new_name, "users": users, "workspaces": new_ws}
        )
    lookup.remember_groups(state, [after])  # later results call it by its new name
    known = {u.user_id: u for u in [*before.users, *after.users]}

    def members(ids: list[int]) -> list[Member]:
        return [
            Member.from_toggl(known[u])
            if u in known
            else Member(user_id=u, name=lookup.shown_name(state, "user", u))
            for u in ids
        ]

    def workspaces(ids: list[int]) -> list[NamedId]:
        # Names this process already heard: a result spends no request on them.
        return [NamedId(id=w, name=lookup.shown_name(state, "workspace", w)) for w in ids]

    return UpdatedGroup(
        change_id=entry.change_id,
        group=Group.from_toggl(after),
        added_members=members([u for u in new_users if u not in before.user_ids]),
        removed_members=members(users_lost),
        added_workspaces=workspaces([w for w in new_ws if w not in before.workspaces]),
        removed_workspaces=workspaces(workspaces_lost),
    )


def patch_operations(
    add_user_ids: list[int] | None,
    remove_user_ids: list[int] | None,
    add_workspace_ids: list[int] | None,
    remove_workspace_ids: list[int] | None,
) -> list[dict[str, Any]]:
    """Toggl patch operations, at most PATCH_MAX_VALUES values each."""
    ops: list[dict[str, Any]] = []
    for op, path, ids in (
        ("add", "/users", add_user_ids),
        ("remove", "/users", remove_user_ids),
        ("add", "/workspaces", add_workspace_ids),
        ("remove", "/workspaces", remove_workspace_ids),
    ):
        values = dedupe(ids) or []
        for start in range(0, len(values), PATCH_MAX_VALUES):
            ops.append({"op": op, "path": path, "value": values[start : start + PATCH_MAX_VALUES]})
    return ops


def _check_patch(
    add_user_ids: list[int] | None,
    remove_user_ids: list[int] | None,
    add_workspace_ids: list[int] | None,
    remove_workspace_ids: list[int] | None,
) -> None:
    if not any((add_user_ids, remove_user_ids, add_workspace_ids, remove_workspace_ids)):
        raise ToolError(
            "Nothing to change: give at least one non-empty list among add_user_ids, remove_user_ids, "
            "add_workspace_ids, remove_workspace_ids. Nothing was sent to Toggl."
        )
    for what, add, remove in (
        ("user", add_user_ids, remove_user_ids),
        ("workspace", add_workspace_ids, remove_workspace_ids),
    ):
        both = sorted(set(add or []) & set(remove or []))
        if both:
            raise ToolError(
                f"add_{what}_ids and remove_{what}_ids both name {both}: an id can be added or removed, "
                "not both. Nothing was sent to Toggl."
            )


async def _patch_preview(
    ctx: Context,
    organization_id: int | None,
    group_id: int,
    add_user_ids: list[int] | None,
    remove_user_ids: list[int] | None,
    add_workspace_ids: list[int] | None,
    remove_workspace_ids: list[int] | None,
    confirm: bool,
) -> Confirmation | Elicit[Confirmation]:
    _check_patch(add_user_ids, remove_user_ids, add_workspace_ids, remove_workspace_ids)
    state = deciding_state(ctx)

    async def preview() -> Preview | None:
        if not remove_user_ids and not remove_workspace_ids:
            return None
        org = await scope.organization_id(state, organization_id)
        current = await read_group(ctx, org, group_id)
        removing_users = list(dict.fromkeys(remove_user_ids or []))
        removing_workspaces = list(dict.fromkeys(remove_workspace_ids or []))
        users = [u for u in removing_users if u in current.user_ids]
        workspaces = [w for w in removing_workspaces if w in current.workspaces]
        if not users and not workspaces:
            return None  # removing what is not there loses nothing
        lost = await _losses_text(ctx, current, users, workspaces)
        # Named but not there now: the approval covers them too, should they join meanwhile.
        absent = [f"user {u}" for u in removing_users if u not in users]
        absent += [f"workspace {w}" for w in removing_workspaces if w not in workspaces]
        if absent:
            lost.append(f"also removed if they are back by then (not in the group now): {', '.join(absent)}")
        return Preview(f"Change group {current.name!r} (id {group_id}) in organization {org}:", lost)

    return await gate(ctx, confirm, preview)


@tool(
    "patch_group",
    title="Add or remove group members and workspaces",
    safety=Safety.DESTRUCTIVE,
    idempotent=True,
)
async def patch_group(
    ctx: Context,
    group_id: GroupId,
    approval: Annotated[Approval, Resolve(_patch_preview)],
    organization_id: OrganizationId = None,
    add_user_ids: Annotated[list[Id] | None, id_list("User ids to add")] = None,
    remove_user_ids: Annotated[list[Id] | None, id_list("User ids to remove")] = None,
    add_workspace_ids: Annotated[list[Id] | None, id_list("Workspace ids to add")] = None,
    remove_workspace_ids: Annotated[list[Id] | None, id_list("Workspace ids to remove")] = None,
    confirm: StrictBool = ConfirmArg,
) -> PatchResult:
    """Adds or removes some members or workspaces, keeping the rest; update_group renames or
    replaces lists. Asks the user first when removing. 1 request per 100 changes, plus up to 1 read."""
    require_approval(approval, f"change group {group_id}")
    state = deciding_state(ctx)
    org = await scope.organization_id(state, organization_id)
    ops = patch_operations(add_user_ids, remove_user_ids, add_workspace_ids, remove_workspace_ids)
    succeeded: list[PatchOp] = []
    failed: list[PatchFailure] = []
    effect: dict[str, Any] = {}
    if journaling.journal_of(ctx) is not None:
        # What the patch really changes (adding a member already there adds nothing), so that an
        # undo takes back only that.
        before = known_group(ctx, org, group_id) or await read_group(ctx, org, group_id)
        effect = journaling.changed_group(
            state,
            before,
            users_added=[u for u in dedupe(add_user_ids) or [] if u not in before.user_ids],
            users_removed=[u for u in dedupe(remove_user_ids) or [] if u in before.user_ids],
            workspaces_added=[w for w in dedupe(add_workspace_ids) or [] if w not in before.workspaces],
            workspaces_removed=[w for w in dedupe(remove_workspace_ids) or [] if w in before.workspaces],
        )
    arguments = {
        "organization_id": org,
        "group_id": group_id,
        "add_user_ids": add_user_ids,
        "remove_user_ids": remove_user_ids,
        "add_workspace_ids": add_workspace_ids,
        "remove_workspace_ids": remove_workspace_ids,
    }
    async with journaling.recording(ctx, "patch_group", arguments, effect, organization_id=org) as entry:
        await _send_patches(ctx, org, group_id, ops, succeeded, failed, entry)
    group = known_group(ctx, org, group_id)
    # Names this process already heard: a result spends no request on them.
    names = {
        str(i): n
        for op in ops
        for i in op["value"]
        if (n := lookup.shown_name(state, "user" if op["path"] == "/users" else "workspace", i))
    }
    return PatchResult(
        group_id=group_id,
        name=group.name if group else lookup.shown_name(state, "group", group_id),
        complete=not failed,
        succeeded=succeeded,
        failed=failed,
        names=names or None,
        change_id=entry.change_id,
    )


async def _send_patches(
    ctx: Context,
    org: int,
    group_id: int,
    ops: list[dict[str, Any]],
    succeeded: list[PatchOp],
    failed: list[PatchFailure],
    journal_entry: journaling.Entry,
) -> None:
    state = app_state(ctx)
    for start in range(0, len(ops), PATCH_MAX_OPS):
        batch = ops[start : start + PATCH_MAX_OPS]
        try:
            data = await state.toggl.request("PATCH", groups_path(org, group_id), json=batch)
        except TogglError as error:
            if not succeeded and not failed:
                raise
            pending = ops[start:]
            journal_entry.on_error = "unknown"  # some applied: an undo checks what is so now
            raise ToolError(
                f"{format_error('patch_group', error)} Partial result: {len(succeeded)} operation(s) "
                f"succeeded and {len(failed)} failed before this; {len(pending)} operation(s) were "
                f"not applied: {pending}."
            ) from None
        result = data if isinstance(data, dict) else {}
        if "success" not in result and "failure" not in result:
            # A 200 that does not say what happened must not read as a complete success.
            failed += [
                PatchFailure(
                    patch=PatchOp.model_validate(op),
                    message="Toggl's answer did not say whether this applied; check with list_groups",
                )
                for op in batch
            ]
            continue
        for op in result.get("success") or []:
            try:
                succeeded.append(PatchOp.model_validate(op))
            except ValueError:
                failed.append(
                    PatchFailure(patch={"answer": str(op)[:200]}, message="unreadable success entry")
                )
        for failure in result.get("failure") or []:
            entry = failure if isinstance(failure, dict) else {"message": str(failure)[:200]}
            patch = entry.get("patch")
            try:
                parsed: PatchOp | dict[str, Any] = PatchOp.model_validate(patch)
            except ValueError:
                parsed = patch if isinstance(patch, dict) else {}
            failed.append(PatchFailure(patch=parsed, message=str(entry.get("message", ""))))
    if failed:
        # An undo takes back only what applied.
        journal_entry.outcome = "partial" if succeeded else "failed"
        journal_entry.result = {
            "failed_ops": [f.patch.model_dump() for f in failed if isinstance(f.patch, PatchOp)]
        }


@dataclass
class Deletion:
    """What deleting a group loses, as read in this call: the question shows exactly this."""

    group: TogglGroup
    reached: list[tuple[lookup.Project, TogglProjectGroup]]
    preview: Preview
    after: removals.Aftermath

    @property
    def losses(self) -> tuple[set[int], set[int], set[int]]:
        """Members, workspaces and project links (by link id) the deletion takes with it."""
        return set(self.group.user_ids), set(self.group.workspaces), {link.id for _, link in self.reached}


async def _deletion(ctx: Context, org: int, group_id: int) -> Deletion:
    state = app_state(ctx)
    group = await read_group(ctx, org, group_id)
    reached = await lookup.projects_of_group(ctx, org, group)
    names = await lookup.workspace_names(state)
    projects = [
        f"{project.name} ({project.id}, {names.get(project.workspace_id) or project.workspace_id})"
        for project, _ in sorted(reached, key=lambda pair: pair[0].name.casefold())
    ]
    preview = Preview(
        f"Delete group {group.name!r} (id {group_id}) from organization {org}. Lost with it:",
        [
            f"{len(group.users)} member(s): {_member_names(group, group.user_ids) or 'none'}",
            f"workspace assignments: {await _workspace_labels(ctx, group.workspaces)}",
            f"access to {len(projects)} project(s) through this group: {lookup.listing(projects, most=25)}",
        ],
    )
    # Who that access really leaves: a public project stays open, and a member may reach a project
    # as a direct member or through another group (read in the call, like the links).
    after = await removals.deleting(ctx, group, await read_groups(ctx, org), reached)
    lost = after.lost_text()
    preview.lost += ([lost] if lost else []) + after.still_open()
    return Deletion(group, reached, preview, after)


async def _delete_preview(
    ctx: Context, organization_id: int | None, group_id: int, confirm: bool
) -> Confirmation | Elicit[Confirmation]:
    state = deciding_state(ctx)

    async def preview() -> Preview:
        org = await scope.organization_id(state, organization_id)
        deletion = await _deletion(ctx, org, group_id)
        # What the human is shown is what the body may delete, and no more (see delete_group).
        call_memo(ctx)[("shown-deletion", group_id)] = deletion.losses
        return deletion.preview

    return await gate(ctx, confirm, preview)


@tool("delete_group", title="Delete a group", safety=Safety.DESTRUCTIVE, idempotent=True)
async def delete_group(
    ctx: Context,
    group_id: GroupId,
    approval: Annotated[Approval, Resolve(_delete_preview)],
    organization_id: OrganizationId = None,
    confirm: StrictBool = ConfirmArg,
) -> DeletedGroup:
    """Deletes a group with its members, workspaces and project links. Asks the user first; says
    who keeps access. 1 request (its preview 3, plus 2 per 200 projects per workspace)."""
    require_approval(approval, f"delete group {group_id}")
    state = deciding_state(ctx)
    org = await scope.organization_id(state, organization_id)
    if asked_before_this_read(ctx):
        # The human answered after the preview was read (2025-11-25 asks mid-request), and may
        # have taken a minute: read again, and delete only if that loses nothing they were not
        # shown. (On 2026-07-28 the answer comes with a second request whose preview is read
        # after it, and the SDK asks again when that preview differs from the one answered.)
        shown_users, shown_workspaces, shown_links = call_memo(ctx).get(
            ("shown-deletion", group_id), (set(), set(), set())
        )
        forget_reads(ctx)
        now = await _deletion(ctx, org, group_id)
        users, workspaces, links = now.losses
        if users - shown_users or workspaces - shown_workspaces or links - shown_links:
            raise ToolError(
                f"Not done: group {now.group.name!r} (id {group_id}) changed in Toggl while the user was "
                "deciding, and deleting it now would lose more than they were shown. No change was "
                f"sent to Toggl. This is what it would lose now:\n{now.preview.text()}\n"
                "Show this to the user; call delete_group again if they still want it deleted."
            )
        deletion: Deletion | None = now
    else:
        deletion = None
    group = deletion.group if deletion else known_group(ctx, org, group_id)
    effect: dict[str, Any] = {}
    if journaling.journal_of(ctx) is not None:
        # The journal keeps what the deletion loses, read in this call before it is sent (the
        # preview's reads, or the reads after the answer), so that an undo restores it as deleted.
        group = group or await read_group(ctx, org, group_id)
        effect = await journaling.deleted_group(ctx, org, group)
    if deletion is None and ("shown-deletion", group_id) in call_memo(ctx):
        # What stays open, for the result, from the question's reads in this call (no request);
        # `confirm: true` without a question reads no more for it (the preview said it).
        deletion = await _deletion(ctx, org, group_id)
    arguments = {"organization_id": org, "group_id": group_id}
    async with journaling.recording(ctx, "delete_group", arguments, effect, organization_id=org) as entry:
        await state.toggl.request("DELETE", groups_path(org, group_id))
    return DeletedGroup(
        group_id=group_id,
        name=group.name if group else lookup.shown_name(state, "group", group_id),
        change_id=entry.change_id,
        still_open=(deletion.after.still_open() or None) if deletion else None,
    )
