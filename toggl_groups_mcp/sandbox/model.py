"""The records the sandbox keeps, and their JSON form on disk.

Loading is strict: a file that is not exactly the shape ``State.to_json`` writes (every field of
every record with its declared type, no unknown keys, unique ids, references that resolve, id
counters beyond the ids in use) raises ``StateFormatError`` naming the first problem, so a
hand-edited or foreign file is refused at start rather than failing later as a 500.

Tables and counters added later are optional on load, so a file written before them still loads:
``project_users`` (absent: none) and ``next_project_user_id`` (absent: ``FIRST_NEW_PROJECT_USER_ID``
or above the highest project user id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

STATE_VERSION = 1

FIRST_NEW_PROJECT_USER_ID = 4800201
"""The first id a new project user gets in the demo data (re-exported by ``demo``); also the
counter of a state file written before project users existed."""


class StateFormatError(ValueError):
    """The state's JSON is not the shape the sandbox writes; the message says where."""


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
class ProjectUser:
    """A person's direct membership of a project ("project user"): it may carry their own hourly
    ``rate`` and ``labor_cost`` on that project (None: the workspace's or the person's default),
    and the time each was last set."""

    id: int
    workspace_id: int
    project_id: int
    user_id: int
    manager: bool = False
    rate: float | None = None
    rate_last_updated: str | None = None
    labor_cost: float | None = None
    labor_cost_last_updated: str | None = None
    at: str = "2026-01-12T09:00:00+00:00"


@dataclass
class State:
    me_user_id: int
    default_workspace_id: int
    next_group_id: int
    next_project_group_id: int
    next_project_user_id: int = FIRST_NEW_PROJECT_USER_ID
    users: dict[int, User] = field(default_factory=dict)
    organizations: dict[int, Organization] = field(default_factory=dict)
    members: dict[int, OrgMember] = field(default_factory=dict)
    workspaces: dict[int, Workspace] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    project_groups: dict[int, ProjectGroup] = field(default_factory=dict)
    project_users: dict[int, ProjectUser] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "me_user_id": self.me_user_id,
            "default_workspace_id": self.default_workspace_id,
            "next_group_id": self.next_group_id,
            "next_project_group_id": self.next_project_group_id,
            "next_project_user_id": self.next_project_user_id,
            **{name: [_record_json(record) for record in getattr(self, name).values()] for name in _TABLES},
        }

    @classmethod
    def from_json(cls, data: Any) -> State:
        """The state from its JSON form; ``StateFormatError`` for anything else (see the module)."""
        if not isinstance(data, dict):
            raise StateFormatError(f"the state must be a JSON object, not {_kind(data)}")
        version = data.get("version")
        if not _is_int(version) or version != STATE_VERSION:
            raise StateFormatError(f"unsupported sandbox state version {version!r}")
        _no_unknown_keys("the state", data, {"version", *_COUNTERS, *_OPTIONAL_COUNTERS, *_TABLES})
        for name in _COUNTERS:
            if name not in data:
                raise StateFormatError(f"{name} is missing")
            _check_type(name, data[name], "int")
        for name in _OPTIONAL_COUNTERS:
            if name in data:
                _check_type(name, data[name], "int")
        state = cls(**{name: data[name] for name in _COUNTERS})
        for name, record_type in _TABLES.items():
            rows = data.get(name, [])
            if not isinstance(rows, list):
                raise StateFormatError(f"{name} must be an array, not {_kind(rows)}")
            table = getattr(state, name)
            for index, row in enumerate(rows):
                record = _record(record_type, f"{name}[{index}]", row)
                if record.id in table:
                    raise StateFormatError(f"{name}[{index}].id {record.id} appears twice in {name}")
                table[record.id] = record
        if "next_project_user_id" in data:
            state.next_project_user_id = data["next_project_user_id"]
        else:
            state.next_project_user_id = max(
                FIRST_NEW_PROJECT_USER_ID, max(state.project_users, default=0) + 1
            )
        state._check_references()
        return state

    def _check_references(self) -> None:
        """Every id the sandbox looks up must resolve, and new ids must not collide."""
        if self.me_user_id not in self.users:
            raise StateFormatError(f"me_user_id {self.me_user_id} is not in users")
        if self.default_workspace_id not in self.workspaces:
            raise StateFormatError(f"default_workspace_id {self.default_workspace_id} is not in workspaces")
        for table, key, target in _REFERENCES:
            known = getattr(self, target)
            for index, record in enumerate(getattr(self, table).values()):
                value = getattr(record, key)
                if value not in known:
                    raise StateFormatError(f"{table}[{index}].{key} {value} is not in {target}")
        for index, row in enumerate(self.project_users.values()):
            if self.projects[row.project_id].workspace_id != row.workspace_id:
                raise StateFormatError(
                    f"project_users[{index}].workspace_id {row.workspace_id} is not its project's workspace"
                )
        for counter, table in (
            ("next_group_id", "groups"),
            ("next_project_group_id", "project_groups"),
            ("next_project_user_id", "project_users"),
        ):
            highest = max(getattr(self, table), default=0)
            if getattr(self, counter) <= highest:
                raise StateFormatError(f"{counter} must be above every id in {table} ({highest})")


_TABLES: dict[str, type[Any]] = {
    "users": User,
    "organizations": Organization,
    "members": OrgMember,
    "workspaces": Workspace,
    "projects": Project,
    "groups": Group,
    "project_groups": ProjectGroup,
    "project_users": ProjectUser,
}

_COUNTERS = ("me_user_id", "default_workspace_id", "next_group_id", "next_project_group_id")
_OPTIONAL_COUNTERS = ("next_project_user_id",)

# (table, field, the table its value must be an id of)
_REFERENCES = (
    ("members", "user_id", "users"),
    ("members", "organization_id", "organizations"),
    ("workspaces", "organization_id", "organizations"),
    ("projects", "workspace_id", "workspaces"),
    ("groups", "organization_id", "organizations"),
    ("project_groups", "workspace_id", "workspaces"),
    ("project_groups", "project_id", "projects"),
    ("project_groups", "group_id", "groups"),
    ("project_users", "workspace_id", "workspaces"),
    ("project_users", "project_id", "projects"),
    ("project_users", "user_id", "users"),
)


def _record_json(record: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` for the flat records here, several times faster (it matters for the
    large organization, saved on every change): fields in order, lists copied."""
    return {key: list(value) if isinstance(value, list) else value for key, value in vars(record).items()}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# A record field's annotation (a string, under ``from __future__ import annotations``) → what it
# accepts from JSON, and how to say so. ``list[X]`` is an array of X.
_FIELD_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "int": ("an integer", _is_int),
    "int | None": ("an integer or null", lambda v: v is None or _is_int(v)),
    "float | None": ("a number or null", lambda v: v is None or _is_int(v) or isinstance(v, float)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "str | None": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
}


def _item_type(annotation: str) -> str | None:
    """``X`` for ``list[X]``, else None."""
    return annotation[5:-1] if annotation.startswith("list[") and annotation.endswith("]") else None


for _record_type in _TABLES.values():
    for _field in fields(_record_type):
        if (_item_type(str(_field.type)) or str(_field.type)) not in _FIELD_TYPES:
            raise TypeError(f"{_record_type.__name__}.{_field.name}: no JSON check for {_field.type!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_type(where: str, value: Any, annotation: str) -> None:
    item_type = _item_type(annotation)
    if item_type is not None:
        if not isinstance(value, list):
            raise StateFormatError(f"{where} must be an array, not {_kind(value)}")
        for index, item in enumerate(value):
            _check_type(f"{where}[{index}]", item, item_type)
        return
    label, accepts = _FIELD_TYPES[annotation]
    if not accepts(value):
        raise StateFormatError(f"{where} must be {label}, not {_kind(value)}")


def _no_unknown_keys(where: str, data: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise StateFormatError(f"{where} has an unknown key {unknown[0]!r}")


def _record(record_type: type[Any], where: str, row: Any) -> Any:
    if not isinstance(row, dict):
        raise StateFormatError(f"{where} must be an object, not {_kind(row)}")
    record_fields = fields(record_type)
    _no_unknown_keys(where, row, {f.name for f in record_fields})
    for f in record_fields:
        if f.name in row:
            _check_type(f"{where}.{f.name}", row[f.name], str(f.type))
        elif f.default is MISSING and f.default_factory is MISSING:
            raise StateFormatError(f"{where}.{f.name} is missing")
    return record_type(
        **{key: list(value) if isinstance(value, list) else value for key, value in row.items()}
    )
