"""State shared by the tools: the Toggl client and short-lived caches, one set per Toggl token
(per process, or per user of a team server with per-user tokens)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from .config import Settings
from .journal import Journal
from .toggl import TogglClient

T = TypeVar("T")

# Names change rarely, and are only shown, never decided on: keep them for a conversation's length.
NAMES_TTL = 15 * 60.0


@dataclass
class TTLCache:
    """Answers that rarely change (organizations, workspaces, a group list) kept for `ttl` seconds."""

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


@dataclass
class NameBook(TTLCache):
    """Names heard in any answer (groups, users, projects, workspaces), for showing beside ids.

    With Redis (`shared.SharedNames`) the processes on a token keep one book: `pull` at the start
    of a tool call takes in what the others heard, `push` at its end sends what this call heard.
    """

    shared: Any = None
    pending: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.shared is not None and self.get(key) != value:
            self.pending[key] = value
        super().put(key, value)

    async def pull(self) -> None:
        if self.shared is not None:
            for key, name in await self.shared.read():
                TTLCache.put(self, key, name)

    async def push(self) -> None:
        if self.shared is not None and self.pending:
            heard, self.pending = self.pending, {}
            await self.shared.write(heard)


@dataclass
class LocalCache:
    """The discovery cache of one process: `TTLCache` behind the async contract that the Redis
    cache shared by every process on a token (`shared.SharedCache`) also keeps. Values are JSON."""

    ttl: float
    store: TTLCache = field(init=False)

    def __post_init__(self) -> None:
        self.store = TTLCache(ttl=self.ttl)

    async def get(self, key: tuple[Any, ...]) -> Any | None:
        return self.store.get(key)

    async def put(self, key: tuple[Any, ...], value: Any) -> None:
        self.store.put(key, value)

    async def get_or_load(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        hit = self.store.get(key)
        if hit is not None:
            return hit
        value = await load()
        self.store.put(key, value)
        return value


class Cache(Protocol):
    async def get(self, key: tuple[Any, ...]) -> Any | None: ...
    async def put(self, key: tuple[Any, ...], value: Any) -> None: ...
    async def get_or_load(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T: ...


@dataclass
class AppState:
    settings: Settings
    toggl: TogglClient
    cache: Cache
    sandbox_url: str | None = None
    # The change journal, when there is one (see journal.py).
    journal: Journal | None = None
    # Names heard in any answer, for showing beside ids.
    names: NameBook = field(default_factory=lambda: NameBook(ttl=NAMES_TTL))
    # Answers Toggl gave during one tool call (see `call_memo`), by the id of the call's Context.
    calls: dict[int, dict[tuple[Any, ...], Any]] = field(default_factory=dict)


# The header that carries each user's own Toggl token to a team server (TOGGL_MCP_PER_USER_TOKENS).
USER_TOKEN_HEADER = "X-Toggl-Api-Token"
# Longer than any Toggl token; a header past it is refused rather than hashed and kept.
MAX_USER_TOKEN = 256


def user_token(headers: Mapping[str, str] | None) -> str | None:
    """The Toggl token a request carries, or None when it has none that could be one."""
    if headers is None:
        return None
    raw = headers.get(USER_TOKEN_HEADER) or headers.get(USER_TOKEN_HEADER.lower()) or ""
    token = raw.strip()
    if not token or len(token) > MAX_USER_TOKEN or not token.isprintable() or " " in token:
        return None
    return token


@dataclass
class Tenants:
    """One `AppState` per Toggl token, for a server whose users each bring their own.

    Everything a user's calls touch (client and pacing, caches, name book, journal) lives in their
    own state, found by a hash of their token: one user's cached answer is never served to another.
    A state unused for `idle` seconds is closed; at most `limit` are kept.
    """

    open: Callable[[str], AppState]
    idle: float = 30 * 60.0
    limit: int = 1000
    clock: Callable[[], float] = time.monotonic
    states: dict[str, tuple[AppState, float]] = field(default_factory=dict)
    closing: set[Any] = field(default_factory=set)

    def for_token(self, token: str) -> AppState:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        found = self.states.get(key)
        if found is None:
            self._retire(now)
            found = (self.open(token), now)
        self.states[key] = (found[0], now)
        return found[0]

    def _retire(self, now: float) -> None:
        stale = [k for k, (_, used) in self.states.items() if now - used > self.idle]
        if len(self.states) - len(stale) >= self.limit:
            by_age = sorted(self.states, key=lambda k: self.states[k][1])
            stale += by_age[: len(self.states) - len(stale) - self.limit + 1]
        for key in dict.fromkeys(stale):
            state, _ = self.states.pop(key)
            # Off the caller's path: its HTTP connections close in the background.
            task = asyncio.ensure_future(state.toggl.aclose())
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)

    async def aclose(self) -> None:
        for state, _ in self.states.values():
            await state.toggl.aclose()
        self.states.clear()


def app_state(ctx: Context) -> AppState:
    state = ctx.request_context.lifespan_context
    if isinstance(state, Tenants):
        token = user_token(ctx.headers)
        if token is None:
            # The HTTP layer refuses such requests first; this is for any other way in.
            raise ToolError(
                f"This server uses each user's own Toggl API token: send it in the {USER_TOKEN_HEADER} "
                "header of every HTTP request."
            )
        return state.for_token(token)
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
