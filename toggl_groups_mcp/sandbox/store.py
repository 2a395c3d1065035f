"""The sandbox's state: Toggl's validation rules, its answers' shapes, and crash-safe persistence.

Every operation either returns what Toggl would answer with 200 or raises ``ApiError`` with
Toggl's status and message. Mutations are written to disk (when a state file is configured)
before they return, so anything the sandbox acknowledged survives a crash.

Operations answer as the caller ("me"): the user of ``caller_token`` (set per request, see
``config.acting_as``), else the state's own user. The caller is never part of the state.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import caller_token
from .demo import build_demo_state
from .model import Group, OrgMember, ProjectGroup, ProjectUser, State, Workspace

NO_ACCESS = "User does not have access to this resource."
NO_GROUP_PERMISSION = "User does not have permission to manage user groups."
INVALID_JSON = "Invalid JSON input"
NAME_MISSING = "Group name must be present"
NAME_TOO_LONG = "Group name too long, maximum length is 200"
NAME_TAKEN = "Name has already been taken"
INVALID_GROUP = "Invalid group ID."
UNKNOWN_GROUP_AT_ORG = "Unknown group at organization"
RESOURCE_NOT_FOUND = "Resource can not be found"
TOO_MANY_PATCHES = "Too many operations (more than 100 patches in request)"
INVALID_PATCH_OP = "Empty or invalid patch operation"
INVALID_PATCH_PATH = "Empty or invalid patch path"
BAD_PATCH_VALUE = "Value not present, or too many per patch operation"
PROJECT_NOT_FOUND = "Project not found"
GROUP_NOT_FOUND = "Group not found"
ALREADY_LINKED = "Group already has access to this project"
PROJECT_GROUP_NOT_FOUND = "Project group not found"
PROJECT_USER_NOT_FOUND = "Project user not found"
ALREADY_PROJECT_USER = "User is already a member of this project"
CHANGE_MODES = ("start-today", "override-current", "override-all")

MAX_NAME_LENGTH = 200
MAX_PATCHES = 100
MAX_PATCH_VALUES = 100
PATCH_OPS = ("add", "remove")
PATCH_PATHS = ("/users", "/workspaces")


class ApiError(Exception):
    """A Toggl error answer: the status and the message Toggl sends as a JSON string."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class SandboxStateError(RuntimeError):
    """The state file exists but cannot be read; the sandbox refuses to overwrite it."""


def user_not_in_org(user_id: int, org_id: int) -> str:
    return f"User {user_id} not exists in the organization {org_id}"


def workspace_not_in_org(workspace_id: int, org_id: int) -> str:
    return f"Workspace {workspace_id} not exists in the organization {org_id}"


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write_json(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` so that a reader (or a crash) sees the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # One dumps and one write: json.dump would write the large organization piece by piece.
            handle.write(json.dumps(data, indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    # The rename itself must reach the disk too, or a crash could resurrect the old file.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _int_list(value: Any) -> list[int]:
    """A JSON array of integers, as Go would decode it; anything else is Toggl's 'Invalid JSON input'."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        raise ApiError(400, INVALID_JSON)
    return list(dict.fromkeys(value))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def change_mode_invalid(name: str) -> str:
    return f"{name} must be one of {', '.join(CHANGE_MODES)}"


def must_not_be_negative(name: str) -> str:
    return f"{name} must not be negative"


def _paginate(rows: list[Any], page: int, per_page: int | None) -> list[Any]:
    """One page; ``per_page`` None is the ``ignore_per_page`` fault: the first page holds every row."""
    if per_page is None:
        return rows if page == 1 else []
    start = (page - 1) * per_page
    return rows[start : start + per_page]


class Store:
    """The sandbox's data and Toggl's rules over it. Thread-safe: tests may read or reset it from
    another thread while the server runs.

    ``large_org`` adds the large demo organization to the demo data, at start when there is no
    state file yet and at every reset; an existing state file is loaded as it is.

    ``token`` is the state's own user's; ``other_tokens`` map further tokens to their users.
    """

    def __init__(
        self,
        token: str,
        state_path: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        large_org: bool = False,
        other_tokens: Mapping[str, int] | None = None,
    ) -> None:
        self.token = token
        self.other_tokens = {t: user for t, user in (other_tokens or {}).items() if t != token}
        self.large_org = large_org
        self.path = Path(state_path) if state_path is not None else None
        self._clock = clock
        self._lock = threading.RLock()
        # When each group was created (clock time), for the eventual-consistency fault; not persisted.
        self._group_created: dict[int, float] = {}
        self.state = self._load()

    # ---- persistence -------------------------------------------------------------------------

    def _load(self) -> State:
        if self.path is None:
            return build_demo_state(large_org=self.large_org)
        if not self.path.exists():
            state = build_demo_state(large_org=self.large_org)
            atomic_write_json(self.path, state.to_json())
            return state
        try:
            return State.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError) as exc:
            # ValueError covers bad JSON, bad UTF-8 and StateFormatError (a valid JSON of the
            # wrong shape); RecursionError, JSON nested too deep for the parser.
            raise SandboxStateError(f"cannot read sandbox state file {self.path}: {exc}") from exc

    def _commit(self) -> None:
        if self.path is not None:
            atomic_write_json(self.path, self.state.to_json())

    def reset(self) -> None:
        """Back to the demo data (and saved, when a state file is configured)."""
        with self._lock:
            self.state = build_demo_state(large_org=self.large_org)
            self._group_created.clear()
            self._commit()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.state.to_json()))

    # ---- access --------------------------------------------------------------------------------

    def knows_token(self, token: str) -> bool:
        """Whether ``token`` authenticates a user of the state (compared in constant time, as a secret)."""
        with self._lock:
            users = {**self.other_tokens, self.token: self.state.me_user_id}
            found = [
                user for known, user in users.items() if hmac.compare_digest(token.encode(), known.encode())
            ]
            return bool(found) and found[0] in self.state.users

    def _my_token(self) -> str:
        token = caller_token.get()
        return self.token if token is None else token

    def _me(self) -> int:
        token = self._my_token()
        return self.state.me_user_id if token == self.token else self.other_tokens[token]

    def _my_membership(self, org_id: int) -> OrgMember | None:
        me = self._me()
        for member in self.state.members.values():
            if member.organization_id == org_id and member.user_id == me:
                return member
        return None

    def _require_org(self, org_id: int, *, forbidden: str = NO_ACCESS) -> None:
        """Organization endpoints need an admin; an unknown organization looks the same as a foreign one."""
        membership = self._my_membership(org_id)
        if membership is None or not membership.admin:
            raise ApiError(403, forbidden)

    def _require_workspace(self, workspace_id: int, *, admin: bool) -> Workspace:
        workspace = self.state.workspaces.get(workspace_id)
        membership = self._my_membership(workspace.organization_id) if workspace else None
        if workspace is None or membership is None or (admin and not membership.admin):
            raise ApiError(403, NO_ACCESS)
        return workspace

    def budget_key(self, *, org_id: int | None = None, workspace_id: int | None = None) -> int | None:
        """The organization whose quota a request spends, or None for the user-level budget."""
        with self._lock:
            if workspace_id is not None:
                workspace = self.state.workspaces.get(workspace_id)
                org_id = workspace.organization_id if workspace else None
            if org_id is not None and self._my_membership(org_id) is not None:
                return org_id
            return None

    def my_organization_ids(self) -> list[int]:
        with self._lock:
            me = self._me()
            return sorted(m.organization_id for m in self.state.members.values() if m.user_id == me)

    # ---- discovery -----------------------------------------------------------------------------

    def _my_default_workspace(self) -> int | None:
        """The state's own user's is stored; another user's is the first workspace they can see."""
        if self._me() == self.state.me_user_id:
            return self.state.default_workspace_id
        visible = (w.id for w in self.state.workspaces.values() if self._my_membership(w.organization_id))
        return min(visible, default=None)

    def me(self) -> dict[str, Any]:
        with self._lock:
            user = self.state.users[self._me()]
            return {
                "id": user.id,
                "api_token": self._my_token(),
                "email": user.email,
                "fullname": user.fullname,
                "timezone": user.timezone,
                "default_workspace_id": self._my_default_workspace(),
                "beginning_of_week": 1,
                "image_url": user.avatar_url,
                "created_at": "2025-10-01T08:00:00+00:00",
                "updated_at": "2026-01-10T08:00:00+00:00",
                "at": "2026-01-10T08:00:00+00:00",
                "openid_enabled": False,
                "country_id": None,
                "has_password": True,
                "authorization_updated_at": "2025-10-01T08:00:00+00:00",
            }

    def my_organizations(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = []
            for org_id in self.my_organization_ids():
                org = self.state.organizations[org_id]
                membership = self._my_membership(org_id)
                assert membership is not None
                rows.append(
                    {
                        "id": org.id,
                        "name": org.name,
                        "admin": membership.admin,
                        "owner": membership.owner,
                        "pricing_plan_name": org.pricing_plan_name,
                        "user_count": sum(
                            1 for m in self.state.members.values() if m.organization_id == org_id
                        ),
                        "is_multi_workspace_enabled": True,
                        "max_workspaces": 20,
                        "permissions": None,
                        "created_at": "2025-10-01T08:00:00+00:00",
                        "at": "2026-01-10T08:00:00+00:00",
                        "server_deleted_at": None,
                        "suspended_at": None,
                    }
                )
            return rows

    def my_workspaces(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = []
            for workspace in sorted(self.state.workspaces.values(), key=lambda w: w.id):
                membership = self._my_membership(workspace.organization_id)
                if membership is None:
                    continue
                rows.append(
                    {
                        "id": workspace.id,
                        "organization_id": workspace.organization_id,
                        "name": workspace.name,
                        "admin": membership.admin,
                        "role": "admin" if membership.admin else "user",
                        "api_token": self._my_token(),
                        "premium": True,
                        "business_ws": True,
                        "default_currency": "USD",
                        "only_admins_may_create_projects": False,
                        "at": "2026-01-10T08:00:00+00:00",
                        "server_deleted_at": None,
                    }
                )
            return rows

    def list_projects(
        self, workspace_id: int, *, text: Iterable[str], active: bool | None, page: int, per_page: int | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._require_workspace(workspace_id, admin=False)
            needles = [t.casefold() for t in text if t]
            rows = [
                p
                for p in self.state.projects.values()
                if p.workspace_id == workspace_id
                and (active is None or p.active == active)
                and all(n in p.name.casefold() for n in needles)
            ]
            rows.sort(key=lambda p: (p.name.casefold(), p.id))
            return [
                {
                    "id": p.id,
                    "workspace_id": p.workspace_id,
                    "wid": p.workspace_id,
                    "client_id": p.client_id,
                    "cid": p.client_id,
                    "name": p.name,
                    "active": p.active,
                    "status": "active" if p.active else "archived",
                    "is_private": p.is_private,
                    "billable": p.billable,
                    "color": p.color,
                    "template": False,
                    "auto_estimates": None,
                    "estimated_hours": None,
                    "rate": None,
                    "currency": None,
                    "recurring": False,
                    "created_at": p.created_at,
                    "at": p.created_at,
                    "server_deleted_at": None,
                }
                for p in _paginate(rows, page, per_page)
            ]

    def list_org_users(
        self, org_id: int, *, text: str | None, page: int, per_page: int | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._require_org(org_id)
            needle = (text or "").casefold()
            rows = []
            for member in self.state.members.values():
                if member.organization_id != org_id:
                    continue
                user = self.state.users[member.user_id]
                if needle and needle not in user.fullname.casefold() and needle not in user.email.casefold():
                    continue
                rows.append((member, user))
            rows.sort(key=lambda mu: (mu[1].fullname.casefold(), mu[1].id))
            # Computed once per answer, not per user: the large organization has 3,000 users.
            workspaces = sorted(
                (w for w in self.state.workspaces.values() if w.organization_id == org_id), key=lambda w: w.id
            )
            groups_of: dict[int, list[dict[str, Any]]] = {}
            for g in sorted(self.state.groups.values(), key=lambda g: g.name.casefold()):
                if g.organization_id == org_id:
                    for user_id in dict.fromkeys(g.user_ids):
                        groups_of.setdefault(user_id, []).append({"group_id": g.id, "name": g.name})
            return [
                self._org_user_json(member, user, workspaces, groups_of.get(user.id, []))
                for member, user in _paginate(rows, page, per_page)
            ]

    def _org_user_json(
        self, member: OrgMember, user: Any, org_workspaces: list[Workspace], groups: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": member.id,
            "user_id": user.id,
            "name": user.fullname,
            "email": user.email,
            "avatar_url": user.avatar_url,
            "admin": member.admin,
            "owner": member.owner,
            "inactive": member.inactive,
            "joined": member.joined,
            "invitation_code": None if member.joined else f"inv-{member.id}",
            "workspaces": [
                {
                    "workspace_id": w.id,
                    "workspace_name": w.name,
                    "admin": member.admin,
                    "role": "admin" if member.admin else "user",
                }
                for w in org_workspaces
            ],
            "groups": [dict(g) for g in groups],
        }

    # ---- groups --------------------------------------------------------------------------------

    def _org_members(self, org_id: int) -> dict[int, OrgMember]:
        return {m.user_id: m for m in self.state.members.values() if m.organization_id == org_id}

    def _group_json(self, group: Group, members: dict[int, OrgMember] | None = None) -> dict[str, Any]:
        """``members``: the organization's, by user id, when the caller answers many groups at once."""
        if members is None:
            members = self._org_members(group.organization_id)
        users = []
        for user_id in group.user_ids:
            user = self.state.users.get(user_id)
            member = members.get(user_id)
            users.append(
                {
                    "user_id": user_id,
                    "name": user.fullname if user else "",
                    "avatar_url": user.avatar_url if user else "",
                    "inactive": member.inactive if member else True,
                    "joined": member.joined if member else False,
                }
            )
        users.sort(key=lambda u: (str(u["name"]).casefold(), u["user_id"]))
        return {
            "group_id": group.id,
            "name": group.name,
            "at": group.at,
            "permissions": list(group.permissions),
            "users": users,
            "workspaces": sorted(group.workspace_ids),
        }

    def _sorted_groups(self, org_id: int, groups: Iterable[Group]) -> list[dict[str, Any]]:
        members = self._org_members(org_id)
        return [self._group_json(g, members) for g in sorted(groups, key=lambda g: (g.name.casefold(), g.id))]

    def list_groups(self, org_id: int, *, name: str | None, workspace_id: int | None) -> list[dict[str, Any]]:
        with self._lock:
            self._require_org(org_id)
            needle = (name or "").casefold()
            return self._sorted_groups(
                org_id,
                [
                    g
                    for g in self.state.groups.values()
                    if g.organization_id == org_id
                    and needle in g.name.casefold()
                    and (workspace_id is None or workspace_id in g.workspace_ids)
                ],
            )

    def workspace_groups(self, org_id: int, workspace_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._require_org(org_id)
            workspace = self.state.workspaces.get(workspace_id)
            if workspace is None or workspace.organization_id != org_id:
                raise ApiError(404, RESOURCE_NOT_FOUND)
            return self._sorted_groups(
                org_id,
                [
                    g
                    for g in self.state.groups.values()
                    if g.organization_id == org_id and workspace_id in g.workspace_ids
                ],
            )

    def _validated_group_body(
        self, org_id: int, body: Any, *, group_id: int | None
    ) -> tuple[str, list[int], list[int]]:
        """Create and edit share one body and one set of checks, in Toggl's documented order."""
        if not isinstance(body, dict):
            raise ApiError(400, INVALID_JSON)
        raw_name = body.get("name")
        if raw_name is not None and not isinstance(raw_name, str):
            raise ApiError(400, INVALID_JSON)
        user_ids = _int_list(body.get("users"))
        workspace_ids = _int_list(body.get("workspaces"))
        name = (raw_name or "").strip()
        if not name:
            raise ApiError(400, NAME_MISSING)
        if len(name) > MAX_NAME_LENGTH:
            raise ApiError(400, NAME_TOO_LONG)
        folded = name.casefold()
        for other in self.state.groups.values():
            if other.organization_id == org_id and other.id != group_id and other.name.casefold() == folded:
                raise ApiError(400, NAME_TAKEN)
        self._check_users(org_id, user_ids)
        self._check_workspaces(org_id, workspace_ids)
        return name, user_ids, workspace_ids

    def _check_users(self, org_id: int, user_ids: Iterable[int]) -> None:
        members = {m.user_id for m in self.state.members.values() if m.organization_id == org_id}
        for user_id in user_ids:
            if user_id not in members:
                raise ApiError(400, user_not_in_org(user_id, org_id))

    def _check_workspaces(self, org_id: int, workspace_ids: Iterable[int]) -> None:
        for workspace_id in workspace_ids:
            workspace = self.state.workspaces.get(workspace_id)
            if workspace is None or workspace.organization_id != org_id:
                raise ApiError(400, workspace_not_in_org(workspace_id, org_id))

    def _group_in_org(self, org_id: int, group_id: int, *, foreign_message: str | None = None) -> Group:
        group = self.state.groups.get(group_id)
        if group is None:
            raise ApiError(404, INVALID_GROUP)
        if group.organization_id != org_id:
            raise ApiError(400, foreign_message) if foreign_message else ApiError(404, INVALID_GROUP)
        return group

    def create_group(self, org_id: int, body: Any) -> dict[str, Any]:
        with self._lock:
            self._require_org(org_id)
            name, user_ids, workspace_ids = self._validated_group_body(org_id, body, group_id=None)
            group_id = self.state.next_group_id
            self.state.next_group_id += 1
            group = Group(group_id, org_id, name, now_rfc3339(), user_ids, workspace_ids)
            self.state.groups[group_id] = group
            self._group_created[group_id] = self._clock()
            self._commit()
            return self._group_json(group)

    def edit_group(self, org_id: int, group_id: int, body: Any) -> dict[str, Any]:
        """PUT replaces the whole group: omitted ``users`` or ``workspaces`` become empty (inferred)."""
        with self._lock:
            self._require_org(org_id)
            group = self._group_in_org(org_id, group_id)
            name, user_ids, workspace_ids = self._validated_group_body(org_id, body, group_id=group_id)
            group.name, group.user_ids, group.workspace_ids = name, user_ids, workspace_ids
            group.at = now_rfc3339()
            self._commit()
            return self._group_json(group)

    def delete_group(self, org_id: int, group_id: int) -> None:
        """Deleting a group also removes its project links, as Toggl does not keep dangling ones."""
        with self._lock:
            self._require_org(org_id)
            self._group_in_org(org_id, group_id)
            del self.state.groups[group_id]
            self._group_created.pop(group_id, None)
            for link_id in [pg.id for pg in self.state.project_groups.values() if pg.group_id == group_id]:
                del self.state.project_groups[link_id]
            self._commit()

    def patch_group(self, org_id: int, group_id: int, body: Any) -> dict[str, Any]:
        """The request is refused whole (400, nothing applied) unless it is an array of at most 100
        objects whose ``op`` and ``path`` are all known. Then operations are validated and applied
        one by one: a bad ``value`` or one with any unknown id fails that operation whole (none of
        its values applied) and lands in ``failure``. Adding a member twice or removing a
        non-member succeeds."""
        with self._lock:
            self._require_org(org_id, forbidden=NO_GROUP_PERMISSION)
            group = self._group_in_org(org_id, group_id, foreign_message=UNKNOWN_GROUP_AT_ORG)
            if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
                raise ApiError(400, INVALID_JSON)
            if len(body) > MAX_PATCHES:
                raise ApiError(400, TOO_MANY_PATCHES)
            for operation in body:
                if operation.get("op") not in PATCH_OPS:
                    raise ApiError(400, INVALID_PATCH_OP)
                if operation.get("path") not in PATCH_PATHS:
                    raise ApiError(400, INVALID_PATCH_PATH)
            success: list[Any] = []
            failure: list[dict[str, Any]] = []
            changed = False
            for operation in body:
                try:
                    changed = self._apply_patch(org_id, group, operation) or changed
                except ApiError as exc:
                    failure.append({"message": exc.message, "patch": operation})
                else:
                    success.append(operation)
            if changed:
                group.at = now_rfc3339()
                self._commit()
            return {"success": success, "failure": failure}

    def _apply_patch(self, org_id: int, group: Group, operation: dict[str, Any]) -> bool:
        """One operation whose ``op`` and ``path`` were already checked."""
        values = operation.get("value")
        if (
            not isinstance(values, list)
            or not values
            or len(values) > MAX_PATCH_VALUES
            or not all(_is_int(v) for v in values)
        ):
            raise ApiError(400, BAD_PATCH_VALUE)
        if operation["path"] == "/users":
            self._check_users(org_id, values)
            target = group.user_ids
        else:
            self._check_workspaces(org_id, values)
            target = group.workspace_ids
        before = list(target)
        if operation["op"] == "add":
            target.extend(v for v in dict.fromkeys(values) if v not in target)
        else:
            target[:] = [v for v in target if v not in values]
        return target != before

    # ---- project groups ------------------------------------------------------------------------

    def list_project_groups(self, workspace_id: int, project_ids: list[int]) -> list[dict[str, Any]]:
        with self._lock:
            self._require_workspace(workspace_id, admin=True)
            wanted = set(project_ids)
            return [
                {"id": pg.id, "group_id": pg.group_id, "pid": pg.project_id, "wid": pg.workspace_id}
                for pg in sorted(self.state.project_groups.values(), key=lambda pg: pg.id)
                if pg.workspace_id == workspace_id and pg.project_id in wanted
            ]

    def add_project_group(self, workspace_id: int, body: Any, *, consistency_delay: float = 0.0) -> None:
        """A group younger than ``consistency_delay`` seconds is treated as unknown, like Toggl's
        replicas that have not seen it yet."""
        with self._lock:
            workspace = self._require_workspace(workspace_id, admin=True)
            if not isinstance(body, dict):
                raise ApiError(400, INVALID_JSON)
            group_id = body.get("group_id", 0)
            project_id = body.get("project_id", 0)
            if not _is_int(group_id) or not _is_int(project_id):
                raise ApiError(400, INVALID_JSON)
            project = self.state.projects.get(project_id)
            if project is None or project.workspace_id != workspace_id:
                raise ApiError(400, PROJECT_NOT_FOUND)
            group = self.state.groups.get(group_id)
            if group is None or group.organization_id != workspace.organization_id:
                raise ApiError(400, GROUP_NOT_FOUND)
            created = self._group_created.get(group_id)
            if created is not None and self._clock() - created < consistency_delay:
                raise ApiError(400, GROUP_NOT_FOUND)
            for link in self.state.project_groups.values():
                if link.project_id == project_id and link.group_id == group_id:
                    raise ApiError(400, ALREADY_LINKED)
            link_id = self.state.next_project_group_id
            self.state.next_project_group_id += 1
            self.state.project_groups[link_id] = ProjectGroup(link_id, workspace_id, project_id, group_id)
            self._commit()

    def delete_project_group(self, workspace_id: int, project_group_id: int) -> None:
        with self._lock:
            self._require_workspace(workspace_id, admin=True)
            link = self.state.project_groups.get(project_group_id)
            if link is None or link.workspace_id != workspace_id:
                raise ApiError(404, PROJECT_GROUP_NOT_FOUND)
            del self.state.project_groups[project_group_id]
            self._commit()

    # ---- project users -------------------------------------------------------------------------

    @staticmethod
    def _project_user_json(row: ProjectUser) -> dict[str, Any]:
        return {
            "id": row.id,
            "project_id": row.project_id,
            "user_id": row.user_id,
            "workspace_id": row.workspace_id,
            "manager": row.manager,
            "group_id": None,
            "gid": None,
            "rate": row.rate,
            "rate_last_updated": row.rate_last_updated,
            "labor_cost": row.labor_cost,
            "labor_cost_last_updated": row.labor_cost_last_updated,
            "at": row.at,
        }

    def list_project_users(
        self,
        workspace_id: int,
        *,
        project_ids: list[int] | None,
        user_id: int | None,
        with_group_members: bool,
    ) -> list[dict[str, Any]]:
        """Direct members (rows by id); with ``with_group_members`` then one row per person per
        linked group that holds them, ``group_id`` (and legacy ``gid``) set to that group and ``id``
        the project-group link's id (Toggl documents no id for such rows; this one never collides
        with a project user's, and DELETE /project_users/{it} answers 404: there is no membership
        to remove, the access is the group's). A person who is a direct member and in a linked
        group has a row for each way."""
        with self._lock:
            self._require_workspace(workspace_id, admin=True)
            wanted = None if project_ids is None else set(project_ids)

            def in_scope(project_id: int, member: int) -> bool:
                return (wanted is None or project_id in wanted) and (user_id is None or member == user_id)

            rows = [
                self._project_user_json(row)
                for row in sorted(self.state.project_users.values(), key=lambda r: r.id)
                if row.workspace_id == workspace_id and in_scope(row.project_id, row.user_id)
            ]
            if with_group_members:
                for link in sorted(self.state.project_groups.values(), key=lambda pg: pg.id):
                    group = self.state.groups.get(link.group_id)
                    if link.workspace_id != workspace_id or group is None:
                        continue
                    for member in sorted(dict.fromkeys(group.user_ids)):
                        if in_scope(link.project_id, member):
                            rows.append(
                                {
                                    "id": link.id,
                                    "project_id": link.project_id,
                                    "user_id": member,
                                    "workspace_id": workspace_id,
                                    "manager": False,
                                    "group_id": group.id,
                                    "gid": group.id,
                                    "rate": None,
                                    "rate_last_updated": None,
                                    "labor_cost": None,
                                    "labor_cost_last_updated": None,
                                    "at": group.at,
                                }
                            )
            return rows

    @staticmethod
    def _money_fields(body: dict[str, Any]) -> None:
        """``manager`` true/false, ``rate`` and ``labor_cost`` numbers (or null), not negative, the
        change modes one of Toggl's three; a wrong type is 'Invalid JSON input', as Go decodes."""
        if "manager" in body and not isinstance(body["manager"], bool):
            raise ApiError(400, INVALID_JSON)
        for name in ("rate", "labor_cost"):
            value = body.get(name)
            if value is not None and not _is_number(value):
                raise ApiError(400, INVALID_JSON)
            if value is not None and value < 0:
                raise ApiError(400, must_not_be_negative(name))
        for name in ("rate_change_mode", "labor_cost_change_mode"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise ApiError(400, INVALID_JSON)
            if value is not None and value not in CHANGE_MODES:
                raise ApiError(400, change_mode_invalid(name))

    def add_project_user(self, workspace_id: int, body: Any) -> dict[str, Any]:
        """The new row. ``rate_change_mode`` / ``labor_cost_change_mode`` only decide which past
        time entries a rate applies to, which the sandbox does not keep: checked, not stored."""
        with self._lock:
            workspace = self._require_workspace(workspace_id, admin=True)
            if not isinstance(body, dict):
                raise ApiError(400, INVALID_JSON)
            project_id = body.get("project_id", 0)
            user_id = body.get("user_id", 0)
            if not _is_int(project_id) or not _is_int(user_id):
                raise ApiError(400, INVALID_JSON)
            self._money_fields(body)
            project = self.state.projects.get(project_id)
            if project is None or project.workspace_id != workspace_id:
                raise ApiError(400, PROJECT_NOT_FOUND)
            self._check_users(workspace.organization_id, [user_id])
            for row in self.state.project_users.values():
                if row.project_id == project_id and row.user_id == user_id:
                    raise ApiError(400, ALREADY_PROJECT_USER)
            now = now_rfc3339()
            rate, labor_cost = body.get("rate"), body.get("labor_cost")
            row_id = self.state.next_project_user_id
            self.state.next_project_user_id += 1
            row = ProjectUser(
                row_id,
                workspace_id,
                project_id,
                user_id,
                manager=bool(body.get("manager", False)),
                rate=None if rate is None else float(rate),
                rate_last_updated=None if rate is None else now,
                labor_cost=None if labor_cost is None else float(labor_cost),
                labor_cost_last_updated=None if labor_cost is None else now,
                at=now,
            )
            self.state.project_users[row_id] = row
            self._commit()
            return self._project_user_json(row)

    def _project_user_in(self, workspace_id: int, project_user_id: int) -> ProjectUser:
        row = self.state.project_users.get(project_user_id)
        if row is None or row.workspace_id != workspace_id:
            raise ApiError(404, PROJECT_USER_NOT_FOUND)
        return row

    def edit_project_user(self, workspace_id: int, project_user_id: int, body: Any) -> dict[str, Any]:
        """PUT changes what the body names (``manager``, ``rate``, ``labor_cost``; null clears a
        rate) and keeps the rest; the project and the person never change."""
        with self._lock:
            self._require_workspace(workspace_id, admin=True)
            row = self._project_user_in(workspace_id, project_user_id)
            if not isinstance(body, dict):
                raise ApiError(400, INVALID_JSON)
            self._money_fields(body)
            now = now_rfc3339()
            if "manager" in body:
                row.manager = body["manager"]
            if "rate" in body:
                rate = body["rate"]
                row.rate = None if rate is None else float(rate)
                row.rate_last_updated = now
            if "labor_cost" in body:
                labor_cost = body["labor_cost"]
                row.labor_cost = None if labor_cost is None else float(labor_cost)
                row.labor_cost_last_updated = now
            row.at = now
            self._commit()
            return self._project_user_json(row)

    def delete_project_user(self, workspace_id: int, project_user_id: int) -> int:
        """The removed row's id (Toggl answers an integer). Groups are not touched."""
        with self._lock:
            self._require_workspace(workspace_id, admin=True)
            self._project_user_in(workspace_id, project_user_id)
            del self.state.project_users[project_user_id]
            self._commit()
            return project_user_id
