"""Settings, read once from the environment into a frozen object.

Nothing else in the package reads the environment: entry points call `Settings.from_env()` and
pass the result down, tests build `Settings(...)` directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr

DEFAULT_API_URL = "https://api.track.toggl.com/api/v9"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def tool_names(raw: str | None) -> tuple[str, ...] | None:
    """A comma list of tool and toolset names (checked against the declarations at start-up, in
    `tools.toolsets`); blank items are ignored, and a blank list means every tool."""
    names = tuple(item.strip() for item in (raw or "").split(",") if item.strip())
    return names or None


JOURNAL_OFF = ("off", "none", "0", "false", "no")


def default_journal_path() -> Path:
    """journal.jsonl in the user's state folder (~/.local/state/toggl-groups-mcp on Linux)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("toggl-groups-mcp", appauthor=False)) / "journal.jsonl"


def journal_path(env: Mapping[str, str]) -> Path | None:
    raw = env.get("TOGGL_MCP_JOURNAL", "").strip()
    if raw.lower() in JOURNAL_OFF:
        return None
    return Path(raw).expanduser() if raw else default_journal_path()


def _redis_url(env: Mapping[str, str]) -> SecretStr | None:
    raw = env.get("TOGGL_MCP_REDIS_URL", "").strip()
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("TOGGL_MCP_REDIS_URL must start with redis://, rediss:// or unix://")
    return SecretStr(raw)


# A per-user token (X-Toggl-Api-Token) must look like one before the server takes it, and so before
# the log filter learns to blank it out: Toggl's are 32 hex digits. Ordinary words ("e", "session",
# "toggl_groups_mcp") are shorter, so a team member cannot blank them out of the log.
USER_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{24,256}")
USER_TOKEN_RULE = "24 to 256 letters, digits, '-' or '_' (Toggl's API tokens are 32 hex digits)"
# Seals the 2026-07-28 requestState (a confirmation's question and answer) for every worker.
STATE_KEY_MIN_BYTES = 32


def _state_key(env: Mapping[str, str]) -> SecretStr | None:
    raw = env.get("TOGGL_MCP_STATE_KEY", "").strip()
    if not raw:
        return None
    if len(raw.encode()) < STATE_KEY_MIN_BYTES:
        # Its length only: the value is a secret, even a bad one.
        raise ConfigError(
            f"TOGGL_MCP_STATE_KEY must be at least {STATE_KEY_MIN_BYTES} bytes of secret randomness, "
            f"got {len(raw.encode())}: generate one with `openssl rand -hex 32`"
        )
    return SecretStr(raw)


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A boolean setting, strictly: a value that is neither true nor false is an error, never a
    silent false (TOGGL_MCP_READ_ONLY=enabled must not register the write tools)."""
    raw = env.get(name, "")
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if not word or word in FALSE_WORDS:
        return False
    raise ConfigError(
        f"{name} must be one of {', '.join(TRUE_WORDS)} (true) or {', '.join(FALSE_WORDS)} "
        f"or empty (false), got {raw!r}"
    )


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know, fixed for the life of the process."""

    api_token: SecretStr = field(repr=False)
    api_url: str = DEFAULT_API_URL
    timeout: float = 20.0
    connect_timeout: float = 5.0
    organization_id: int | None = None
    workspace_id: int | None = None
    read_only: bool = False
    # Pacing: Toggl's leaky bucket tolerates about one request a second; None turns pacing off.
    rate_per_sec: float | None = 1.0
    burst: int = 2
    # Upper bound on the total time spent waiting out 429s within one tool call.
    retry_budget: float = 30.0
    # Base of the jittered exponential backoff for 5xx and dropped connections.
    backoff_base: float = 0.5
    # Toggl needs 2 to 5 s before a new group is accepted elsewhere.
    consistency_wait: float = 2.0
    consistency_window: float = 15.0
    # How long discovery answers (organizations, workspaces, projects) stay fresh.
    cache_ttl: float = 60.0
    sandbox: bool = False
    # With an elicitation-capable client the human confirms every destructive change, whatever
    # the model's `confirm` says; True trusts `confirm: true` (unattended automation).
    trust_confirm: bool = False
    http_token: SecretStr | None = field(default=None, repr=False)
    # How many bytes of text one answer may take (about 5k tokens); lists page or stop early past it.
    text_budget: int = 20_000
    # A bulk call stops cleanly after this long, well before clients time out (60 s is common).
    bulk_seconds: float = 40.0
    # The tools and toolsets to register (`--tools`, TOGGL_MCP_TOOLS); None registers them all.
    tools: tuple[str, ...] | None = None
    # The change journal (TOGGL_MCP_JOURNAL, else the user's state folder); None: no journal and
    # no undo (`--no-journal`, TOGGL_MCP_JOURNAL=off). Settings built in code start without one.
    journal_path: Path | None = None
    # It rotates past this size, keeping this many older files.
    journal_max_bytes: int = 4_000_000
    journal_keep: int = 5
    # Pacing, 429 holds, the quota seen and discovery caches shared by every process on a token
    # (TOGGL_MCP_REDIS_URL); None keeps them in this process. It may carry a password.
    redis_url: SecretStr | None = field(default=None, repr=False)
    # HTTP only: no token of the server's own; each request brings its user's in X-Toggl-Api-Token.
    per_user_tokens: bool = False
    # Host names (host or host:port) that clients use to reach an HTTP server bound beyond loopback,
    # for DNS-rebinding protection (TOGGL_MCP_ALLOWED_HOSTS, a comma list).
    allowed_hosts: tuple[str, ...] = ()
    # The key that seals the 2026-07-28 requestState, shared by every worker and replica
    # (TOGGL_MCP_STATE_KEY); None: `--workers N` makes one for its workers, else a process's own.
    state_key: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        token = env.get("TOGGL_API_TOKEN", "").strip()
        per_user = _flag(env, "TOGGL_MCP_PER_USER_TOKENS")
        if not token and not overrides.get("api_token") and not per_user:
            raise ConfigError(
                "TOGGL_API_TOKEN is not set: export your Toggl API token "
                "(Profile settings > API Token), or run with --sandbox to try the embedded sandbox"
            )
        http_token = env.get("TOGGL_MCP_HTTP_TOKEN", "").strip()
        rate = _float(env, "TOGGL_RATE_PER_SEC", 1.0)
        values: dict[str, Any] = {
            "api_token": SecretStr(token),
            "api_url": env.get("TOGGL_API_URL", "").strip().rstrip("/") or DEFAULT_API_URL,
            "timeout": _float(env, "TOGGL_TIMEOUT", 20.0) or 20.0,
            "organization_id": _int(env, "TOGGL_ORGANIZATION_ID"),
            "workspace_id": _int(env, "TOGGL_WORKSPACE_ID"),
            "read_only": _flag(env, "TOGGL_MCP_READ_ONLY"),
            "trust_confirm": _flag(env, "TOGGL_MCP_TRUST_CONFIRM"),
            "rate_per_sec": rate or None,
            "http_token": SecretStr(http_token) if http_token else None,
            "tools": tool_names(env.get("TOGGL_MCP_TOOLS")),
            "text_budget": _int(env, "TOGGL_MCP_TEXT_BUDGET") or 20_000,
            "bulk_seconds": _float(env, "TOGGL_MCP_BULK_SECONDS", 40.0) or 40.0,
            "journal_path": journal_path(env),
            "journal_max_bytes": _int(env, "TOGGL_MCP_JOURNAL_MAX_BYTES") or 4_000_000,
            "journal_keep": _int(env, "TOGGL_MCP_JOURNAL_KEEP") or 5,
            "redis_url": _redis_url(env),
            "per_user_tokens": per_user,
            "allowed_hosts": tuple(
                h.strip() for h in env.get("TOGGL_MCP_ALLOWED_HOSTS", "").split(",") if h.strip()
            ),
            "state_key": _state_key(env),
        }
        values.update(overrides)
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def takes_user_token(self, token: str) -> bool:
        """Whether a per-user token has a token's shape (`USER_TOKEN_SHAPE`). With --sandbox, the
        embedded sandbox's own users' tokens too: public placeholders such as "sandbox-token"."""
        if USER_TOKEN_SHAPE.fullmatch(token):
            return True
        if not self.sandbox:
            return False
        from .sandbox.config import DEFAULT_TOKEN, SECOND_TOKEN

        return token in (self.api_token.get_secret_value(), DEFAULT_TOKEN, SECOND_TOKEN)
