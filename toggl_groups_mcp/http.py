"""Streamable HTTP transport at /mcp, for hosts that connect over HTTP, and the team server.

DNS-rebinding protection stays on for every bind address; TOGGL_MCP_ALLOWED_HOSTS names the host
names that clients use to reach a server bound beyond loopback. Binding to anything but loopback
requires TOGGL_MCP_HTTP_TOKEN, and when a token is set every request must carry it as a bearer
token (401 otherwise), loopback included. With TOGGL_MCP_PER_USER_TOKENS every request must also
carry its user's Toggl token in X-Toggl-Api-Token, and one of a token's shape
(`config.USER_TOKEN_SHAPE`; 401 otherwise, before any tool runs). The log filter learns that token
only once the bearer and the Host/Origin checks have passed.

`--stateless` serves the SDK's stateless streamable HTTP (no session: any worker answers any
request); `--workers N` runs N such processes on one port through uvicorn's process manager, each
building its app with `worker_app()` from the options the parent left in the environment, and
with one TOGGL_MCP_STATE_KEY (the parent makes one when none is set): a confirmation asked by one
worker is then answered by whichever worker gets the answer.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import USER_TOKEN_RULE, ConfigError, Settings
from .logs import learn_secrets, token_secrets
from .state import USER_TOKEN_HEADER, user_token

log = logging.getLogger("toggl_groups_mcp.http_transport")
LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def unauthorized(send: Send, description: str) -> None:
    body = json.dumps({"error": "unauthorized", "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="toggl-groups-mcp"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerToken:
    """Reject any request without `Authorization: Bearer <token>` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await unauthorized(send, "missing or wrong bearer token")
                return
        await self.app(scope, receive, send)


class UserToken:
    """Per-user tokens: a request without its user's Toggl token, of a token's shape, never reaches
    the MCP server.

    The token is learned by the log filter here, after the bearer (checked outside) and the
    transport's Host/Origin checks (run here first, as the SDK would run them next): a request
    that a rebinding web page makes, or one with a word for a token, teaches the filter nothing.
    """

    def __init__(self, app: ASGIApp, settings: Settings, security: TransportSecuritySettings) -> None:
        self.app = app
        self.settings = settings
        self.transport_checks = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = USER_TOKEN_HEADER.lower().encode()
            given = [v.decode("latin-1") for k, v in scope.get("headers") or [] if k.lower() == name]
            # Exactly one: with two, this check and the tools could each read a different one.
            token = user_token({USER_TOKEN_HEADER: given[0]}) if len(given) == 1 else None
            if token is None or not self.settings.takes_user_token(token):
                await unauthorized(
                    send,
                    f"send your own Toggl API token in the {USER_TOKEN_HEADER} header: {USER_TOKEN_RULE}",
                )
                return
            refusal = await self.transport_checks.validate_request(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            # Before anything below could log it (a DEBUG dump of a request, say).
            learn_secrets(token_secrets(token))
        await self.app(scope, receive, send)


def security_for(host: str, allowed: tuple[str, ...] = ()) -> TransportSecuritySettings:
    """Loopback names always; the bound address; and the names clients use (`allowed`), each with
    any port unless it names one."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    names = list(allowed)
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        names.append(host)
    for name in names:
        with_port = name if name.rsplit(":", 1)[-1].isdigit() and not name.endswith("]") else f"{name}:*"
        hosts.append(with_port)
        origins += [f"http://{with_port}", f"https://{with_port}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def oauth_public_url(settings: Settings, host: str, port: int) -> Settings:
    """With OAuth and no TOGGL_MCP_PUBLIC_URL, a loopback server is its own public URL; off
    loopback it must be given (the issuer and resource people's clients see)."""
    if not settings.oauth or settings.public_url is not None:
        return settings
    if not is_loopback(host):
        raise ConfigError(
            f"TOGGL_MCP_OAUTH needs TOGGL_MCP_PUBLIC_URL to bind to {host} (not loopback): the https:// "
            "origin people and clients reach the server at, such as https://team-host.example.com"
        )
    name = "127.0.0.1" if host in ("localhost", "127.0.0.1") else host
    netloc = f"[{name.strip('[]')}]" if ":" in name else name
    return settings.with_(public_url=f"http://{netloc}:{port}")


def http_app(server: MCPServer[Any], settings: Settings, host: str, *, stateless: bool = False) -> ASGIApp:
    token = settings.http_token.get_secret_value() if settings.http_token else None
    oauth = getattr(server, "oauth", None)
    if oauth is not None:
        from urllib.parse import urlsplit

        public = urlsplit(settings.public_url or "").netloc
        security = security_for(host, (*settings.allowed_hosts, public))
        # Exactly as clients send it, a default port left out (the pattern above wants a port).
        security.allowed_hosts.append(public)
        served = server.streamable_http_app(host=host, transport_security=security, stateless_http=stateless)
        finished: ASGIApp = oauth.finish(served, security)
        return finished
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"TOGGL_MCP_HTTP_TOKEN is required to bind the HTTP transport to {host} (not loopback): "
            "set it to a long random string and send it as a bearer token"
        )
    security = security_for(host, settings.allowed_hosts)
    app: ASGIApp = server.streamable_http_app(
        host=host, transport_security=security, stateless_http=stateless
    )
    if settings.per_user_tokens:
        app = UserToken(app, settings, security)
    return BearerToken(app, token) if token else app


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    # log_config=None: uvicorn keeps its records flowing to our handler, whose filter scrubs secrets.
    return {
        "log_level": "warning",
        "lifespan": "on",
        "log_config": None,
        "forwarded_allow_ips": list(settings.trusted_proxies) or None,
    }


async def serve_http(
    server: MCPServer[Any], settings: Settings, *, host: str, port: int, stateless: bool = False
) -> None:
    import uvicorn

    app = http_app(server, settings, host, stateless=stateless)
    if settings.oauth:
        log.warning("OAuth: people connect at %s/mcp and log in with their Toggl token", settings.public_url)
    config = uvicorn.Config(app, host=host, port=port, **uvicorn_options(settings))
    log.warning(
        "MCP over streamable HTTP at http://%s:%s/mcp%s", host, port, " (stateless)" if stateless else ""
    )
    await uvicorn.Server(config).serve()


# -- N worker processes on one port ------------------------------------------------------------------
WORKER_OPTIONS = "TOGGL_MCP_WORKER_OPTIONS"
STATE_KEY = "TOGGL_MCP_STATE_KEY"


def serve_workers(settings: Settings, options: dict[str, Any], *, host: str, port: int, workers: int) -> None:
    """Run `workers` processes of the stateless server on one port (blocks until stopped). Each
    worker rebuilds its settings from the environment plus `options`, which say what the command
    line changed (read-only, tools, journal, the sandbox's address)."""
    import uvicorn

    os.environ[WORKER_OPTIONS] = json.dumps({**options, "host": host, "port": port})
    if settings.state_key is None:
        import secrets

        # One key for every worker, made here and handed down like the options (the environment of
        # a process is readable by its own user only); each worker's log filter redacts it.
        os.environ[STATE_KEY] = secrets.token_hex(32)
    log.warning("MCP over stateless streamable HTTP at http://%s:%s/mcp, %d workers", host, port, workers)
    uvicorn.run(
        "toggl_groups_mcp.http:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(settings),
    )


def worker_app() -> ASGIApp:
    """The app of one worker process (uvicorn calls it in each)."""
    from pathlib import Path

    from pydantic import SecretStr

    from .logs import configure_logging, secrets_of
    from .server import build_server

    options = json.loads(os.environ.get(WORKER_OPTIONS) or "{}")
    overrides: dict[str, Any] = {}
    sandbox = options.get("sandbox")
    if sandbox:
        overrides |= {
            "api_token": SecretStr(sandbox["token"]),
            "api_url": sandbox["url"],
            "sandbox": True,
            "rate_per_sec": None,
        }
    settings = Settings.from_env(None, **overrides)
    changes: dict[str, Any] = {"read_only": settings.read_only or bool(options.get("read_only"))}
    if "journal" in options:
        changes["journal_path"] = Path(options["journal"]) if options["journal"] else None
    if options.get("tools"):
        changes["tools"] = tuple(options["tools"])
    settings = oauth_public_url(
        settings.with_(**changes), options.get("host", "127.0.0.1"), options.get("port", 8000)
    )
    if not logging.getLogger().handlers:
        configure_logging(options.get("log_level", "WARNING"), secrets_of(settings, api_token=not sandbox))
    return http_app(build_server(settings), settings, options.get("host", "127.0.0.1"), stateless=True)
