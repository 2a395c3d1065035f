"""State shared by the tools: the Toggl client and short-lived caches, one set per Toggl token
(per process, or per user of a team server with per-user tokens)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from .config import Settings
from .toggl import TogglClient

if TYPE_CHECKING:
    from .journal import Journal  # loaded only by a server that keeps a journal

T = TypeVar("T")

# Names change rarely, and are only shown, never decided on: keep them for a conversation's length.
NAMES_TTL = 15 * 60.0
# The most names a book keeps (a large organization has a few thousand).
MAX_NAMES = 200_000


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
    # Names as another process said them (through Redis), not as Toggl answered this one.
    foreign: set[tuple[Any, ...]] = field(default_factory=set)

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.shared is not None and self.get(key) != value:
            self.pending[key] = value
        self.foreign.discard(key)
        super().put(key, value)

    def own(self, key: tuple[Any, ...]) -> Any | None:
        """The name as Toggl told this process, or None when only another process said it."""
        return None if key in self.foreign else self.get(key)

    async def pull(self) -> None:
        if self.shared is not None:
            for key, name in await self.shared.read():
                if self.get(key) != name:
                    self.foreign.add(key)
                TTLCache.put(self, key, name)
            self.prune()

    def prune(self) -> None:
        """Past MAX_NAMES names (others can send any number of them), drop the expired, then the
        oldest."""
        if len(self.entries) <= MAX_NAMES:
            return
        now = self.clock()
        kept = sorted(
            ((at, key) for key, (at, _) in self.entries.items() if now - at <= self.ttl), reverse=True
        )[: MAX_NAMES // 2]
        keep = {key for _, key in kept}
        self.entries = {key: hit for key, hit in self.entries.items() if key in keep}
        self.foreign &= keep

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
class OwnedCache:
    """A cache others can write to (Redis, `shared.SharedCache`), with the answers Toggl gave this
    process kept apart in `own`: read tools take any answer, a deciding call only its own."""

    shared: Cache
    own: LocalCache

    async def get(self, key: tuple[Any, ...]) -> Any | None:
        return await self.shared.get(key)

    async def put(self, key: tuple[Any, ...], value: Any) -> None:
        await self.own.put(key, value)
        await self.shared.put(key, value)

    async def get_or_load(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        hit = await self.shared.get(key)
        if hit is not None:
            return hit
        value = await load()
        await self.put(key, value)
        return value


def own_answers(cache: Cache) -> LocalCache | None:
    """The part of a cache that holds only what Toggl told this process."""
    if isinstance(cache, LocalCache):
        return cache
    return cache.own if isinstance(cache, OwnedCache) else None


# Where a deciding call keeps what it read and heard, in its memo (see `deciding_state`).
CALL_CACHE = "cache"
CALL_NAMES = ("names",)


@dataclass
class CallCache:
    """The discovery cache as a deciding call sees it: answers Toggl gave during this call, else
    answers Toggl gave this process earlier (`local`), never one from Redis, which anyone who can
    write there may have forged.

    `fresh` is for what decides what a change loses (a deletion's project lists): read during this
    call whatever this process has cached. Loads also go to the state's cache (`shared`), for later
    calls. The call's own answers live in its memo, so clearing the memo (a re-read after the human
    answered) forgets them too; `local` answers stay (they name things and pick defaults)."""

    memo: dict[tuple[Any, ...], Any]
    shared: Cache
    local: LocalCache | None = None

    async def get(self, key: tuple[Any, ...]) -> Any | None:
        if (CALL_CACHE, key) in self.memo:
            return self.memo[(CALL_CACHE, key)]
        return None if self.local is None else await self.local.get(key)

    async def put(self, key: tuple[Any, ...], value: Any) -> None:
        self.memo[(CALL_CACHE, key)] = value
        await self.shared.put(key, value)

    async def get_or_load(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        hit = await self.get(key)
        if hit is not None:
            return hit
        return await self.fresh(key, load)

    async def fresh(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        """This call's answer for `key`, read now unless this call already read it."""
        if (CALL_CACHE, key) in self.memo:
            hit: T = self.memo[(CALL_CACHE, key)]
            return hit
        value = await load()
        await self.put(key, value)
        return value


async def read_fresh(cache: Cache, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
    """`load`'s answer as read in this call when the call decides (`CallCache.fresh`); from the
    cache otherwise (a read tool decides nothing)."""
    if isinstance(cache, CallCache):
        return await cache.fresh(key, load)
    return await cache.get_or_load(key, load)


@dataclass
class CallNames:
    """The name book as a deciding call sees it: `get` answers with names heard during this call,
    else with names Toggl told this process earlier (`NameBook.own`), never with one that only
    another process said through Redis (it could be forged, and a question that names the wrong
    group gets the wrong thing approved). `shown` also consults the whole book, for results,
    which decide nothing. What the call hears goes to the book as usual."""

    book: NameBook
    memo: dict[tuple[Any, ...], Any]

    @property
    def heard(self) -> dict[tuple[Any, ...], Any]:
        found: dict[tuple[Any, ...], Any] = self.memo.setdefault(CALL_NAMES, {})
        return found

    @property
    def shared(self) -> Any:
        return self.book.shared

    def get(self, key: tuple[Any, ...]) -> Any | None:
        found = self.heard.get(key)
        return self.book.own(key) if found is None else found

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self.heard[key] = value
        self.book.put(key, value)

    def shown(self, key: tuple[Any, ...]) -> Any | None:
        found = self.heard.get(key)
        return found if found is not None else self.book.get(key)

    async def pull(self) -> None:
        await self.book.pull()

    async def push(self) -> None:
        await self.book.push()


@dataclass
class AppState:
    settings: Settings
    toggl: TogglClient
    cache: Cache
    sandbox_url: str | None = None
    # The change journal, when there is one (see journal.py).
    journal: Journal | None = None
    # Names heard in any answer, for showing beside ids.
    names: NameBook | CallNames = field(default_factory=lambda: NameBook(ttl=NAMES_TTL))
    # Answers Toggl gave during one tool call (see `call_memo`), by the id of the call's Context.
    calls: dict[int, dict[tuple[Any, ...], Any]] = field(default_factory=dict)
    # The state as each deciding call sees it (see `deciding_state`), by the id of its Context.
    views: dict[int, AppState] = field(default_factory=dict)


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
    # The Toggl token a call acts with: the request's X-Toggl-Api-Token header, or with OAuth the
    # one its access token's grant holds; and what to say when there is none.
    token_of: Callable[[Context], str | None] = lambda ctx: user_token(ctx.headers)
    missing: str = (
        f"This server uses each user's own Toggl API token: send it in the {USER_TOKEN_HEADER} "
        "header of every HTTP request."
    )
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


def _token_state(ctx: Context) -> AppState:
    state = ctx.request_context.lifespan_context
    if isinstance(state, Tenants):
        token = state.token_of(ctx)
        if token is None:
            # The HTTP layer refuses such requests first; this is for any other way in.
            raise ToolError(state.missing)
        return state.for_token(token)
    assert isinstance(state, AppState)
    return state


def app_state(ctx: Context) -> AppState:
    """The state of the call's token; for a call that decides (`deciding_state`), its view."""
    base = _token_state(ctx)
    return base.views.get(id(ctx), base)


def deciding_state(ctx: Context) -> AppState:
    """The state as a call that changes Toggl must see it, from here to its end.

    What a human is asked, whether they are asked, and what the journal keeps to undo a change are
    never built from what only another process said (the Redis cache, names another process
    heard): anyone who can write to Redis can forge those. They come from answers Toggl gave
    during this call or, for names and discovery answers (`CallCache`, `CallNames`), earlier in
    this process. What decides what a change loses (the group's members and workspaces, the
    links, a deletion's project lists) is read during the call (`call_memo`, `CallCache.fresh`).
    Every tool behind the confirmation gate is in this mode (the gate enters it), and so are the
    other writing tools.
    """
    base = _token_state(ctx)
    key = id(ctx)
    view = base.views.get(key)
    if view is None:
        memo = call_memo(ctx)
        view = dataclasses.replace(
            base,
            cache=CallCache(memo, base.cache, own_answers(base.cache)),
            names=CallNames(_book(base.names), memo),
            views={},
        )
        base.views[key] = view
        weakref.finalize(ctx, base.views.pop, key, None)
    return view


def _book(names: NameBook | CallNames) -> NameBook:
    return names.book if isinstance(names, CallNames) else names


def forget_reads(ctx: Context) -> None:
    """Forget what this call read, so that what decides what a change loses is read again: after a
    human answered, the answers read before the question may be stale. Names (and discovery
    answers) Toggl told this process stay usable."""
    call_memo(ctx).clear()


def call_memo(ctx: Context) -> dict[tuple[Any, ...], Any]:
    """Reads made during this tool call, shared by its confirmation preview and its body.

    Anything that decides what a change loses must come from an answer Toggl gave for this call,
    never from an earlier call's cache: someone may have changed the group in Toggl meanwhile. The
    memo lives as long as the call's Context (a resolver and the tool body share one), so the
    preview's read also serves the body without a second request. On the 2026-07-28 protocol a
    call that asks the human spans two requests, and each gets its own Context: the second one
    reads afresh, after the human has answered.
    """
    state = _token_state(ctx)
    key = id(ctx)
    memo = state.calls.get(key)
    if memo is None:
        memo = state.calls[key] = {}
        weakref.finalize(ctx, state.calls.pop, key, None)
    return memo
