"""Per-process state shared by the tools: the Toggl client and short-lived caches."""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mcp.server.mcpserver import Context

from .config import Settings
from .journal import Journal
from .toggl import TogglClient

T = TypeVar("T")

# Names change rarely, and are only shown, never decided on: keep them for a conversation's length.
NAMES_TTL = 15 * 60.0


@dataclass
class TTLCache:
    """Answers that rarely change (organizations, workspaces, a group list) kept for `ttl` seconds.

    Every entry is dropped by key prefix when this server changes what it describes.
    """

    ttl: float
    entries: dict[tuple[Any, ...], tuple[float, Any]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def get(self, key: tuple[Any, ...]) -> Any | None:
        hit = self.entries.get(key)
        if hit is None or self.clock() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self.entries[key] = (self.clock(), value)

    async def get_or_load(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        hit = self.get(key)
        if hit is not None:
            return hit
        value = await load()
        self.put(key, value)
        return value

    def drop(self, *prefix: Any) -> None:
        n = len(prefix)
        for key in [k for k in self.entries if k[:n] == prefix]:
            del self.entries[key]


@dataclass
class AppState:
    settings: Settings
    toggl: TogglClient
    cache: TTLCache
    sandbox_url: str | None = None
    # The change journal, when there is one (see journal.py).
    journal: Journal | None = None
    # Names heard in any answer (groups, users, projects, workspaces), for showing beside ids.
    names: TTLCache = field(default_factory=lambda: TTLCache(ttl=NAMES_TTL))
    # Answers Toggl gave during one tool call (see `call_memo`), by the id of the call's Context.
    calls: dict[int, dict[tuple[Any, ...], Any]] = field(default_factory=dict)


def app_state(ctx: Context) -> AppState:
    state = ctx.request_context.lifespan_context
    assert isinstance(state, AppState)
    return state


def call_memo(ctx: Context) -> dict[tuple[Any, ...], Any]:
    """Reads made during this tool call, shared by its confirmation preview and its body.

    Anything that decides what a change loses must come from an answer Toggl gave for this call,
    never from an earlier call's cache: someone may have changed the group in Toggl meanwhile. The
    memo lives as long as the call's Context (a resolver and the tool body share one), so the
    preview's read also serves the body without a second request. On the 2026-07-28 protocol a
    call that asks the human spans two requests, and each gets its own Context: the second one
    reads afresh, after the human has answered.
    """
    state = app_state(ctx)
    key = id(ctx)
    memo = state.calls.get(key)
    if memo is None:
        memo = state.calls[key] = {}
        weakref.finalize(ctx, state.calls.pop, key, None)
    return memo
