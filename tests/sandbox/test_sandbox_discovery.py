"""Look-ups: /me, organizations, workspaces, quota, projects and organization users."""

from __future__ import annotations

import httpx

from toggl_groups_mcp.sandbox import SandboxThread, demo


def test_me_carries_the_api_token_like_the_real_api(sb: SandboxThread, api: httpx.Client) -> None:
    me = api.get("/me").json()
    assert me["id"] == demo.USER_ALEX
    assert me["api_token"] == sb.token
    assert me["default_workspace_id"] == demo.WS_ACME_DESIGN
    assert {"email", "fullname"} <= set(me)


def test_my_organizations_say_where_the_user_is_admin(api: httpx.Client) -> None:
    orgs = {o["id"]: o for o in api.get("/me/organizations").json()}
    assert set(orgs) == {demo.ORG_ACME, demo.ORG_GLOBEX, demo.ORG_INITECH}
    assert (orgs[demo.ORG_ACME]["admin"], orgs[demo.ORG_ACME]["owner"]) == (True, True)
    assert orgs[demo.ORG_GLOBEX]["admin"] is True
    assert orgs[demo.ORG_INITECH]["admin"] is False
    assert orgs[demo.ORG_ACME]["name"] == "Acme Studio"


def test_my_workspaces_carry_organization_role_and_api_token(sb: SandboxThread, api: httpx.Client) -> None:
    workspaces = {w["id"]: w for w in api.get("/me/workspaces").json()}
    assert set(workspaces) == {
        demo.WS_ACME_DESIGN,
        demo.WS_ACME_ENGINEERING,
        demo.WS_GLOBEX_LAB,
        demo.WS_INITECH_OPS,
    }
    design = workspaces[demo.WS_ACME_DESIGN]
    assert (design["organization_id"], design["admin"], design["role"]) == (demo.ORG_ACME, True, "admin")
    assert design["api_token"] == sb.token
    assert workspaces[demo.WS_INITECH_OPS]["role"] == "user"


def test_my_quota_lists_every_organization(api: httpx.Client) -> None:
    api.get(f"/organizations/{demo.ORG_ACME}/groups")
    rows = {r["organization_id"]: r for r in api.get("/me/quota").json()}
    assert set(rows) == {demo.ORG_ACME, demo.ORG_GLOBEX, demo.ORG_INITECH}
    acme = rows[demo.ORG_ACME]
    assert set(acme) == {"organization_id", "remaining", "resets_in_secs", "total"}
    assert acme["remaining"] == acme["total"] - 1
    assert rows[demo.ORG_GLOBEX]["remaining"] == rows[demo.ORG_GLOBEX]["total"]


def test_projects_default_to_active_ones_sorted_by_name(api: httpx.Client) -> None:
    projects = api.get(f"/workspaces/{demo.WS_ACME_ENGINEERING}/projects").json()
    assert [p["name"] for p in projects] == ["API Platform", "Data Pipeline"]
    assert {"id", "name", "workspace_id", "active", "client_id"} <= set(projects[0])
    both = api.get(f"/workspaces/{demo.WS_ACME_ENGINEERING}/projects", params={"active": "both"}).json()
    assert [p["name"] for p in both] == ["API Platform", "Data Pipeline", "Legacy Intranet"]
    archived = api.get(f"/workspaces/{demo.WS_ACME_ENGINEERING}/projects", params={"active": "false"}).json()
    assert [p["id"] for p in archived] == [demo.PROJECT_LEGACY_INTRANET]


def test_projects_filter_by_name_or_search_and_page(api: httpx.Client) -> None:
    url = f"/workspaces/{demo.WS_ACME_DESIGN}/projects"
    assert [p["name"] for p in api.get(url, params={"name": "brand"}).json()] == ["Brand Refresh"]
    assert [p["name"] for p in api.get(url, params={"search": "SITE"}).json()] == ["Website Redesign"]
    # The archived "Website 2019" only with active=both (or false).
    both = api.get(url, params={"search": "SITE", "active": "both"}).json()
    assert [p["name"] for p in both] == ["Website 2019", "Website Redesign"]
    page_three = api.get(url, params={"per_page": 1, "page": 3}).json()
    assert [p["name"] for p in page_three] == ["Website Redesign"]
    assert api.get(url, params={"per_page": 1, "page": 4}).json() == []
    assert api.get(url, params={"per_page": 201}).status_code == 400
    assert api.get(url, params={"page": "x"}).json().startswith("Invalid number")


def test_projects_of_a_foreign_workspace_answer_403(api: httpx.Client) -> None:
    assert api.get("/workspaces/1234567/projects").status_code == 403
    # A plain member still sees the projects of their workspace.
    assert api.get(f"/workspaces/{demo.WS_INITECH_OPS}/projects").status_code == 200


def test_organization_users_distinguish_record_id_from_user_id(api: httpx.Client) -> None:
    users = api.get(f"/organizations/{demo.ORG_ACME}/users").json()
    assert len(users) == 6
    alex = next(u for u in users if u["user_id"] == demo.USER_ALEX)
    assert alex["id"] != alex["user_id"]
    assert {"id", "user_id", "name", "email", "admin", "inactive", "joined"} <= set(alex)
    assert [u["name"] for u in users] == sorted(u["name"] for u in users)


def test_organization_users_filter_by_name_or_email_and_page(api: httpx.Client) -> None:
    url = f"/organizations/{demo.ORG_ACME}/users"
    assert [u["user_id"] for u in api.get(url, params={"filter": "bianca"}).json()] == [demo.USER_BIANCA]
    assert [u["user_id"] for u in api.get(url, params={"filter": "okafor@"}).json()] == [demo.USER_DANA]
    assert len(api.get(url, params={"per_page": 4}).json()) == 4
    assert len(api.get(url, params={"per_page": 4, "page": 2}).json()) == 2
    globex = api.get(f"/organizations/{demo.ORG_GLOBEX}/users").json()
    assert {u["user_id"] for u in globex} == {demo.USER_ALEX, demo.USER_GUSTAVO, demo.USER_HANA}
    assert api.get(f"/organizations/{demo.ORG_INITECH}/users").status_code == 403
