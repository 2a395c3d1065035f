"""One error type for everything that can go wrong between us and Toggl."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

# What we know about the effect of a failed request on Toggl's side.
Effect = Literal["none", "unknown"]
Kind = Literal["http", "quota", "plan", "rate_limited", "network", "timeout", "input", "shared"]


MAX_MESSAGE = 500


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A `\ud800` escape in JSON decodes to a lone surrogate, which no UTF-8 answer can carry: a tool
# result, a log line or a journal record holding one fails to encode. Toggl's text gets U+FFFD.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def mend(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (paired ones never reach a str)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def parse_toggl_message(body: bytes | str) -> str:
    """Toggl's own words from an error body: a JSON string, an object with a message, or raw text,
    whole: shorten it (with `shorten`) only after secrets are scrubbed from it."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return mend(_message_in(data, text))


def _message_in(data: Any, text: str) -> str:
    if isinstance(data, str):
        return data.strip()
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            for key in ("message", "error", "tip"):
                if isinstance(inner.get(key), str):
                    return str(inner[key]).strip()
        if isinstance(inner, str):
            return inner.strip()
    return text


def whole_seconds(seconds: float | None) -> int | None:
    """Seconds rounded up (a wait of 0.4 s is "1 s", never "0 s"); None when not a real number."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return max(1, math.ceil(seconds)) if seconds > 0 else 0


def reset_time(resets_in: float | None, now: float | None = None) -> str | None:
    """The wall-clock time (UTC) `resets_in` seconds from now, or None when it cannot be told."""
    seconds = whole_seconds(resets_in)
    if seconds is None:
        return None
    base = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    try:
        when = base + timedelta(seconds=seconds)
    except OverflowError:
        return None
    stamp = "%H:%M:%S UTC" if when.date() == base.date() else "%Y-%m-%d %H:%M:%S UTC"
    return when.strftime(stamp)


# Exceptions must stay hashable (tracebacks and exception groups keep them in sets): eq=False.
@dataclass(eq=False)
class TogglError(Exception):
    """A Toggl request that did not succeed, with what the model needs to act on it.

    `effect` says whether Toggl may have applied the change: "none" when it certainly did not
    (a 4xx, or a read), "unknown" when a write may have reached Toggl before the failure.
    """

    method: str
    path: str
    status: int | None
    message: str
    kind: Kind = "http"
    effect: Effect = "none"
    retry_after: float | None = None
    quota_remaining: int | None = None
    quota_resets_in: float | None = None
    retry_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # When Toggl accepts requests again, on the wall clock, fixed now: a hint read later
        # still names the same time.
        self.retry_at = time.time() + self.retry_after if self.retry_after is not None else None
        super().__init__(self.describe())

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        said = f": {self.message}" if self.message else ""
        if self.kind == "shared":
            return (
                f"{self.method} {self.path} was not sent to Toggl: the rate limits shared through "
                f"Redis could not be reached ({self.message})"
            )
        if self.status is None and self.kind == "timeout":
            return f"Toggl did not answer {self.method} {self.path} in time{said}"
        if self.status is None and self.kind == "network":
            return f"The connection to Toggl failed during {self.method} {self.path}{said}"
        if self.status is None and self.kind == "rate_limited":
            return f"{self.method} {self.path} was not sent to Toggl{said}"
        status = f"HTTP {self.status}" if self.status is not None else self.kind
        return f"Toggl answered {status} to {self.method} {self.path}{said}"

    def retry_when(self) -> str:
        """E.g. "Retry after 86400 s: Toggl accepts requests again at 14:05:09 UTC (in 86400 s)."
        (the time is fixed when the error is made)."""
        seconds = whole_seconds(self.retry_after)
        if seconds is None:
            return "Retry after 60 s."
        left = max(0.0, (self.retry_at or 0.0) - time.time())
        at = reset_time(left)
        again = f": Toggl accepts requests again at {at} (in {whole_seconds(left)} s)" if at else ""
        return f"Retry after {seconds} s{again}."

    def hint(self) -> str:
        """What the model (or its user) can do about it."""
        if self.kind == "quota":
            seconds = whole_seconds(self.quota_resets_in)
            at = reset_time(self.quota_resets_in)
            when = " Do not retry within the hour."
            if seconds is not None:
                when = f" The quota resets in {seconds} s" + (f" (at {at})" if at else "") + "."
                when += " Do not retry before then."
            return (
                f"The Toggl API quota for this organization is used up "
                f"(remaining: {self.quota_remaining if self.quota_remaining is not None else 0})."
                f"{when} Nothing was changed; a paid Toggl plan has a larger hourly quota."
            )
        if self.kind == "plan":
            return (
                "Toggl refused with 402 and no quota headers: the organization's plan does not include "
                "this feature (groups need a paid plan). Retrying will not help."
            )
        if self.kind == "shared":
            return (
                "This server paces its Toggl requests together with every other process on the same "
                "token, through Redis (TOGGL_MCP_REDIS_URL), and sends nothing unpaced. Nothing more was "
                "sent. Ask the user to start Redis or fix TOGGL_MCP_REDIS_URL, then call again."
            )
        if self.kind == "rate_limited":
            return f"Toggl is rate limiting this token; nothing was changed. {self.retry_when()}"
        if self.kind in ("network", "timeout"):
            reach = "did not answer in time" if self.kind == "timeout" else "could not be reached"
            if self.effect == "unknown":
                return (
                    f"Toggl {reach}. The change may or may not have been applied: check with a "
                    "list tool before trying again."
                )
            return f"Toggl {reach}; nothing was changed. Try again in a minute."
        status = self.status or 0
        if status >= 500:
            if self.effect == "unknown":
                return (
                    "Toggl had an internal error. The change may or may not have been applied: check "
                    "with a list tool before trying again."
                )
            return "Toggl had an internal error; nothing was changed. Try again in a minute."
        if status in (401, 403):
            return (
                "The token's user must be an admin of this organization (or owner of the workspace), "
                "or the API token is wrong. Check the id with list_organizations / list_workspaces."
            )
        if status == 404:
            return (
                "Toggl does not know that id. Look the id up with a list tool "
                "(list_groups, list_project_groups)."
            )
        if status == 410:
            return "Toggl has retired this endpoint; do not call it again."
        if status == 400:
            return "Toggl rejected the input; nothing was changed. Correct it rather than repeating it."
        return "Nothing was changed."


def rate_limited_until(method: str, path: str, wait: float, why: str) -> TogglError:
    """A request that would have to wait longer than the retry budget (a 429's hold, or a queue of
    turns): not sent; the error says when Toggl accepts requests again."""
    return TogglError(method, path, None, why, kind="rate_limited", retry_after=wait)
