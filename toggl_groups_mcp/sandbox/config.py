"""Settings of one sandbox: where it listens, what it stores, and which faults it injects."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from .demo import USER_GUSTAVO

DEFAULT_TOKEN = "sandbox-token"
"""The API token the sandbox accepts unless told otherwise (password: the literal ``api_token``)."""

SECOND_TOKEN = "sandbox-token-2"
"""A second user's API token (``other_tokens`` by default): Gustavo Lima, admin of Globex only."""

caller_token: ContextVar[str | None] = ContextVar("toggl_sandbox_caller_token", default=None)
"""The token of the Toggl request being answered. None outside a request, which then acts as the
sandbox's own user (``token``): its "me", bucket and quotas. A context variable, so concurrent
requests each see their own."""


@contextlib.contextmanager
def acting_as(token: str | None) -> Iterator[None]:
    """Store and fault decisions in the block are those of ``token``'s user (None: the own user)."""
    reset = caller_token.set(token)
    try:
        yield
    finally:
        caller_token.reset(reset)


@dataclass
class SandboxConfig:
    """Everything a sandbox needs; the fault fields are also the starting values of its knobs.

    ``hourly_quota`` and ``user_hourly_quota`` of ``None`` mean "not enforced": answers still carry
    quota headers, counting down from a nominal 1,000,000 per hour.

    ``ignore_per_page`` (a knob) makes project and organization-user listings answer every
    matching item on page 1 (and nothing on later pages), whatever ``per_page`` asks, as Toggl
    has been seen to: a client must not rely on getting at most ``per_page``.

    ``large_org`` adds the large demo organization, Megacorp Holdings (``demo.ORG_MEGACORP``:
    3,000 users, 1,500 projects, 300 groups), to the demo data at start and at every reset.

    ``other_tokens`` are further users (token -> user id, a user of the demo data), for a server
    that calls Toggl with each person's own token: each sees its own /me, organizations and
    rights, and has its own leaky bucket and quotas, as a Toggl user does. ``token`` is the
    state's own user (Alex Morgan in the demo) and wins if it is also listed here. A token whose
    user is not in the state (a state file of other data) is refused like an unknown one.

    A ``host`` other than a loopback address (or ``localhost``) needs ``allow_remote=True``: the
    control API has no credentials, so anyone who can reach the port can reset the state.
    """

    token: str = DEFAULT_TOKEN
    other_tokens: dict[str, int] = field(default_factory=lambda: {SECOND_TOKEN: USER_GUSTAVO})
    host: str = "127.0.0.1"
    port: int = 0
    state_path: str | Path | None = None
    latency: float = 0.0
    rate_per_sec: float | None = None
    burst: int = 2
    hourly_quota: int | None = None
    user_hourly_quota: int | None = None
    plan_402: bool = False
    error_rate: float = 0.0
    seed: int | None = None
    consistency_delay: float = 0.0
    ignore_per_page: bool = False
    large_org: bool = False
    log_level: str = "warning"
    allow_remote: bool = False

    def __post_init__(self) -> None:
        if not self.allow_remote and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host or 'every address'} (not loopback): anyone who can "
                "reach it could reset the sandbox through its unauthenticated control API; "
                "pass allow_remote=True (--allow-remote) to mean it"
            )


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1); any other name or a wildcard is not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
