"""Groups endpoints: shapes, filters, Toggl's documented validation messages, PATCH semantics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import demo

ACME = demo.ORG_ACME
GROUPS = f"/organizations/{ACME}/groups"


def group_url(group_id: int, org: int = ACME) -> str:
    return f"/organizations/{org}/groups/{group_id}"


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [g["name"] for g in response.json()]


def test_listing_groups_returns_the_documented_shape_sorted_by_name(api: httpx.Client) -> None:
    response = api.get(GROUPS)
    assert response.headers["content-type"] == "application/json"
    groups = response.json()
    assert [g["name"] for g in groups] == ["Designers", "Engineers", "Managers"]
    designers = groups[0]
    assert set(designers) == {"group_id", "name", "at", "permissions", "users", "workspaces"}
    assert designers["group_id"] == demo.GROUP_DESIGNERS
    assert designers["workspaces"] == [demo.WS_ACME_DESIGN]
    assert designers["at"].endswith("+00:00")
    assert {u["user_id"] for u in designers["users"]} == {demo.USER_BIANCA, demo.USER_CHEN}
    assert set(designers["users"][0]) == {"user_id", "name", "avatar_url", "inactive", "joined"}


def test_listing_filters_by_name_fragment_and_by_workspace(api: httpx.Client) -> None:
    assert names(api.get(GROUPS, params={"name": "NEER"})) == ["Engineers"]
    assert names(api.get(GROUPS, params={"workspace": demo.WS_ACME_DESIGN})) == ["Designers", "Managers"]
    assert names(api.get(GROUPS, params={"name": "man", "workspace": demo.WS_ACME_ENGINEERING})) == [
        "Managers"
    ]


def test_a_non_numeric_workspace_filter_answers_400_invalid_number(api: httpx.Client) -> None:
    response = api.get(GROUPS, params={"workspace": "abc"})
    assert response.status_code == 400
    assert response.json().startswith("Invalid number")


def test_workspace_groups_lists_only_groups_assigned_to_that_workspace(api: httpx.Client) -> None:
    url = f"/organizations/{ACME}/workspaces/{demo.WS_ACME_ENGINEERING}/groups"
    assert names(api.get(url)) == ["Engineers", "Managers"]
    foreign = api.get(f"/organizations/{ACME}/workspaces/{demo.WS_GLOBEX_LAB}/groups")
    assert (foreign.status_code, foreign.json()) == (404, "Resource can not be found")


def test_creating_a_group_returns_it_with_members_and_workspaces(api: httpx.Client) -> None:
    body = {
        "name": "  QA  ",
        "users": [demo.USER_DANA, demo.USER_CHEN],
        "workspaces": [demo.WS_ACME_ENGINEERING],
    }
    response = api.post(GROUPS, json=body)
    assert response.status_code == 200, response.text
    group = response.json()
    assert group["name"] == "QA"
    assert group["group_id"] == demo.FIRST_NEW_GROUP_ID
    assert [u["user_id"] for u in group["users"]] == [demo.USER_CHEN, demo.USER_DANA]
    assert group["workspaces"] == [demo.WS_ACME_ENGINEERING]
    assert "QA" in names(api.get(GROUPS))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "Invalid JSON input"),
        ([], "Invalid JSON input"),
        ({"name": 5}, "Invalid JSON input"),
        ({"name": "X", "users": "1"}, "Invalid JSON input"),
        ({}, "Group name must be present"),
        ({"name": "   "}, "Group name must be present"),
        ({"name": "x" * 201}, "Group name too long, maximum length is 200"),
        ({"name": "designers"}, "Name has already been taken"),
        ({"name": "New", "users": [42]}, f"User 42 not exists in the organization {ACME}"),
        (
            {"name": "New", "users": [demo.USER_GUSTAVO]},
            f"User {demo.USER_GUSTAVO} not exists in the organization {ACME}",
        ),
        (
            {"name": "New", "workspaces": [demo.WS_GLOBEX_LAB]},
            f"Workspace {demo.WS_GLOBEX_LAB} not exists in the organization {ACME}",
        ),
    ],
)
def test_creating_a_group_answers_each_documented_400_message(
    api: httpx.Client, body: Any, message: str
) -> None:
    if isinstance(body, str):
        response = api.post(GROUPS, content=body, headers={"content-type": "application/json"})
    else:
        response = api.post(GROUPS, json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == message


def test_a_name_of_exactly_200_characters_is_accepted(api: httpx.Client) -> None:
    assert api.post(GROUPS, json={"name": "y" * 200}).status_code == 200


def test_group_names_are_unique_per_organization_only(api: httpx.Client) -> None:
    globex = api.get(f"/organizations/{demo.ORG_GLOBEX}/groups").json()
    assert "Designers" in [g["name"] for g in globex]
    assert api.post(f"/organizations/{demo.ORG_GLOBEX}/groups", json={"name": "Engineers"}).status_code == 200


def test_editing_replaces_name_users_and_workspaces(api: httpx.Client) -> None:
    body = {"name": "Design Team", "users": [demo.USER_DANA], "workspaces": [demo.WS_ACME_ENGINEERING]}
    group = api.put(group_url(demo.GROUP_DESIGNERS), json=body).json()
    assert group["name"] == "Design Team"
    assert [u["user_id"] for u in group["users"]] == [demo.USER_DANA]
    assert group["workspaces"] == [demo.WS_ACME_ENGINEERING]


def test_editing_with_users_and_workspaces_omitted_empties_them(api: httpx.Client) -> None:
    group = api.put(group_url(demo.GROUP_DESIGNERS), json={"name": "Designers"}).json()
    assert (group["users"], group["workspaces"]) == ([], [])


def test_editing_may_keep_its_own_name_but_not_take_another(api: httpx.Client) -> None:
    assert api.put(group_url(demo.GROUP_DESIGNERS), json={"name": "DESIGNERS"}).status_code == 200
    taken = api.put(group_url(demo.GROUP_DESIGNERS), json={"name": "managers"})
    assert (taken.status_code, taken.json()) == (400, "Name has already been taken")


def test_unknown_or_foreign_groups_answer_404_invalid_group_id(api: httpx.Client) -> None:
    for method in ("PUT", "DELETE"):
        for group_id in (999, demo.GROUP_GLOBEX_RESEARCHERS):
            response = api.request(method, group_url(group_id), json={"name": "x"})
            assert (response.status_code, response.json()) == (404, "Invalid group ID.")
    patch = api.patch(group_url(999), json=[])
    assert (patch.status_code, patch.json()) == (404, "Invalid group ID.")


def test_patching_a_group_of_another_organization_answers_unknown_group_at_organization(
    api: httpx.Client,
) -> None:
    response = api.patch(group_url(demo.GROUP_GLOBEX_RESEARCHERS), json=[])
    assert (response.status_code, response.json()) == (400, "Unknown group at organization")


def test_deleting_a_group_answers_a_json_string_and_removes_its_project_links(api: httpx.Client) -> None:
    response = api.delete(group_url(demo.GROUP_DESIGNERS))
    assert (response.status_code, response.json()) == (200, "OK")
    assert "Designers" not in names(api.get(GROUPS))
    links = api.get(
        f"/workspaces/{demo.WS_ACME_DESIGN}/project_groups",
        params={"project_ids": f"{demo.PROJECT_BRAND_REFRESH},{demo.PROJECT_WEBSITE_REDESIGN}"},
    ).json()
    assert links == []


def test_patch_applies_good_operations_and_reports_bad_values_in_a_200(api: httpx.Client) -> None:
    good = {"op": "add", "path": "/users", "value": [demo.USER_DANA]}
    unknown_user = {"op": "add", "path": "/users", "value": [demo.USER_ALEX, 42]}
    empty = {"op": "add", "path": "/workspaces", "value": []}
    too_many = {"op": "remove", "path": "/users", "value": list(range(1, 102))}
    unknown_ws = {"op": "add", "path": "/workspaces", "value": [demo.WS_GLOBEX_LAB]}
    response = api.patch(
        group_url(demo.GROUP_DESIGNERS),
        json=[good, unknown_user, empty, too_many, unknown_ws],
    )
    assert response.status_code == 200
    result = response.json()
    assert result["success"] == [good]
    bad_value = "Value not present, or too many per patch operation"
    assert result["failure"] == [
        {"message": f"User 42 not exists in the organization {ACME}", "patch": unknown_user},
        {"message": bad_value, "patch": empty},
        {"message": bad_value, "patch": too_many},
        {
            "message": f"Workspace {demo.WS_GLOBEX_LAB} not exists in the organization {ACME}",
            "patch": unknown_ws,
        },
    ]
    users = {u["user_id"] for u in api.get(GROUPS, params={"name": "Designers"}).json()[0]["users"]}
    # The failed operation applied nothing, not even its known user.
    assert users == {demo.USER_BIANCA, demo.USER_CHEN, demo.USER_DANA}


BAD_OP = "Empty or invalid patch operation"
BAD_PATH = "Empty or invalid patch path"


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"op": "replace", "path": "/users", "value": [demo.USER_DANA]}, BAD_OP),
        ({"op": "ADD", "path": "/users", "value": [demo.USER_DANA]}, BAD_OP),
        ({"op": "", "path": "/users", "value": [demo.USER_DANA]}, BAD_OP),
        ({"path": "/users", "value": [demo.USER_DANA]}, BAD_OP),
        ({"op": None, "path": "/users", "value": [demo.USER_DANA]}, BAD_OP),
        ({"op": ["add"], "path": "/users", "value": [demo.USER_DANA]}, BAD_OP),
        ({"op": "replace", "path": "/name", "value": [1]}, BAD_OP),
        ({"op": "add", "path": "/name", "value": [1]}, BAD_PATH),
        ({"op": "add", "path": "users", "value": [demo.USER_DANA]}, BAD_PATH),
        ({"op": "add", "path": "", "value": [demo.USER_DANA]}, BAD_PATH),
        ({"op": "remove", "value": [demo.USER_CHEN]}, BAD_PATH),
        ({"op": "remove", "path": 5, "value": [demo.USER_CHEN]}, BAD_PATH),
        (5, "Invalid JSON input"),
        (None, "Invalid JSON input"),
    ],
    ids=[
        "unknown op",
        "op in capitals",
        "empty op",
        "no op",
        "null op",
        "op not a string",
        "unknown op and path",
        "unknown path",
        "path without slash",
        "empty path",
        "no path",
        "path not a string",
        "a number",
        "null",
    ],
)
def test_an_unknown_op_or_path_refuses_the_whole_patch_with_the_documented_400(
    api: httpx.Client, operation: Any, message: str
) -> None:
    before = api.get(GROUPS, params={"name": "Designers"}).json()
    good = {"op": "add", "path": "/users", "value": [demo.USER_DANA]}
    also_good = {"op": "remove", "path": "/workspaces", "value": [demo.WS_ACME_DESIGN]}
    response = api.patch(group_url(demo.GROUP_DESIGNERS), json=[good, operation, also_good])
    assert (response.status_code, response.json()) == (400, message)
    assert api.get(GROUPS, params={"name": "Designers"}).json() == before


def test_patch_add_and_remove_are_idempotent(api: httpx.Client) -> None:
    ops = [
        {"op": "add", "path": "/users", "value": [demo.USER_BIANCA]},
        {"op": "remove", "path": "/users", "value": [demo.USER_DANA]},
        {"op": "remove", "path": "/workspaces", "value": [demo.WS_ACME_DESIGN]},
        {"op": "add", "path": "/workspaces", "value": [demo.WS_ACME_ENGINEERING, demo.WS_ACME_ENGINEERING]},
    ]
    result = api.patch(group_url(demo.GROUP_DESIGNERS), json=ops).json()
    assert (len(result["success"]), result["failure"]) == (4, [])
    group = api.get(GROUPS, params={"name": "Designers"}).json()[0]
    assert {u["user_id"] for u in group["users"]} == {demo.USER_BIANCA, demo.USER_CHEN}
    assert group["workspaces"] == [demo.WS_ACME_ENGINEERING]


def test_patch_accepts_100_operations_and_refuses_101(api: httpx.Client) -> None:
    op = {"op": "add", "path": "/users", "value": [demo.USER_DANA]}
    assert api.patch(group_url(demo.GROUP_DESIGNERS), json=[op] * 100).status_code == 200
    response = api.patch(group_url(demo.GROUP_DESIGNERS), json=[op] * 101)
    assert (response.status_code, response.json()) == (
        400,
        "Too many operations (more than 100 patches in request)",
    )


def test_patch_with_a_body_that_is_not_an_array_answers_invalid_json_input(api: httpx.Client) -> None:
    response = api.patch(group_url(demo.GROUP_DESIGNERS), json={"op": "add"})
    assert (response.status_code, response.json()) == (400, "Invalid JSON input")


def test_an_organization_where_the_user_is_not_admin_answers_403(api: httpx.Client) -> None:
    initech = demo.ORG_INITECH
    listing = api.get(f"/organizations/{initech}/groups")
    assert (listing.status_code, listing.json()) == (403, "User does not have access to this resource.")
    patch = api.patch(group_url(demo.GROUP_INITECH_OPERATORS, initech), json=[])
    assert (patch.status_code, patch.json()) == (403, "User does not have permission to manage user groups.")
    assert api.post(f"/organizations/{initech}/groups", json={"name": "X"}).status_code == 403
    assert api.get("/organizations/1234567/groups").status_code == 403


def test_changes_in_one_organization_never_show_in_another(api: httpx.Client) -> None:
    api.post(GROUPS, json={"name": "Acme Only"})
    assert "Acme Only" not in names(api.get(f"/organizations/{demo.ORG_GLOBEX}/groups"))
    assert names(api.get(f"/organizations/{demo.ORG_GLOBEX}/groups")) == ["Designers", "Researchers"]
