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


# ---- (a) who is in a group and what can it access --------------------------------------------------

DESIGNERS = "Designers"


def _designers_workspace(t: Transcript) -> int:
    """The workspace Designers is assigned to, from the group's answer: where its projects are."""
    return _only(t.group(DESIGNERS)["workspace_ids"], "workspace")


def _designers_truth(store: dict[str, Any]) -> Any:
    name, members, _ = _groups(store)[_group_named(store, DESIGNERS)]
    return members, _projects_of(store, name)


def _a_before(t: Transcript, store: dict[str, Any]) -> Any:
    group = t.group(DESIGNERS)
    names = {p["id"]: p["name"] for p in t.last("list_projects")["projects"]}
    reached = {
        names.get(x["project_id"])
        for x in t.last("list_project_groups")["links"]
        if x["group_id"] == group["group_id"]
    }
    return _names(group["members"]), frozenset(reached)


def _a_after(t: Transcript, store: dict[str, Any]) -> Any:
    detail = t.last("get_group")
    return _names(detail["members"]), frozenset(p["name"] for p in detail["projects"])


A = Request(
    "a",
    "who is in Designers and what can it access",
    "Who is in the Designers group in Acme Studio, and which projects can it access?",
    "question",
    before=Sequence(
        (
            Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {}),
            Step(
                "list_groups",
                'list_groups(organization_id=<Acme Studio>, name="Designers")',
                READ,
                lambda t: {"organization_id": t.org(), "name": DESIGNERS},
            ),
            Step(
                "list_projects",
                "list_projects(workspace_id=<Designers' workspace>)",
                EXTRA,
                lambda t: {"workspace_id": _designers_workspace(t)},
            ),
            Step(
                "list_project_groups",
                "list_project_groups(workspace_id=<same>, project_ids=<every project listed>)",
                READ,
                lambda t: {
                    "workspace_id": _designers_workspace(t),
                    "project_ids": [p["id"] for p in t.last("list_projects")["projects"]],
                },
            ),
        ),
        _a_before,
    ),
    after=Sequence(
        (
            Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {}),
            Step(
                "get_group",
                'get_group(organization_id=<Acme Studio>, name="Designers")',
                READ,
                lambda t: {"organization_id": t.org(), "name": DESIGNERS},
            ),
        ),
        _a_after,
    ),
    truth=_designers_truth,
)

# ---- (b) who can access a project ------------------------------------------------------------------

WEBSITE = "Website Redesign"
DESIGN_WS = "Acme Design"  # where Website Redesign is: both sequences are credited with guessing it first


def _website_truth(store: dict[str, Any]) -> Any:
    groups = {name: members for name, members, _ in _groups(store).values()}
    return {g: groups[g] for p, g in _links(store) if p == WEBSITE}


def _b_before(t: Transcript, store: dict[str, Any]) -> Any:
    project = t.project(WEBSITE)
    holders = {x["group_id"] for x in t.last("list_project_groups")["links"] if x["project_id"] == project}
    return {
        g["name"]: _names(g["members"]) for g in t.last("list_groups")["groups"] if g["group_id"] in holders
    }


def _b_after(t: Transcript, store: dict[str, Any]) -> Any:
    (project,) = [p for p in t.last("get_project_access")["projects"] if p["name"] == WEBSITE]
    return {g["name"]: _names(g["members"]) for g in project["groups"]}


B = Request(
    "b",
    "who can access Website Redesign",
    "Who can access the Website Redesign project in Acme Studio?",
    "question",
    before=Sequence(
        (
            Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {}),
            Step(
                "list_workspaces",
                "list_workspaces(organization_id=<Acme Studio>)",
                EXTRA,
                lambda t: {"organization_id": t.org()},
            ),
            Step(
                "list_projects",
                'list_projects(workspace_id=<Acme Design>, name="Website Redesign")',
                LOOKUP,
                lambda t: {"workspace_id": t.workspace(DESIGN_WS), "name": WEBSITE},
            ),
            Step(
                "list_project_groups",
                "list_project_groups(workspace_id=<Acme Design>, project_ids=[<Website Redesign>])",
                READ,
                lambda t: {"workspace_id": t.workspace(DESIGN_WS), "project_ids": [t.project(WEBSITE)]},
            ),
            Step(
                "list_groups",
                "list_groups(organization_id=<Acme Studio>)",
                READ,
                lambda t: {"organization_id": t.org()},
            ),
        ),
        _b_before,
    ),
    after=Sequence(
        (
            Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {}),
            Step(
                "get_project_access",
                'get_project_access(workspace_id=<Acme Design>, project_name="Website Redesign")',
                READ,
                lambda t: {"workspace_id": t.workspace(DESIGN_WS), "project_name": WEBSITE},
            ),
        ),
        _b_after,
    ),
    truth=_website_truth,
)

# ---- (c) which groups hold a person ----------------------------------------------------------------

DANA = "Dana Okafor"


def _dana_truth(store: dict[str, Any]) -> Any:
    return frozenset(name for name, members, _ in _groups(store).values() if DANA in members)


def _c_answer(t: Transcript, store: dict[str, Any]) -> Any:
    return frozenset(g["name"] for g in t.last("list_groups")["groups"] if DANA in _names(g.get("members")))


_C_STEPS = (
    Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {}),
    Step(
        "list_groups",
        "list_groups(organization_id=<Acme Studio>)",
        READ,
        lambda t: {"organization_id": t.org()},
        note="read off the groups whose members include Dana Okafor: members carry names",
    ),
)

C = Request(
    "c",
    "which groups is Dana Okafor in",
    "Which groups is Dana Okafor in (Acme Studio)?",
    "question",
    before=Sequence(_C_STEPS, _c_answer),
    after=Sequence(_C_STEPS, _c_answer),
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


def _d_steps(scoping: tuple[Step, ...]) -> tuple[Step, ...]:
    return (
        *scoping,
        Step(
            "list_organization_users",
            "list_organization_users(organization_id=<Acme Studio>)",
            LOOKUP,
            lambda t: {"organization_id": t.org()},
        ),
        Step(
            "list_projects",
            "list_projects(workspace_id=<Acme Design>)",
            LOOKUP,
            lambda t: {"workspace_id": t.workspace(DESIGN_WS)},
        ),
        Step(
            "list_projects",
            "list_projects(workspace_id=<Acme Engineering>)",
            LOOKUP,
            lambda t: {"workspace_id": t.workspace(ENGINEERING_WS)},
        ),
        Step(
            "create_group",
            'create_group(organization_id=<Acme Studio>, name="Launch Team", user_ids=[<Bianca>, <Dana>])',
            CHANGE,
            lambda t: {
                "organization_id": t.org(),
                "name": LAUNCH,
                "user_ids": [t.user(n) for n in LAUNCH_PEOPLE],
            },
        ),
        Step(
            "add_group_to_projects",
            "add_group_to_projects(workspace_id=<Acme Design>, group_id=<Launch Team>, "
            "project_ids=[<Brand Refresh>, <Website Redesign>])",
            CHANGE,
            lambda t: {
                "workspace_id": t.workspace(DESIGN_WS),
                "group_id": t.group_id(LAUNCH),
                "project_ids": [t.project(BRAND), t.project(WEBSITE)],
            },
        ),
        Step(
            "add_project_group",
            "add_project_group(workspace_id=<Acme Engineering>, group_id=<Launch Team>, project_id=<API Platform>)",
            CHANGE,
            lambda t: {
                "workspace_id": t.workspace(ENGINEERING_WS),
                "group_id": t.group_id(LAUNCH),
                "project_id": t.project(API),
            },
        ),
    )


_ORGS = Step("list_organizations", "list_organizations()", LOOKUP, lambda t: {})
_WORKSPACES = Step(
    "list_workspaces",
    "list_workspaces(organization_id=<Acme Studio>)",
    EXTRA,
    lambda t: {"organization_id": t.org()},
)

D = Request(
    "d",
    "create a group with two people and three projects",
    "In Acme Studio, create a group Launch Team with Bianca Reyes and Dana Okafor, and give it "
    "Brand Refresh, Website Redesign and API Platform.",
    "change",
    before=Sequence(_d_steps((_ORGS, _WORKSPACES))),
    after=Sequence(_d_steps((_ORGS,))),
    outcome=_d_outcome,
)

# ---- (e) offboard a person -------------------------------------------------------------------------


def _e_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    old, new = _groups(before), _groups(after)
    _expect(all(DANA not in members for _, members, _ in new.values()), "Dana is in no Acme group")
    _expect(
        {k: (n, m - {DANA}, w) for k, (n, m, w) in old.items()} == new,
        "nothing but Dana's memberships changed",
    )
    _expect(_links(before) == _links(after), "no link changed")


_OFFBOARD = Step(
    "remove_user_from_groups",
    "remove_user_from_groups(organization_id=<Acme Studio>, user_id=<Dana>)",
    CHANGE,
    lambda t: {"organization_id": t.org(), "user_id": t.user(DANA)},
    preview=True,
)
_E_STEPS = (
    _ORGS,
    Step(
        "list_organization_users",
        'list_organization_users(organization_id=<Acme Studio>, filter="Dana Okafor")',
        LOOKUP,
        lambda t: {"organization_id": t.org(), "filter": DANA},
    ),
    _OFFBOARD,
    _confirmed(_OFFBOARD),
)

E = Request(
    "e",
    "offboard Dana Okafor (confirmed)",
    "Dana Okafor has left Acme Studio: take her out of every group. (Yes, go ahead.)",
    "change",
    before=Sequence(_E_STEPS),
    after=Sequence(_E_STEPS),
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


_F_STEPS = (
    _ORGS,
    Step(
        "list_groups",
        'list_groups(organization_id=<Acme Studio>, name="Designers")',
        LOOKUP,
        lambda t: {"organization_id": t.org(), "name": DESIGNERS},
    ),
    Step(
        "list_organization_users",
        'list_organization_users(organization_id=<Acme Studio>, filter="Dana Okafor")',
        LOOKUP,
        lambda t: {"organization_id": t.org(), "filter": DANA},
    ),
    Step(
        "update_group",
        'update_group(organization_id=<Acme Studio>, group_id=<Designers>, name="Product Design", '
        "user_ids=[<its members>, <Dana>])",
        CHANGE,
        lambda t: {
            "organization_id": t.org(),
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
    before=Sequence(_F_STEPS),
    after=Sequence(_F_STEPS),
    outcome=_f_outcome,
)

# ---- (g) remove one project's access ----------------------------------------------------------------


def _g_outcome(before: dict[str, Any], after: dict[str, Any]) -> None:
    _expect(
        _links(after) == _links(before) - {(BRAND, DESIGNERS)}, "only Designers' access to Brand Refresh gone"
    )
    _unchanged_but(before, after)


def _unlink(workspace: Callable[[Transcript], int], shown_workspace: str) -> Step:
    return Step(
        "remove_project_group",
        f"remove_project_group(workspace_id={shown_workspace}, project_id=<Brand Refresh>, group_id=<Designers>)",
        CHANGE,
        lambda t: {
            "workspace_id": workspace(t),
            "project_id": t.project(BRAND),
            "group_id": t.group_id(DESIGNERS),
        },
        preview=True,
    )


_G_BEFORE_UNLINK = _unlink(_designers_workspace, "<Designers' workspace>")


def _brand_workspace(t: Transcript) -> int:
    return int(t.entry(BRAND, ("id",), ("get_group",))["workspace_id"])


_G_AFTER_UNLINK = _unlink(_brand_workspace, "<Brand Refresh's, from get_group>")

G = Request(
    "g",
    "remove Designers' access to Brand Refresh (confirmed)",
    "Take the Designers group's access to Brand Refresh away (Acme Studio). (Yes, go ahead.)",
    "change",
    before=Sequence(
        (
            _ORGS,
            Step(
                "list_groups",
                'list_groups(organization_id=<Acme Studio>, name="Designers")',
                LOOKUP,
                lambda t: {"organization_id": t.org(), "name": DESIGNERS},
            ),
            Step(
                "list_projects",
                'list_projects(workspace_id=<Designers\' workspace>, name="Brand Refresh")',
                LOOKUP,
                lambda t: {"workspace_id": _designers_workspace(t), "name": BRAND},
            ),
            _G_BEFORE_UNLINK,
            _confirmed(_G_BEFORE_UNLINK),
        )
    ),
    after=Sequence(
        (
            _ORGS,
            Step(
                "get_group",
                'get_group(organization_id=<Acme Studio>, name="Designers")',
                LOOKUP,
                lambda t: {"organization_id": t.org(), "name": DESIGNERS},
            ),
            _G_AFTER_UNLINK,
            _confirmed(_G_AFTER_UNLINK),
        )
    ),
    outcome=_g_outcome,
)

# ---- (h) delete a group after seeing what it loses ------------------------------------------------

MANAGERS = "Managers"


def _h_truth(store: dict[str, Any]) -> Any:
    return _projects_of(store, MANAGERS)


def _h_before(t: Transcript, store: dict[str, Any]) -> Any:
    group = t.group_id(MANAGERS)
    names = {p["id"]: p["name"] for answer in t.answers("list_projects") for p in answer["projects"]}
    return frozenset(
        names.get(x["project_id"])
        for answer in t.answers("list_project_groups")
        for x in answer["links"]
        if x["group_id"] == group
    )


def _h_after(t: Transcript, store: dict[str, Any]) -> Any:
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


_DELETE = Step(
    "delete_group",
    "delete_group(organization_id=<Acme Studio>, group_id=<Managers>)",
    CHANGE,
    lambda t: {"organization_id": t.org(), "group_id": t.group_id(MANAGERS)},
    preview=True,
)
_FIND_MANAGERS = Step(
    "list_groups",
    'list_groups(organization_id=<Acme Studio>, name="Managers")',
    LOOKUP,
    lambda t: {"organization_id": t.org(), "name": MANAGERS},
)


def _managers_workspace(index: int) -> Args:
    return lambda t: {"workspace_id": t.group(MANAGERS)["workspace_ids"][index]}


def _projects_reached(index: int, which: str) -> tuple[Step, Step]:
    """The previous release's preview names no project: find those of one of Managers' workspaces."""
    listed = Step(
        "list_projects", f"list_projects(workspace_id=<{which}>)", EXTRA, _managers_workspace(index)
    )

    def links(t: Transcript) -> dict[str, Any]:
        # The latest list_projects answer is this workspace's: the two steps come in pairs.
        projects = t.last("list_projects")["projects"]
        return {**_managers_workspace(index)(t), "project_ids": [p["id"] for p in projects]}

    return listed, Step(
        "list_project_groups",
        f"list_project_groups(workspace_id=<{which}>, project_ids=<every project listed>)",
        EXTRA,
        links,
    )


H = Request(
    "h",
    "delete a group after seeing what it loses (preview, then confirmed)",
    "Delete the Managers group in Acme Studio, but show me first what it loses. (Then: yes.)",
    "change",
    before=Sequence(
        (
            _ORGS,
            _FIND_MANAGERS,
            dataclasses.replace(
                _DELETE,
                note='its preview names no project: "every project access granted through this group"',
            ),
            *_projects_reached(0, "Managers' first workspace"),
            *_projects_reached(1, "Managers' second workspace"),
            _confirmed(_DELETE),
        ),
        _h_before,
    ),
    after=Sequence(
        (
            _ORGS,
            _FIND_MANAGERS,
            dataclasses.replace(_DELETE, note="its preview names the members, workspaces and projects lost"),
            _confirmed(_DELETE),
        ),
        _h_after,
    ),
    truth=_h_truth,
    outcome=_h_outcome,
)

REQUESTS: list[Request] = [A, B, C, D, E, F, G, H]


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
    if request.truth is not None:
        assert sequence.answer is not None, f"request ({request.key}) has a truth but no answer"
        wanted, got = request.truth(initial), sequence.answer(transcript, initial)
        _expect(got == wanted, f"{where}: the answer read {got!r}, the truth is {wanted!r}")
    if request.outcome is not None:
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
            lines.append(f"- {which}, {len(sequence.steps)} calls:")
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
