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


def missing_extra(setting: str, package: str, extra: str) -> ConfigError:
    """A setting that needs a package of an optional extra, which is not installed."""
    return ConfigError(
        f"{setting} is set but the {package} package is missing: pip install 'toggl-groups-mcp[{extra}]'"
    )


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


def _key(env: Mapping[str, str], name: str) -> SecretStr | None:
    """A secret key setting: at least STATE_KEY_MIN_BYTES, else an error naming its length only
    (the value is a secret, even a bad one)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if len(raw.encode()) < STATE_KEY_MIN_BYTES:
        raise ConfigError(
            f"{name} must be at least {STATE_KEY_MIN_BYTES} bytes of secret randomness, "
            f"got {len(raw.encode())}: generate one with `openssl rand -hex 32`"
        )
    return SecretStr(raw)


def public_url(raw: str) -> str:
    """The origin people and clients reach an OAuth server at: https (http only on loopback), no
    path, query or fragment; returned without a trailing slash (OAuth compares issuers exactly)."""
    from urllib.parse import urlsplit

    name = "TOGGL_MCP_PUBLIC_URL"
    try:
        parts = urlsplit(raw.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError(
            f"{name} must be a URL such as https://team-host.example.com, got {raw!r}"
        ) from None
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not host or (parts.scheme == "http" and not loopback):
        raise ConfigError(
            f"{name} must be an https:// URL (http:// only for localhost or 127.0.0.1), got {raw!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{name} must be the server's origin only (scheme, host and port: the server answers at "
            f"<it>/mcp), got {raw!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def redirect_hosts(raw: str) -> tuple[str, ...]:
    """TOGGL_MCP_OAUTH_REDIRECT_HOSTS: host names (`claude.ai`, `*.example.com`) and private URI
    schemes (`cursor:`) a client may register redirects to; empty: any https host."""
    names = tuple(item.strip().lower() for item in raw.split(",") if item.strip())
    for name in names:
        if not re.fullmatch(r"(\*\.)?[a-z0-9.-]+|[a-z][a-z0-9+.-]*:", name):
            raise ConfigError(
                "TOGGL_MCP_OAUTH_REDIRECT_HOSTS must be a comma list of host names (claude.ai, "
                f"*.example.com) or URI schemes ending in ':' (cursor:), got {name!r}"
            )
    return names


def trusted_proxies(raw: str) -> tuple[str, ...]:
    """TOGGL_MCP_TRUSTED_PROXIES: addresses or networks (10.0.0.0/8) whose X-Forwarded-For names
    the client's address (for the login's limits per address); `*` trusts any."""
    import ipaddress

    names = tuple(item.strip() for item in raw.split(",") if item.strip())
    for name in names:
        try:
            if name != "*":
                ipaddress.ip_network(name, strict=False)
        except ValueError:
            raise ConfigError(
                f"TOGGL_MCP_TRUSTED_PROXIES must be a comma list of addresses or networks (172.16.0.0/12) "
                f"or *, got {name!r}"
            ) from None
    return names


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
    # HTTP only: the server is an OAuth 2.1 protected resource and its own authorization server;
    # each person logs in with their Toggl token on its page (TOGGL_MCP_OAUTH, `oauth/`).
    oauth: bool = False
    # Where people and clients reach it (TOGGL_MCP_PUBLIC_URL): the issuer, and <it>/mcp the resource.
    public_url: str | None = None
    # Seals grants, codes and refresh tokens and signs access tokens (TOGGL_MCP_OAUTH_SECRET).
    oauth_secret: SecretStr | None = field(default=None, repr=False)
    # Hosts and schemes a client may register redirects to (TOGGL_MCP_OAUTH_REDIRECT_HOSTS).
    oauth_redirect_hosts: tuple[str, ...] = ()
    # Reverse proxies whose X-Forwarded-For gives the client's address (TOGGL_MCP_TRUSTED_PROXIES);
    # empty: uvicorn's default, loopback only.
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        token = env.get("TOGGL_API_TOKEN", "").strip()
        per_user = _flag(env, "TOGGL_MCP_PER_USER_TOKENS")
        oauth = _flag(env, "TOGGL_MCP_OAUTH")
        if not token and not overrides.get("api_token") and not per_user and not oauth:
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
            "state_key": _key(env, "TOGGL_MCP_STATE_KEY"),
            "oauth": oauth,
            "public_url": public_url(env["TOGGL_MCP_PUBLIC_URL"])
            if env.get("TOGGL_MCP_PUBLIC_URL", "").strip()
            else None,
            "oauth_secret": _key(env, "TOGGL_MCP_OAUTH_SECRET"),
            "oauth_redirect_hosts": redirect_hosts(env.get("TOGGL_MCP_OAUTH_REDIRECT_HOSTS", "")),
            "trusted_proxies": trusted_proxies(env.get("TOGGL_MCP_TRUSTED_PROXIES", "")),
        }
        values.update(overrides)
        settings = cls(**values)
        problem = settings.oauth_problem()
        if problem:
            raise ConfigError(problem)
        return settings

    def oauth_problem(self) -> str | None:
        """What the OAuth settings ask that cannot work, or None."""
        if not self.oauth:
            unused = [
                name
                for name, value in (
                    ("TOGGL_MCP_PUBLIC_URL", self.public_url),
                    ("TOGGL_MCP_OAUTH_SECRET", self.oauth_secret),
                    ("TOGGL_MCP_OAUTH_REDIRECT_HOSTS", self.oauth_redirect_hosts),
                )
                if value
            ]
            return f"{', '.join(unused)} need TOGGL_MCP_OAUTH=1" if unused else None
        if self.http_token is not None or self.per_user_tokens:
            return (
                "TOGGL_MCP_OAUTH replaces TOGGL_MCP_HTTP_TOKEN and TOGGL_MCP_PER_USER_TOKENS (each person "
                "logs in with their own Toggl token and gets an access token): unset them"
            )
        if self.redis_url is not None and self.oauth_secret is None:
            return (
                "TOGGL_MCP_OAUTH with TOGGL_MCP_REDIS_URL needs TOGGL_MCP_OAUTH_SECRET (at least 32 bytes, "
                "`openssl rand -hex 32`): grants in Redis outlive the process and every worker must open them"
            )
        return None

    @property
    def multi_user(self) -> bool:
        """Whether each request acts as its own person's Toggl token (per-user tokens or OAuth)."""
        return self.per_user_tokens or self.oauth

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
