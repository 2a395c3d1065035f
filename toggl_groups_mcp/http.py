"""Streamable HTTP transport at /mcp, for hosts that connect over HTTP.

DNS-rebinding protection stays on for every bind address. Binding to anything but loopback
requires TOGGL_MCP_HTTP_TOKEN, and when a token is set every request must carry it as a bearer
token (401 otherwise), loopback included.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import ConfigError, Settings

log = logging.getLogger("toggl_groups_mcp.http_transport")
LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerToken:
    """Reject any request without `Authorization: Bearer <token>` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "unauthorized", "error_description": "missing or wrong bearer token"}'
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
                return
        await self.app(scope, receive, send)


def security_for(host: str) -> TransportSecuritySettings:
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:*")
        origins.append(f"http://{host}:*")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def http_app(server: MCPServer, settings: Settings, host: str) -> ASGIApp:
    token = settings.http_token.get_secret_value() if settings.http_token else None
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"TOGGL_MCP_HTTP_TOKEN is required to bind the HTTP transport to {host} (not loopback): "
            "set it to a long random string and send it as a bearer token"
        )
    app: ASGIApp = server.streamable_http_app(host=host, transport_security=security_for(host))
    return BearerToken(app, token) if token else app


async def serve_http(server: MCPServer, settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    app = http_app(server, settings, host)
    # log_config=None: uvicorn keeps its records flowing to our handler, whose filter scrubs secrets.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", log_config=None)
    log.warning("MCP over streamable HTTP at http://%s:%s/mcp", host, port)
    await uvicorn.Server(config).serve()
