"""Project users (direct project members): listing with its filters and group members, adding,
changing and removing one, Toggl's errors, persistence, and the fault pipeline around them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import SandboxConfig, SandboxStateError, SandboxThread, Store, demo
from toggl_groups_mcp.sandbox.demo import build_demo_state

ENGINEERING = demo.WS_ACME_ENGINEERING
DESIGN = demo.WS_ACME_DESIGN
USERS = f"/workspaces/{ENGINEERING}/project_users"
DESIGN_USERS = f"/workspaces/{DESIGN}/project_users"
ROW_KEYS = {
    "id",
    "project_id",
    "user_id",
    "workspace_id",
    "manager",
    "group_id",
    "gid",
    "rate",
    "rate_last_updated",
    "labor_cost",
    "labor_cost_last_updated",
    "at",
}
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


def listed(api: httpx.Client, path: str = USERS, **params: Any) -> list[dict[str, Any]]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def add(api: httpx.Client, path: str = USERS, **body: Any) -> httpx.Response:
    return api.post(path, json=body)


def test_adding_a_project_user_answers_the_row_with_every_documented_field(api: httpx.Client) -> None:
    response = add(
        api,
        DESIGN_USERS,
        project_id=demo.PROJECT_BRAND_REFRESH,
        user_id=demo.USER_DANA,
        manager=True,
        rate=80,
        rate_change_mode="start-today",
        labor_cost=45.5,
    )
    assert response.status_code == 200, response.text
    row = response.json()
    assert set(row) == ROW_KEYS
    assert row["id"] == demo.FIRST_NEW_PROJECT_USER_ID
    assert (row["project_id"], row["user_id"], row["workspace_id"]) == (
        demo.PROJECT_BRAND_REFRESH,
        demo.USER_DANA,
        DESIGN,
    )
    assert (row["manager"], row["rate"], row["labor_cost"]) == (True, 80.0, 45.5)
    assert (row["group_id"], row["gid"]) == (None, None)
    assert row["rate_last_updated"] and row["labor_cost_last_updated"] and row["at"]
    assert listed(api, DESIGN_USERS, project_ids=demo.PROJECT_BRAND_REFRESH)[0] == row


def test_a_row_without_a_rate_has_no_rate_dates_and_is_no_manager(api: httpx.Client) -> None:
    row = add(api, DESIGN_USERS, project_id=demo.PROJECT_BRAND_REFRESH, user_id=demo.USER_DANA).json()
    assert (row["manager"], row["rate"], row["rate_last_updated"]) == (False, None, None)
    assert (row["labor_cost"], row["labor_cost_last_updated"]) == (None, None)


def test_listing_narrows_by_project_ids_and_by_user_id(api: httpx.Client) -> None:
    brand = add(api, DESIGN_USERS, project_id=demo.PROJECT_BRAND_REFRESH, user_id=demo.USER_DANA).json()
    website = add(api, DESIGN_USERS, project_id=demo.PROJECT_WEBSITE_REDESIGN, user_id=demo.USER_DANA).json()
    other = add(api, DESIGN_USERS, project_id=demo.PROJECT_WEBSITE_REDESIGN, user_id=demo.USER_HANA)
    assert other.status_code == 400  # Hana is in Globex, not Acme
    elias = add(api, DESIGN_USERS, project_id=demo.PROJECT_WEBSITE_REDESIGN, user_id=demo.USER_ELIAS).json()
    both = f"{demo.PROJECT_BRAND_REFRESH},{demo.PROJECT_WEBSITE_REDESIGN}"
    assert [r["id"] for r in listed(api, DESIGN_USERS, project_ids=both) if r["id"] >= brand["id"]] == [
        brand["id"],
        website["id"],
        elias["id"],
    ]
    assert [r["id"] for r in listed(api, DESIGN_USERS, project_ids=demo.PROJECT_BRAND_REFRESH)] == [
        r["id"] for r in listed(api, DESIGN_USERS) if r["project_id"] == demo.PROJECT_BRAND_REFRESH
    ]
    assert [r["id"] for r in listed(api, DESIGN_USERS, user_id=demo.USER_DANA)] == [
        brand["id"],
        website["id"],
    ]
    assert [
        r["id"]
        for r in listed(api, DESIGN_USERS, user_id=demo.USER_DANA, project_ids=demo.PROJECT_BRAND_REFRESH)
    ] == [brand["id"]]
    # Another workspace's rows are not this workspace's.
    assert demo.USER_DANA not in {r["user_id"] for r in listed(api, USERS) if r["id"] >= brand["id"]}


def test_without_filters_the_listing_holds_every_direct_member_of_the_workspace(api: httpx.Client) -> None:
    before = {r["id"] for r in listed(api, DESIGN_USERS)}
    new = add(api, DESIGN_USERS, project_id=demo.PROJECT_WEBSITE_REDESIGN, user_id=demo.USER_FARAH).json()
    after = listed(api, DESIGN_USERS)
    assert {r["id"] for r in after} == before | {new["id"]}
    assert all(r["workspace_id"] == DESIGN and r["group_id"] is None for r in after)


def test_with_group_members_adds_a_row_per_person_per_linked_group(api: httpx.Client) -> None:
    direct = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_BIANCA, rate=70).json()
    plain = listed(api, project_ids=demo.PROJECT_API_PLATFORM)
    assert direct in plain and all(r["group_id"] is None for r in plain)
    rows = listed(api, project_ids=demo.PROJECT_API_PLATFORM, with_group_members="true")
    assert [r for r in rows if r["group_id"] is None] == plain
    through_groups = {(r["group_id"], r["user_id"]): r for r in rows if r["group_id"] is not None}
    # Engineers (Alex, Dana, Elias) and Managers (Alex, Farah) are linked to API Platform.
    assert set(through_groups) == {
        (demo.GROUP_ENGINEERS, demo.USER_ALEX),
        (demo.GROUP_ENGINEERS, demo.USER_DANA),
        (demo.GROUP_ENGINEERS, demo.USER_ELIAS),
        (demo.GROUP_MANAGERS, demo.USER_ALEX),
        (demo.GROUP_MANAGERS, demo.USER_FARAH),
    }
    links = {
        link["group_id"]: link["id"]
        for link in api.get(
            f"/workspaces/{ENGINEERING}/project_groups", params={"project_ids": demo.PROJECT_API_PLATFORM}
        ).json()
    }
    for (group_id, _), row in through_groups.items():
        assert set(row) == ROW_KEYS
        # Such a row carries the id of the link that grants it, and no rate of its own.
        assert (row["id"], row["gid"], row["project_id"], row["workspace_id"]) == (
            links[group_id],
            group_id,
            demo.PROJECT_API_PLATFORM,
            ENGINEERING,
        )
        assert (row["manager"], row["rate"], row["labor_cost"]) == (False, None, None)


def test_with_group_members_honours_user_id_and_false_means_direct_only(api: httpx.Client) -> None:
    rows = listed(api, project_ids=demo.PROJECT_API_PLATFORM, user_id=demo.USER_ALEX, with_group_members="1")
    assert {(r["group_id"], r["user_id"]) for r in rows if r["group_id"]} == {
        (demo.GROUP_ENGINEERS, demo.USER_ALEX),
        (demo.GROUP_MANAGERS, demo.USER_ALEX),
    }
    assert all(r["group_id"] is None for r in listed(api, with_group_members="false"))


def test_a_group_member_row_is_not_a_membership_delete_can_remove(api: httpx.Client) -> None:
    rows = listed(api, project_ids=demo.PROJECT_API_PLATFORM, with_group_members="true")
    link_id = next(r["id"] for r in rows if r["group_id"] == demo.GROUP_ENGINEERS)
    response = api.delete(f"{USERS}/{link_id}")
    assert (response.status_code, response.json()) == (404, "Project user not found")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"project_ids": "1,x"}, "Invalid number 'x' in project_ids"),
        ({"user_id": "bob"}, "Invalid number 'bob' for parameter user_id"),
        ({"with_group_members": "maybe"}, "Invalid boolean 'maybe' for parameter with_group_members"),
    ],
)
def test_a_bad_query_answers_400_with_a_plain_string(
    api: httpx.Client, query: dict[str, str], message: str
) -> None:
    response = api.get(USERS, params=query)
    assert (response.status_code, response.json()) == (400, message)


def test_adding_validates_types_project_user_and_duplicates(api: httpx.Client) -> None:
    def post(**body: Any) -> tuple[int, Any]:
        response = add(api, **body)
        return response.status_code, response.json()

    project = demo.PROJECT_API_PLATFORM
    assert post(project_id=str(project), user_id=demo.USER_DANA) == (400, "Invalid JSON input")
    assert post(project_id=project, user_id=demo.USER_DANA, manager="yes") == (400, "Invalid JSON input")
    assert post(project_id=project, user_id=demo.USER_DANA, rate="90") == (400, "Invalid JSON input")
    assert post(project_id=project, user_id=demo.USER_DANA, labor_cost=True) == (400, "Invalid JSON input")
    assert post(project_id=project, user_id=demo.USER_DANA, rate=-1) == (400, "rate must not be negative")
    assert post(project_id=project, user_id=demo.USER_DANA, rate_change_mode="yesterday") == (
        400,
        "rate_change_mode must be one of start-today, override-current, override-all",
    )
    assert post(project_id=demo.PROJECT_BRAND_REFRESH, user_id=demo.USER_DANA) == (400, "Project not found")
    assert post(project_id=999, user_id=demo.USER_DANA) == (400, "Project not found")
    assert post(user_id=demo.USER_DANA) == (400, "Project not found")
    assert post(project_id=project, user_id=demo.USER_HANA) == (
        400,
        f"User {demo.USER_HANA} not exists in the organization {demo.ORG_ACME}",
    )
    assert api.post(USERS, content=b"[1]", headers={"Content-Type": "application/json"}).json() == (
        "Invalid JSON input"
    )
    assert api.post(USERS, content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    # Nothing of the refused requests was kept; then one succeeds and its twin is refused.
    assert post(project_id=project, user_id=demo.USER_CHEN)[0] == 200
    assert post(project_id=project, user_id=demo.USER_CHEN, rate=10) == (
        400,
        "User is already a member of this project",
    )
    assert [r["user_id"] for r in listed(api, project_ids=project)].count(demo.USER_CHEN) == 1


def test_a_person_reached_through_a_group_can_still_be_added_directly(api: httpx.Client) -> None:
    # Elias is in Engineers, which is linked to API Platform: the direct row is a second path.
    row = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_ELIAS, manager=True).json()
    rows = listed(
        api, project_ids=demo.PROJECT_API_PLATFORM, user_id=demo.USER_ELIAS, with_group_members="true"
    )
    assert [(r["id"], r["group_id"]) for r in rows] == [(row["id"], None), (4700103, demo.GROUP_ENGINEERS)]


def test_put_changes_manager_rate_and_labor_cost_and_keeps_the_rest(api: httpx.Client) -> None:
    row = add(
        api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_CHEN, rate=50, labor_cost=30
    ).json()
    path = f"{USERS}/{row['id']}"
    changed = api.put(path, json={"manager": True, "rate": 65.5})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["manager"], changed.json()["rate"], changed.json()["labor_cost"]) == (
        True,
        65.5,
        30.0,
    )
    assert (changed.json()["id"], changed.json()["user_id"]) == (row["id"], demo.USER_CHEN)
    cleared = api.put(path, json={"labor_cost": None}).json()
    assert (cleared["manager"], cleared["rate"], cleared["labor_cost"]) == (True, 65.5, None)
    assert listed(api, project_ids=demo.PROJECT_API_PLATFORM, user_id=demo.USER_CHEN) == [cleared]
    bad = api.put(path, json={"manager": "no"})
    assert (bad.status_code, bad.json()) == (400, "Invalid JSON input")
    missing = api.put(f"{USERS}/12345", json={"manager": True})
    assert (missing.status_code, missing.json()) == (404, "Project user not found")


def test_delete_answers_200_with_an_integer_and_an_unknown_id_404(api: httpx.Client) -> None:
    row = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_CHEN).json()
    response = api.delete(f"{USERS}/{row['id']}")
    assert response.status_code == 200
    assert response.json() == row["id"] and isinstance(response.json(), int)
    assert demo.USER_CHEN not in [r["user_id"] for r in listed(api, project_ids=demo.PROJECT_API_PLATFORM)]
    again = api.delete(f"{USERS}/{row['id']}")
    assert (again.status_code, again.json()) == (404, "Project user not found")
    # A row of another workspace is not this workspace's to delete.
    design = add(api, DESIGN_USERS, project_id=demo.PROJECT_BRAND_REFRESH, user_id=demo.USER_CHEN).json()
    assert api.delete(f"{USERS}/{design['id']}").status_code == 404
    assert api.put(f"{USERS}/{design['id']}", json={"manager": True}).status_code == 404


def test_deleting_a_project_user_keeps_groups_and_deleting_a_group_keeps_project_users(
    api: httpx.Client,
) -> None:
    row = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_BIANCA, rate=90).json()
    groups_before = api.get(f"/organizations/{demo.ORG_ACME}/groups").json()
    assert api.delete(f"{USERS}/{row['id']}").status_code == 200
    assert api.get(f"/organizations/{demo.ORG_ACME}/groups").json() == groups_before
    row = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_BIANCA, rate=90).json()
    assert api.delete(f"/organizations/{demo.ORG_ACME}/groups/{demo.GROUP_ENGINEERS}").status_code == 200
    assert row in listed(api, project_ids=demo.PROJECT_API_PLATFORM)
    # The deleted group's members no longer show through it.
    rows = listed(api, project_ids=demo.PROJECT_API_PLATFORM, with_group_members="true")
    assert demo.GROUP_ENGINEERS not in {r["group_id"] for r in rows}


def test_project_users_need_a_workspace_admin(api: httpx.Client) -> None:
    initech = f"/workspaces/{demo.WS_INITECH_OPS}/project_users"
    assert api.get(initech).status_code == 403
    refused = add(api, initech, project_id=demo.PROJECT_TPS_REPORTS, user_id=demo.USER_ALEX)
    assert (refused.status_code, refused.json()) == (403, "User does not have access to this resource.")
    assert api.put(f"{initech}/1", json={}).status_code == 403
    assert api.delete(f"{initech}/1").status_code == 403
    assert api.get("/workspaces/1234567/project_users").status_code == 403


def test_project_user_requests_go_through_the_fault_pipeline_and_the_log(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.fail_next(1, status=503, method="POST", path=USERS)
    failed = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_CHEN)
    assert (failed.status_code, failed.json()) == (503, "Service Unavailable")
    assert "X-Toggl-Quota-Remaining" in failed.headers
    assert demo.USER_CHEN not in [r["user_id"] for r in listed(api, project_ids=demo.PROJECT_API_PLATFORM)]
    sb.sandbox.faults.drop_next(method="POST", path=USERS, after_apply=True)
    with pytest.raises(DROPPED):
        add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_CHEN)
    assert demo.USER_CHEN in [r["user_id"] for r in listed(api, project_ids=demo.PROJECT_API_PLATFORM)]
    log = [e for e in sb.sandbox.request_log() if e["path"].startswith("/api/v9" + USERS)]
    assert [(e["method"], e["status"], e["fault"]) for e in log] == [
        ("POST", 503, "injected"),
        ("GET", 200, None),
        ("POST", None, "dropped_after_apply"),
        ("GET", 200, None),
    ]
    assert log[0]["json"] == {"project_id": demo.PROJECT_API_PLATFORM, "user_id": demo.USER_CHEN}
    assert sb.sandbox.stats()["by_endpoint"]["GET /api/v9/workspaces/{id}/project_users"] == 2


def test_the_hourly_quota_counts_project_user_requests(sb: SandboxThread, api: httpx.Client) -> None:
    sb.sandbox.faults.update(hourly_quota=1)
    assert api.get(USERS).status_code == 200
    over = api.get(USERS)
    assert over.status_code == 402


def test_project_users_survive_a_restart_and_their_ids_keep_counting(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with (
        SandboxThread(SandboxConfig(state_path=state)) as sb,
        httpx.Client(base_url=sb.url, auth=sb.auth) as api,
    ):
        row = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_CHEN, rate=42.5).json()
    with (
        SandboxThread(SandboxConfig(state_path=state)) as sb,
        httpx.Client(base_url=sb.url, auth=sb.auth) as api,
    ):
        assert row in listed(api, project_ids=demo.PROJECT_API_PLATFORM)
        again = add(api, project_id=demo.PROJECT_API_PLATFORM, user_id=demo.USER_BIANCA).json()
        assert again["id"] == row["id"] + 1


def test_a_state_file_written_before_project_users_still_loads(tmp_path: Path) -> None:
    data = build_demo_state().to_json()
    data.pop("project_users")
    data.pop("next_project_user_id")
    state = tmp_path / "state.json"
    state.write_text(json.dumps(data))
    store = Store("t", state)
    assert store.snapshot()["project_users"] == []
    row = store.add_project_user(
        ENGINEERING, {"project_id": demo.PROJECT_API_PLATFORM, "user_id": demo.USER_CHEN}
    )
    assert row["id"] == demo.FIRST_NEW_PROJECT_USER_ID


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(next_project_user_id="1"), "next_project_user_id must be an integer"),
        (
            lambda d: d.update(
                next_project_user_id=5,
                project_users=[
                    {
                        "id": 5,
                        "workspace_id": ENGINEERING,
                        "project_id": demo.PROJECT_API_PLATFORM,
                        "user_id": demo.USER_DANA,
                    }
                ],
            ),
            "next_project_user_id must be above",
        ),
        (
            lambda d: d["project_users"].append(
                {"id": 1, "workspace_id": ENGINEERING, "project_id": 1, "user_id": 1}
            ),
            "project_id 1 is not in projects",
        ),
        (
            lambda d: d["project_users"].append(
                {
                    "id": 1,
                    "workspace_id": DESIGN,
                    "project_id": demo.PROJECT_API_PLATFORM,
                    "user_id": demo.USER_DANA,
                }
            ),
            "is not its project's workspace",
        ),
        (
            lambda d: d["project_users"].append(
                {
                    "id": 1,
                    "workspace_id": ENGINEERING,
                    "project_id": demo.PROJECT_API_PLATFORM,
                    "user_id": demo.USER_DANA,
                    "rate": "high",
                }
            ),
            "rate must be a number or null",
        ),
    ],
    ids=[
        "counter as a string",
        "counter behind the rows",
        "unknown project",
        "wrong workspace",
        "rate as text",
    ],
)
def test_a_state_file_with_bad_project_users_is_refused(tmp_path: Path, change: Any, where: str) -> None:
    data = build_demo_state().to_json()
    change(data)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(data))
    with pytest.raises(SandboxStateError, match=where):
        Store("t", state)


# ---- the seeded story (demo.py's docstring) -----------------------------------------------------


def test_most_demo_projects_are_private_and_studio_handbook_is_public(api: httpx.Client) -> None:
    privacy = {}
    for workspace in (DESIGN, ENGINEERING, demo.WS_GLOBEX_LAB, demo.WS_INITECH_OPS):
        for project in api.get(f"/workspaces/{workspace}/projects", params={"active": "both"}).json():
            privacy[project["id"]] = (project["is_private"], project["active"])
    assert privacy == {
        demo.PROJECT_BRAND_REFRESH: (True, True),
        demo.PROJECT_WEBSITE_REDESIGN: (True, True),
        demo.PROJECT_STUDIO_HANDBOOK: (False, True),
        demo.PROJECT_WEBSITE_2019: (True, False),
        demo.PROJECT_API_PLATFORM: (True, True),
        demo.PROJECT_DATA_PIPELINE: (True, True),
        demo.PROJECT_LEGACY_INTRANET: (True, False),
        demo.PROJECT_FUSION_STUDY: (True, True),
        demo.PROJECT_TPS_REPORTS: (True, True),
    }
    links = api.get(
        f"/workspaces/{DESIGN}/project_groups", params={"project_ids": demo.PROJECT_STUDIO_HANDBOOK}
    ).json()
    assert [(link["id"], link["group_id"]) for link in links] == [
        (demo.LINK_DESIGNERS_HANDBOOK, demo.GROUP_DESIGNERS)
    ]


def test_dana_reaches_api_platform_directly_with_her_rate_and_through_engineers(api: httpx.Client) -> None:
    rows = listed(
        api, project_ids=demo.PROJECT_API_PLATFORM, user_id=demo.USER_DANA, with_group_members="true"
    )
    assert [(r["id"], r["group_id"], r["manager"], r["rate"], r["labor_cost"]) for r in rows] == [
        (demo.PROJECT_USER_DANA_API, None, True, demo.DANA_RATE, demo.DANA_LABOR_COST),
        (4700103, demo.GROUP_ENGINEERS, False, None, None),
    ]


def test_the_seeded_direct_members_of_acme_engineering(api: httpx.Client) -> None:
    rows = listed(api)
    assert [(r["id"], r["project_id"], r["user_id"], r["manager"], r["rate"]) for r in rows] == [
        (demo.PROJECT_USER_DANA_API, demo.PROJECT_API_PLATFORM, demo.USER_DANA, True, 95.0),
        (demo.PROJECT_USER_DANA_PIPELINE, demo.PROJECT_DATA_PIPELINE, demo.USER_DANA, False, 95.0),
        (demo.PROJECT_USER_CHEN_PIPELINE, demo.PROJECT_DATA_PIPELINE, demo.USER_CHEN, False, None),
    ]
    assert listed(api, DESIGN_USERS) == []
    assert listed(api, f"/workspaces/{demo.WS_GLOBEX_LAB}/project_users") == []


def test_chen_keeps_data_pipeline_after_leaving_every_group(api: httpx.Client) -> None:
    groups = f"/organizations/{demo.ORG_ACME}/groups"
    patch = [{"op": "remove", "path": "/users", "value": [demo.USER_CHEN]}]
    assert api.patch(f"{groups}/{demo.GROUP_DESIGNERS}", json=patch).json()["failure"] == []
    assert all(demo.USER_CHEN not in [u["user_id"] for u in g["users"]] for g in api.get(groups).json())
    rows = listed(api, user_id=demo.USER_CHEN, with_group_members="true")
    assert [(r["id"], r["project_id"], r["group_id"]) for r in rows] == [
        (demo.PROJECT_USER_CHEN_PIPELINE, demo.PROJECT_DATA_PIPELINE, None)
    ]
    assert api.delete(f"{USERS}/{demo.PROJECT_USER_CHEN_PIPELINE}").json() == demo.PROJECT_USER_CHEN_PIPELINE
    assert listed(api, user_id=demo.USER_CHEN, with_group_members="true") == []


def test_the_large_org_has_public_projects_and_direct_members_as_documented() -> None:
    state = build_demo_state(large_org=True)
    projects = [p for p in state.projects.values() if p.workspace_id in demo.MEGACORP_WORKSPACES]
    public = [p for p in projects if not p.is_private]
    assert len(public) == demo.MEGACORP_PUBLIC_PROJECTS == 300
    assert all(p.active for p in public)
    assert {p.id for p in public} == {
        demo.megacorp_project_id(n) for n in range(1, 1501) if demo.megacorp_project_is_public(n)
    }
    rows = [r for r in state.project_users.values() if r.workspace_id in demo.MEGACORP_WORKSPACES]
    assert rows == demo.megacorp_project_users()
    assert len(rows) == demo.MEGACORP_PROJECT_USERS == 435
    assert [r.id for r in rows] == list(
        range(demo.FIRST_MEGACORP_PROJECT_USER_ID, demo.FIRST_MEGACORP_PROJECT_USER_ID + 435)
    )
    assert len({(r.project_id, r.user_id) for r in rows}) == 435
    for row in rows:
        assert state.projects[row.project_id].workspace_id == row.workspace_id
    through_groups = {
        (pg.project_id, user)
        for pg in state.project_groups.values()
        for user in state.groups[pg.group_id].user_ids
    }
    both_ways = [r for r in rows if (r.project_id, r.user_id) in through_groups]
    assert len(both_ways) == demo.MEGACORP_GROUPS // demo.MEGACORP_DOUBLE_PATH_EVERY == 60
    assert any(r.manager for r in rows) and any(r.rate is not None and r.labor_cost is not None for r in rows)


def test_the_large_org_project_users_answer_per_200_projects() -> None:
    with (
        SandboxThread(SandboxConfig(large_org=True)) as sb,
        httpx.Client(base_url=sb.url, auth=sb.auth, timeout=10.0) as api,
    ):
        delivery = f"/workspaces/{demo.WS_MEGACORP_DELIVERY}/project_users"
        chunk = ",".join(str(demo.megacorp_project_id(n)) for n in range(1, 201))
        rows = listed(api, delivery, project_ids=chunk)
        assert len(rows) == len(
            [r for r in demo.megacorp_project_users() if r.project_id - demo.FIRST_MEGACORP_PROJECT_ID < 200]
        )
        with_groups = listed(api, delivery, project_ids=chunk, with_group_members="true")
        assert len(with_groups) > len(rows) and all(r["group_id"] for r in with_groups[len(rows) :])
