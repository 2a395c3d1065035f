"""Where grants, codes and refresh tokens live: sealed records under hashed keys.

Every value is sealed with AES-256-GCM under a key derived from TOGGL_MCP_OAUTH_SECRET, with the
record's own storage key as associated data: a record read from Redis opens only where it was
written, so whoever can write to Redis can delete records but cannot forge one, read a Toggl
token out of one, or move one to another key (a code's record under a grant's key, say). A
record that does not open is ignored with a warning, never trusted. Keys are an HMAC of the
record's kind and id under another derived key: Redis never holds a code, a refresh token, a
grant id or a user id in the clear.

`MemoryBackend` keeps them in this process (one worker, grants end with it); `RedisBackend` in
TOGGL_MCP_REDIS_URL's Redis, so that any worker serves any step of a login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("toggl_groups_mcp.oauth")

PREFIX = "toggl-groups-mcp:v1:oauth:"
NONCE_BYTES = 12
# A sealed record is small (a grant is under 1 KB); anything larger is not ours.
MAX_RECORD_BYTES = 64 * 1024


def derive(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose (HKDF-Expand with one block, RFC 5869)."""
    prk = hmac.new(b"toggl-groups-mcp/oauth", secret, hashlib.sha256).digest()
    return hmac.new(prk, purpose.encode() + b"\x01", hashlib.sha256).digest()


class Backend(Protocol):
    async def set(self, key: str, value: str, ttl: float) -> None: ...
    async def get(self, key: str) -> str | None: ...
    async def take(self, key: str) -> str | None: ...
    async def delete(self, key: str) -> None: ...
    async def count(self, key: str, ttl: float) -> int: ...
    async def keys(self, pattern_prefix: str) -> list[str]: ...
    async def aclose(self) -> None: ...


@dataclass
class MemoryBackend:
    """This process's own store: one worker, and grants that end when it stops."""

    clock: Callable[[], float] = time.time
    items: dict[str, tuple[float, str]] = field(default_factory=dict)
    # At most this many records (abandoned logins and registrations expire; this bounds a flood).
    limit: int = 100_000

    def _live(self, key: str) -> str | None:
        found = self.items.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            self.items.pop(key, None)
            return None
        return found[1]

    async def set(self, key: str, value: str, ttl: float) -> None:
        if len(self.items) >= self.limit and key not in self.items:
            now = self.clock()
            for stale in [k for k, (until, _) in self.items.items() if until <= now]:
                del self.items[stale]
            if len(self.items) >= self.limit:
                del self.items[min(self.items, key=lambda k: self.items[k][0])]
        self.items[key] = (self.clock() + ttl, value)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def take(self, key: str) -> str | None:
        value = self._live(key)
        self.items.pop(key, None)
        return value

    async def delete(self, key: str) -> None:
        self.items.pop(key, None)

    async def count(self, key: str, ttl: float) -> int:
        raw = self._live(key)
        n = int(raw) + 1 if raw is not None else 1
        until = self.items[key][0] if raw is not None else self.clock() + ttl
        self.items[key] = (until, str(n))
        return n

    async def keys(self, pattern_prefix: str) -> list[str]:
        return [k for k in list(self.items) if k.startswith(pattern_prefix) and self._live(k) is not None]

    async def aclose(self) -> None:
        return None


# INCR and, on the first count, the window's expiry: one step, so a counter never lives forever.
COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# A value only when it is a string of at most ARGV[1] bytes (a huge or odd value never travels).
TAKE = """
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'string' or redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1]) return false
end
if ARGV[2] == '1' then return redis.call('GETDEL', KEYS[1]) end
return redis.call('GET', KEYS[1])
"""


class RedisBackend:
    """Records in Redis with their expiry; taking one is atomic (GETDEL), so a code or a refresh
    token is used once across every worker."""

    def __init__(self, url: str) -> None:
        from ..shared import Redis

        self.redis = Redis(url)
        self.client = self.redis.client
        self._count = self.client.register_script(COUNT)
        self._take = self.client.register_script(TAKE)

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self.client.set(key, value, px=max(1, int(ttl * 1000)))

    async def get(self, key: str) -> str | None:
        found: Any = await self._take(keys=[key], args=[MAX_RECORD_BYTES, "0"])
        return found or None

    async def take(self, key: str) -> str | None:
        found: Any = await self._take(keys=[key], args=[MAX_RECORD_BYTES, "1"])
        return found or None

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def count(self, key: str, ttl: float) -> int:
        return int(await self._count(keys=[key], args=[max(1, int(ttl * 1000))]))

    async def keys(self, pattern_prefix: str) -> list[str]:
        return [key async for key in self.client.scan_iter(match=pattern_prefix + "*", count=500)]

    async def aclose(self) -> None:
        await self.redis.aclose()


class Sealer:
    """AES-256-GCM under a key derived from the server secret; the storage key is the associated
    data, so a sealed value opens only under the key it was written to."""

    def __init__(self, secret: bytes) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:  # pragma: no cover - the message is the point
            from ..config import missing_extra

            raise missing_extra("TOGGL_MCP_OAUTH", "cryptography", "oauth") from None
        self.aead = AESGCM(derive(secret, "seal"))

    def seal(self, where: str, record: dict[str, Any]) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.aead.encrypt(nonce, json.dumps(record, separators=(",", ":")).encode(), where.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, where: str, value: str) -> dict[str, Any] | None:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(value.encode())
            plain = self.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], where.encode())
            record = json.loads(plain)
        except (InvalidTag, ValueError, TypeError):
            return None
        return record if isinstance(record, dict) else None


class StoreUnavailable(Exception):
    """The store (Redis) did not answer: nothing was decided, and the request is answered 503."""


class Records:
    """Sealed records by kind and id over a backend (`MemoryBackend` or `RedisBackend`)."""

    def __init__(self, backend: Backend, secret: bytes) -> None:
        self.backend = backend
        self.sealer = Sealer(secret)
        self._key_mac = derive(secret, "keys")
        self._warned: set[str] = set()

    def key(self, kind: str, ident: str) -> str:
        digest = hmac.new(self._key_mac, f"{kind}\0{ident}".encode(), hashlib.sha256).hexdigest()
        return f"{PREFIX}{kind}:{digest[:40]}"

    def _opened(self, kind: str, where: str, value: str | None) -> dict[str, Any] | None:
        if value is None:
            return None
        record = self.sealer.open(where, value)
        if record is None and kind not in self._warned:
            self._warned.add(kind)
            log.warning(
                "ignored an OAuth %s record that does not open under this server's secret (written by "
                "someone else, moved, or sealed under another TOGGL_MCP_OAUTH_SECRET)",
                kind,
            )
        return record

    async def _call(self, step: Any) -> Any:
        try:
            return await step
        except Exception as error:
            log.error(
                "the OAuth store does not answer (%s): logins and MCP requests fail until it does", error
            )
            raise StoreUnavailable(type(error).__name__) from None

    async def put(self, kind: str, ident: str, record: dict[str, Any], ttl: float) -> None:
        where = self.key(kind, ident)
        await self._call(self.backend.set(where, self.sealer.seal(where, record), ttl))

    async def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        where = self.key(kind, ident)
        return self._opened(kind, where, await self._call(self.backend.get(where)))

    async def take(self, kind: str, ident: str) -> dict[str, Any] | None:
        """The record, removed in the same step: of two takers, one gets it."""
        where = self.key(kind, ident)
        return self._opened(kind, where, await self._call(self.backend.take(where)))

    async def delete(self, kind: str, ident: str) -> None:
        await self._call(self.backend.delete(self.key(kind, ident)))

    async def count(self, kind: str, ident: str, window: float) -> int:
        """Add one to a counter that lives `window` seconds from its first count."""
        found: int = await self._call(self.backend.count(self.key(kind, ident), window))
        return found

    async def peek(self, kind: str, ident: str) -> int:
        """A counter's value (0 when absent or not a number: counters are not sealed)."""
        raw = await self._call(self.backend.get(self.key(kind, ident)))
        return int(raw) if isinstance(raw, str) and raw.isdigit() else 0

    async def all(self, kind: str) -> list[dict[str, Any]]:
        """Every record of a kind that opens (the admin command's listing)."""
        found = []
        for where in await self.backend.keys(f"{PREFIX}{kind}:"):
            record = self._opened(kind, where, await self.backend.get(where))
            if record is not None:
                found.append(record)
        return found

    async def aclose(self) -> None:
        await self.backend.aclose()
