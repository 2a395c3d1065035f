"""The records the sandbox keeps, and their JSON form on disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_VERSION = 1


@dataclass
class User:
    id: int
    fullname: str
    email: str
    avatar_url: str = ""
    timezone: str = "UTC"


@dataclass
class Organization:
    id: int
    name: str
    pricing_plan_name: str = "Premium"


@dataclass
class OrgMember:
    """A user's membership in an organization; ``id`` is the organization-user record id."""

    id: int
    organization_id: int
    user_id: int
    admin: bool = False
    owner: bool = False
    inactive: bool = False
    joined: bool = True


@dataclass
class Workspace:
    id: int
    organization_id: int
    name: str


@dataclass
class Project:
    id: int
    workspace_id: int
    name: str
    active: bool = True
    client_id: int | None = None
    color: str = "#06aaf5"
    billable: bool = False
    is_private: bool = False
    created_at: str = "2025-11-03T08:00:00+00:00"


@dataclass
class Group:
    id: int
    organization_id: int
    name: str
    at: str
    user_ids: list[int] = field(default_factory=list)
    workspace_ids: list[int] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)


@dataclass
class ProjectGroup:
    id: int
    workspace_id: int
    project_id: int
    group_id: int


@dataclass
class State:
    me_user_id: int
    default_workspace_id: int
    next_group_id: int
    next_project_group_id: int
    users: dict[int, User] = field(default_factory=dict)
    organizations: dict[int, Organization] = field(default_factory=dict)
    members: dict[int, OrgMember] = field(default_factory=dict)
    workspaces: dict[int, Workspace] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    project_groups: dict[int, ProjectGroup] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "me_user_id": self.me_user_id,
            "default_workspace_id": self.default_workspace_id,
            "next_group_id": self.next_group_id,
            "next_project_group_id": self.next_project_group_id,
            **{name: [asdict(record) for record in getattr(self, name).values()] for name in _TABLES},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported sandbox state version {data.get('version')!r}")
        state = cls(
            me_user_id=int(data["me_user_id"]),
            default_workspace_id=int(data["default_workspace_id"]),
            next_group_id=int(data["next_group_id"]),
            next_project_group_id=int(data["next_project_group_id"]),
        )
        for name, record_type in _TABLES.items():
            known = {f.name for f in fields(record_type)}
            table = getattr(state, name)
            for row in data.get(name, []):
                record = record_type(**{k: v for k, v in row.items() if k in known})
                table[record.id] = record
        return state


_TABLES: dict[str, type[Any]] = {
    "users": User,
    "organizations": Organization,
    "members": OrgMember,
    "workspaces": Workspace,
    "projects": Project,
    "groups": Group,
    "project_groups": ProjectGroup,
}
