"""An embedded, stateful fake of the Toggl Track API v9 groups endpoints, with fault injection.

    from toggl_groups_mcp.sandbox import SandboxConfig, running_sandbox, SandboxThread

    async with running_sandbox(SandboxConfig(hourly_quota=30)) as sb:   # asyncio only (uvicorn)
        httpx.AsyncClient(base_url=sb.url, auth=(sb.token, "api_token"))

    with SandboxThread() as sb:   # the same from synchronous code: sb.url, sb.token, sb.sandbox
        sb.sandbox.faults.drop_next(method="POST", after_apply=True)

It imports nothing from the rest of the server package; uvicorn loads only when a server starts.
Demo ids are constants in ``toggl_groups_mcp.sandbox.demo``; its docstring tells who reaches
which project and how (public project, direct member, linked group).

Two users: ``sb.token`` (``DEFAULT_TOKEN``) is Alex Morgan, in all three demo organizations;
``SECOND_TOKEN`` is Gustavo Lima, admin of Globex Research only (``SandboxConfig.other_tokens``,
token -> user id, adds or replaces such users). Each token gets its own /me, organizations,
workspaces and rights (403 elsewhere, as Toggl), its own leaky bucket and its own quotas.

At scale: ``SandboxConfig(large_org=True)`` (``--large-org``) adds a fourth organization, Megacorp
Holdings (``demo.ORG_MEGACORP``, Alex is admin): 3,000 organization users, 1,500 projects in three
workspaces (1,200 / 200 / 100; 15 archived, 300 public), 300 groups of 15 members, each in one
workspace and linked to 3 to 8 of its projects (1,650 links), and 435 direct project members (60
of them also reach that project through a group). Deterministic (no randomness), built in ~10 ms; the
``MEGACORP_*`` constants and ``megacorp_*`` functions of ``demo`` give its sizes, ids and names.
Reset brings it back while the config says ``large_org``; an existing ``--state`` file is loaded
as it is, with or without it. At that size the endpoints behave as Toggl's: organization users
come 50 a page by default, projects 151 (``per_page`` up to 200 for both), while
/organizations/{id}/groups is not paged and answers all 300 groups at once.

Fault ``ignore_per_page`` (``SandboxConfig``, ``--ignore-per-page``, POST /__sandbox/faults, or
``sandbox.faults.update(ignore_per_page=True)``): project and organization-user listings answer
every matching item on page 1 and nothing on later pages, whatever ``per_page`` asks (``page``
and ``per_page`` are still checked). Toggl has been seen to answer more than asked, so a client
must neither assume at most ``per_page`` items nor stop paging only on an exactly full page.

Choices where Toggl documents nothing (marked inferred in the reference):
- PUT replaces the whole group: omitted ``users`` / ``workspaces`` become empty.
- PATCH: an unknown, empty or missing ``op`` (anything but "add" / "remove") makes the whole
  request 400 "Empty or invalid patch operation", and likewise a ``path`` other than "/users" /
  "/workspaces" 400 "Empty or invalid patch path" (op checked first), nothing applied; an
  element that is not an object is 400 "Invalid JSON input". Otherwise operations apply one by
  one: a missing, empty or over-long ``value``, or one with an id not in the organization, fails
  that operation whole (nothing of it applied) in the 200's ``failure``; adding a member twice and
  removing a non-member succeed (idempotent). A group of another organization answers 400
  "Unknown group at organization"; an unknown id 404.
- Deleting a group deletes its project links. Linking a group to a project does not require the
  group to be assigned to the project's workspace.
- Eventual consistency: for ``consistency_delay`` seconds after creation, POST project_groups
  with that group answers 400 "Group not found", exactly as for an unknown group.
- Project users (GET/POST ``/workspaces/{id}/project_users``, PUT/DELETE ``.../{id}``): every
  call needs a workspace admin, like project groups. GET without ``project_ids`` and ``user_id``
  answers every direct member of the workspace. ``with_group_members`` (Go's boolean words) adds,
  after the direct rows, one row per person per linked group holding them: ``group_id`` and
  ``gid`` that group, no manager flag, rate or labor cost, and ``id`` the project-group link's id
  (Toggl documents none; it never collides with a project user's, and DELETE of it answers 404
  "Project user not found": the access is the group's). POST checks types ("Invalid JSON input"),
  the project ("Project not found"), the person ("User {u} not exists in the organization {o}"),
  duplicates ("User is already a member of this project"), negative rates ("rate must not be
  negative") and the change modes (checked, not stored: no time entries here). PUT changes only
  ``manager``, ``rate`` and ``labor_cost`` as named (null clears a rate); DELETE answers the
  removed id. Deleting a group leaves project users alone, and the reverse. Not a plan feature:
  ``plan_402`` does not refuse them.
- An unknown organization or workspace answers 403 like a foreign one; a non-admin member gets
  403 from group, user and project-group endpoints but may list projects.
- Quotas: a sliding hour per user per organization (``hourly_quota``) and a user-level budget
  per user for /me* and unknown organizations (``user_hourly_quota``), as Toggl counts them;
  outside a request (``stats``, ``faults.quota_status``) they are the own user's. ``None``
  enforces nothing and the headers count down from 1,000,000. Calls refused by auth, the
  bucket, injected faults, the quota or the plan are not counted. ``resets_in`` is 0 while
  nothing has been counted.
- Fault order per request: latency, auth (403), the token's leaky bucket (429 + Retry-After),
  scripted rule (fail / drop / drop_after), random 5xx, quota (402 with headers), plan (402
  without headers).
  A ``drop`` closes the connection before anything is applied; ``drop_after`` processes and
  saves the request, then closes the connection instead of answering. Dropping needs the
  server's transport: under ``httpx.ASGITransport`` it raises ``ConnectionDropped`` instead.

Not Toggl, but the sandbox's own safety:
- The control API (/__sandbox) has no credentials, so it answers only to its own names (Host
  ``127.0.0.1``, ``localhost``, ``[::1]`` or the bound address; no DNS-rebound names), refuses a
  foreign Origin (403), and takes writes only as ``Content-Type: application/json`` (415), which
  an HTML form cannot send. In process, give ``httpx.ASGITransport`` a base URL on
  ``http://127.0.0.1`` or ``http://localhost`` to use it. The Toggl routes need the token instead.
- Listening off loopback needs ``allow_remote=True`` (``--allow-remote``, which warns on stderr).
  The control API then answers to the loopback names and the bound address as given; bound to a
  wildcard (``0.0.0.0``, ``::``) to any IP literal too, since the machine's addresses cannot be
  listed portably and a literal address, unlike a name, cannot be rebound. Other names: 403.
- A ``--state`` file must be exactly the shape the sandbox writes (types, keys, ids that resolve);
  anything else is refused at start with ``SandboxStateError`` and the file is left alone.
"""

from .config import DEFAULT_TOKEN, SECOND_TOKEN, SandboxConfig
from .core import Sandbox
from .faults import FaultRule, Faults
from .runner import RunningSandbox, SandboxThread, running_sandbox
from .store import ApiError, SandboxStateError, Store

__all__ = [
    "DEFAULT_TOKEN",
    "SECOND_TOKEN",
    "ApiError",
    "FaultRule",
    "Faults",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxStateError",
    "SandboxThread",
    "Store",
    "running_sandbox",
]
