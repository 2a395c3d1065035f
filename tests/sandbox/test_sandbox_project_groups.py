"""Project groups: the required query, linking, duplicates, unlinking, eventual consistency."""

from __future__ import annotations

import time

import httpx

from toggl_groups_mcp.sandbox import SandboxThread, demo

DESIGN = demo.WS_ACME_DESIGN
LINKS = f"/workspaces/{DESIGN}/project_groups"


def links_of(api: httpx.Client, *project_ids: int, workspace: int = DESIGN) -> list[dict[str, int]]:
    response = api.get(
        f"/workspaces/{workspace}/project_groups", params={"project_ids": ",".join(map(str, project_ids))}
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, int]] = response.json()
    return rows


def test_listing_returns_rows_with_the_id_delete_needs(api: httpx.Client) -> None:
    rows = links_of(api, demo.PROJECT_BRAND_REFRESH, demo.PROJECT_WEBSITE_REDESIGN)
    assert rows == [
        {"id": 4700101, "group_id": demo.GROUP_DESIGNERS, "pid": demo.PROJECT_BRAND_REFRESH, "wid": DESIGN},
        {
            "id": 4700102,
            "group_id": demo.GROUP_DESIGNERS,
            "pid": demo.PROJECT_WEBSITE_REDESIGN,
            "wid": DESIGN,
        },
    ]


def test_listing_without_project_ids_or_with_a_bad_one_answers_400(api: httpx.Client) -> None:
    missing = api.get(LINKS)
    assert missing.status_code == 400 and isinstance(missing.json(), str)
    bad = api.get(LINKS, params={"project_ids": "1,x"})
    assert bad.status_code == 400 and bad.json().startswith("Invalid number")


def test_linking_answers_a_json_string_and_the_link_then_lists(api: httpx.Client) -> None:
    body = {"group_id": demo.GROUP_MANAGERS, "project_id": demo.PROJECT_BRAND_REFRESH}
    response = api.post(LINKS, json=body)
    assert response.status_code == 200
    assert isinstance(response.json(), str)
    rows = links_of(api, demo.PROJECT_BRAND_REFRESH)
    assert {r["group_id"] for r in rows} == {demo.GROUP_DESIGNERS, demo.GROUP_MANAGERS}
    assert max(r["id"] for r in rows) == demo.FIRST_NEW_PROJECT_GROUP_ID


def test_linking_validates_project_group_and_duplicates(api: httpx.Client) -> None:
    def post(group_id: int, project_id: int) -> tuple[int, str]:
        response = api.post(LINKS, json={"group_id": group_id, "project_id": project_id})
        return response.status_code, response.json()

    assert post(demo.GROUP_MANAGERS, demo.PROJECT_API_PLATFORM) == (400, "Project not found")
    assert post(demo.GROUP_GLOBEX_RESEARCHERS, demo.PROJECT_BRAND_REFRESH) == (400, "Group not found")
    assert post(999, demo.PROJECT_BRAND_REFRESH) == (400, "Group not found")
    assert post(demo.GROUP_DESIGNERS, demo.PROJECT_BRAND_REFRESH) == (
        400,
        "Group already has access to this project",
    )
    bad = api.post(LINKS, json={"group_id": "1", "project_id": demo.PROJECT_BRAND_REFRESH})
    assert (bad.status_code, bad.json()) == (400, "Invalid JSON input")


def test_unlinking_removes_the_row_and_an_unknown_id_answers_404(api: httpx.Client) -> None:
    response = api.delete(f"{LINKS}/4700101")
    assert (response.status_code, response.json()) == (200, "OK")
    assert [r["id"] for r in links_of(api, demo.PROJECT_BRAND_REFRESH)] == []
    assert api.delete(f"{LINKS}/4700101").status_code == 404
    # A link of another workspace is not this workspace's to delete.
    assert api.delete(f"{LINKS}/4700103").status_code == 404


def test_project_groups_of_a_workspace_the_user_does_not_administer_answer_403(api: httpx.Client) -> None:
    response = api.get(
        f"/workspaces/{demo.WS_INITECH_OPS}/project_groups", params={"project_ids": demo.PROJECT_TPS_REPORTS}
    )
    assert response.status_code == 403
    assert api.get("/workspaces/1234567/project_groups", params={"project_ids": "1"}).status_code == 403


def test_a_new_group_is_unknown_to_project_groups_until_the_consistency_delay_passes(
    sb: SandboxThread, api: httpx.Client
) -> None:
    sb.sandbox.faults.update(consistency_delay=0.3)
    group_id = api.post(f"/organizations/{demo.ORG_ACME}/groups", json={"name": "Fresh"}).json()["group_id"]
    body = {"group_id": group_id, "project_id": demo.PROJECT_BRAND_REFRESH}
    first = api.post(LINKS, json=body)
    assert (first.status_code, first.json()) == (400, "Group not found")
    # Older groups are unaffected.
    older = api.post(LINKS, json={"group_id": demo.GROUP_MANAGERS, "project_id": demo.PROJECT_BRAND_REFRESH})
    assert older.status_code == 200
    deadline = time.monotonic() + 3.0
    while True:
        response = api.post(LINKS, json=body)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 200
