"""The opt-in large organization (Megacorp Holdings) and the ``ignore_per_page`` fault.

Sizes are read the way a client would: through the endpoints, paging where Toggl pages.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, SandboxThread, Store, demo
from toggl_groups_mcp.sandbox.__main__ import build_parser, config_from_args
from toggl_groups_mcp.sandbox.demo import build_demo_state

MEGA_USERS = f"/organizations/{demo.ORG_MEGACORP}/users"
MEGA_GROUPS = f"/organizations/{demo.ORG_MEGACORP}/groups"
ACME_USERS = f"/organizations/{demo.ORG_ACME}/users"


@pytest.fixture(scope="module")
def large_served() -> Iterator[SandboxThread]:
    with SandboxThread(SandboxConfig(large_org=True)) as sb:
        yield sb


@pytest.fixture(scope="module")
def _large_client(large_served: SandboxThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=large_served.url, auth=large_served.auth, timeout=10.0) as client:
        yield client


@pytest.fixture
def large(large_served: SandboxThread) -> Iterator[SandboxThread]:
    large_served.sandbox.reset()
    yield large_served
    large_served.sandbox.reset()


@pytest.fixture
def mega(large: SandboxThread, _large_client: httpx.Client) -> httpx.Client:
    """An authenticated client on a sandbox with the large organization, reset around each test."""
    return _large_client


def all_pages(
    api: httpx.Client, path: str, params: dict[str, Any] | None = None, *, limit: int = 100
) -> list[list[dict[str, Any]]]:
    """Every page until an empty one, as a careful client pages (never trusting a page's size)."""
    pages: list[list[dict[str, Any]]] = []
    for page in range(1, limit + 1):
        response = api.get(path, params={**(params or {}), "page": page})
        assert response.status_code == 200, response.text
        rows = response.json()
        if not rows:
            return pages
        pages.append(rows)
    pytest.fail(f"{path} still answered after {limit} pages")


# ---- the data, built in memory -------------------------------------------------------------------


def test_the_large_org_is_absent_by_default(api: httpx.Client) -> None:
    assert demo.ORG_MEGACORP not in build_demo_state().organizations
    assert demo.ORG_MEGACORP not in [o["id"] for o in api.get("/me/organizations").json()]
    assert api.get(MEGA_GROUPS).status_code == 403
    assert api.get(f"/workspaces/{demo.WS_MEGACORP_DELIVERY}/projects").status_code == 403


def test_two_builds_are_equal_and_the_small_demo_is_untouched() -> None:
    first = build_demo_state(large_org=True).to_json()
    assert first == build_demo_state(large_org=True).to_json()
    small = build_demo_state().to_json()
    for table in (
        "users",
        "organizations",
        "members",
        "workspaces",
        "projects",
        "groups",
        "project_groups",
        "project_users",
    ):
        assert first[table][: len(small[table])] == small[table], table
    # New ids do not depend on the option.
    for counter in (
        "me_user_id",
        "default_workspace_id",
        "next_group_id",
        "next_project_group_id",
        "next_project_user_id",
    ):
        assert first[counter] == small[counter]


def test_the_large_org_ids_are_apart_from_the_small_demo() -> None:
    small, large = build_demo_state(), build_demo_state(large_org=True)
    for table in ("users", "members", "projects", "groups", "project_groups", "project_users"):
        added = set(getattr(large, table)) - set(getattr(small, table))
        assert len(added) == len(getattr(large, table)) - len(getattr(small, table)), table
    assert max(g for g in large.groups) < demo.FIRST_NEW_GROUP_ID
    assert max(pg for pg in large.project_groups) < demo.FIRST_NEW_PROJECT_GROUP_ID
    assert max(pu for pu in large.project_users) < demo.FIRST_NEW_PROJECT_USER_ID


def test_the_large_org_has_the_documented_shape() -> None:
    state = build_demo_state(large_org=True)
    members = [m for m in state.members.values() if m.organization_id == demo.ORG_MEGACORP]
    assert len(members) == demo.MEGACORP_USERS == 3000
    assert len({state.users[m.user_id].email for m in members}) == 3000
    assert len({state.users[m.user_id].fullname for m in members}) == 3000
    me = next(m for m in members if m.user_id == demo.USER_ALEX)
    assert (me.admin, me.owner) == (True, False)
    owner = next(m for m in members if m.owner)
    assert state.users[owner.user_id].fullname == "Aaron Abbott" == demo.megacorp_user_name(0)
    assert any(m.inactive for m in members) and any(not m.joined for m in members)

    projects = [p for p in state.projects.values() if p.workspace_id in demo.MEGACORP_WORKSPACES]
    assert len(projects) == demo.MEGACORP_PROJECTS == 1500
    assert Counter(p.workspace_id for p in projects) == demo.MEGACORP_PROJECTS_PER_WORKSPACE
    assert sum(not p.active for p in projects) == demo.MEGACORP_ARCHIVED_PROJECTS == 15
    assert state.projects[demo.PROJECT_MEGACORP_FIRST].name == "Atlas Migration 0001"

    groups = [g for g in state.groups.values() if g.organization_id == demo.ORG_MEGACORP]
    assert len(groups) == demo.MEGACORP_GROUPS == 300
    assert len({g.name.casefold() for g in groups}) == 300
    assert all(len(set(g.user_ids)) == len(g.user_ids) == demo.MEGACORP_GROUP_SIZE for g in groups)
    assert state.groups[demo.GROUP_MEGACORP_FIRST].name == "Accounting Alpha"
    assert state.groups[demo.GROUP_MEGACORP_LAST].name == "Security Oscar"
    generated = {m.user_id for m in members} - {demo.USER_ALEX}
    assert {u for g in groups for u in g.user_ids} == generated  # every generated user is in a group

    links = [pg for pg in state.project_groups.values() if pg.group_id in {g.id for g in groups}]
    assert len(links) == demo.MEGACORP_PROJECT_LINKS == 1650
    assert len({(pg.project_id, pg.group_id) for pg in links}) == 1650
    per_group = Counter(pg.group_id for pg in links)
    assert set(per_group.values()) == set(range(demo.MEGACORP_LINKS_MIN, demo.MEGACORP_LINKS_MAX + 1))
    for pg in links:
        assert state.projects[pg.project_id].workspace_id == pg.workspace_id
        assert state.groups[pg.group_id].workspace_ids == [pg.workspace_id]


# ---- the endpoints at that size ------------------------------------------------------------------


def test_three_thousand_users_come_fifty_a_page(mega: httpx.Client) -> None:
    pages = all_pages(mega, MEGA_USERS)
    assert len(pages) == 60
    assert all(len(page) == 50 for page in pages)
    users = [u for page in pages for u in page]
    assert len({u["user_id"] for u in users}) == len({u["id"] for u in users}) == 3000
    assert [u["name"].casefold() for u in users] == sorted(u["name"].casefold() for u in users)
    assert len(all_pages(mega, MEGA_USERS, {"per_page": 200})) == 15
    aaron = next(u for u in users if u["user_id"] == demo.USER_MEGACORP_OWNER)
    assert aaron["owner"] and aaron["groups"] == [
        {"group_id": demo.GROUP_MEGACORP_FIRST, "name": "Accounting Alpha"},
        {"group_id": demo.GROUP_MEGACORP_LAST, "name": "Security Oscar"},
    ]
    assert len(aaron["workspaces"]) == 3


def test_fifteen_hundred_projects_come_151_a_page(mega: httpx.Client) -> None:
    total = 0
    for workspace_id, expected in demo.MEGACORP_PROJECTS_PER_WORKSPACE.items():
        pages = all_pages(mega, f"/workspaces/{workspace_id}/projects", {"active": "both"})
        assert all(len(page) <= 151 for page in pages)
        assert [len(page) for page in pages[:-1]] == [151] * (len(pages) - 1)
        projects = {p["id"] for page in pages for p in page}
        assert len(projects) == expected
        total += len(projects)
    assert total == 1500
    active = all_pages(mega, f"/workspaces/{demo.WS_MEGACORP_DELIVERY}/projects", {"per_page": 200})
    assert sum(len(page) for page in active) == 1200 - 12  # archived ones only with active=false/both


def test_all_three_hundred_groups_come_in_one_answer(mega: httpx.Client) -> None:
    response = mega.get(MEGA_GROUPS)
    assert response.status_code == 200
    groups = response.json()
    assert len(groups) == 300
    assert len({g["name"] for g in groups}) == 300
    assert all(len(g["users"]) == 15 and len(g["workspaces"]) == 1 for g in groups)
    # Toggl does not page groups: page and per_page change nothing.
    assert mega.get(MEGA_GROUPS, params={"page": 2, "per_page": 10}).json() == groups
    per_workspace = {
        w: len(mega.get(f"/organizations/{demo.ORG_MEGACORP}/workspaces/{w}/groups").json())
        for w in demo.MEGACORP_WORKSPACES
    }
    assert per_workspace == {
        demo.WS_MEGACORP_DELIVERY: 240,
        demo.WS_MEGACORP_RESEARCH: 30,
        demo.WS_MEGACORP_INTERNAL: 30,
    }


def test_project_links_are_read_200_project_ids_at_a_time(mega: httpx.Client) -> None:
    links = []
    for workspace_id in demo.MEGACORP_WORKSPACES:
        projects = [
            p["id"]
            for page in all_pages(
                mega, f"/workspaces/{workspace_id}/projects", {"active": "both", "per_page": 200}
            )
            for p in page
        ]
        for start in range(0, len(projects), 200):
            chunk = projects[start : start + 200]
            response = mega.get(
                f"/workspaces/{workspace_id}/project_groups",
                params={"project_ids": ",".join(map(str, chunk))},
            )
            assert response.status_code == 200
            assert {link["pid"] for link in response.json()} <= set(chunk)
            links += response.json()
    assert len(links) == len({link["id"] for link in links}) == 1650
    mine = sorted(link["pid"] for link in links if link["group_id"] == demo.GROUP_MEGACORP_FIRST)
    assert mine == sorted(demo.megacorp_group_projects(0))


def test_megacorp_is_one_more_organization_where_alex_is_admin(mega: httpx.Client) -> None:
    orgs = {o["id"]: o for o in mega.get("/me/organizations").json()}
    assert set(orgs) == {demo.ORG_ACME, demo.ORG_GLOBEX, demo.ORG_INITECH, demo.ORG_MEGACORP}
    megacorp = orgs[demo.ORG_MEGACORP]
    assert (megacorp["name"], megacorp["admin"], megacorp["user_count"]) == ("Megacorp Holdings", True, 3000)
    workspaces = {w["id"] for w in mega.get("/me/workspaces").json()}
    assert set(demo.MEGACORP_WORKSPACES) <= workspaces


# ---- reset and persistence -----------------------------------------------------------------------


def test_reset_restores_the_large_org(large: SandboxThread, mega: httpx.Client) -> None:
    assert mega.delete(f"{MEGA_GROUPS}/{demo.GROUP_MEGACORP_FIRST}").status_code == 200
    assert mega.post(MEGA_GROUPS, json={"name": "Brand New"}).status_code == 200
    assert len(mega.get(MEGA_GROUPS).json()) == 300
    with httpx.Client(base_url=large.control_url, timeout=10.0) as control:
        assert control.post("/reset", json={}).json() == {"ok": True}
    groups = {g["group_id"]: g["name"] for g in mega.get(MEGA_GROUPS).json()}
    assert len(groups) == 300 and groups[demo.GROUP_MEGACORP_FIRST] == "Accounting Alpha"
    assert large.sandbox.store.snapshot() == build_demo_state(large_org=True).to_json()


def test_a_state_file_keeps_the_large_org_and_reset_writes_it_back(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store = Store("t", state, large_org=True)
    store.delete_group(demo.ORG_MEGACORP, demo.GROUP_MEGACORP_FIRST)
    reloaded = Store("t", state)  # the file is the truth, whatever the option says
    assert reloaded.snapshot() == store.snapshot()
    assert len(reloaded.list_groups(demo.ORG_MEGACORP, name=None, workspace_id=None)) == 299
    store.reset()
    saved = json.loads(state.read_text())
    assert saved == build_demo_state(large_org=True).to_json()


def test_an_existing_small_state_file_is_loaded_as_it_is(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    Store("t", state)
    store = Store("t", state, large_org=True)
    assert demo.ORG_MEGACORP not in store.my_organization_ids()
    store.reset()
    assert demo.ORG_MEGACORP in store.my_organization_ids()


# ---- ignore_per_page ------------------------------------------------------------------------------


def test_ignore_per_page_answers_every_user_and_project_on_page_one(
    sb: SandboxThread, api: httpx.Client, control: httpx.Client
) -> None:
    assert len(api.get(ACME_USERS, params={"per_page": 2}).json()) == 2
    answer = control.post("/faults", json={"ignore_per_page": True})
    assert answer.status_code == 200 and answer.json()["ignore_per_page"] is True
    assert len(api.get(ACME_USERS, params={"per_page": 2}).json()) == 6
    assert api.get(ACME_USERS, params={"per_page": 2, "page": 2}).json() == []
    projects = api.get(f"/workspaces/{demo.WS_ACME_ENGINEERING}/projects", params={"per_page": 1})
    assert len(projects.json()) == 2
    # page and per_page are still checked.
    assert api.get(ACME_USERS, params={"per_page": 0}).status_code == 400
    sb.sandbox.reset()
    assert sb.sandbox.faults.ignore_per_page is False
    assert len(api.get(ACME_USERS, params={"per_page": 2}).json()) == 2


def test_ignore_per_page_must_be_a_boolean(control: httpx.Client) -> None:
    response = control.post("/faults", json={"ignore_per_page": 1})
    assert response.status_code == 400
    assert control.get("/faults").json()["ignore_per_page"] is False


def test_ignore_per_page_from_the_config_answers_all_three_thousand(
    large: SandboxThread, mega: httpx.Client
) -> None:
    large.sandbox.faults.update(ignore_per_page=True)
    assert len(mega.get(MEGA_USERS, params={"per_page": 50}).json()) == 3000
    delivery = mega.get(f"/workspaces/{demo.WS_MEGACORP_DELIVERY}/projects", params={"active": "both"})
    assert len(delivery.json()) == 1200
    assert Sandbox(SandboxConfig(ignore_per_page=True)).faults.ignore_per_page is True


def test_the_cli_flags_turn_both_on() -> None:
    config = config_from_args(build_parser().parse_args(["--large-org", "--ignore-per-page"]))
    assert (config.large_org, config.ignore_per_page) == (True, True)
    config = config_from_args(build_parser().parse_args([]))
    assert (config.large_org, config.ignore_per_page) == (False, False)
