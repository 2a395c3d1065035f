"""The one HTTP client: auth, pacing, retries, quota tracking and redaction, in one place.

Tools call `TogglClient.request()` and get parsed JSON or a `TogglError`; nothing else in the
package touches httpx or reads a status code.
"""

from __future__ import annotations

import base64
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from .. import __version__
from ..config import Settings
from .errors import Kind, TogglError, mend, parse_toggl_message, shorten

if TYPE_CHECKING:
    from ..shared import Redis, SharedFreshGroups, SharedPacer, SharedQuota

log = logging.getLogger("toggl_groups_mcp.http")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
MAX_IDEMPOTENT_RETRIES = 2
MAX_CONSISTENCY_RETRIES = 3
# The retry budget bounds the time spent on 429s; this bounds their number, so that a storm of
# `Retry-After: 0` (or a zero backoff base) cannot spin.
MAX_RATE_LIMIT_RETRIES = 10
# Failures that happen before a byte of the request left: safe to repeat, even a POST.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
SECRET_KEYS = frozenset({"api_token", "apitoken"})
REDACTED = "[redacted]"


async def default_sleep(seconds: float) -> None:
    """The client's sleep unless one is injected; looked up at call time so tests can patch it."""
    await anyio.sleep(seconds)


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Drop `api_token` (Toggl puts the caller's token in /me and workspace objects), recursively,
    and blank out any of `secrets` that a string carries anyway, as a value or as a key."""
    secrets = tuple(s for s in secrets if s)
    if isinstance(value, dict):
        return {
            scrub(k, secrets) if isinstance(k, str) else k: redact(v, secrets)
            for k, v in value.items()
            if not _is_secret_key(k)
        }
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub(value, secrets)
    return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` blanked out, and any lone surrogate (`mend`) replaced."""
    text = mend(text)
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


@dataclass
class RequestCount:
    """The HTTP requests sent to Toggl during one tool call: each attempt counts (a retry is a
    request Toggl counts against the quota too); an answer from a cache costs nothing."""

    sent: int = 0


# The count of the tool call running in this task. Tasks it starts inherit the same object, so
# their requests count for it as well.
_CALL_REQUESTS: ContextVar[RequestCount | None] = ContextVar("toggl_call_requests", default=None)


@contextmanager
def counting_requests() -> Iterator[RequestCount]:
    """Count the requests sent from here to the end of the block (one tool call)."""
    count = RequestCount()
    token = _CALL_REQUESTS.set(count)
    try:
        yield count
    finally:
        _CALL_REQUESTS.reset(token)


class Pacer:
    """A token bucket: a burst of `burst` requests, then `rate` requests a second, sustained.

    (A 429 drains it; the request that met the 429 waits out Retry-After itself, within the retry
    budget, or fails saying when Toggl accepts requests again: `TogglClient.request`.)"""

    def __init__(
        self,
        rate: float | None,
        burst: int,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        self.rate = rate if rate is not None and rate > 0 else None
        # Toggl counts a request when it arrives, we when we send it: a first request that opens
        # a connection (TCP, TLS) arrives late and squeezes the next ones together. A quarter
        # second of slack in the burst absorbs that jitter without lowering the sustained rate.
        slack = 0.25 * self.rate if self.rate else 0.0
        self.capacity = max(1.0, float(max(1, burst)) - slack)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.lock = anyio.Lock()

    async def acquire(self, method: str = "", path: str = "") -> float:
        """Take one token, waiting for it if the bucket is empty; returns the time waited.
        (`method` and `path` name the request, for a shared pacer's errors.)"""
        if not self.rate:
            return 0.0
        async with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
            self.updated = now
            wait = 0.0
            if self.tokens < 1:
                wait = (1 - self.tokens) / self.rate
                await (self.sleep or default_sleep)(wait)
                self.tokens = 1.0
                self.updated = self.clock()
            self.tokens -= 1
            return wait

    def drain(self) -> None:
        """After a 429: the server's bucket is fuller than ours thought."""
        self.tokens = 0.0
        self.updated = self.clock()

    async def hold(self, seconds: float) -> bool:
        """After a 429 that asks for this wait: True, the caller sleeps it out itself."""
        self.drain()
        return True


@dataclass
class QuotaSnapshot:
    remaining: int
    resets_in: float
    seen_at: float  # on the client's (monotonic) clock
    organization_id: int | None

    def current(self, now: float) -> tuple[int, float]:
        return self.remaining, max(0.0, self.resets_in - (now - self.seen_at))


def _org_of(path: str) -> int | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "organizations" and parts[1].isdigit():
        return int(parts[1])
    return None


def _non_negative(raw: str | None, parse: Callable[[str], float]) -> float | None:
    """A header value as a finite number >= 0, or None when absent or malformed."""
    if raw is None:
        return None
    try:
        value = parse(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _retry_after(raw: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date (RFC 9110)."""
    if raw is None:
        return None
    seconds = _non_negative(raw, float)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    base = now if now is not None else time.time()
    return max(0.0, when.timestamp() - base)


class TogglClient:
    """One httpx.AsyncClient for the process.

    `sleep` and `clock` are injectable so pacing and retries can be tested by a fake clock; by
    default they are `anyio.sleep` and `time.monotonic`. With `shared` (Redis), pacing, 429 holds,
    the quota seen and new groups are shared with every process on the same token (shared.py).
    """

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        sleep: Sleep | None = None,
        clock: Clock = time.monotonic,
        shared: Redis | None = None,
    ) -> None:
        self.settings = settings
        token = settings.api_token.get_secret_value()
        basic = base64.b64encode(f"{token}:api_token".encode()).decode()
        # What must never leave this process, whatever Toggl echoes back.
        self._secrets = tuple(s for s in (token, basic) if s)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._sleep = sleep
        self.clock = clock
        self.pacer: Pacer | SharedPacer = Pacer(
            settings.rate_per_sec, settings.burst, clock=clock, sleep=self.sleep
        )
        self.quota: dict[int | None, QuotaSnapshot] = {}
        self.requests_sent = 0
        # group id -> time of its creation by this process (eventual consistency).
        self._fresh_groups: dict[int, float] = {}
        self.shared_quota: SharedQuota | None = None
        self.shared_fresh: SharedFreshGroups | None = None
        if shared is not None:
            from ..shared import SharedFreshGroups, SharedPacer, SharedQuota, token_key

            prefix = token_key(token)
            self.pacer = SharedPacer(
                shared,
                prefix,
                self.pacer.rate,
                self.pacer.capacity,
                self.sleep,
                max_wait=settings.retry_budget,
            )
            self.shared_quota = SharedQuota(shared, prefix)
            self.shared_fresh = SharedFreshGroups(shared, prefix)

    def __repr__(self) -> str:
        return f"TogglClient(api_url={self.settings.api_url!r}, api_token='**********')"

    async def sleep(self, seconds: float) -> None:
        await (self._sleep or default_sleep)(seconds)

    @property
    def _http(self) -> httpx.AsyncClient:
        """Made on first use: loading the CA bundle costs tens of milliseconds, which a server
        that is only asked for its tool list (a host starting up) should not pay."""
        if self._client is None:
            token = self.settings.api_token.get_secret_value()
            self._client = httpx.AsyncClient(
                base_url=self.settings.api_url.rstrip("/") + "/",
                auth=httpx.BasicAuth(token, "api_token"),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "User-Agent": f"toggl-groups-mcp/{__version__} (+https://pypi.org/project/toggl-groups-mcp)",
                },
                timeout=httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
                transport=self._transport,
            )
        return self._client

    @property
    def timeout(self) -> httpx.Timeout:
        return self._http.timeout

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # -- bookkeeping -------------------------------------------------------------------------
    async def note_created_group(self, group_id: int) -> None:
        now = self.clock()
        window = self.settings.consistency_window
        self._fresh_groups = {g: t for g, t in self._fresh_groups.items() if now - t < window}
        self._fresh_groups[group_id] = now
        if self.shared_fresh is not None:
            await self.shared_fresh.note(group_id, window)

    async def is_fresh_group(self, group_id: int | None) -> bool:
        if group_id is None:
            return False
        seen = self._fresh_groups.get(group_id)
        if seen is not None and self.clock() - seen < self.settings.consistency_window:
            return True
        return self.shared_fresh is not None and await self.shared_fresh.is_fresh(group_id)

    async def last_quota(self, organization_id: int | None = None) -> QuotaSnapshot | None:
        """The quota headers seen last (by any process on the token, when shared): for one
        organization, or the most recent of any."""
        quota = self.quota
        if self.shared_quota is not None:
            now, wall = self.clock(), time.time()
            quota = {
                org: QuotaSnapshot(remaining, resets_in, now - max(0.0, wall - seen), org)
                for org, (remaining, resets_in, seen) in (await self.shared_quota.read()).items()
            }
        if organization_id is not None:
            return quota.get(organization_id)
        return max(quota.values(), key=lambda q: q.seen_at, default=None)

    async def _record_quota(self, path: str, headers: httpx.Headers) -> tuple[int | None, float | None]:
        remaining_raw = _non_negative(headers.get("X-Toggl-Quota-Remaining"), float)
        remaining = int(remaining_raw) if remaining_raw is not None else None
        resets_in = _non_negative(headers.get("X-Toggl-Quota-Resets-In"), float)
        if remaining is not None and resets_in is not None:
            org = _org_of(path)
            self.quota[org] = QuotaSnapshot(remaining, resets_in, self.clock(), org)
            if self.shared_quota is not None:
                await self.shared_quota.record(org, remaining, resets_in)
        return remaining, resets_in

    def _backoff(self, attempt: int) -> float:
        base = self.settings.backoff_base * (2 ** min(attempt, 16))
        return base / 2 + random.uniform(0, base / 2)

    def _message(self, response: httpx.Response) -> str:
        """Toggl's words, scrubbed before anything shortens them: a cut must not leave a token's
        prefix behind, and a JSON-escaped token only shows once parsed."""
        raw = scrub(response.content.decode("utf-8", "replace"), self._secrets)
        return shorten(scrub(parse_toggl_message(raw), self._secrets))

    # -- the one request function --------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        group_id: int | None = None,
    ) -> Any:
        """Send one logical request; returns the parsed, redacted body or raises TogglError.

        `group_id` names the group a workspace-scoped call refers to, so that a 400/403/404 about a
        group this process created seconds ago is retried while Toggl catches up.

        Retries: 429 after Retry-After (else a jittered backoff) within `retry_budget` seconds in
        all: a Retry-After past the budget fails at once, saying when Toggl accepts requests again
        (and every process on the token holds off until then, for at most `shared.MAX_HOLD`); 5xx
        and lost connections twice for idempotent methods only; a request that never left (connect
        failure) for any method. POST and PATCH are never repeated once sent.
        """
        method = method.upper()
        idempotent = method in IDEMPOTENT
        waited_429 = 0.0
        rate_limited = 0
        transient_failures = 0
        consistency_retries = 0
        while True:
            http = self._http  # made before pacing, so its set-up does not delay a paced request
            await self.pacer.acquire(method, path)
            started = self.clock()
            try:
                self.requests_sent += 1
                response = await http.request(method, path.lstrip("/"), params=params, json=json)
            except httpx.TimeoutException as exc:
                kind: Kind = "timeout"
                failure: Exception | None = exc
            except httpx.RequestError as exc:
                kind = "network"
                failure = exc
            else:
                failure = None
            counting = _CALL_REQUESTS.get()
            if counting is not None and not isinstance(failure, NEVER_SENT):
                # What reached Toggl (or may have): a connection never made costs no quota.
                counting.sent += 1
            if failure is not None:
                # A connect failure means the request never left; anything later is ambiguous.
                never_sent = isinstance(failure, NEVER_SENT)
                log.warning("%s %s failed (%s): %s", method, path, kind, type(failure).__name__)
                if (idempotent or never_sent) and transient_failures < MAX_IDEMPOTENT_RETRIES:
                    transient_failures += 1
                    await self.sleep(self._backoff(transient_failures))
                    continue
                raise TogglError(
                    method,
                    path,
                    None,
                    type(failure).__name__,
                    kind=kind,
                    effect="none" if (method in ("GET", "HEAD") or never_sent) else "unknown",
                ) from None

            remaining, resets_in = await self._record_quota(path, response.headers)
            status = response.status_code
            log.info("%s %s -> %s in %.0f ms", method, path, status, (self.clock() - started) * 1000)
            if 200 <= status < 300:
                return self._parse_success(response)

            message = self._message(response)
            if status == 429:
                rate_limited += 1
                retry_after = _retry_after(response.headers.get("Retry-After"))
                # Retry-After: 0 would retry at once, forever: treat it like no header.
                delay = retry_after if retry_after else self._backoff(rate_limited)
                # Every process on the token waits too (a shared pacer's next turn lies after it).
                sleep_here = await self.pacer.hold(delay)
                if (
                    rate_limited <= MAX_RATE_LIMIT_RETRIES
                    and waited_429 + delay <= self.settings.retry_budget
                ):
                    waited_429 += delay
                    log.info("%s %s rate limited; retrying in %.2f s", method, path, delay)
                    if sleep_here:
                        await self.sleep(delay)
                    continue
                raise TogglError(method, path, status, message, kind="rate_limited", retry_after=delay)
            if status == 402:
                if remaining is not None or resets_in is not None:
                    raise TogglError(
                        method,
                        path,
                        status,
                        message,
                        kind="quota",
                        quota_remaining=remaining,
                        quota_resets_in=resets_in,
                    )
                raise TogglError(method, path, status, message, kind="plan")
            if status >= 500:
                if idempotent and transient_failures < MAX_IDEMPOTENT_RETRIES:
                    transient_failures += 1
                    await self.sleep(self._backoff(transient_failures))
                    continue
                raise TogglError(
                    method, path, status, message, effect="none" if method in ("GET", "HEAD") else "unknown"
                )
            if (
                status in (400, 403, 404)
                and await self.is_fresh_group(group_id)
                and consistency_retries < MAX_CONSISTENCY_RETRIES
            ):
                consistency_retries += 1
                log.info("group %s is new; waiting for Toggl to catch up", group_id)
                await self.sleep(self.settings.consistency_wait)
                continue
            raise TogglError(method, path, status, message)

    def _parse_success(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            data = response.json()
        except ValueError:
            return scrub(response.text, self._secrets)
        if not self._may_hold_secrets(response.content):
            return data
        return redact(data, self._secrets)

    def _may_hold_secrets(self, raw: bytes) -> bool:
        """Walking every answer costs; only one that could hold a secret needs it. A JSON escape
        (\\u) could spell either in disguise, so it counts as possibly holding one."""
        lowered = raw.lower().replace(b"-", b"_")
        return (
            any(key.encode() in lowered for key in SECRET_KEYS)
            or b"\\u" in raw
            or any(secret.encode() in raw for secret in self._secrets)
        )
