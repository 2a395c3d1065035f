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

Whoever can write to Redis can write anything there, so nothing read back is trusted further than
it must be. A value that is too large is not read (its size is checked in Redis, before it is sent
here), one of the wrong type or shape is ignored, each with one warning per kind, and the caller
reads Toggl instead. Waits are bounded: a hold or a pacing turn further away than the retry budget
is not slept through; the call fails at once, saying when Toggl accepts requests again, and a hold
written here is capped (`MAX_HOLD`). And no question a human answers, no decision about what a
change loses and nothing the journal keeps to undo a change is built from the cache or the names
(`state.deciding_state`): they only save requests where a wrong value decides nothing.

When Redis cannot be reached, nothing is sent to Toggl: a request that would leave unpaced could
be the one that gets every process on the token a 429. The caller gets `SharedLimitsError` (a
`TogglError`), which says so. Failures after Toggl answered (recording the quota, caching an
answer) are only logged: what Toggl did must never be reported as failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .toggl.errors import TogglError, rate_limited_until

log = logging.getLogger("toggl_groups_mcp.shared")
T = TypeVar("T")

KEY_ROOT = "toggl-groups-mcp:v1"
# A hold with this little left when a turn comes is the one the turn was computed from.
HOLD_SLACK_MS = 50
# A Redis that does not answer within this long counts as unreachable (loopback answers in 0.1 ms).
REDIS_TIMEOUT = 2.0
# The longest 429 hold written for every process (a Retry-After of a day is held this long; the
# process that saw it says when Toggl accepts requests again, and the next one to ask hears it anew).
MAX_HOLD = 600.0
# A hold with more than this left was not written by this code (it writes at most MAX_HOLD).
MAX_HOLD_READ_MS = int(MAX_HOLD * 1000) + 1000
# The furthest a Retry-After is believed, when said in an error (a longer one is told as this).
MAX_TOLD_WAIT = 2 * 86400.0
# The largest cached answer read back (a workspace of 10,000 projects caches about 0.5 MB).
MAX_CACHED_BYTES = 4 * 1024 * 1024
# The largest names entry read back (one call's worth of names), the most entries and bytes one
# pull takes in, and the longest name kept.
MAX_NAMES_ENTRY = 1024 * 1024
MAX_NAMES_PULL = 8 * 1024 * 1024
MAX_NAME = 1000
NAME_KINDS = frozenset({"group", "user", "project", "workspace"})
# The longest a mark of a newly created group can have left (the consistency window is seconds).
MAX_FRESH_MS = 10 * 60 * 1000
# The most organizations in the quota hash, and the longest value there.
MAX_QUOTA_FIELDS = 256
MAX_QUOTA_VALUE = 256

# GCRA on Redis's clock. ARGV: interval (1/rate s), tau (burst tolerance s), the longest wait the
# caller takes (its retry budget), the furthest ahead a theoretical arrival time can legitimately
# lie. Returns {wait, note} as strings (Lua numbers reach the client truncated to integers): the
# seconds the caller must wait before sending; a wait over the budget takes no turn (the caller
# fails without sending). note is 'reset' when the stored time was not a number or lay further
# ahead than any hold or turn this code writes (so not written by it): it is then ignored.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local furthest = tonumber(ARGV[4])
local note = ''
local ok, raw = pcall(redis.call, 'GET', KEYS[1])
local tat = 0
if not ok then
  note = 'reset'
elseif raw then
  if string.len(raw) > 40 then
    note = 'reset'
  else
    tat = tonumber(raw)
    if tat == nil or tat ~= tat or tat > now + furthest then
      tat = 0
      note = 'reset'
    end
  end
end
local base = math.max(tat, now)
local wait = math.max(0, base - tau - now)
if wait > budget then
  return {tostring(wait), note}
end
local new = base + interval
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now + tau + 1) * 1000))
return {tostring(wait), note}
"""

# After a 429: nobody on this token sends before `seconds` from now (capped by the caller at
# MAX_HOLD), and then at the sustained rate. ARGV: seconds, tau, the longest hold this code writes
# (ms), the furthest ahead a turn can lie, and when Toggl said it accepts requests again (epoch
# seconds: the hold's value, for the errors of other processes). A stored time or hold this code
# could not have written is replaced.
HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local ok, raw = pcall(redis.call, 'GET', KEYS[1])
local tat = 0
if ok and raw and string.len(raw) <= 40 then
  tat = tonumber(raw) or 0
  if tat ~= tat or tat > now + tonumber(ARGV[4]) then
    tat = 0
  end
end
local new = math.max(tat, now + seconds + tau)
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now + 1) * 1000))
local ms = math.ceil(seconds * 1000)
local held = redis.call('PTTL', KEYS[2])
if ms > 0 and (ms > held or held > tonumber(ARGV[3])) then
  redis.call('SET', KEYS[2], ARGV[5], 'PX', ms)
end
return 'ok'
"""

# A string value, read only when it is no longer than ARGV[1] bytes. Returns nil when missing,
# {-1} when not a string, {length} when too long, {length, value} otherwise.
GET_CAPPED = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  return nil
end
if kind ~= 'string' then
  return {-1}
end
local n = redis.call('STRLEN', KEYS[1])
if n > tonumber(ARGV[1]) then
  return {n}
end
return {n, redis.call('GET', KEYS[1])}
"""

# Names stream entries from ARGV[1] on (inclusive), at most ARGV[2] of them; an entry's names field
# longer than ARGV[3] bytes comes back as its length instead of its text.
READ_NAMES = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local cap = tonumber(ARGV[3])
local out = {}
for _, entry in ipairs(rows) do
  local value = false
  local fields = entry[2]
  for j = 1, #fields - 1, 2 do
    if fields[j] == 'n' then
      value = fields[j + 1]
    end
  end
  if value and string.len(value) > cap then
    value = string.len(value)
  end
  out[#out + 1] = {entry[1], value}
end
return out
"""

# The quota hash, when it is one of at most ARGV[1] fields: each field whose name and value are
# no longer than ARGV[2] bytes, flat. {-1} when it is not a hash or has too many fields.
READ_QUOTA = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  return {}
end
if kind ~= 'hash' or redis.call('HLEN', KEYS[1]) > tonumber(ARGV[1]) then
  return {-1}
end
local cap = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all - 1, 2 do
  if string.len(all[i]) <= cap and string.len(all[i + 1]) <= cap then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
"""


_warned: set[str] = set()


def _number(raw: Any) -> float | None:
    """A short string that is a finite number, else None."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def distrust(kind: str, message: str, *args: Any) -> None:
    """One warning per kind of untrustworthy value found in Redis (not one per call: a flood of
    them would bury the log). The value itself is never logged."""
    if kind not in _warned:
        _warned.add(kind)
        log.warning("ignored %s in Redis: " + message + " (warned once; reading Toggl instead)", kind, *args)


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
            from .config import missing_extra

            raise missing_extra("TOGGL_MCP_REDIS_URL", "redis", "redis") from None
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
        self.get_capped_script = self.client.register_script(GET_CAPPED)
        self.read_names_script = self.client.register_script(READ_NAMES)
        self.read_quota_script = self.client.register_script(READ_QUOTA)

    async def get_capped(self, key: str, limit: int, kind: str) -> str | None:
        """A string value no longer than `limit` bytes, else None (with a warning if it was there
        but too long or not a string); the length is checked in Redis, so a huge value never
        travels here."""
        found: Any = await self.get_capped_script(keys=[key], args=[limit])
        if not found:
            return None
        if found[0] == -1:
            distrust(kind, "a value that is not a string")
            return None
        if len(found) < 2:
            distrust(kind, "a value of %s bytes, over the limit of %s", found[0], limit)
            return None
        value: str = found[1]
        return value

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
        max_wait: float = 30.0,
    ) -> None:
        self.redis = redis
        self.rate = rate
        self.interval = 1.0 / rate if rate else 0.0
        self.tau = max(0.0, capacity - 1.0) * self.interval
        self.tat_key = f"{prefix}:tat"
        self.hold_key = f"{prefix}:hold"
        self.sleep = sleep
        # The longest this pacer sleeps for a 429's hold (the client's retry budget), and for a
        # turn (as long, or a few turns' worth at a slow rate): a longer wait fails at once,
        # saying when to retry.
        self.max_wait = max(0.0, max_wait)
        self.max_turn = max(self.max_wait, 4 * self.interval + self.tau)
        # How far ahead a turn can lie when every process takes turns only within its budget.
        self.furthest = self.tau + self.interval + max(MAX_HOLD, self.max_turn) + 60.0

    async def acquire(self, method: str = "", path: str = "") -> float:
        """Take this process's turn among all processes on the token; returns the time waited."""
        waited = 0.0
        try:
            while True:
                wait = 0.0
                if self.rate:
                    found: Any = await self.redis.acquire_script(
                        keys=[self.tat_key],
                        args=[
                            f"{self.interval:.6f}",
                            f"{self.tau:.6f}",
                            f"{self.max_turn:.6f}",
                            f"{self.furthest:.6f}",
                        ],
                    )
                    wait, note = float(found[0]), found[1]
                    if note == "reset":
                        distrust("a pacing time", "one that is not a number or lies too far ahead")
                    if wait > self.max_turn:
                        raise await self._too_long(method, path, wait)
                    if wait <= 0:
                        return waited  # a turn taken now already lies after any hold
                    await self.sleep(wait)
                    waited += wait
                # A 429 that another process saw while this one waited: its turn is void, and it
                # queues again after the hold. (A hold ending with this turn is the one it waited for.)
                held = await self.redis.client.pttl(self.hold_key)
                if held == -1:
                    distrust("a 429 hold", "one without an expiry, which this code never writes")
                if not isinstance(held, int) or held <= 0:
                    return waited
                if held > MAX_HOLD_READ_MS:
                    distrust("a 429 hold", "one of %s s, longer than this code ever writes", held // 1000)
                    return waited
                if held / 1000 > self.max_wait:
                    raise await self._too_long(method, path, held / 1000)
                await self.sleep(held / 1000)
                waited += held / 1000
                if held <= HOLD_SLACK_MS:
                    return waited
        except TogglError:
            raise
        except Exception as error:
            raise shared_error(method, path, self.redis.where, error) from None

    async def _too_long(self, method: str, path: str, wait: float) -> TogglError:
        """The error for a wait past the budget: after a 429 (a hold is set), when Toggl said it
        accepts requests again, which may be later than the capped hold; else when the turn comes."""
        try:
            async with self.redis.client.pipeline(transaction=False) as pipe:
                pipe.pttl(self.hold_key)
                pipe.get(self.hold_key)
                held, until = await pipe.execute()
        except Exception:
            held, until = None, None
        if not isinstance(held, int) or not 0 < held <= MAX_HOLD_READ_MS:
            return rate_limited_until(
                method, path, wait, "this token's requests are queued past the retry budget"
            )
        said = _number(until)
        left = said - time.time() if said is not None else None
        if left is not None and held / 1000 - 1 <= left <= MAX_TOLD_WAIT:
            wait = max(wait, left)
        return rate_limited_until(
            method, path, wait, "Toggl rate limited this token (a 429 seen here or by another process on it)"
        )

    async def hold(self, seconds: float) -> bool:
        """After a 429 with this wait: every process waits it out (for at most MAX_HOLD). False:
        nothing left to sleep here, the next `acquire` does the waiting (and sees a hold set by
        anyone)."""
        told = max(0.0, seconds) if math.isfinite(seconds) else MAX_TOLD_WAIT
        told = min(told, MAX_TOLD_WAIT)
        seconds = min(told, MAX_HOLD)
        try:
            await self.redis.hold_script(
                keys=[self.tat_key, self.hold_key],
                args=[
                    f"{seconds:.6f}",
                    f"{self.tau:.6f}",
                    str(MAX_HOLD_READ_MS),
                    f"{self.furthest:.6f}",
                    f"{time.time() + told:.3f}",
                ],
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
        """Organization -> (remaining, resets_in, seen at, wall clock); values that are not what
        `record` writes are left out."""
        try:
            flat: Any = await self.redis.read_quota_script(
                keys=[self.key], args=[MAX_QUOTA_FIELDS, MAX_QUOTA_VALUE]
            )
        except Exception as error:
            raise shared_error("GET", "/me/quota", self.redis.where, error) from None
        if flat and flat[0] == -1:
            distrust("a quota", "a value that is not a small hash")
            return {}
        found: dict[int | None, tuple[int, float, float]] = {}
        now = time.time()
        for org, raw in zip(flat[::2], flat[1::2], strict=False):
            try:
                data = json.loads(raw)
                key = None if org == "None" else int(org)
                remaining, resets_in, seen = data["remaining"], data["resets_in"], data["seen"]
                numbers = (remaining, resets_in, seen)
                if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
                    raise TypeError
                if not all(math.isfinite(n) for n in numbers) or remaining < 0 or not 0 <= resets_in <= 86400:
                    raise ValueError
                if seen > now + 60:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                distrust("a quota", "an entry that is not a recorded quota")
                continue
            found[key] = (int(remaining), float(resets_in), float(seen))
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
            left = await self.redis.client.pttl(f"{self.prefix}:{group_id}")
        except Exception as error:
            log.warning(
                "could not read new groups from Redis (%s): %s", self.redis.where, type(error).__name__
            )
            return False
        if not isinstance(left, int) or left == -2:
            return False
        if left <= 0 or left > MAX_FRESH_MS:  # no expiry, or far longer than `note` ever sets
            distrust("a new-group mark", "one that lasts longer than the consistency window")
            return False
        return True


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
            raw = await self.redis.get_capped(self._key(key), MAX_CACHED_BYTES, "a cached answer")
        except Exception as error:
            raise shared_error("GET", "(cache)", self.redis.where, error) from None
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            distrust("a cached answer", "one that is not JSON")
            return None
        if not plausible(key, value):
            distrust("a cached answer", "one not of the shape this code caches")
            return None
        return value

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
    at its end, and the next call anywhere reads what arrived since it last looked. Names only
    label results (never a question, a decision or the journal: `state.deciding_state`), and a
    Redis that does not answer costs names, not the call. An entry over MAX_NAMES_ENTRY is skipped
    in Redis, unread; a pull takes in at most KEEP entries and MAX_NAMES_PULL bytes, and skips to
    the newest past that."""

    # Entries kept (each a call's worth of names) and for how long after the last one; a pull
    # reads at most ROUNDS times KEEP entries.
    KEEP = 1000
    TTL = 15 * 60
    ROUNDS = 3

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:names"
        self.last = "0-0"

    async def read(self) -> list[tuple[tuple[str, int], str]]:
        found: list[tuple[tuple[str, int], str]] = []
        taken = 0
        try:
            for _ in range(self.ROUNDS):
                start = "-" if self.last == "0-0" else self.last
                rows: Any = await self.redis.read_names_script(
                    keys=[self.key], args=[start, self.KEEP + 1, MAX_NAMES_ENTRY]
                )
                entries = [row for row in rows or [] if row and row[0] != self.last]
                for entry_id, blob in entries:
                    self.last = entry_id
                    if isinstance(blob, int):
                        distrust(
                            "a names entry", "one of %s bytes, over the limit of %s", blob, MAX_NAMES_ENTRY
                        )
                        continue
                    if not isinstance(blob, str):
                        continue
                    taken += len(blob)
                    found += _names_from(blob)
                    if taken > MAX_NAMES_PULL:
                        break
                if taken > MAX_NAMES_PULL or len(found) > self.KEEP * 100:
                    break
                if len(entries) < self.KEEP:
                    return found
            distrust("names", "more than one pull takes in; skipped to the newest")
            newest: Any = await self.redis.client.xrevrange(self.key, count=1)
            if newest:
                self.last = newest[0][0]
            return found
        except Exception as error:
            log.warning("could not read names from Redis (%s): %s", self.redis.where, type(error).__name__)
            return found

    async def write(self, names: dict[tuple[Any, ...], str]) -> None:
        blob = json.dumps({f"{kind}:{item_id}": name for (kind, item_id), name in names.items()})
        if len(blob) > MAX_NAMES_ENTRY:
            log.info("names heard in this call are too many to share (%s bytes)", len(blob))
            return
        try:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.key, {"n": blob}, maxlen=self.KEEP, approximate=True)
                pipe.expire(self.key, self.TTL)
                await pipe.execute()
        except Exception as error:
            log.warning("could not share names in Redis (%s): %s", self.redis.where, type(error).__name__)


def _names_from(blob: str) -> list[tuple[tuple[str, int], str]]:
    """The names of one entry: known kinds, positive ids, non-empty names of at most MAX_NAME
    characters; anything else is left out."""
    try:
        data = json.loads(blob)
    except ValueError:
        distrust("a names entry", "one that is not JSON")
        return []
    if not isinstance(data, dict):
        distrust("a names entry", "one that is not a JSON object")
        return []
    found = []
    for key, name in data.items():
        kind, _, item_id = str(key).partition(":")
        if (
            kind in NAME_KINDS
            and item_id.isdigit()
            and len(item_id) <= 18
            and isinstance(name, str)
            and 0 < len(name) <= MAX_NAME
        ):
            found.append(((kind, int(item_id)), name))
    return found


def plausible(key: tuple[Any, ...], value: Any) -> bool:
    """Whether a cached value has the shape this code caches under `key` (all are JSON lists):
    rows of [id, name, active, public] for a workspace's projects, objects with an id otherwise."""
    if not isinstance(value, list):
        return False
    kind = key[0] if key else None
    if kind == "all-projects":
        return all(
            isinstance(row, list)
            and len(row) == 4
            and _is_id(row[0])
            and isinstance(row[1], str)
            and isinstance(row[2], bool)
            and isinstance(row[3], bool)
            for row in value
        )
    id_key = "user_id" if kind == "users" else "id"
    return all(isinstance(row, dict) and _is_id(row.get(id_key)) for row in value)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
