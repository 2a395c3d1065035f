"""An embedded, stateful fake of the Toggl Track API v9 groups endpoints, with fault injection.

    from toggl_groups_mcp.sandbox import SandboxConfig, running_sandbox, SandboxThread

    async with running_sandbox(SandboxConfig(hourly_quota=30)) as sb:   # asyncio only (uvicorn)
        httpx.AsyncClient(base_url=sb.url, auth=(sb.token, "api_token"))

    with SandboxThread() as sb:   # the same from synchronous code: sb.url, sb.token, sb.sandbox
        sb.sandbox.faults.drop_next(method="POST", after_apply=True)

It imports nothing from the rest of the server package; uvicorn loads only when a server starts.
Demo ids are constants in ``toggl_groups_mcp.sandbox.demo``.

Choices where Toggl documents nothing (marked inferred in the reference):
- PUT replaces the whole group: omitted ``users`` / ``workspaces`` become empty.
- PATCH: an operation fails whole when any of its ids is not in the organization (nothing of it
  applied); adding a member twice and removing a non-member succeed (idempotent). A group of
  another organization answers 400 "Unknown group at organization"; an unknown id 404.
- Deleting a group deletes its project links. Linking a group to a project does not require the
  group to be assigned to the project's workspace.
- Eventual consistency: for ``consistency_delay`` seconds after creation, POST project_groups
  with that group answers 400 "Group not found", exactly as for an unknown group.
- An unknown organization or workspace answers 403 like a foreign one; a non-admin member gets
  403 from group, user and project-group endpoints but may list projects.
- Quotas: a sliding hour per organization (``hourly_quota``) and a user-level budget for /me*
  and unknown organizations (``user_hourly_quota``). ``None`` enforces nothing and
  the headers count down from 1,000,000. Calls refused by auth, the bucket, injected faults, the
  quota or the plan are not counted. ``resets_in`` is 0 while nothing has been counted.
- Fault order per request: latency, auth (403), leaky bucket (429 + Retry-After), scripted rule
  (fail / drop / drop_after), random 5xx, quota (402 with headers), plan (402 without headers).
  A ``drop`` closes the connection before anything is applied; ``drop_after`` processes and
  saves the request, then closes the connection instead of answering. Dropping needs the
  server's transport: under ``httpx.ASGITransport`` it raises ``ConnectionDropped`` instead.
"""

from .config import DEFAULT_TOKEN, SandboxConfig
from .core import Sandbox
from .faults import FaultRule, Faults
from .runner import RunningSandbox, SandboxThread, running_sandbox
from .store import ApiError, SandboxStateError, Store

__all__ = [
    "DEFAULT_TOKEN",
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
