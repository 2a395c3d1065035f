"""The one HTTP client: auth, pacing, retries, quota tracking and redaction, in one place.

Tools call `TogglClient.request()` and get parsed JSON or a `TogglError`; nothing else in the
package touches httpx or reads a status code.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from .. import __version__
from ..config import Settings
from .errors import TogglError, parse_toggl_message

log = logging.getLogger("toggl_groups_mcp.http")

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
MAX_IDEMPOTENT_RETRIES = 2
MAX_CONSISTENCY_RETRIES = 3
SECRET_KEYS = frozenset({"api_token"})


def redact(value: Any) -> Any:
    """Drop `api_token` (Toggl puts the caller's token in /me and workspace objects), recursively."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class Pacer:
    """A token bucket: a burst of `burst` requests, then `rate` requests a second, sustained."""

    def __init__(self, rate: float | None, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.lock = anyio.Lock()

    async def acquire(self) -> None:
        if not self.rate:
            return
        async with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                wait = (1 - self.tokens) / self.rate
                await anyio.sleep(wait)
                self.tokens = 1.0
                self.updated = self.clock()
            self.tokens -= 1

    def drain(self) -> None:
        """After a 429: the server's bucket is fuller than ours thought."""
        self.tokens = 0.0
        self.updated = self.clock()


@dataclass
class QuotaSnapshot:
    remaining: int
    resets_in: float
    seen_at: float  # monotonic
    organization_id: int | None

    def current(self, now: float) -> tuple[int, float]:
        return self.remaining, max(0.0, self.resets_in - (now - self.seen_at))


def _org_of(path: str) -> int | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "organizations" and parts[1].isdigit():
        return int(parts[1])
    return None


class TogglClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/") + "/",
            auth=httpx.BasicAuth(settings.api_token.get_secret_value(), "api_token"),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"toggl-groups-mcp/{__version__} (+https://pypi.org/project/toggl-groups-mcp)",
            },
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            transport=transport,
        )
        self.pacer = Pacer(settings.rate_per_sec, settings.burst)
        self.quota: dict[int | None, QuotaSnapshot] = {}
        self.requests_sent = 0
        # group id -> monotonic time of its creation by this process (eventual consistency).
        self._fresh_groups: dict[int, float] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- bookkeeping -------------------------------------------------------------------------
    def note_created_group(self, group_id: int) -> None:
        self._fresh_groups[group_id] = time.monotonic()

    def is_fresh_group(self, group_id: int | None) -> bool:
        if group_id is None or group_id not in self._fresh_groups:
            return False
        return time.monotonic() - self._fresh_groups[group_id] < self.settings.consistency_window

    def last_quota(self, organization_id: int | None = None) -> QuotaSnapshot | None:
        if organization_id is not None:
            return self.quota.get(organization_id)
        return max(self.quota.values(), key=lambda q: q.seen_at, default=None)

    def _record_quota(self, path: str, headers: httpx.Headers) -> tuple[int | None, float | None]:
        remaining_raw = headers.get("X-Toggl-Quota-Remaining")
        resets_raw = headers.get("X-Toggl-Quota-Resets-In")
        try:
            remaining = int(remaining_raw) if remaining_raw is not None else None
            resets = float(resets_raw) if resets_raw is not None else None
        except ValueError:
            return None, None
        if remaining is not None and resets is not None:
            org = _org_of(path)
            self.quota[org] = QuotaSnapshot(remaining, resets, time.monotonic(), org)
        return remaining, resets

    def _backoff(self, attempt: int) -> float:
        base = self.settings.backoff_base * (2**attempt)
        return base / 2 + random.uniform(0, base / 2)

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
        """
        method = method.upper()
        idempotent = method in IDEMPOTENT
        waited_429 = 0.0
        transient_failures = 0
        consistency_retries = 0
        attempt = 0
        while True:
            attempt += 1
            await self.pacer.acquire()
            started = time.monotonic()
            try:
                self.requests_sent += 1
                response = await self._http.request(method, path.lstrip("/"), params=params, json=json)
            except httpx.TimeoutException as exc:
                kind = "timeout"
                failure: Exception = exc
            except httpx.TransportError as exc:
                kind = "network"
                failure = exc
            else:
                kind = ""
                failure = None  # type: ignore[assignment]
            if failure is not None:
                # A connect failure means the request never left; anything later is ambiguous.
                never_sent = isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout)
                log.warning("%s %s failed (%s): %s", method, path, kind, type(failure).__name__)
                if (idempotent or never_sent) and transient_failures < MAX_IDEMPOTENT_RETRIES:
                    transient_failures += 1
                    await anyio.sleep(self._backoff(transient_failures))
                    continue
                raise TogglError(
                    method,
                    path,
                    None,
                    f"{type(failure).__name__}",
                    kind=kind,  # type: ignore[arg-type]
                    effect="none" if (method == "GET" or never_sent) else "unknown",
                ) from None

            remaining, resets_in = self._record_quota(path, response.headers)
            elapsed = time.monotonic() - started
            log.info("%s %s -> %s in %.0f ms", method, path, response.status_code, elapsed * 1000)
            status = response.status_code
            if 200 <= status < 300:
                return self._parse_success(response)

            message = parse_toggl_message(response.content)
            if status == 429:
                self.pacer.drain()
                retry_after = _retry_after(response.headers.get("Retry-After"))
                delay = retry_after if retry_after is not None else self._backoff(attempt)
                if waited_429 + delay <= self.settings.retry_budget:
                    waited_429 += delay
                    await anyio.sleep(delay)
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
                    await anyio.sleep(self._backoff(transient_failures))
                    continue
                raise TogglError(
                    method, path, status, message, effect="none" if method == "GET" else "unknown"
                )
            if (
                status in (400, 403, 404)
                and self.is_fresh_group(group_id)
                and consistency_retries < MAX_CONSISTENCY_RETRIES
            ):
                consistency_retries += 1
                log.info("group %s is new; waiting for Toggl to catch up", group_id)
                await anyio.sleep(self.settings.consistency_wait)
                continue
            raise TogglError(method, path, status, message)

    @staticmethod
    def _parse_success(response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            data = response.json()
        except ValueError:
            return response.text
        return redact(data)


def _retry_after(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
