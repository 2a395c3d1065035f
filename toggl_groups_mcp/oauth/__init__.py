"""OAuth 2.1 for the HTTP transport (TOGGL_MCP_OAUTH=1), the MCP specification's authorization.

The server is a protected resource (RFC 9728 metadata at `/.well-known/oauth-protected-resource`
and `.../mcp`; a request without a valid token gets 401 with `WWW-Authenticate: Bearer
resource_metadata=...`) and its own authorization server (RFC 8414 metadata, dynamic client
registration, authorization code with PKCE S256, rotating refresh tokens, revocation), built
from the SDK's `mcp.server.auth` routes. What is written here: the provider (`provider.py`), the
records it keeps (`store.py`), and the login page where a person's Toggl token is checked
(`login.py`). Each MCP request then acts as the person whose grant its access token names.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.routes import build_metadata, cors_middleware
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.transport_security import (
    RequestBodyLimitMiddleware,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import ConfigError, Settings
from .login import LoginPage
from .provider import SCOPE, SCOPES, GrantAccessToken, TogglAuthProvider
from .store import Backend, MemoryBackend, Records, RedisBackend, StoreUnavailable

__all__ = ["SCOPE", "GrantAccessToken", "OAuthServer"]

log = logging.getLogger("toggl_groups_mcp.oauth")

METADATA_PATH = "/.well-known/oauth-authorization-server"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
# Registrations per address in an hour: a client registers once per person and host.
REGISTRATIONS_PER_HOUR = 30
LOGIN_BODY_BYTES = 16 * 1024
REVOCATION_PATH = "/revoke"
REVOCATION_BODY_BYTES = 64 * 1024


class OAuthServer:
    """The parts of one server's OAuth: the SDK's settings, the provider, the login routes."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Any = None,
        backend: Backend | None = None,
        clock: Callable[[], float] = time.time,
        check_token: Any = None,
    ) -> None:
        if settings.public_url is None:
            raise ConfigError(
                "TOGGL_MCP_OAUTH needs TOGGL_MCP_PUBLIC_URL off loopback: the https:// origin people "
                "and clients reach the server at (for example https://team-host.example.com)"
            )
        if settings.oauth_secret is not None:
            secret = settings.oauth_secret.get_secret_value().encode()
        else:
            # Only without Redis (config refuses it there): grants then live and die with this process.
            secret = os.urandom(32)
            log.warning(
                "OAuth grants are kept in this process under a key of its own (no TOGGL_MCP_OAUTH_SECRET): "
                "people log in again after a restart"
            )
        self.issuer = settings.public_url
        self.resource = f"{settings.public_url}/mcp"
        if backend is None:
            redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
            backend = RedisBackend(redis_url) if redis_url else MemoryBackend()
        self.records = Records(backend, secret)
        self.provider = TogglAuthProvider(
            self.records,
            secret=secret,
            issuer=self.issuer,
            resource=self.resource,
            redirect_hosts=settings.oauth_redirect_hosts,
            clock=clock,
        )
        self.login = LoginPage(
            self.provider, settings, secret=secret, check_token=check_token, transport=transport
        )

    def auth_settings(self) -> AuthSettings:
        return AuthSettings(
            # Strings, not AnyHttpUrl: these settings keep an origin without the slash an AnyHttpUrl
            # adds, and OAuth compares issuers exactly (RFC 8414, RFC 9207).
            issuer_url=self.issuer,  # type: ignore[arg-type]
            resource_server_url=self.resource,  # type: ignore[arg-type]
            # Tokens issued for another resource are refused (the SDK only warns when unset).
            validate_token_resource=True,
            required_scopes=[SCOPE],
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=SCOPES, default_scopes=SCOPES
            ),
            revocation_options=RevocationOptions(enabled=True),
        )

    def routes(self) -> list[tuple[str, list[str], Any]]:
        """The login page's routes, for `MCPServer.custom_route`."""
        return [("/login", ["GET"], self.login.show), ("/login", ["POST"], self.login.submit)]

    def finish(self, app: Any, security: TransportSecuritySettings) -> ASGIApp:
        """The SDK's app with this server's metadata, behind the Host checks and the registration
        limit.

        The SDK's authorization server metadata names only client-secret authentication, yet the
        public clients that hosted connectors are register with `none` (and its token handler takes
        them): it is served here with `none` too, and with RFC 9207's `iss` in responses. The
        resource metadata is served at the root form as well as `/mcp`'s, and the revocation route
        takes public clients (`PublicRevocation`).
        """
        settings = self.auth_settings()
        assert settings.client_registration_options and settings.revocation_options
        metadata = build_metadata(
            settings.issuer_url,
            None,
            settings.client_registration_options,
            settings.revocation_options,
        )
        methods = ["none", "client_secret_post", "client_secret_basic"]
        metadata.token_endpoint_auth_methods_supported = methods
        metadata.revocation_endpoint_auth_methods_supported = methods
        metadata.authorization_response_iss_parameter_supported = True
        resource = ProtectedResourceMetadata.model_validate(
            {
                "resource": self.resource,
                "authorization_servers": [self.issuer],
                "scopes_supported": [SCOPE],
                "resource_name": "Toggl groups (toggl-groups-mcp)",
            }
        )
        served = {
            METADATA_PATH: MetadataHandler(metadata).handle,
            RESOURCE_METADATA_PATH: ProtectedResourceMetadataHandler(resource).handle,
            f"{RESOURCE_METADATA_PATH}/mcp": ProtectedResourceMetadataHandler(resource).handle,
        }
        routes = [
            Route(REVOCATION_PATH, endpoint=PublicRevocation(r.app), methods=["POST", "OPTIONS"])
            if getattr(r, "path", None) == REVOCATION_PATH
            else r
            for r in app.router.routes
            if getattr(r, "path", None) not in served
        ]
        app.router.routes[:] = [
            Route(path, endpoint=cors_middleware(handler, ["GET", "OPTIONS"]), methods=["GET", "OPTIONS"])
            for path, handler in served.items()
        ] + routes
        # Inside the app's own error handling (outermost of its middleware), so that a store that
        # does not answer is said as a 503 before Starlette's catch-all makes it a 500.
        app.user_middleware.insert(
            0, Middleware(OAuthGuard, security=security, records=self.records, issuer=self.issuer)
        )
        finished: ASGIApp = app
        return finished


class PublicRevocation:
    """RFC 7009 for public clients: the SDK's revocation request model requires `client_secret`,
    which a public client (auth method `none`) never has; an absent one is sent on as empty. (A
    client registered with a secret must still send it: the SDK's client check refuses an empty
    one.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        form = (
            headers.get(b"content-type", b"").split(b";")[0].strip() == b"application/x-www-form-urlencoded"
        )
        if scope["type"] != "http" or scope.get("method") != "POST" or not form:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > REVOCATION_BODY_BYTES:
                await PlainTextResponse("Request body too large", status_code=413)(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        if "client_secret" not in parse_qs(body.decode("latin-1"), keep_blank_values=True):
            body += b"&client_secret=" if body else b"client_secret="
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers[b"content-length"] = str(len(body)).encode()
        await self.app({**scope, "headers": list(headers.items())}, replay, send)


class OAuthGuard:
    """Host checks on every path (the SDK applies them to /mcp only), an Origin check on the login
    form, and a bound on registrations per address."""

    def __init__(
        self, app: ASGIApp, security: TransportSecuritySettings, records: Records, issuer: str
    ) -> None:
        self.app = app
        self.checks = TransportSecurityMiddleware(security)
        self.records = records
        self.issuer = issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._guarded(scope, receive, sending)
        except StoreUnavailable:
            if started:
                raise
            # Said as such, not as a 401 that would send the client to log in again.
            unavailable = JSONResponse(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "the server's store of logins (Redis) does not answer: try again shortly",
                },
                status_code=503,
                headers={"Retry-After": "5"},
            )
            await unavailable(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/mcp":
            request = Request(scope)
            refusal: Response | None = None
            if not self.checks._validate_host(request.headers.get("host")):
                refusal = PlainTextResponse("Invalid Host header", status_code=421)
            elif scope["path"] == "/login" and request.method == "POST":
                # The form posts to itself: its Origin is the issuer's (a client without one, such as
                # a script, has no cookie from the page and fails the CSRF check anyway).
                origin = request.headers.get("origin")
                if origin is not None and origin != self.issuer:
                    log.warning("login form posted from another origin: %s", origin[:200])
                    refusal = PlainTextResponse("Invalid Origin header", status_code=403)
            elif scope["path"] == "/register" and request.method == "POST":
                address = request.client.host if request.client else "unknown"
                if await self.records.count("registrations", address, 3600) > REGISTRATIONS_PER_HOUR:
                    refusal = JSONResponse(
                        {
                            "error": "invalid_client_metadata",
                            "error_description": "too many registrations from this address: try again in an hour",
                        },
                        status_code=429,
                    )
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if scope["path"] == "/login":
                # The SDK bounds the bodies of its own routes only; a login form is a few hundred bytes.
                await RequestBodyLimitMiddleware(self.app, LOGIN_BODY_BYTES)(scope, receive, send)
                return
        await self.app(scope, receive, send)
