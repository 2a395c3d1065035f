"""What Toggl sends (lenient: every field may be missing) and the lean shapes tools return."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TogglGroupUser(_Lenient):
    user_id: int
    name: str | None = None
    inactive: bool | None = None
    joined: bool | None = None


class TogglGroup(_Lenient):
    group_id: int
    name: str = ""
    at: str | None = None
    users: list[TogglGroupUser] = Field(default_factory=list)
    workspaces: list[int] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)

    @field_validator("users", "workspaces", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("permissions", mode="before")
    @classmethod
    def _permissions(cls, value: Any) -> Any:
        # A string in 2024, a list of strings in 2026.
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        return value

    @property
    def user_ids(self) -> list[int]:
        return [u.user_id for u in self.users]


class TogglProjectGroup(_Lenient):
    id: int
    group_id: int
    pid: int
    wid: int | None = None


class TogglProjectUser(_Lenient):
    """A project user row: a person's direct membership of a project (`group_id` set when Toggl
    lists a member through a group, `with_group_members`). It may carry the person's own hourly
    `rate` and `labor_cost` on that project, which removing the row loses."""

    id: int
    project_id: int
    user_id: int
    workspace_id: int | None = None
    manager: bool = False
    group_id: int | None = None
    rate: float | None = None
    labor_cost: float | None = None

    @field_validator("manager", mode="before")
    @classmethod
    def _no_manager(cls, value: Any) -> Any:
        return False if value is None else value

    @property
    def direct(self) -> bool:
        """A membership of its own, not one Toggl lists because a linked group holds the person."""
        return not self.group_id


# -- lean results ------------------------------------------------------------------------------


class Member(BaseModel):
    user_id: int = Field(description="Toggl user id")
    name: str | None = None
    inactive: bool | None = Field(default=None, description="Only for deactivated users: true")

    @classmethod
    def from_toggl(cls, user: TogglGroupUser) -> Member:
        return cls(user_id=user.user_id, name=user.name, inactive=True if user.inactive else None)


class Group(BaseModel):
    group_id: int
    name: str
    member_count: int
    members: list[Member] | None = Field(
        default=None, description="Left out when the list is too long to show them: see get_group"
    )
    workspace_ids: list[int]

    @classmethod
    def from_toggl(cls, group: TogglGroup, *, with_members: bool = True) -> Group:
        return cls(
            group_id=group.group_id,
            name=group.name,
            member_count=len(group.users),
            members=[Member.from_toggl(u) for u in group.users] if with_members else None,
            workspace_ids=list(group.workspaces),
        )


class ProjectLink(BaseModel):
    project_group_id: int = Field(description="Id of the link; remove_project_group takes it")
    project_id: int
    project: str | None = None
    group_id: int
    group: str | None = None
    workspace_id: int | None = None

    @classmethod
    def from_toggl(cls, link: TogglProjectGroup) -> ProjectLink:
        return cls(
            project_group_id=link.id, project_id=link.pid, group_id=link.group_id, workspace_id=link.wid
        )


class PatchOp(BaseModel):
    op: Literal["add", "remove"]
    path: Literal["/users", "/workspaces"]
    value: list[int]


class PatchFailure(BaseModel):
    patch: PatchOp | dict[str, Any] = Field(description="The operation that failed")
    message: str = Field(description="Toggl's reason")


def parse_groups(data: Any) -> list[TogglGroup]:
    return [TogglGroup.model_validate(g) for g in (data or []) if isinstance(g, dict) and "group_id" in g]


def parse_project_users(data: Any) -> list[TogglProjectUser]:
    return [
        TogglProjectUser.model_validate(x)
        for x in (data or [])
        if isinstance(x, dict) and isinstance(x.get("id"), int) and isinstance(x.get("user_id"), int)
    ]


def parse_links(data: Any) -> list[TogglProjectGroup]:
    return [TogglProjectGroup.model_validate(x) for x in (data or []) if isinstance(x, dict) and "id" in x]
