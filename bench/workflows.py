"""Toggl requests per workflow: each workflow scripted through a real MCP client (the SDK's
``Client``, handshake era 2025-11-25) against ``python -m toggl_groups_mcp`` over stdio, counting
the requests the sandbox received, beside the minimum a careful hand-written script needs.

Every workflow gets a freshly reset sandbox (demo data, empty request log) and a freshly spawned
server, so no cache carries over from one workflow to the next: the count is what a workflow costs
from a cold server. The server gets TOGGL_ORGANIZATION_ID / TOGGL_WORKSPACE_ID (Acme Studio,
Acme Design), the same knowledge the hand-written script is credited with, and pacing off
(TOGGL_RATE_PER_SEC=0: pacing changes timing, not counts).

    from bench.workflows import run_workflows
    run_workflows()            # {"rename_group": (2, 2), ...}: (count, minimum) per workflow

Importing this module starts nothing.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from toggl_groups_mcp.sandbox import demo

from . import wire

ArgsFor = Callable[[list[int]], dict[str, Any]]
Check = Callable[[Any, dict[str, Any], list[int]], None]


@dataclass(frozen=True)
class Workflow:
    name: str
    label: str
    minimum: int
    reasoning: str
    tool: str
    args: ArgsFor
    check: Check
    # Projects to create in the store first: (how many, group that already has access, how many of them).
    projects: tuple[int, int | None, int] = (0, None, 0)


@dataclass
class WorkflowRun:
    workflow: Workflow
    counts: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # the last run's requests, "METHOD /path"

    @property
    def count(self) -> int:
        return int(statistics.median(self.counts))


# ---- outcome checks: a count is only worth reporting if the workflow did what it says ----------


def _group(store: dict[str, Any], group_id: int) -> dict[str, Any] | None:
    return next((g for g in store["groups"] if g["id"] == group_id), None)


def _named(store: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((g for g in store["groups"] if g["name"] == name and g["organization_id"] == wire.ORG), None)


def _links(store: dict[str, Any], group_id: int) -> set[int]:
    return {pg["project_id"] for pg in store["project_groups"] if pg["group_id"] == group_id}


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"workflow outcome wrong: {what}")


def _check_members(result: Any, store: dict[str, Any], _: list[int]) -> None:
    groups = result["groups"]
    _expect(len(groups) == 1, f"one group listed, got {len(groups)}")
    members = {m["user_id"] for m in groups[0]["members"]}
    _expect(members == {demo.USER_BIANCA, demo.USER_CHEN}, f"Designers' members, got {members}")


def _check_created(result: Any, store: dict[str, Any], _: list[int]) -> None:
    group = _named(store, "Launch Team")
    _expect(group is not None, "group Launch Team exists")
    assert group is not None
    _expect(len(group["user_ids"]) == 3, "Launch Team has three members")


def _check_renamed(result: Any, store: dict[str, Any], _: list[int]) -> None:
    group = _group(store, demo.GROUP_DESIGNERS)
    _expect(group is not None and group["name"] == "Design Team", "Designers renamed to Design Team")
    assert group is not None
    _expect(group["user_ids"] == [demo.USER_BIANCA, demo.USER_CHEN], "members kept by the rename")
    _expect(group["workspace_ids"] == [demo.WS_ACME_DESIGN], "workspaces kept by the rename")


def _check_added(result: Any, store: dict[str, Any], _: list[int]) -> None:
    group = _group(store, demo.GROUP_DESIGNERS)
    assert group is not None
    _expect({demo.USER_DANA, demo.USER_ALEX} <= set(group["user_ids"]), "two members added")
    _expect(len(group["user_ids"]) == 4, "nobody else changed")


def _check_one_link(result: Any, store: dict[str, Any], _: list[int]) -> None:
    _expect(
        demo.PROJECT_BRAND_REFRESH in _links(store, demo.GROUP_MANAGERS), "Managers can access Brand Refresh"
    )


def _check_twenty(result: Any, store: dict[str, Any], projects: list[int]) -> None:
    _expect(set(projects) <= _links(store, demo.GROUP_DESIGNERS), "Designers can access all 20 projects")
    skipped = result.get("skipped") or {}
    _expect(
        len(result["done"]) == 15 and skipped.get("already linked", []) == projects[:5], "15 done, 5 skipped"
    )


def _check_unlinked(result: Any, store: dict[str, Any], _: list[int]) -> None:
    _expect(demo.PROJECT_BRAND_REFRESH not in _links(store, demo.GROUP_DESIGNERS), "link removed")
    _expect(demo.PROJECT_WEBSITE_REDESIGN in _links(store, demo.GROUP_DESIGNERS), "other link kept")


def _check_deleted(result: Any, store: dict[str, Any], _: list[int]) -> None:
    _expect(_group(store, demo.GROUP_MANAGERS) is None, "Managers deleted")


def _check_offboarded(result: Any, store: dict[str, Any], _: list[int]) -> None:
    holding = [
        g["name"]
        for g in store["groups"]
        if demo.USER_ALEX in g["user_ids"] and g["organization_id"] == wire.ORG
    ]
    _expect(not holding, f"Alex in no Acme group, still in {holding}")
    _expect(sorted(result["done"]) == sorted([demo.GROUP_ENGINEERS, demo.GROUP_MANAGERS]), "left two groups")


# ---- the workflows and their minimums -----------------------------------------------------------
# Each minimum is what a careful hand-written script needs that knows the organization and
# workspace ids (as the server does from its environment) and the ids the user named, and keeps
# Toggl's documented rules (docs/reference: shared/reference/toggl-api.md).

WORKFLOWS: list[Workflow] = [
    Workflow(
        "list_members",
        "list a group's members",
        1,
        "GET /organizations/{org}/groups?name=Designers. Toggl has no single-group GET; "
        "one filtered list carries the members.",
        "list_groups",
        lambda _: {"name": "Designers"},
        _check_members,
    ),
    Workflow(
        "create_group_3_members",
        "create a group with three members",
        1,
        "POST /organizations/{org}/groups with name and users in the body.",
        "create_group",
        lambda _: {"name": "Launch Team", "user_ids": [demo.USER_BIANCA, demo.USER_CHEN, demo.USER_DANA]},
        _check_created,
    ),
    Workflow(
        "rename_group",
        "rename a group",
        2,
        "PUT takes the whole group and Toggl does not document what omitted users/workspaces do, "
        "so a safe rename first reads the group (GET groups) and then PUTs name, users and "
        "workspaces. PATCH cannot rename.",
        "update_group",
        lambda _: {"group_id": demo.GROUP_DESIGNERS, "name": "Design Team"},
        _check_renamed,
    ),
    Workflow(
        "add_two_members",
        "add two members",
        1,
        "One PATCH with one operation {op: add, path: /users, value: [a, b]}; PATCH leaves the "
        "rest of the group alone, so nothing needs reading first.",
        "patch_group",
        lambda _: {"group_id": demo.GROUP_DESIGNERS, "add_user_ids": [demo.USER_DANA, demo.USER_ALEX]},
        _check_added,
    ),
    Workflow(
        "grant_one_project",
        "give a group access to one project",
        1,
        "POST /workspaces/{ws}/project_groups {group_id, project_id}.",
        "add_project_group",
        lambda _: {"group_id": demo.GROUP_MANAGERS, "project_id": demo.PROJECT_BRAND_REFRESH},
        _check_one_link,
    ),
    Workflow(
        "grant_20_projects_5_linked",
        "give a group access to 20 projects, 5 already linked",
        16,
        "One GET project_groups?project_ids=<all 20> finds the 5 existing links, then one POST per "
        "missing link (15): 16. POSTing all 20 blindly costs 20 (the 5 answer 400) and repeats "
        "payloads Toggl refused.",
        "add_group_to_projects",
        lambda projects: {"group_id": demo.GROUP_DESIGNERS, "project_ids": projects},
        _check_twenty,
        projects=(20, demo.GROUP_DESIGNERS, 5),
    ),
    Workflow(
        "remove_project_access",
        "remove a group from a project (project and group known)",
        2,
        "DELETE needs the project_group_id, which only GET project_groups?project_ids=P tells "
        "(POST does not return it): GET + DELETE.",
        "remove_project_group",
        lambda _: {
            "project_id": demo.PROJECT_BRAND_REFRESH,
            "group_id": demo.GROUP_DESIGNERS,
            "confirm": True,
        },
        _check_unlinked,
    ),
    Workflow(
        "delete_group_confirmed",
        "delete a group (confirmed)",
        1,
        "DELETE /organizations/{org}/groups/{id}; the human already confirmed, so no preview read.",
        "delete_group",
        lambda _: {"group_id": demo.GROUP_MANAGERS, "confirm": True},
        _check_deleted,
    ),
    Workflow(
        "offboard_user",
        "offboard a user from every group (confirmed)",
        8,
        "One GET groups finds the groups holding the user (Alex: Engineers, Managers); the result "
        "says which doors stay open, so the workspaces (1), and in each of Acme's two workspaces the "
        "person's direct memberships (project_users?user_id=) and the project list (names, public "
        "projects): 4; then one PATCH remove /users per group: 1 + 1 + 4 + 2.",
        "remove_user_from_groups",
        lambda _: {"user_id": demo.USER_ALEX, "confirm": True},
        _check_offboarded,
    ),
]

_NUMBER = re.compile(r"/\d+(?=/|$)")


def _describe(entry: dict[str, Any]) -> str:
    path = _NUMBER.sub("/{id}", entry["path"].removeprefix("/api/v9"))
    query = "?" + ",".join(sorted(entry["query"])) if entry.get("query") else ""
    return f"{entry['method']} {path}{query} -> {entry['status']}"


async def _run_once(sandbox_thread: Any, workflow: Workflow) -> tuple[int, list[str]]:
    from mcp import Client

    sandbox = sandbox_thread.sandbox
    sandbox.reset()
    count, linked_to, linked = workflow.projects
    projects = wire.add_projects(sandbox, count, linked_to=linked_to, linked=linked) if count else []
    env = wire.child_env(sandbox_thread.url, sandbox_thread.token, rate_per_sec=0)
    async with Client(wire.stdio_params(wire.OURS_ARGS, env), mode="legacy") as client:
        result = await client.call_tool(workflow.tool, workflow.args(projects))
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise RuntimeError(f"workflow {workflow.name}: {workflow.tool} answered an error: {text}")
    log = sandbox.request_log()
    workflow.check(result.structured_content or {}, sandbox.store.snapshot(), projects)
    return len(log), [_describe(e) for e in log]


async def measure_workflows(
    sandbox_thread: Any, *, repeats: int = 1, names: list[str] | None = None
) -> list[WorkflowRun]:
    """Run each workflow ``repeats`` times (fresh sandbox state and server each time)."""
    runs = [WorkflowRun(w) for w in WORKFLOWS if names is None or w.name in names]
    for _ in range(repeats):
        for run in runs:
            count, requests = await _run_once(sandbox_thread, run.workflow)
            run.counts.append(count)
            run.requests = requests
    sandbox_thread.sandbox.reset()
    return runs


async def run_workflows_async(
    sandbox_thread: Any = None, *, repeats: int = 1, names: list[str] | None = None
) -> dict[str, tuple[int, int]]:
    """The async form of ``run_workflows``, for callers already inside an event loop."""
    if sandbox_thread is None:
        from toggl_groups_mcp.sandbox import SandboxThread

        with SandboxThread() as own:
            runs = await measure_workflows(own, repeats=repeats, names=names)
    else:
        runs = await measure_workflows(sandbox_thread, repeats=repeats, names=names)
    return {run.workflow.name: (run.count, run.workflow.minimum) for run in runs}


def run_workflows(
    sandbox_thread: Any = None, *, repeats: int = 1, names: list[str] | None = None
) -> dict[str, tuple[int, int]]:
    """{workflow name: (Toggl requests the server made (median over ``repeats``), the minimum)}.

    ``sandbox_thread``: a running ``toggl_groups_mcp.sandbox.SandboxThread`` to use (it is reset
    before each workflow and left reset); None starts and stops one. ``names`` picks workflows.
    Raises RuntimeError when a workflow did not achieve its outcome. Spawns one server per
    workflow and repeat, about a second each.
    """
    return anyio.run(
        lambda: run_workflows_async(sandbox_thread, repeats=repeats, names=names), backend="asyncio"
    )


MINIMUMS: dict[str, int] = {w.name: w.minimum for w in WORKFLOWS}
