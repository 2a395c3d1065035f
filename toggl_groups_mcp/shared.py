"""Limits shared by every process on one Toggl token, kept in Redis (`TOGGL_MCP_REDIS_URL`).

Toggl paces and counts requests per token, not per process: Claude Desktop, Cursor and a nightly
automation on one token, or the workers of a team server, must draw on one budget. Everything that
decides when a request may leave is therefore kept in Redis, under a key made from a hash of the
token (never the token itself):

- `…:tat`, the pacing: a GCRA token bucket (the "theoretical arrival time" of the next request)
  advanced by one Lua script, on Redis's own clock, so that no two processes read and write it
  apart and no two clocks disagree. A 429's Retry-After pushes it forward for everyone.
- `…:hold`, a Retry-After seen by any process, alive as long as the wait: a request that took its
  turn before the 429 and slept through it looks again before it leaves.
- `…:quota`, the last quota headers Toggl sent, per organization.
- `…:fresh:<group id>`, groups created in the last seconds (Toggl's eventual consistency), so a
  worker retries a call about a group that another worker created.
- `…:cache:<key>`, the short-lived discovery answers, as JSON (never pickle: whoever can write to
  Redis must not be able to run code here).
- `…:names`, a stream of the names each process heard (groups, users, projects, workspaces), so
  that a result labels ids with names whichever worker heard them (`state.NameBook`).

When Redis cannot be reached, nothing is sent to Toggl: a request that would leave unpaced could
be the one that gets every process on the token a 429. The caller gets `SharedLimitsError` (a
`TogglError`), which says so. Failures after Toggl answered (recording the quota, caching an
answer) are only logged: what Toggl did must never be reported as failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .toggl.errors import TogglError

log = logging.getLogger("toggl_groups_mcp.shared")
T = TypeVar("T")

KEY_ROOT = "toggl-groups-mcp:v1"
# A hold with this little left when a turn comes is the one the turn was computed from.
HOLD_SLACK_MS = 50
# A Redis that does not answer within this long counts as unreachable (loopback answers in 0.1 ms).
REDIS_TIMEOUT = 2.0

# GCRA on Redis's clock. ARGV: interval (1/rate s), tau (burst tolerance s). Returns the seconds the
# caller must wait before sending, as a string (Lua numbers reach the client truncated to integers).
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local base = math.max(tat, now)
local wait = math.max(0, base - tau - now)
local new = base + interval
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now + tau + 1) * 1000))
return tostring(wait)
"""

# After a 429: nobody on this token sends before `seconds` from now, and then at the sustained rate.
# ARGV: seconds, tau.
HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = math.max(tat, now + seconds + tau)
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now + 1) * 1000))
local ms = math.ceil(seconds * 1000)
if ms > 0 and ms > redis.call('PTTL', KEYS[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ms)
end
return 'ok'
"""


def token_key(token: str) -> str:
    """The Redis key prefix of one Toggl token: a SHA-256 of it, never the token."""
    digest = hashlib.sha256(f"toggl-groups-mcp:{token}".encode()).hexdigest()[:32]
    return f"{KEY_ROOT}:{digest}"


def redis_where(url: str) -> str:
    """The Redis URL without credentials or query, fit to show in an error or a log line."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    except ValueError:
        return "the Redis URL in TOGGL_MCP_REDIS_URL"


class SharedLimitsError(TogglError):
    """Redis, where the limits shared with other processes live, did not answer: nothing was sent."""


def shared_error(method: str, path: str, where: str, error: BaseException) -> SharedLimitsError:
    return SharedLimitsError(method, path, None, f"{where}: {type(error).__name__}", kind="shared")


class Redis:
    """One Redis connection pool for the process, and the scripts, loaded once."""

    def __init__(self, url: str) -> None:
        try:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:  # pragma: no cover - the message is the point
            from .config import ConfigError

            raise ConfigError(
                "TOGGL_MCP_REDIS_URL is set but the redis package is missing: "
                "pip install 'toggl-groups-mcp[redis]'"
            ) from None
        self.url = url
        self.where = redis_where(url)
        # One quick retry covers a connection that Redis closed (a restart); then it is an error.
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        self.acquire_script = self.client.register_script(ACQUIRE)
        self.hold_script = self.client.register_script(HOLD)

    async def check(self) -> str | None:
        """None when Redis answers, else what went wrong (for the start-up warning)."""
        try:
            await self.client.ping()
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None

    async def aclose(self) -> None:
        await self.client.aclose()


class SharedPacer:
    """The in-process `Pacer`'s contract, with the bucket in Redis for every process on a token."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        rate: float | None,
        capacity: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.redis = redis
        self.rate = rate
        self.interval = 1.0 / rate if rate else 0.0
        self.tau = max(0.0, capacity - 1.0) * self.interval
        self.tat_key = f"{prefix}:tat"
        self.hold_key = f"{prefix}:hold"
        self.sleep = sleep

    async def acquire(self, method: str = "", path: str = "") -> float:
        """Take this process's turn among all processes on the token; returns the time waited."""
        waited = 0.0
        try:
            while True:
                wait = 0.0
                if self.rate:
                    wait = float(
                        await self.redis.acquire_script(
                            keys=[self.tat_key], args=[f"{self.interval:.6f}", f"{self.tau:.6f}"]
                        )
                    )
                    if wait <= 0:
                        return waited  # a turn taken now already lies after any hold
                    await self.sleep(wait)
                    waited += wait
                # A 429 that another process saw while this one waited: its turn is void, and it
                # queues again after the hold. (A hold ending with this turn is the one it waited for.)
                held = await self.redis.client.pttl(self.hold_key)
                if held is None or held <= 0:
                    return waited
                await self.sleep(held / 1000)
                waited += held / 1000
                if held <= HOLD_SLACK_MS:
                    return waited
        except TogglError:
            raise
        except Exception as error:
            raise shared_error(method, path, self.redis.where, error) from None

    async def hold(self, seconds: float) -> bool:
        """After a 429 with this wait: every process waits it out. False: nothing left to sleep
        here, the next `acquire` does the waiting (and sees a hold set by anyone)."""
        try:
            await self.redis.hold_script(
                keys=[self.tat_key, self.hold_key], args=[f"{seconds:.6f}", f"{self.tau:.6f}"]
            )
        except Exception as error:
            # The next `acquire` says Redis is gone; meanwhile this process waits on its own.
            log.warning("could not share a 429 in Redis (%s): %s", self.redis.where, type(error).__name__)
            return True
        return False


class SharedQuota:
    """The last quota headers per organization, seen by any process on the token."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:quota"

    async def record(self, organization_id: int | None, remaining: int, resets_in: float) -> None:
        value = json.dumps({"remaining": remaining, "resets_in": resets_in, "seen": time.time()})
        try:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.hset(self.key, str(organization_id), value)
                pipe.expire(self.key, 3600)
                await pipe.execute()
        except Exception as error:
            log.warning(
                "could not share the quota seen in Redis (%s): %s", self.redis.where, type(error).__name__
            )

    async def read(self) -> dict[int | None, tuple[int, float, float]]:
        """Organization -> (remaining, resets_in, seen at, wall clock)."""
        try:
            rows = await self.redis.client.hgetall(self.key)
        except Exception as error:
            raise shared_error("GET", "/me/quota", self.redis.where, error) from None
        found: dict[int | None, tuple[int, float, float]] = {}
        for org, raw in (rows or {}).items():
            try:
                data = json.loads(raw)
                key = None if org == "None" else int(org)
                found[key] = (int(data["remaining"]), float(data["resets_in"]), float(data["seen"]))
            except (ValueError, KeyError, TypeError):
                continue
        return found


class SharedFreshGroups:
    """Groups created moments ago by any process on the token (Toggl's eventual consistency)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:fresh"

    async def note(self, group_id: int, window: float) -> None:
        try:
            await self.redis.client.set(f"{self.prefix}:{group_id}", "1", px=max(1, int(window * 1000)))
        except Exception as error:
            log.warning(
                "could not share a new group in Redis (%s): %s", self.redis.where, type(error).__name__
            )

    async def is_fresh(self, group_id: int) -> bool:
        try:
            return bool(await self.redis.client.exists(f"{self.prefix}:{group_id}"))
        except Exception as error:
            log.warning(
                "could not read new groups from Redis (%s): %s", self.redis.where, type(error).__name__
            )
            return False


class SharedCache:
    """`TTLCache`'s contract in Redis: JSON values that expire after `ttl` seconds."""

    def __init__(self, redis: Redis, prefix: str, ttl: float) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:cache"
        self.ttl = ttl

    def _key(self, key: tuple[Any, ...]) -> str:
        return f"{self.prefix}:{json.dumps(key, separators=(',', ':'))}"

    async def get(self, key: tuple[Any, ...]) -> Any | None:
        try:
            raw = await self.redis.client.get(self._key(key))
        except Exception as error:
            raise shared_error("GET", "(cache)", self.redis.where, error) from None
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    async def put(self, key: tuple[Any, ...], value: Any) -> None:
        try:
            await self.redis.client.set(
                self._key(key), json.dumps(value, separators=(",", ":")), px=max(1, int(self.ttl * 1000))
            )
        except Exception as error:
            log.warning("could not cache an answer in Redis (%s): %s", self.redis.where, type(error).__name__)

    async def get_or_load(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        hit = await self.get(key)
        if hit is not None:
            return hit
        value = await load()
        await self.put(key, value)
        return value


class SharedNames:
    """The name book's traffic between processes: each call's new names go out as one stream entry
    at its end, and the next call anywhere reads what arrived since it last looked. Names are only
    shown, never decided on: a Redis that does not answer costs names, not the call."""

    # Entries kept (each a call's worth of names) and for how long after the last one.
    KEEP = 1000
    TTL = 15 * 60

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:names"
        self.last = "0-0"

    async def read(self) -> list[tuple[tuple[str, int], str]]:
        found: list[tuple[tuple[str, int], str]] = []
        try:
            while True:
                rows: Any = await self.redis.client.xread({self.key: self.last}, count=self.KEEP)
                entries = [entry for _, stream in rows or [] for entry in stream]
                for entry_id, fields in entries:
                    self.last = entry_id
                    found += _names_from(fields.get("n"))
                if len(entries) < self.KEEP:
                    return found
        except Exception as error:
            log.warning("could not read names from Redis (%s): %s", self.redis.where, type(error).__name__)
            return found

    async def write(self, names: dict[tuple[Any, ...], str]) -> None:
        blob = json.dumps({f"{kind}:{item_id}": name for (kind, item_id), name in names.items()})
        try:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.key, {"n": blob}, maxlen=self.KEEP, approximate=True)
                pipe.expire(self.key, self.TTL)
                await pipe.execute()
        except Exception as error:
            log.warning("could not share names in Redis (%s): %s", self.redis.where, type(error).__name__)


def _names_from(blob: str | None) -> list[tuple[tuple[str, int], str]]:
    try:
        data = json.loads(blob or "{}")
    except ValueError:
        return []
    found = []
    for key, name in data.items() if isinstance(data, dict) else ():
        kind, _, item_id = str(key).partition(":")
        if item_id.isdigit() and isinstance(name, str) and name:
            found.append(((kind, int(item_id)), name))
    return found
