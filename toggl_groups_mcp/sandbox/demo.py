"""Deterministic demo data: three organizations, so scoping and permission paths can be shown.

- Acme Studio: the token's user (Alex Morgan) is admin and owner; two workspaces, five projects
  (one archived), three groups with project links.
- Globex Research: Alex is admin; its own workspace, users and groups (one also named
  "Designers", which proves group names are unique per organization only).
- Initech: Alex is a plain member, so group and user endpoints answer 403 there.
"""

from __future__ import annotations

from .model import Group, Organization, OrgMember, Project, ProjectGroup, State, User, Workspace

ORG_ACME = 7104210
ORG_GLOBEX = 7104388
ORG_INITECH = 7104501

WS_ACME_DESIGN = 8231045
WS_ACME_ENGINEERING = 8231102
WS_GLOBEX_LAB = 8231377
WS_INITECH_OPS = 8231490

USER_ALEX = 6120451  # the token's user
USER_BIANCA = 6120532
USER_CHEN = 6120617
USER_DANA = 6120788
USER_ELIAS = 6120843  # deactivated in Acme
USER_FARAH = 6120929  # invited to Acme, not joined yet
USER_GUSTAVO = 6121034
USER_HANA = 6121170
USER_IVAN = 6121255

PROJECT_BRAND_REFRESH = 2040011
PROJECT_WEBSITE_REDESIGN = 2040023
PROJECT_API_PLATFORM = 2040035
PROJECT_DATA_PIPELINE = 2040047
PROJECT_LEGACY_INTRANET = 2040059  # archived
PROJECT_FUSION_STUDY = 2040061
PROJECT_TPS_REPORTS = 2040073

GROUP_DESIGNERS = 3150012
GROUP_ENGINEERS = 3150027
GROUP_MANAGERS = 3150039
GROUP_GLOBEX_RESEARCHERS = 3150041
GROUP_GLOBEX_DESIGNERS = 3150053
GROUP_INITECH_OPERATORS = 3150064

FIRST_NEW_GROUP_ID = 3150101
FIRST_NEW_PROJECT_GROUP_ID = 4700201


def _user(user_id: int, fullname: str, domain: str) -> User:
    email = fullname.lower().replace(" ", ".") + "@" + domain
    return User(
        id=user_id,
        fullname=fullname,
        email=email,
        avatar_url=f"https://avatars.sandbox.invalid/{user_id}.png",
    )


def build_demo_state() -> State:
    state = State(
        me_user_id=USER_ALEX,
        default_workspace_id=WS_ACME_DESIGN,
        next_group_id=FIRST_NEW_GROUP_ID,
        next_project_group_id=FIRST_NEW_PROJECT_GROUP_ID,
    )
    users = [
        _user(USER_ALEX, "Alex Morgan", "acme.example"),
        _user(USER_BIANCA, "Bianca Reyes", "acme.example"),
        _user(USER_CHEN, "Chen Wei", "acme.example"),
        _user(USER_DANA, "Dana Okafor", "acme.example"),
        _user(USER_ELIAS, "Elias Novak", "acme.example"),
        _user(USER_FARAH, "Farah Haddad", "acme.example"),
        _user(USER_GUSTAVO, "Gustavo Lima", "globex.example"),
        _user(USER_HANA, "Hana Sato", "globex.example"),
        _user(USER_IVAN, "Ivan Petrov", "initech.example"),
    ]
    organizations = [
        Organization(ORG_ACME, "Acme Studio", "Premium"),
        Organization(ORG_GLOBEX, "Globex Research", "Starter"),
        Organization(ORG_INITECH, "Initech", "Premium"),
    ]
    members = [
        OrgMember(9407011, ORG_ACME, USER_ALEX, admin=True, owner=True),
        OrgMember(9407023, ORG_ACME, USER_BIANCA),
        OrgMember(9407035, ORG_ACME, USER_CHEN),
        OrgMember(9407047, ORG_ACME, USER_DANA),
        OrgMember(9407059, ORG_ACME, USER_ELIAS, inactive=True),
        OrgMember(9407061, ORG_ACME, USER_FARAH, joined=False),
        OrgMember(9407102, ORG_GLOBEX, USER_ALEX, admin=True),
        OrgMember(9407114, ORG_GLOBEX, USER_GUSTAVO, admin=True, owner=True),
        OrgMember(9407126, ORG_GLOBEX, USER_HANA),
        OrgMember(9407203, ORG_INITECH, USER_IVAN, admin=True, owner=True),
        OrgMember(9407215, ORG_INITECH, USER_ALEX),
    ]
    workspaces = [
        Workspace(WS_ACME_DESIGN, ORG_ACME, "Acme Design"),
        Workspace(WS_ACME_ENGINEERING, ORG_ACME, "Acme Engineering"),
        Workspace(WS_GLOBEX_LAB, ORG_GLOBEX, "Globex Lab"),
        Workspace(WS_INITECH_OPS, ORG_INITECH, "Initech Ops"),
    ]
    projects = [
        Project(PROJECT_BRAND_REFRESH, WS_ACME_DESIGN, "Brand Refresh", color="#c7af14"),
        Project(PROJECT_WEBSITE_REDESIGN, WS_ACME_DESIGN, "Website Redesign", color="#4dc3ff", billable=True),
        Project(PROJECT_API_PLATFORM, WS_ACME_ENGINEERING, "API Platform", color="#0b83d9"),
        Project(
            PROJECT_DATA_PIPELINE, WS_ACME_ENGINEERING, "Data Pipeline", color="#2da608", is_private=True
        ),
        Project(
            PROJECT_LEGACY_INTRANET, WS_ACME_ENGINEERING, "Legacy Intranet", active=False, color="#525266"
        ),
        Project(PROJECT_FUSION_STUDY, WS_GLOBEX_LAB, "Fusion Study", color="#e36a00"),
        Project(PROJECT_TPS_REPORTS, WS_INITECH_OPS, "TPS Reports", color="#991102"),
    ]
    groups = [
        Group(
            GROUP_DESIGNERS,
            ORG_ACME,
            "Designers",
            "2026-01-12T09:30:00+00:00",
            [USER_BIANCA, USER_CHEN],
            [WS_ACME_DESIGN],
        ),
        Group(
            GROUP_ENGINEERS,
            ORG_ACME,
            "Engineers",
            "2026-01-12T09:41:00+00:00",
            [USER_ALEX, USER_DANA, USER_ELIAS],
            [WS_ACME_ENGINEERING],
        ),
        Group(
            GROUP_MANAGERS,
            ORG_ACME,
            "Managers",
            "2026-01-13T14:05:00+00:00",
            [USER_ALEX, USER_FARAH],
            [WS_ACME_DESIGN, WS_ACME_ENGINEERING],
        ),
        Group(
            GROUP_GLOBEX_RESEARCHERS,
            ORG_GLOBEX,
            "Researchers",
            "2026-02-02T11:00:00+00:00",
            [USER_GUSTAVO, USER_HANA],
            [WS_GLOBEX_LAB],
        ),
        Group(
            GROUP_GLOBEX_DESIGNERS,
            ORG_GLOBEX,
            "Designers",
            "2026-02-02T11:20:00+00:00",
            [USER_HANA],
            [WS_GLOBEX_LAB],
        ),
        Group(
            GROUP_INITECH_OPERATORS,
            ORG_INITECH,
            "Operators",
            "2026-02-20T16:45:00+00:00",
            [USER_IVAN],
            [WS_INITECH_OPS],
        ),
    ]
    project_groups = [
        ProjectGroup(4700101, WS_ACME_DESIGN, PROJECT_BRAND_REFRESH, GROUP_DESIGNERS),
        ProjectGroup(4700102, WS_ACME_DESIGN, PROJECT_WEBSITE_REDESIGN, GROUP_DESIGNERS),
        ProjectGroup(4700103, WS_ACME_ENGINEERING, PROJECT_API_PLATFORM, GROUP_ENGINEERS),
        ProjectGroup(4700104, WS_ACME_ENGINEERING, PROJECT_API_PLATFORM, GROUP_MANAGERS),
        ProjectGroup(4700105, WS_GLOBEX_LAB, PROJECT_FUSION_STUDY, GROUP_GLOBEX_RESEARCHERS),
        ProjectGroup(4700106, WS_INITECH_OPS, PROJECT_TPS_REPORTS, GROUP_INITECH_OPERATORS),
    ]
    state.users = {u.id: u for u in users}
    state.organizations = {o.id: o for o in organizations}
    state.members = {m.id: m for m in members}
    state.workspaces = {w.id: w for w in workspaces}
    state.projects = {p.id: p for p in projects}
    state.groups = {g.id: g for g in groups}
    state.project_groups = {pg.id: pg for pg in project_groups}
    return state
