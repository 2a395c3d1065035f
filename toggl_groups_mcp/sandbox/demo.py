"""Deterministic demo data: three organizations, so scoping and permission paths can be shown.

- Acme Studio: the token's user (Alex Morgan) is admin and owner; two workspaces, seven projects
  (two archived, one public), three groups with project links, three direct project members.
- Globex Research: Alex is admin; its own workspace, users and groups (one also named
  "Designers", which proves group names are unique per organization only).
- Initech: Alex is a plain member, so group and user endpoints answer 403 there.

The second token (``config.SECOND_TOKEN``) is Gustavo Lima, admin and owner of Globex only: he
shares Globex with Alex (each sees the other's changes there) and gets 403 in Acme and Initech.

Who can track time on what in Acme (a person reaches a project when it is public, when they are a
direct member, or through a linked group; projects are private unless said otherwise, as most are
at Toggl):

- Acme Design: Brand Refresh and Website Redesign (Designers: Bianca, Chen); Studio Handbook
  (``PROJECT_STUDIO_HANDBOOK``) is PUBLIC, so everyone in the workspace can track time on it, and
  also linked to Designers: removing Designers from it changes nobody's access. Website 2019
  (``PROJECT_WEBSITE_2019``) is archived, so "website" names one active and one archived project.
- Acme Engineering: API Platform (Engineers: Alex, Dana, Elias; Managers: Alex, Farah), Data
  Pipeline (no group) and Legacy Intranet (archived, no group).
- Dana Okafor is a direct member of API Platform (``PROJECT_USER_DANA_API``: manager, her own rate
  95.0 and labor cost 60.0) AND reaches it through Engineers: removing Engineers from API Platform
  leaves her in. She is also a direct member of Data Pipeline (``PROJECT_USER_DANA_PIPELINE``,
  same rate and labor cost, not manager).
- Chen Wei is in Designers and a direct member of Data Pipeline (``PROJECT_USER_CHEN_PIPELINE``,
  no rate of his own), his only way there: offboarding him from every group still leaves Data
  Pipeline open to him (and the public Studio Handbook, while he is in the workspace).
- Globex's Fusion Study and Initech's TPS Reports are private, reached through their groups.

Opt-in (``SandboxConfig(large_org=True)``, ``--large-org``), a fourth organization for trying the
server at scale, where whole answers outgrow a model's context:

- Megacorp Holdings (``ORG_MEGACORP``, Enterprise plan): Alex is admin (not owner). 3,000
  organization users (Alex and 2,999 generated, ``megacorp_user_name``; a few admins, inactive or
  not joined), three workspaces with 1,500 projects (1,200 / 200 / 100, ``megacorp_project_name``,
  every 100th archived, one in five public: ``megacorp_project_is_public``), 300 groups of 15
  members each (``megacorp_group_name``, unique, each assigned to one workspace), 1,650 project
  links (3 to 8 per group, in its workspace) and 435 direct project members
  (``megacorp_project_users``: an outsider on every 4th project, and one member of every 5th
  group directly on that group's first project, so they reach it two ways).
- Ids are blocks starting at the ``FIRST_MEGACORP_*`` constants: record ``n`` (0-based) has id
  ``FIRST_... + n``; see ``megacorp_group_id`` and friends. They sit below ``FIRST_NEW_GROUP_ID``,
  ``FIRST_NEW_PROJECT_GROUP_ID`` and ``FIRST_NEW_PROJECT_USER_ID``, so new ids are the same with
  or without the large org.
- Built without randomness (arithmetic on the index only): two builds are equal, in ~10 ms.
"""

from __future__ import annotations

from .model import (
    FIRST_NEW_PROJECT_USER_ID,
    Group,
    Organization,
    OrgMember,
    Project,
    ProjectGroup,
    ProjectUser,
    State,
    User,
    Workspace,
)

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
USER_GUSTAVO = 6121034  # the second token's user
USER_HANA = 6121170
USER_IVAN = 6121255

PROJECT_BRAND_REFRESH = 2040011
PROJECT_WEBSITE_REDESIGN = 2040023
PROJECT_API_PLATFORM = 2040035
PROJECT_DATA_PIPELINE = 2040047
PROJECT_LEGACY_INTRANET = 2040059  # archived
PROJECT_FUSION_STUDY = 2040061
PROJECT_TPS_REPORTS = 2040073
PROJECT_STUDIO_HANDBOOK = 2040085  # public, and linked to Designers
PROJECT_WEBSITE_2019 = 2040097  # archived

PROJECT_USER_DANA_API = 4800101  # Dana on API Platform: manager, rate 95, labor cost 60
PROJECT_USER_DANA_PIPELINE = 4800102  # Dana on Data Pipeline: rate 95, labor cost 60
PROJECT_USER_CHEN_PIPELINE = 4800103  # Chen on Data Pipeline, his only way there
DANA_RATE = 95.0
DANA_LABOR_COST = 60.0

LINK_DESIGNERS_HANDBOOK = 4700107  # Designers on the public Studio Handbook

GROUP_DESIGNERS = 3150012
GROUP_ENGINEERS = 3150027
GROUP_MANAGERS = 3150039
GROUP_GLOBEX_RESEARCHERS = 3150041
GROUP_GLOBEX_DESIGNERS = 3150053
GROUP_INITECH_OPERATORS = 3150064

FIRST_NEW_GROUP_ID = 3150101
FIRST_NEW_PROJECT_GROUP_ID = 4700201

# ---- the large organization (only with large_org) ------------------------------------------------

ORG_MEGACORP = 7104612
WS_MEGACORP_DELIVERY = 8231611  # 1,200 projects, 240 groups
WS_MEGACORP_RESEARCH = 8231622  # 200 projects, 30 groups
WS_MEGACORP_INTERNAL = 8231633  # 100 projects, 30 groups
MEGACORP_WORKSPACES = (WS_MEGACORP_DELIVERY, WS_MEGACORP_RESEARCH, WS_MEGACORP_INTERNAL)
MEGACORP_PROJECTS_PER_WORKSPACE = {
    WS_MEGACORP_DELIVERY: 1200,
    WS_MEGACORP_RESEARCH: 200,
    WS_MEGACORP_INTERNAL: 100,
}

MEGACORP_USERS = 3000  # organization users, Alex included
MEGACORP_GENERATED_USERS = MEGACORP_USERS - 1
MEGACORP_PROJECTS = 1500
MEGACORP_ARCHIVED_EVERY = 100  # project n (1-based) with n % 100 == 0 is archived
MEGACORP_ARCHIVED_PROJECTS = MEGACORP_PROJECTS // MEGACORP_ARCHIVED_EVERY  # 15: 12 / 2 / 1
MEGACORP_PUBLIC_EVERY = 5  # project n (1-based) with n % 5 == 2 is public; none of them archived
MEGACORP_PUBLIC_PROJECTS = MEGACORP_PROJECTS // MEGACORP_PUBLIC_EVERY  # 300: 240 / 40 / 20
MEGACORP_OUTSIDER_EVERY = 4  # project n with n % 4 == 0 has one direct member outside its groups
MEGACORP_DOUBLE_PATH_EVERY = 5  # group n with n % 5 == 0: its first member is also direct
MEGACORP_PROJECT_USERS = 435  # 375 outsiders + 60 who also reach the project through a group
MEGACORP_GROUPS = 300
MEGACORP_GROUP_SIZE = 15
MEGACORP_LINKS_MIN, MEGACORP_LINKS_MAX = 3, 8  # project links per group: 3 + index % 6
MEGACORP_PROJECT_LINKS = 1650

FIRST_MEGACORP_USER_ID = 6200001  # generated users; Alex keeps USER_ALEX
FIRST_MEGACORP_MEMBER_ID = 9410001  # Alex's record; generated user n has FIRST_... + 1 + n
FIRST_MEGACORP_PROJECT_ID = 2100001
FIRST_MEGACORP_GROUP_ID = 3140001
FIRST_MEGACORP_PROJECT_GROUP_ID = 4690001
FIRST_MEGACORP_PROJECT_USER_ID = 4790001

USER_MEGACORP_OWNER = FIRST_MEGACORP_USER_ID  # "Aaron Abbott", admin and owner
GROUP_MEGACORP_FIRST = FIRST_MEGACORP_GROUP_ID  # "Accounting Alpha", in WS_MEGACORP_DELIVERY
GROUP_MEGACORP_LAST = FIRST_MEGACORP_GROUP_ID + MEGACORP_GROUPS - 1  # "Security Oscar", Internal
PROJECT_MEGACORP_FIRST = FIRST_MEGACORP_PROJECT_ID  # "Atlas Migration 0001", in Delivery


def _user(user_id: int, fullname: str, domain: str) -> User:
    email = fullname.lower().replace(" ", ".") + "@" + domain
    return User(
        id=user_id,
        fullname=fullname,
        email=email,
        avatar_url=f"https://avatars.sandbox.invalid/{user_id}.png",
    )


def build_demo_state(*, large_org: bool = False) -> State:
    """The demo data; with ``large_org`` also Megacorp Holdings (see the module docstring)."""
    state = State(
        me_user_id=USER_ALEX,
        default_workspace_id=WS_ACME_DESIGN,
        next_group_id=FIRST_NEW_GROUP_ID,
        next_project_group_id=FIRST_NEW_PROJECT_GROUP_ID,
        next_project_user_id=FIRST_NEW_PROJECT_USER_ID,
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
        Project(PROJECT_BRAND_REFRESH, WS_ACME_DESIGN, "Brand Refresh", color="#c7af14", is_private=True),
        Project(
            PROJECT_WEBSITE_REDESIGN,
            WS_ACME_DESIGN,
            "Website Redesign",
            color="#4dc3ff",
            billable=True,
            is_private=True,
        ),
        Project(PROJECT_STUDIO_HANDBOOK, WS_ACME_DESIGN, "Studio Handbook", color="#06a893"),
        Project(
            PROJECT_WEBSITE_2019,
            WS_ACME_DESIGN,
            "Website 2019",
            active=False,
            color="#9e5bd9",
            is_private=True,
        ),
        Project(PROJECT_API_PLATFORM, WS_ACME_ENGINEERING, "API Platform", color="#0b83d9", is_private=True),
        Project(
            PROJECT_DATA_PIPELINE, WS_ACME_ENGINEERING, "Data Pipeline", color="#2da608", is_private=True
        ),
        Project(
            PROJECT_LEGACY_INTRANET,
            WS_ACME_ENGINEERING,
            "Legacy Intranet",
            active=False,
            color="#525266",
            is_private=True,
        ),
        Project(PROJECT_FUSION_STUDY, WS_GLOBEX_LAB, "Fusion Study", color="#e36a00", is_private=True),
        Project(PROJECT_TPS_REPORTS, WS_INITECH_OPS, "TPS Reports", color="#991102", is_private=True),
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
        ProjectGroup(LINK_DESIGNERS_HANDBOOK, WS_ACME_DESIGN, PROJECT_STUDIO_HANDBOOK, GROUP_DESIGNERS),
    ]
    set_at = "2026-01-14T10:00:00+00:00"
    project_users = [
        ProjectUser(
            PROJECT_USER_DANA_API,
            WS_ACME_ENGINEERING,
            PROJECT_API_PLATFORM,
            USER_DANA,
            manager=True,
            rate=DANA_RATE,
            rate_last_updated=set_at,
            labor_cost=DANA_LABOR_COST,
            labor_cost_last_updated=set_at,
            at=set_at,
        ),
        ProjectUser(
            PROJECT_USER_DANA_PIPELINE,
            WS_ACME_ENGINEERING,
            PROJECT_DATA_PIPELINE,
            USER_DANA,
            rate=DANA_RATE,
            rate_last_updated=set_at,
            labor_cost=DANA_LABOR_COST,
            labor_cost_last_updated=set_at,
            at=set_at,
        ),
        ProjectUser(
            PROJECT_USER_CHEN_PIPELINE, WS_ACME_ENGINEERING, PROJECT_DATA_PIPELINE, USER_CHEN, at=set_at
        ),
    ]
    state.users = {u.id: u for u in users}
    state.organizations = {o.id: o for o in organizations}
    state.members = {m.id: m for m in members}
    state.workspaces = {w.id: w for w in workspaces}
    state.projects = {p.id: p for p in projects}
    state.groups = {g.id: g for g in groups}
    state.project_groups = {pg.id: pg for pg in project_groups}
    state.project_users = {pu.id: pu for pu in project_users}
    if large_org:
        _add_megacorp(state)
    return state


# ---- Megacorp Holdings: names and ids are arithmetic on an index, so every build is the same -----

_FIRST_NAMES = tuple(
    (
        "Aaron Abigail Adrian Aisha Amelia Andre Anika Arjun Beatriz Benjamin Carla Carlos Chloe "
        "Daniel Daria David Elena Emeka Emily Erik Fatima Felix Freya Gabriel Grace Hamza Hannah Hugo "
        "Ines Isaac Jana Javier Julia Kai Kavya Laura Leon Lucia Marco Maria Mateo Maya Mei Nadia "
        "Noah Olga Omar Paula Pedro Priya Rafael Rosa Samuel Sofia Tariq Tomas Valentina Victor Yara "
        "Zoe"
    ).split()
)
_LAST_NAMES = tuple(
    (
        "Abbott Adeyemi Andersen Bauer Becker Brennan Castillo Costa Dalton Dubois Eriksen Fischer "
        "Fontaine Garcia Gupta Hansen Herrera Ito Jensen Kapoor Keller Kim Kowalski Larsen Lopez "
        "Mancini Meyer Moreau Nakamura Nguyen Novak Oliveira Park Quinn Rossi Santos Schmidt Silva "
        "Singh Sorensen Tanaka Torres Valdez Varga Wagner Walsh Weber Yamamoto Young Zielinski"
    ).split()
)
_PROJECT_CODENAMES = tuple(
    (
        "Atlas Beacon Cobalt Delta Ember Falcon Granite Harbor Indigo Juniper Keystone Lumen Meridian "
        "Nimbus Orion Pioneer Quartz Radiant Summit Tundra Unity Vertex Willow Xenon Zephyr"
    ).split()
)
_PROJECT_KINDS = tuple(
    "Migration Rollout Audit Redesign Integration Launch Research Support Upgrade Campaign".split()
)
_DEPARTMENTS = tuple(
    (
        "Accounting Analytics Brand Compliance Support Data Design DevOps Engineering Facilities "
        "Finance Legal Marketing Operations Partnerships Product Quality Research Sales Security"
    ).split()
)
_TEAMS = tuple(
    "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliet Kilo Lima Mike November Oscar".split()
)
_COLORS = ("#0b83d9", "#9e5bd9", "#d94182", "#e36a00", "#bf7000", "#2da608", "#06a893", "#c9806b")


def megacorp_user_name(n: int) -> str:
    """Generated user ``n`` (0 … 2,998): every first/last name pair once, so names are unique."""
    first = n % len(_FIRST_NAMES)
    last = (n // len(_FIRST_NAMES) + 7 * first) % len(_LAST_NAMES)
    return f"{_FIRST_NAMES[first]} {_LAST_NAMES[last]}"


def megacorp_user_id(n: int) -> int:
    return FIRST_MEGACORP_USER_ID + n


def megacorp_project_name(n: int) -> str:
    """Project ``n`` (1 … 1,500), e.g. "Atlas Migration 0001"; the number makes it unique."""
    codename = _PROJECT_CODENAMES[(n - 1) % len(_PROJECT_CODENAMES)]
    kind = _PROJECT_KINDS[(n - 1) // len(_PROJECT_CODENAMES) % len(_PROJECT_KINDS)]
    return f"{codename} {kind} {n:04d}"


def megacorp_project_id(n: int) -> int:
    """Project ``n`` (1 … 1,500): 1–1,200 in Delivery, 1,201–1,400 in Research, the rest Internal."""
    return FIRST_MEGACORP_PROJECT_ID + n - 1


def megacorp_group_name(n: int) -> str:
    """Group ``n`` (0 … 299): "<department> <team>", e.g. "Accounting Alpha", all different."""
    return f"{_DEPARTMENTS[n // len(_TEAMS)]} {_TEAMS[n % len(_TEAMS)]}"


def megacorp_group_id(n: int) -> int:
    return FIRST_MEGACORP_GROUP_ID + n


def megacorp_group_workspace(n: int) -> int:
    """Eight groups in ten work in Delivery, one in Research, one in Internal."""
    return {8: WS_MEGACORP_RESEARCH, 9: WS_MEGACORP_INTERNAL}.get(n % 10, WS_MEGACORP_DELIVERY)


def megacorp_group_members(n: int) -> list[int]:
    """The 15 generated users of group ``n``: users ``n``, ``n + 300``, ``n + 600`` … (modulo 2,999),
    so every generated user is in one group or two, and the 15 are all different."""
    return [
        megacorp_user_id((n + j * MEGACORP_GROUPS) % MEGACORP_GENERATED_USERS)
        for j in range(MEGACORP_GROUP_SIZE)
    ]


def megacorp_group_projects(n: int) -> list[int]:
    """The projects group ``n`` is linked to: 3 to 8 (``3 + n % 6``), all in its workspace."""
    workspace = megacorp_group_workspace(n)
    first = 1 + sum(
        MEGACORP_PROJECTS_PER_WORKSPACE[w]
        for w in MEGACORP_WORKSPACES[: MEGACORP_WORKSPACES.index(workspace)]
    )
    size = MEGACORP_PROJECTS_PER_WORKSPACE[workspace]
    count = MEGACORP_LINKS_MIN + n % (MEGACORP_LINKS_MAX - MEGACORP_LINKS_MIN + 1)
    # A stride of 37 never wraps onto itself within 8 steps for 100, 200 or 1,200 projects.
    return [megacorp_project_id(first + (n * 7 + k * 37) % size) for k in range(count)]


def megacorp_project_is_public(n: int) -> bool:
    """Project ``n`` (1 … 1,500) is public when ``n % 5 == 2`` (never an archived one)."""
    return n % MEGACORP_PUBLIC_EVERY == 2


def megacorp_project_users() -> list[ProjectUser]:
    """The direct project members, in id order (``FIRST_MEGACORP_PROJECT_USER_ID + index``):

    - every 4th project ``n`` has one generated user ``13 n % 2,999`` as a direct member: manager
      on every 8th project, with their own rate ``60 + 5 (n % 7)`` and labor cost 40.0 on every
      12th;
    - for every 5th group ``g``, its first member (user ``g``) is also a direct member of the
      group's first project, with rate ``80 + 5 (g % 4)`` and labor cost 50.0: two ways in.

    A pair already made by the first rule is not made again."""
    set_at = "2026-03-03T09:00:00+00:00"
    rows: list[ProjectUser] = []
    seen: set[tuple[int, int]] = set()

    def add(
        project_id: int, user_id: int, manager: bool, rate: float | None, labor_cost: float | None
    ) -> None:
        if (project_id, user_id) in seen:
            return
        seen.add((project_id, user_id))
        workspace_id = _megacorp_project_workspace(project_id)
        rows.append(
            ProjectUser(
                FIRST_MEGACORP_PROJECT_USER_ID + len(rows),
                workspace_id,
                project_id,
                user_id,
                manager=manager,
                rate=rate,
                rate_last_updated=None if rate is None else set_at,
                labor_cost=labor_cost,
                labor_cost_last_updated=None if labor_cost is None else set_at,
                at=set_at,
            )
        )

    for n in range(MEGACORP_OUTSIDER_EVERY, MEGACORP_PROJECTS + 1, MEGACORP_OUTSIDER_EVERY):
        priced = n % 12 == 0
        add(
            megacorp_project_id(n),
            megacorp_user_id(n * 13 % MEGACORP_GENERATED_USERS),
            n % 8 == 0,
            60.0 + 5 * (n % 7) if priced else None,
            40.0 if priced else None,
        )
    for g in range(0, MEGACORP_GROUPS, MEGACORP_DOUBLE_PATH_EVERY):
        add(megacorp_group_projects(g)[0], megacorp_group_members(g)[0], False, 80.0 + 5 * (g % 4), 50.0)
    return rows


def _megacorp_project_workspace(project_id: int) -> int:
    n = project_id - FIRST_MEGACORP_PROJECT_ID + 1
    for workspace_id in MEGACORP_WORKSPACES:
        if n <= MEGACORP_PROJECTS_PER_WORKSPACE[workspace_id]:
            return workspace_id
        n -= MEGACORP_PROJECTS_PER_WORKSPACE[workspace_id]
    raise ValueError(f"{project_id} is not a Megacorp project")


def _add_megacorp(state: State) -> None:
    domain = "megacorp.example"
    state.organizations[ORG_MEGACORP] = Organization(ORG_MEGACORP, "Megacorp Holdings", "Enterprise")
    state.members[FIRST_MEGACORP_MEMBER_ID] = OrgMember(
        FIRST_MEGACORP_MEMBER_ID, ORG_MEGACORP, USER_ALEX, admin=True
    )
    for n in range(MEGACORP_GENERATED_USERS):
        user_id = megacorp_user_id(n)
        state.users[user_id] = _user(user_id, megacorp_user_name(n), domain)
        member_id = FIRST_MEGACORP_MEMBER_ID + 1 + n
        state.members[member_id] = OrgMember(
            member_id,
            ORG_MEGACORP,
            user_id,
            admin=n % 500 == 0,
            owner=n == 0,
            inactive=n % 173 == 172,
            joined=n % 257 != 256,
        )
    names = {
        WS_MEGACORP_DELIVERY: "Megacorp Delivery",
        WS_MEGACORP_RESEARCH: "Megacorp Research",
        WS_MEGACORP_INTERNAL: "Megacorp Internal",
    }
    n = 1
    for workspace_id in MEGACORP_WORKSPACES:
        state.workspaces[workspace_id] = Workspace(workspace_id, ORG_MEGACORP, names[workspace_id])
        for _ in range(MEGACORP_PROJECTS_PER_WORKSPACE[workspace_id]):
            project_id = megacorp_project_id(n)
            state.projects[project_id] = Project(
                project_id,
                workspace_id,
                megacorp_project_name(n),
                active=n % MEGACORP_ARCHIVED_EVERY != 0,
                color=_COLORS[n % len(_COLORS)],
                billable=n % 3 == 0,
                is_private=not megacorp_project_is_public(n),
                created_at=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00+00:00",
            )
            n += 1
    link_id = FIRST_MEGACORP_PROJECT_GROUP_ID
    for n in range(MEGACORP_GROUPS):
        group_id = megacorp_group_id(n)
        workspace_id = megacorp_group_workspace(n)
        state.groups[group_id] = Group(
            group_id,
            ORG_MEGACORP,
            megacorp_group_name(n),
            f"2026-03-02T{8 + n // 60:02d}:{n % 60:02d}:00+00:00",
            megacorp_group_members(n),
            [workspace_id],
        )
        for project_id in megacorp_group_projects(n):
            state.project_groups[link_id] = ProjectGroup(link_id, workspace_id, project_id, group_id)
            link_id += 1
    for row in megacorp_project_users():
        state.project_users[row.id] = row
