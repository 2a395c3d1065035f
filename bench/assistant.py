"""Tool calls an assistant needs for everyday requests, with the previous release's tools and
with today's, each sequence run against the sandbox and checked.

A request is what a user says, in names; the model starts a fresh session and knows no id. Each
request has two written-out sequences of tool calls:

- **before**: the shortest with the tools the previous release had (no get_group, no
  get_project_access, list_groups without user_id or offset; list_organizations without
  workspaces), scoping and id look-ups included;
- **after**: the shortest with today's tools.

Every argument that is an id is read from an earlier answer of the same run (by name, as a model
would), never from the demo's constants, and each run is checked: a question's answer, as the
model could put it together from what it read, must equal the truth computed from the sandbox's
state; a change must leave the sandbox in the wanted state and nothing else changed. A
destructive step runs as a client without elicitation does: a call without ``confirm`` that must
answer with the preview (a tool error, nothing changed), then the same call with
``confirm: true``.

Each run: the sandbox reset (demo data: three organizations, so every request has to scope), a
fresh in-process server (``inproc``: no TOGGL_ORGANIZATION_ID / TOGGL_WORKSPACE_ID, pacing
off) behind an in-memory client, and the Toggl requests counted from the sandbox's request log.
"before" runs on the previous release's server (from git history) and, with the same calls, on
today's; "after" on today's.

    python -m bench.assistant      # the sequences as Markdown (bench/README.md shows them)

Importing this module starts nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from . import inproc

ORG = "Acme Studio"  # every request is about the user's organization, which the user names

# What a step is for. The goal for a change: no EXTRA step (nothing but looking up the names the
# request mentions, and making the change); for a question: at most QUESTION_MOST calls in all.
LOOKUP = "lookup"  # resolves a name the user said (organization, group, person, project)
EXTRA = "extra"  # anything else: workspaces nobody named, project lists to join links with
READ = "read"  # reads the answer to the question
CHANGE = "change"  # the change itself, its preview call included
QUESTION_MOST = 2

Args = Callable[["Transcript"], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    tool: str
    shown: str  # as bench/README.md writes it
    role: str
    args: Args
    preview: bool = False  # a destructive call without confirm: must answer with the preview
    note: str = ""  # said after the call in bench/README.md


@dataclass(frozen=True)
class Sequence:
    steps: tuple[Step, ...]
    # Questions: the answer as the model can put it together from what it read.
    answer: Callable[[Transcript, dict[str, Any]], Any] | None = None
    # What these tools could not do for the request (set only for "before"): the run is measured,
    # but its answer or outcome is not held to the truth, and the report says why.
    partial: str = ""


@dataclass(frozen=True)
class Request:
    key: str
    label: str
    said: str  # what the user says
    kind: Literal["question", "change"]
    before: Sequence
    after: Sequence
    truth: Callable[[dict[str, Any]], Any] | None = None  # from the state before the run
    outcome: Callable[[dict[str, Any], dict[str, Any]], None] | None = None  # (before, after)


# ---- what the model read ---------------------------------------------------------------------------


@dataclass
class Call:
    tool: str
    args: dict[str, Any]
    structured: Any
    text: str
    is_error: bool


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item)


@dataclass
class Transcript:
    """The calls of one run, and the name look-ups a model does on their answers."""

    calls: list[Call] = field(default_factory=list)

    def answers(self, *tools: str) -> list[Any]:
        """Structured answers of these tools, the latest first."""
        return [c.structured for c in reversed(self.calls) if c.tool in tools and not c.is_error]

    def last(self, tool: str) -> Any:
        found = self.answers(tool)
        if not found:
            raise LookupError(f"no answer of {tool} yet")
        return found[0]

    def entry(self, name: str, keys: tuple[str, ...], tools: tuple[str, ...]) -> dict[str, Any]:
        """The first record named ``name`` (any case) that has one of ``keys``, in these tools' answers."""
        for answer in self.answers(*tools):
            for record in _dicts(answer):
                named = record.get("name")
                if isinstance(named, str) and named.casefold() == name.casefold():
                    if any(isinstance(record.get(k), int) for k in keys):
                        return record
        raise LookupError(f"{name!r} is not in the answers of {', '.join(tools)}")

    def _id(self, name: str, keys: tuple[str, ...], tools: tuple[str, ...]) -> int:
        record = self.entry(name, keys, tools)
        return next(int(record[k]) for k in keys if isinstance(record.get(k), int))

    def org(self, name: str = ORG) -> int:
        return self._id(name, ("id",), ("list_organizations",))

    def workspace(self, name: str) -> int:
        return self._id(name, ("id",), ("list_workspaces", "list_organizations"))

    def group(self, name: str) -> dict[str, Any]:
        return self.entry(name, ("group_id",), ("list_groups", "get_group", "create_group"))

    def group_id(self, name: str) -> int:
        return int(self.group(name)["group_id"])

    def user(self, name: str) -> int:
        return self._id(name, ("user_id",), ("list_organization_users",))

    def project(self, name: str) -> int:
        return self._id(name, ("id", "project_id"), ("list_projects", "get_group", "get_project_access"))

    def error_text(self, tool: str) -> str:
        return "\n".join(c.text for c in self.calls if c.tool == tool and c.is_error)


def _only(values: list[int], what: str) -> int:
    if len(values) != 1:
        raise LookupError(f"expected one {what}, got {values}")
    return values[0]


def _names(members: list[dict[str, Any]] | None) -> frozenset[str]:
    return frozenset(str(m.get("name")) for m in members or [])


def _confirmed(step: Step) -> Step:
    """The same call again with confirm: true, after the user said yes to the preview."""
    return Step(
        step.tool,
        step.shown[:-1] + ", confirm=true)",
        CHANGE,
        lambda t: {**step.args(t), "confirm": True},
    )


# ---- the sandbox's state, in names (the demo organization only) ------------------------------------


def _acme(store: dict[str, Any]) -> int:
    return next(int(o["id"]) for o in store["organizations"] if o["name"] == ORG)


def _user_names(store: dict[str, Any]) -> dict[int, str]:
    return {u["id"]: u["fullname"] for u in store["users"]}


def _project_names(store: dict[str, Any]) -> dict[int, str]:
    return {p["id"]: p["name"] for p in store["projects"]}


def _groups(store: dict[str, Any]) -> dict[int, tuple[str, frozenset[str], tuple[int, ...]]]:
    """Acme's groups: id -> (name, member names, workspace ids)."""
    users = _user_names(store)
    org = _acme(store)
    return {
        g["id"]: (g["name"], frozenset(users[u] for u in g["user_ids"]), tuple(g["workspace_ids"]))
        for g in store["groups"]
        if g["organization_id"] == org
    }


def _group_named(store: dict[str, Any], name: str) -> int:
    return _only([gid for gid, (n, _, _) in _groups(store).items() if n == name], f"group {name!r}")


def _links(store: dict[str, Any]) -> set[tuple[str, str]]:
    """Every project-group link of Acme's groups, as (project name, group name)."""
    projects = _project_names(store)
    groups = _groups(store)
    return {
        (projects[x["project_id"]], groups[x["group_id"]][0])
        for x in store["project_groups"]
        if x["group_id"] in groups
    }


def _projects_of(store: dict[str, Any], group: str) -> frozenset[str]:
    return frozenset(p for p, g in _links(store) if g == group)


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"assistant sequence did not achieve its task: {what}")


def _unchanged_but(before: dict[str, Any], after: dict[str, Any], *group_ids: int) -> None:
    """Every Acme group but these is as it was."""
    old = {k: v for k, v in _groups(before).items() if k not in group_ids}
    new = {k: v for k, v in _groups(after).items() if k not in group_ids}
    _expect(old == new, f"other groups unchanged (before {old}, after {new})")


# ---- the other two paths: public projects and direct members --------------------------------------


def _direct(store: dict[str, Any], project: str) -> frozenset[str]:
    """The direct members of an Acme project, by name."""
    users = _user_names(store)
    pid = _project_id(store, project)
    return frozenset(
        users[row["user_id"]] for row in store.get("project_users", []) if row["project_id"] == pid
    )


def _project_id(store: dict[str, Any], name: str) -> int:
    return _only([pid for pid, n in _project_names(store).items() if n == name], f"project {name!r}")


def _public(store: dict[str, Any], project: str) -> bool:
    pid = _project_id(store, project)
    return next(not p.get("is_private", False) for p in store["projects"] if p["id"] == pid)


def _whole_truth(store: dict[str, Any], project: str) -> Any:
    """Who can track time on a project, every path: (public, direct members, {group: members})."""
    groups = {name: members for name, members, _ in _groups(store).values()}
    return (
        _public(store, project),
        _direct(store, project),
        {g: groups[g] for p, g in _links(store) if p == project},
    )


def _access_answer(project_name: str) -> Callable[[Transcript, dict[str, Any]], Any]:
    """get_project_access's answer for one project, every path as the model reads it."""

    def answer(t: Transcript, store: dict[str, Any]) -> Any:
        (project,) = [p for p in t.last("get_project_access")["projects"] if p["name"] == project_name]
        return (
            bool(project.get("public")),
            _names(project.get("direct")),
            {g["name"]: _names(g["members"]) for g in project["groups"]},
        )

    return answer


def _member_of_no_project(person: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """Offboarding done completely: the person in no Acme group and a direct member of nothing, and
    nothing else changed."""

    def outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
        old, new = _groups(before), _groups(after)
        _expect(all(person not in members for _, members, _ in new.values()), f"{person} is in no Acme group")
        _expect(
            {k: (n, m - {person}, w) for k, (n, m, w) in old.items()} == new,
            f"nothing but {person}'s group memberships changed",
        )
        _expect(_links(before) == _links(after), "no link changed")
        users = _user_names(after)
        left = [row for row in after.get("project_users", []) if users.get(row["user_id"]) == person]
        _expect(not left, f"{person} is a direct member of no project (left: {left})")
        others = [row for row in before.get("project_users", []) if users.get(row["user_id"]) != person]
        _expect(others == after.get("project_users", []), "no one else's direct membership changed")

    return outcome


# ---- (a) who is in a group and what can it access --------------------------------------------------

DESIGNERS = "Designers"


def _designers_truth(store: dict[str, Any]) -> Any:
    name, members, _ = _groups(store)[_group_named(store, DESIGNERS)]
    return members, _projects_of(store, name)


def _a_answer(t: Transcript, store: dict[str, Any]) -> Any:
    detail = t.last("get_group")
    return _names(detail["members"]), frozenset(p["name"] for p in detail["projects"])


_ORGS = Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {})
# Today the organization and workspace are named in the call: no look-up.
ACME = ORG


def _get_designers(role: str, *, named: bool) -> Step:
    if named:
        return Step(
            "get_group",
            'get_group(organization_id="Acme Studio", name="Designers")',
            role,
            lambda t: {"organization_id": ACME, "name": DESIGNERS},
        )
    return Step(
        "get_group",
        'get_group(organization_id=<Acme Studio>, name="Designers")',
        role,
        lambda t: {"organization_id": t.org(), "name": DESIGNERS},
    )


A = Request(
    "a",
    "who is in Designers and what can it access",
    "Who is in the Designers group in Acme Studio, and which projects can it access?",
    "question",
    before=Sequence((_ORGS, _get_designers(READ, named=False)), _a_answer),
    after=Sequence((_get_designers(READ, named=True),), _a_answer),
    truth=_designers_truth,
)

# ---- (b) who can access a project ------------------------------------------------------------------

WEBSITE = "Website Redesign"
DESIGN_WS = "Acme Design"  # where Website Redesign is: both sequences are credited with guessing it first
CANNOT_TELL = "no tool said whether the project is public or who its direct members are"


def _project_access(project: str, workspace: str, *, named: bool) -> Step:
    if named:
        return Step(
            "get_project_access",
            f'get_project_access(organization_id="Acme Studio", workspace_id="{workspace}", '
            f'project_name="{project}")',
            READ,
            lambda t: {"organization_id": ACME, "workspace_id": workspace, "project_name": project},
        )
    return Step(
        "get_project_access",
        f'get_project_access(workspace_id=<{workspace}>, project_name="{project}")',
        READ,
        lambda t: {"workspace_id": t.workspace(workspace), "project_name": project},
    )


def _who_can_access(key: str, label: str, said: str, project: str, workspace: str) -> Request:
    """A question about one project's access: before, a scoping call and get_project_access, which
    could not say whether the project is public or who its direct members are."""
    return Request(
        key,
        label,
        said,
        "question",
        before=Sequence(
            (
                Step(
                    "list_organizations",
                    "list_organizations()",
                    LOOKUP,
                    lambda t: {},
                    note="its answer lists the workspaces too",
                ),
                _project_access(project, workspace, named=False),
            ),
            _access_answer(project),
            partial=CANNOT_TELL,
        ),
        after=Sequence((_project_access(project, workspace, named=True),), _access_answer(project)),
        truth=lambda store: _whole_truth(store, project),
    )


B = _who_can_access(
    "b",
    "who can access Website Redesign",
    "Who can access the Website Redesign project in Acme Studio?",
    WEBSITE,
    DESIGN_WS,
)

# ---- (c) which groups hold a person ----------------------------------------------------------------

DANA = "Dana Okafor"


def _dana_truth(store: dict[str, Any]) -> Any:
    return frozenset(name for name, members, _ in _groups(store).values() if DANA in members)


def _c_answer(t: Transcript, store: dict[str, Any]) -> Any:
    return frozenset(g["name"] for g in t.last("list_groups")["groups"] if DANA in _names(g.get("members")))


_C_NOTE = "read off the groups whose members include Dana Okafor: members carry names"

C = Request(
    "c",
    "which groups is Dana Okafor in",
    "Which groups is Dana Okafor in (Acme Studio)?",
    "question",
    before=Sequence(
        (
            _ORGS,
            Step(
                "list_groups",
                "list_groups(organization_id=<Acme Studio>)",
                READ,
                lambda t: {"organization_id": t.org()},
                note=_C_NOTE,
            ),
        ),
        _c_answer,
    ),
    after=Sequence(
        (
            Step(
                "list_groups",
                'list_groups(organization_id="Acme Studio")',
                READ,
                lambda t: {"organization_id": ACME},
                note=_C_NOTE,
            ),
        ),
        _c_answer,
    ),
    truth=_dana_truth,
)

# ---- (d) create a group with two people and give it three projects ------------------------------

LAUNCH = "Launch Team"
LAUNCH_PEOPLE = ("Bianca Reyes", DANA)
BRAND = "Brand Refresh"
API = "API Platform"
ENGINEERING_WS = "Acme Engineering"


def _d_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    gid = _group_named(after, LAUNCH)
    _, members, _ = _groups(after)[gid]
    _expect(
        members == frozenset(LAUNCH_PEOPLE), f"{LAUNCH} has {sorted(LAUNCH_PEOPLE)}, got {sorted(members)}"
    )
    _expect(_projects_of(after, LAUNCH) == {BRAND, WEBSITE, API}, f"{LAUNCH} can access the three projects")
    _expect(
        _links(after) - {(p, LAUNCH) for p in (BRAND, WEBSITE, API)} == _links(before),
        "no other link changed",
    )
    _unchanged_but(before, after, gid)


def _org_arg(named: bool) -> Callable[[Transcript], Any]:
    return (lambda t: ACME) if named else (lambda t: t.org())


def _ws_arg(workspace: str, named: bool) -> Callable[[Transcript], Any]:
    return (lambda t: workspace) if named else (lambda t: t.workspace(workspace))


def _d_steps(*, named: bool) -> tuple[Step, ...]:
    org, org_shown = _org_arg(named), '"Acme Studio"' if named else "<Acme Studio>"
    design, engineering = _ws_arg(DESIGN_WS, named), _ws_arg(ENGINEERING_WS, named)
    ws_shown = (lambda w: f'"{w}"') if named else (lambda w: f"<{w}>")
    if named:
        people = (
            Step(
                "list_organization_users",
                'list_organization_users(organization_id="Acme Studio")',
                LOOKUP,
                lambda t: {"organization_id": ACME},
            ),
        )
    else:
        people = (
            Step(
                "list_organization_users",
                "list_organization_users(organization_id=<Acme Studio>)",
                LOOKUP,
                lambda t: {"organization_id": t.org()},
            ),
        )
    return (
        *(() if named else (_ORGS,)),
        *people,
        Step(
            "list_projects",
            f"list_projects(workspace_id={ws_shown(DESIGN_WS)})",
            LOOKUP,
            lambda t: {"workspace_id": design(t)},
        ),
        Step(
            "list_projects",
            f"list_projects(workspace_id={ws_shown(ENGINEERING_WS)})",
            LOOKUP,
            lambda t: {"workspace_id": engineering(t)},
        ),
        Step(
            "create_group",
            f'create_group(organization_id={org_shown}, name="Launch Team", user_ids=[<Bianca>, <Dana>])',
            CHANGE,
            lambda t: {
                "organization_id": org(t),
                "name": LAUNCH,
                "user_ids": [t.user(n) for n in LAUNCH_PEOPLE],
            },
        ),
        Step(
            "add_group_to_projects",
            f"add_group_to_projects(workspace_id={ws_shown(DESIGN_WS)}, group_id=<Launch Team>, "
            "project_ids=[<Brand Refresh>, <Website Redesign>])",
            CHANGE,
            lambda t: {
                "workspace_id": design(t),
                "group_id": t.group_id(LAUNCH),
                "project_ids": [t.project(BRAND), t.project(WEBSITE)],
            },
        ),
        Step(
            "add_project_group",
            f"add_project_group(workspace_id={ws_shown(ENGINEERING_WS)}, group_id=<Launch Team>, "
            "project_id=<API Platform>)",
            CHANGE,
            lambda t: {
                "workspace_id": engineering(t),
                "group_id": t.group_id(LAUNCH),
                "project_id": t.project(API),
            },
        ),
    )


D = Request(
    "d",
    "create a group with two people and three projects",
    "In Acme Studio, create a group Launch Team with Bianca Reyes and Dana Okafor, and give it "
    "Brand Refresh, Website Redesign and API Platform.",
    "change",
    before=Sequence(_d_steps(named=False)),
    after=Sequence(_d_steps(named=True)),
    outcome=_d_outcome,
)

# ---- (e) offboard a person from every group --------------------------------------------------------


def _e_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    old, new = _groups(before), _groups(after)
    _expect(all(DANA not in members for _, members, _ in new.values()), "Dana is in no Acme group")
    _expect(
        {k: (n, m - {DANA}, w) for k, (n, m, w) in old.items()} == new,
        "nothing but Dana's memberships changed",
    )
    _expect(_links(before) == _links(after), "no link changed")


def _offboard_by_id(person: str, short: str) -> tuple[Step, ...]:
    """The previous release's offboarding: scope, find the person's id, preview, confirm."""
    leave = Step(
        "remove_user_from_groups",
        f"remove_user_from_groups(organization_id=<Acme Studio>, user_id=<{short}>)",
        CHANGE,
        lambda t: {"organization_id": t.org(), "user_id": t.user(person)},
        preview=True,
    )
    find = Step(
        "list_organization_users",
        f'list_organization_users(organization_id=<Acme Studio>, filter="{person}")',
        LOOKUP,
        lambda t: {"organization_id": t.org(), "filter": person},
    )
    return (_ORGS, find, leave, _confirmed(leave))


_OFFBOARD_NAMED = Step(
    "remove_user_from_groups",
    'remove_user_from_groups(organization_id="Acme Studio", user="Dana Okafor")',
    CHANGE,
    lambda t: {"organization_id": ACME, "user": DANA},
    preview=True,
)

E = Request(
    "e",
    "offboard Dana Okafor from every group (confirmed)",
    "Dana Okafor has left Acme Studio: take her out of every group. (Yes, go ahead.)",
    "change",
    before=Sequence(_offboard_by_id(DANA, "Dana")),
    after=Sequence((_OFFBOARD_NAMED, _confirmed(_OFFBOARD_NAMED))),
    outcome=_e_outcome,
)

# ---- (f) rename a group and add a member in one go ------------------------------------------------

NEW_NAME = "Product Design"


def _f_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    gid = _group_named(before, DESIGNERS)
    _, members, workspaces = _groups(before)[gid]
    _expect(
        _groups(after).get(gid) == (NEW_NAME, members | {DANA}, workspaces), "renamed, Dana added, rest kept"
    )
    _unchanged_but(before, after, gid)
    _expect(
        {(p, NEW_NAME if g == DESIGNERS else g) for p, g in _links(before)} == _links(after),
        "no link changed",
    )


def _find_group(name: str, org: Callable[[Transcript], Any], org_shown: str) -> Step:
    return Step(
        "list_groups",
        f'list_groups(organization_id={org_shown}, name="{name}")',
        LOOKUP,
        lambda t: {"organization_id": org(t), "name": name},
    )


def _f_steps(*, named: bool) -> tuple[Step, ...]:
    org, org_shown = _org_arg(named), '"Acme Studio"' if named else "<Acme Studio>"
    return (
        *(() if named else (_ORGS,)),
        _find_group(DESIGNERS, org, org_shown),
        Step(
            "list_organization_users",
            f'list_organization_users(organization_id={org_shown}, filter="Dana Okafor")',
            LOOKUP,
            lambda t: {"organization_id": org(t), "filter": DANA},
        ),
        Step(
            "update_group",
            f'update_group(organization_id={org_shown}, group_id=<Designers>, name="Product Design", '
            "user_ids=[<its members>, <Dana>])",
            CHANGE,
            lambda t: {
                "organization_id": org(t),
                "group_id": t.group_id(DESIGNERS),
                "name": NEW_NAME,
                "user_ids": [m["user_id"] for m in t.group(DESIGNERS)["members"]] + [t.user(DANA)],
            },
        ),
    )


F = Request(
    "f",
    "rename Designers and add a member in one go",
    "Rename Designers (Acme Studio) to Product Design and add Dana Okafor to it.",
    "change",
    before=Sequence(_f_steps(named=False)),
    after=Sequence(_f_steps(named=True)),
    outcome=_f_outcome,
)

# ---- (g) remove one project's access ----------------------------------------------------------------


def _g_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    _expect(
        _links(after) == _links(before) - {(BRAND, DESIGNERS)}, "only Designers' access to Brand Refresh gone"
    )
    _unchanged_but(before, after)


def _brand_workspace(t: Transcript) -> int:
    return int(t.entry(BRAND, ("id",), ("get_group",))["workspace_id"])


_UNLINK = Step(
    "remove_project_group",
    "remove_project_group(workspace_id=<Brand Refresh's, from get_group>, project_id=<Brand Refresh>, "
    "group_id=<Designers>)",
    CHANGE,
    lambda t: {
        "workspace_id": _brand_workspace(t),
        "project_id": t.project(BRAND),
        "group_id": t.group_id(DESIGNERS),
    },
    preview=True,
)


def _designers_workspace(t: Transcript) -> int:
    """The workspace Designers is assigned to, from the group's answer: where its projects are."""
    return _only(t.group(DESIGNERS)["workspace_ids"], "workspace")


# Today: the project by name, in the workspace the group is assigned to (list_groups says which).
_UNLINK_BY_NAME = Step(
    "remove_group_from_projects",
    "remove_group_from_projects(workspace_id=<Designers' workspace>, group_id=<Designers>, "
    'project_name="Brand Refresh")',
    CHANGE,
    lambda t: {
        "workspace_id": _designers_workspace(t),
        "group_id": t.group_id(DESIGNERS),
        "project_name": BRAND,
    },
    preview=True,
    note="the preview names the project matched and who keeps access another way",
)

G = Request(
    "g",
    "remove Designers' access to Brand Refresh (confirmed)",
    "Take the Designers group's access to Brand Refresh away (Acme Studio). (Yes, go ahead.)",
    "change",
    before=Sequence((_ORGS, _get_designers(LOOKUP, named=False), _UNLINK, _confirmed(_UNLINK))),
    after=Sequence(
        (
            Step(
                "list_groups",
                'list_groups(organization_id="Acme Studio", name="Designers")',
                LOOKUP,
                lambda t: {"organization_id": ACME, "name": DESIGNERS},
            ),
            _UNLINK_BY_NAME,
            dataclasses.replace(_confirmed(_UNLINK_BY_NAME), note=""),
        )
    ),
    outcome=_g_outcome,
)

# ---- (h) delete a group after seeing what it loses ------------------------------------------------

MANAGERS = "Managers"


def _h_truth(store: dict[str, Any]) -> Any:
    return _projects_of(store, MANAGERS)


def _h_answer(t: Transcript, store: dict[str, Any]) -> Any:
    preview = t.error_text("delete_group")
    return frozenset(
        name for name in _project_names(store).values() if re.search(rf"\b{re.escape(name)}\b", preview)
    )


def _h_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    gid = _group_named(before, MANAGERS)
    _expect(gid not in _groups(after), "Managers deleted")
    _unchanged_but(before, after, gid)
    _expect(
        _links(after) == {(p, g) for p, g in _links(before) if g != MANAGERS}, "only Managers' links gone"
    )


def _h_steps(*, named: bool) -> tuple[Step, ...]:
    org, org_shown = _org_arg(named), '"Acme Studio"' if named else "<Acme Studio>"
    delete = Step(
        "delete_group",
        f"delete_group(organization_id={org_shown}, group_id=<Managers>)",
        CHANGE,
        lambda t: {"organization_id": org(t), "group_id": t.group_id(MANAGERS)},
        preview=True,
        note="its preview names the members, workspaces and projects lost",
    )
    return (
        *(() if named else (_ORGS,)),
        _find_group(MANAGERS, org, org_shown),
        delete,
        dataclasses.replace(_confirmed(delete), note=""),
    )


H = Request(
    "h",
    "delete a group after seeing what it loses (preview, then confirmed)",
    "Delete the Managers group in Acme Studio, but show me first what it loses. (Then: yes.)",
    "change",
    before=Sequence(_h_steps(named=False), _h_answer),
    after=Sequence(_h_steps(named=True), _h_answer),
    truth=_h_truth,
    outcome=_h_outcome,
)

# ---- (i) who can track time on a project, every path -----------------------------------------------

API_WORKSPACE = ENGINEERING_WS

I = _who_can_access(  # noqa: E741 (the request's letter)
    "i",
    "who can track time on API Platform, and how",
    "Who can track time on API Platform in Acme Studio, and through what?",
    API,
    API_WORKSPACE,
)

# ---- (j) offboard a person completely --------------------------------------------------------------

CHEN = "Chen Wei"

_CLOSE_ALL = Step(
    "remove_user_from_groups",
    'remove_user_from_groups(organization_id="Acme Studio", user="Chen Wei", also_projects=true)',
    CHANGE,
    lambda t: {"organization_id": ACME, "user": CHEN, "also_projects": True},
    preview=True,
    note="the preview names his groups, and the direct memberships closed with them",
)
J = Request(
    "j",
    "offboard Chen Wei completely: groups and direct memberships (confirmed)",
    "Chen Wei has left Acme Studio: close every door he has, groups and projects. (Yes, go ahead.)",
    "change",
    before=Sequence(
        _offboard_by_id(CHEN, "Chen"),
        partial="no tool removed his direct membership of Data Pipeline: the door stayed open",
    ),
    after=Sequence((_CLOSE_ALL, dataclasses.replace(_confirmed(_CLOSE_ALL), note=""))),
    outcome=_member_of_no_project(CHEN),
)

REQUESTS: list[Request] = [A, B, C, D, E, F, G, H, I, J]


# ---- running ----------------------------------------------------------------------------------------

_NUMBER = re.compile(r"/\d+(?=/|$)")


def _describe(entry: dict[str, Any]) -> str:
    path = _NUMBER.sub("/{id}", entry["path"].removeprefix("/api/v9"))
    return f"{entry['method']} {path} -> {entry['status']}"


@dataclass
class SequenceRun:
    release: str
    calls: int
    requests: int
    extra: int  # EXTRA steps
    toggl: list[str]  # the requests, "METHOD /path -> status"
    made: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (tool, arguments) per call
    partial: str = ""  # what this sequence could not do (its answer or outcome was not checked)


async def run_sequence(
    release: inproc.Release, sandbox_thread: Any, request: Request, sequence: Sequence
) -> SequenceRun:
    """One run from a reset sandbox and a fresh server; raises RuntimeError when it did not
    achieve the request's task."""
    sandbox = sandbox_thread.sandbox
    sandbox.reset()
    initial = sandbox.store.snapshot()
    transcript = Transcript()
    where = f"request ({request.key}) on {release.label}"
    async with inproc.connect(release, sandbox_thread) as client:
        for step in sequence.steps:
            try:
                args = step.args(transcript)
            except LookupError as error:
                raise RuntimeError(
                    f"{where}: {step.tool}: an id was not in the answers so far: {error}"
                ) from None
            result = await client.call_tool(step.tool, args)
            text = inproc.text_of(result)
            if step.preview:
                if not (result.is_error and "Confirmation required" in text):
                    raise RuntimeError(
                        f"{where}: {step.tool} without confirm did not answer a preview: {text[:300]}"
                    )
            elif result.is_error:
                raise RuntimeError(f"{where}: {step.tool}({args}) answered an error: {text[:400]}")
            transcript.calls.append(
                Call(step.tool, args, result.structured_content, text, bool(result.is_error))
            )
    log = sandbox.request_log()
    final = sandbox.store.snapshot()
    if request.truth is not None and not sequence.partial:
        assert sequence.answer is not None, f"request ({request.key}) has a truth but no answer"
        wanted, got = request.truth(initial), sequence.answer(transcript, initial)
        _expect(got == wanted, f"{where}: the answer read {got!r}, the truth is {wanted!r}")
    if request.outcome is not None and not sequence.partial:
        try:
            request.outcome(initial, final)
        except RuntimeError as error:
            raise RuntimeError(f"{where}: {error}") from None
    return SequenceRun(
        release.label,
        len(sequence.steps),
        len(log),
        sum(1 for s in sequence.steps if s.role == EXTRA),
        [_describe(e) for e in log],
        [(c.tool, c.args) for c in transcript.calls],
        sequence.partial,
    )


@dataclass
class RequestRun:
    request: Request
    after: SequenceRun
    before: SequenceRun  # on the previous release when available, else on this tree
    before_here: SequenceRun | None = None  # the same "before" calls on this tree

    @property
    def calls_ok(self) -> bool:
        if self.request.kind == "question":
            return self.after.calls <= QUESTION_MOST
        return self.after.extra == 0

    @property
    def requests_ok(self) -> bool:
        return self.after.requests <= self.before.requests

    @property
    def ok(self) -> bool:
        return self.calls_ok and self.requests_ok


async def measure_assistant(
    sandbox_thread: Any, *, keys: list[str] | None = None, before: bool = True
) -> list[RequestRun]:
    """Run every request's sequences (``keys`` picks requests; ``before=False`` runs "after"
    only, and then ``before`` of each result repeats ``after``). The sandbox is left reset."""
    current = inproc.current()
    previous = inproc.previous() if before else None
    runs = []
    for request in REQUESTS:
        if keys is not None and request.key not in keys:
            continue
        after = await run_sequence(current, sandbox_thread, request, request.after)
        if not before:
            runs.append(RequestRun(request, after, after))
            continue
        here = await run_sequence(current, sandbox_thread, request, request.before)
        old = await run_sequence(previous, sandbox_thread, request, request.before) if previous else None
        runs.append(RequestRun(request, after, old or here, here if old else None))
    sandbox_thread.sandbox.reset()
    return runs


# ---- the sequences as Markdown (bench/README.md) ----------------------------------------------------


def sequences_markdown() -> str:
    lines = []
    for request in REQUESTS:
        lines += [f'**({request.key}) {request.label}**: "{request.said}"', ""]
        for which, sequence in (("before", request.before), ("after", request.after)):
            lines.append(
                f"- {which}, {len(sequence.steps)} calls"
                + (f" ({sequence.partial})" if sequence.partial else "")
                + ":"
            )
            lines += [f"  {n}. `{s.shown}`{_role_note(s)}" for n, s in enumerate(sequence.steps, 1)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _role_note(step: Step) -> str:
    notes = []
    if step.preview:
        notes.append("preview: a tool error, nothing changed")
    notes += {EXTRA: ["extra"], READ: ["answer"]}.get(step.role, [])
    if step.note:
        notes.append(step.note)
    return f" ({'; '.join(notes)})" if notes else ""


if __name__ == "__main__":
    print(sequences_markdown(), end="")
