"""Logging to stderr that never carries a secret.

`configure_logging` puts one handler on the root logger, so records from every logger that
propagates (ours, httpx, httpcore, mcp) pass through `SecretFilter`, which replaces each secret by
"[redacted]" in the message, a traceback and a stack before anything is written. httpcore logs the
response headers at DEBUG, and a pydantic error shows the `input_value` it refused: either may
carry whatever Toggl echoed back.

A team server with per-user tokens learns each user's token when a request carrying it has passed
the transport's checks (`http.UserToken`), and only a token of a token's shape
(`config.USER_TOKEN_SHAPE`): a word sent as a token is refused, so it can never blank that word
out of the log. The learned tokens are kept most recently heard first, at most `LEARNED_LIMIT`;
the secrets configuration gives are never dropped.
"""

from __future__ import annotations

import base64
import logging
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import TextIO

from .config import Settings

REDACTED = "[redacted]"
FORMAT = "%(levelname)s %(name)s: %(message)s"
# Secrets learned from requests kept at once (two per user: the token and its Basic form): far more
# than the users a server keeps state for (`state.Tenants.limit`), and a bound on the work each
# record costs. A user's token is learned again with each request, so only the long idle drop out.
LEARNED_LIMIT = 4096


def secrets_of(settings: Settings, *, api_token: bool = True) -> list[str]:
    """What must never be logged: the API token, its HTTP Basic credential, the bearer token.

    `api_token=False` leaves the API token out (the --sandbox placeholder is not a secret, and
    redacting the word "sandbox" would only blank out log lines).
    """
    secrets: list[str] = []
    if api_token:
        secrets += token_secrets(settings.api_token.get_secret_value())
    if settings.http_token is not None:
        secrets.append(settings.http_token.get_secret_value())
    if settings.state_key is not None:
        secrets.append(settings.state_key.get_secret_value())
    if settings.oauth_secret is not None:
        secrets.append(settings.oauth_secret.get_secret_value())
    if settings.redis_url is not None:
        from urllib.parse import unquote, urlsplit

        try:
            password = urlsplit(settings.redis_url.get_secret_value()).password or ""
        except ValueError:
            password = ""
        # Only the password, as written and decoded: the address must stay readable in the logs.
        secrets += [password, unquote(password)]
    return [s for s in secrets if s.strip()]


def token_secrets(token: str) -> list[str]:
    """A Toggl token as it may appear: itself and its HTTP Basic credential."""
    token = token.strip()
    return [token, base64.b64encode(f"{token}:api_token".encode()).decode()] if token else []


# Every SecretFilter installed, so that secrets learned later (per-user tokens) reach them all.
_FILTERS: weakref.WeakSet[SecretFilter] = weakref.WeakSet()


def learn_secrets(secrets: Iterable[str]) -> None:
    """Scrub these too from now on: a user's token, first heard in a request of a team server."""
    secrets = list(secrets)
    for handler_filter in _FILTERS:
        handler_filter.learn(secrets)


def _spellings(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as written, and as a str or bytes repr escapes it (httpcore logs headers as
    bytes); the longest first, so that no secret is left half redacted by a shorter one."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or not secret.strip():
            continue
        forms.update((secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]))
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


class SecretFilter(logging.Filter):
    """Scrub secrets from every record: its message, exception text and stack. Never raises, never
    drops a record. A record without a secret is left as it was, apart from its traceback text,
    which is cached (the formatter would compute the same text)."""

    def __init__(self, secrets: Iterable[str], *, learned_limit: int = LEARNED_LIMIT) -> None:
        super().__init__()
        self.configured = _spellings(secrets)  # never forgotten
        self.secrets = self.configured
        # Secrets learned since, least recently heard first, each with its spellings.
        self.learned: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self.learned_limit = learned_limit
        self._lock = threading.Lock()
        _FILTERS.add(self)

    def learn(self, secrets: Iterable[str]) -> None:
        changed = False
        with self._lock:
            for secret in secrets:
                if not secret or not secret.strip():
                    continue
                if secret in self.learned:
                    self.learned.move_to_end(secret)
                else:
                    self.learned[secret] = _spellings([secret])
                    changed = True
            while len(self.learned) > self.learned_limit:
                self.learned.popitem(last=False)
                changed = True
            if changed:
                forms = {form for spellings in self.learned.values() for form in spellings}
                # Swapped whole: a record scrubbed meanwhile, in another thread, sees one or the other.
                self.secrets = tuple(sorted(forms.union(self.configured), key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._scrub_record(record)
        except Exception:  # pragma: no cover - a last resort: keep a line, lose the detail
            record.msg = f"[a {record.levelname} record from {record.name} could not be scrubbed]"
            record.args = ()
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    def _scrub_record(self, record: logging.LogRecord) -> None:
        message, rendered = _render(record)
        scrubbed = self.scrub(message)
        # A record that cannot be rendered is rewritten too: the handler would otherwise fail on
        # it and logging would print the raw arguments to stderr.
        if scrubbed is not message or not rendered:
            record.msg = scrubbed
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)


def _render(record: logging.LogRecord) -> tuple[str, bool]:
    """The record's message, and whether it rendered as logging would render it."""
    try:
        return record.getMessage(), True
    except Exception:
        pass
    try:
        return f"{record.msg!s} (arguments that do not fit the message: {record.args!r})", False
    except Exception:
        return f"[an unprintable message logged at {record.pathname}:{record.lineno}]", False


def _level(level: str) -> int:
    levels = logging.getLevelNamesMapping()
    name = level.strip().upper()
    if name not in levels or name == "NOTSET":
        names = ", ".join(n for n in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
        raise ValueError(f"--log-level must be one of {names}, got {level!r}")
    return levels[name]


def configure_logging(level: str, secrets: Iterable[str], stream: TextIO | None = None) -> logging.Handler:
    """Log records at `level` and above to `stream` (stderr by default) with every secret scrubbed.

    The filter sits on the handler, not on a logger, so it sees the records of every logger that
    propagates to the root. Raises ValueError for an unknown level name.
    """
    numeric = _level(level)
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler
