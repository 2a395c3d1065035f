"""Fault knobs: latency, a leaky bucket, hourly quotas, plan 402s, random and scripted failures,
dropped connections, eventual consistency and an ignored ``per_page``. Changeable at runtime from
any thread.

As at Toggl, the bucket and the quotas are each caller's own: they are kept per API token (the
``caller_token`` of the request; the sandbox's own token outside one), and a token is one user."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .config import SandboxConfig, caller_token

API_PREFIX = "/api/v9"
HOUR = 3600.0
UNLIMITED_QUOTA = 1_000_000
"""What the quota headers count down from when no quota is enforced."""

RANDOM_FAILURE_STATUSES = (500, 502, 503)
KNOBS = (
    "latency",
    "rate_per_sec",
    "burst",
    "hourly_quota",
    "user_hourly_quota",
    "plan_402",
    "error_rate",
    "seed",
    "consistency_delay",
    "ignore_per_page",
)
BOOLEAN_KNOBS = ("plan_402", "ignore_per_page")

RuleKind = Literal["fail", "drop", "drop_after"]
BudgetKey = int | None
"""An organization id, or None for the user-level budget (``/me*`` and unknown organizations)."""
QuotaKey = tuple[str, BudgetKey]
"""Whose budget: a caller's token and the budget it spends."""


@dataclass
class FaultRule:
    """Applies to the next ``count`` requests whose method and path match.

    ``fail``: answer ``status`` without touching state. ``drop``: close the connection without
    answering, nothing applied. ``drop_after``: process the request (a mutation is applied and
    saved), then close the connection instead of answering.
    """

    kind: RuleKind
    count: int = 1
    method: str | None = None
    path: str | None = None
    status: int = 503
    message: str | None = None

    def matches(self, method: str, api_path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or api_path.startswith(_api_relative(self.path))


def _api_relative(path: str) -> str:
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return path[len(API_PREFIX) :] or "/"
    return path


class QuotaWindows:
    """Calls per caller and budget over a sliding hour."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._calls: dict[QuotaKey, deque[float]] = {}

    def _window(self, key: QuotaKey) -> deque[float]:
        window = self._calls.setdefault(key, deque())
        horizon = self._clock() - HOUR
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def used(self, key: QuotaKey) -> int:
        return len(self._window(key))

    def record(self, key: QuotaKey) -> None:
        self._window(key).append(self._clock())

    def resets_in(self, key: QuotaKey) -> int:
        """Seconds until the oldest call in the window stops counting; 0 when nothing counts."""
        window = self._window(key)
        if not window:
            return 0
        return max(1, math.ceil(window[0] + HOUR - self._clock()))

    def clear(self) -> None:
        self._calls.clear()


class Faults:
    """The knobs of one sandbox. Reads and writes are guarded by a lock, since tests flip knobs
    from their own thread while the server runs in another."""

    def __init__(
        self, config: SandboxConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        config = config or SandboxConfig()
        self.token = config.token
        self._clock = clock
        self._lock = threading.RLock()
        self.quota = QuotaWindows(clock)
        self.rules: list[FaultRule] = []
        self.latency = 0.0
        self.rate_per_sec: float | None = None
        self.burst = 2
        self.hourly_quota: int | None = None
        self.user_hourly_quota: int | None = None
        self.plan_402 = False
        self.error_rate = 0.0
        self.seed: int | None = None
        self.consistency_delay = 0.0
        # Project and organization-user listings answer every item on page 1, whatever per_page says.
        self.ignore_per_page = False
        self._rng = random.Random()
        # Each caller's bucket: (its tokens, when last refilled); a caller without one has a full one.
        self._buckets: dict[str, tuple[float, float]] = {}
        self.apply_config(config)

    # ---- knobs ---------------------------------------------------------------------------------

    def apply_config(self, config: SandboxConfig) -> None:
        """Knobs back to ``config``'s values; rules, quota usage and the buckets cleared, RNG reseeded."""
        with self._lock:
            self.update(**{name: getattr(config, name) for name in KNOBS})
            self.rules.clear()
            self.quota.clear()

    def update(self, **knobs: Any) -> None:
        """Change any of ``KNOBS``; unknown names or bad values raise ``ValueError`` and change nothing.
        Setting ``seed`` reseeds the RNG; setting ``rate_per_sec`` or ``burst`` refills every bucket."""
        unknown = set(knobs) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}")
        checked = {name: _check_knob(name, value) for name, value in knobs.items()}
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)
            if "seed" in checked:
                self._rng = random.Random(self.seed)
            if "rate_per_sec" in checked or "burst" in checked:
                self._buckets.clear()

    def configure(self, payload: Any) -> None:
        """The control API's form: knobs by name, plus ``fail_next`` / ``drop_next`` (a rule or a
        list of rules), ``clear_rules`` and ``reset_quota``. Validated whole before anything changes."""
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object")
        unknown = set(payload) - set(KNOBS) - {"fail_next", "drop_next", "clear_rules", "reset_quota"}
        if unknown:
            raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
        knobs = {name: _check_knob(name, payload[name]) for name in KNOBS if name in payload}
        rules = [_rule_from_json("fail", item) for item in _as_list(payload.get("fail_next"))]
        rules += [_rule_from_json("drop", item) for item in _as_list(payload.get("drop_next"))]
        for rule in rules:
            _check_rule(rule)
        with self._lock:
            if payload.get("clear_rules"):
                self.rules.clear()
            if payload.get("reset_quota"):
                self.quota.clear()
            self.update(**knobs)
            self.rules.extend(rules)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        method: str | None = None,
        path: str | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``count`` matching requests answer ``status``.

        ``path`` is a prefix, with or without /api/v9; ``method`` None matches any."""
        self.add_rule(FaultRule("fail", count, method, path, status, message))

    def drop_next(
        self, count: int = 1, *, method: str | None = None, path: str | None = None, after_apply: bool = False
    ) -> None:
        """The next ``count`` matching requests get their connection closed without an answer;
        with ``after_apply`` the request is processed (and saved) first: the ambiguous write."""
        self.add_rule(FaultRule("drop_after" if after_apply else "drop", count, method, path))

    def add_rule(self, rule: FaultRule) -> None:
        _check_rule(rule)
        with self._lock:
            self.rules.append(rule)

    def clear_rules(self) -> None:
        with self._lock:
            self.rules.clear()

    def reset_quota(self) -> None:
        with self._lock:
            self.quota.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                **{name: getattr(self, name) for name in KNOBS},
                "rules": [asdict(rule) for rule in self.rules],
            }

    # ---- decisions, in the order the server asks -----------------------------------------------

    def _caller(self) -> str:
        token = caller_token.get()
        return self.token if token is None else token

    def take_token(self) -> int | None:
        """The caller's leaky bucket: None if the request may pass, else the Retry-After seconds."""
        with self._lock:
            if self.rate_per_sec is None:
                return None
            caller, now = self._caller(), self._clock()
            tokens, refilled_at = self._buckets.get(caller, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - refilled_at) * self.rate_per_sec)
            passes = tokens >= 1.0
            self._buckets[caller] = (tokens - 1.0 if passes else tokens, now)
            return None if passes else max(1, math.ceil((1.0 - tokens) / self.rate_per_sec))

    def take_rule(self, method: str, api_path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, api_path):
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                    return rule
            return None

    def random_failure(self) -> int | None:
        with self._lock:
            if self.error_rate <= 0 or self._rng.random() >= self.error_rate:
                return None
            return self._rng.choice(RANDOM_FAILURE_STATUSES)

    def quota_limit(self, key: BudgetKey) -> int | None:
        return self.hourly_quota if key is not None else self.user_hourly_quota

    def quota_exhausted(self, key: BudgetKey) -> bool:
        with self._lock:
            limit = self.quota_limit(key)
            return limit is not None and self.quota.used((self._caller(), key)) >= limit

    def record_call(self, key: BudgetKey) -> None:
        with self._lock:
            self.quota.record((self._caller(), key))

    def quota_status(self, key: BudgetKey) -> tuple[int, int, int]:
        """(remaining, resets_in_secs, total) for the caller's budget."""
        with self._lock:
            limit = self.quota_limit(key)
            total = UNLIMITED_QUOTA if limit is None else limit
            caller_key = (self._caller(), key)
            return max(0, total - self.quota.used(caller_key)), self.quota.resets_in(caller_key), total

    def quota_headers(self, key: BudgetKey) -> list[tuple[str, str]]:
        remaining, resets_in, _ = self.quota_status(key)
        return [("X-Toggl-Quota-Remaining", str(remaining)), ("X-Toggl-Quota-Resets-In", str(resets_in))]


def _check_knob(name: str, value: Any) -> Any:
    if name in BOOLEAN_KNOBS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value
    if name in ("rate_per_sec", "hourly_quota", "user_hourly_quota", "seed") and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if name in ("burst", "hourly_quota", "user_hourly_quota", "seed"):
        if value != int(value):
            raise ValueError(f"{name} must be an integer")
        value = int(value)
        if name == "burst" and value < 1:
            raise ValueError("burst must be at least 1")
        if name in ("hourly_quota", "user_hourly_quota") and value < 0:
            raise ValueError(f"{name} must not be negative")
        return value
    value = float(value)
    if name == "error_rate" and not 0.0 <= value <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    if name == "rate_per_sec" and value <= 0:
        raise ValueError("rate_per_sec must be positive (or null for no limit)")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def _check_rule(rule: FaultRule) -> None:
    if rule.kind not in ("fail", "drop", "drop_after"):
        raise ValueError(f"unknown rule kind {rule.kind!r}")
    if isinstance(rule.count, bool) or not isinstance(rule.count, int) or rule.count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(rule.status, bool) or not isinstance(rule.status, int) or not 100 <= rule.status <= 599:
        raise ValueError("status must be an HTTP status code")
    for name in ("method", "path", "message"):
        if getattr(rule, name) is not None and not isinstance(getattr(rule, name), str):
            raise ValueError(f"{name} must be a string")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _rule_from_json(kind: RuleKind, item: Any) -> FaultRule:
    if not isinstance(item, dict):
        raise ValueError("a rule must be a JSON object")
    allowed = {"count", "method", "path"} | ({"status", "message"} if kind == "fail" else {"after_apply"})
    unknown = set(item) - allowed
    if unknown:
        raise ValueError(f"unknown rule key(s): {', '.join(sorted(unknown))}")
    if kind == "drop" and item.get("after_apply"):
        kind = "drop_after"
    return FaultRule(
        kind=kind,
        count=item.get("count", 1),
        method=item.get("method"),
        path=item.get("path"),
        status=item.get("status", 503),
        message=item.get("message"),
    )
