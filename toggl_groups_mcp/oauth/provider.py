"""The authorization server's provider for the MCP SDK's OAuth routes (`mcp.server.auth`).

The SDK serves the endpoints and checks the protocol (PKCE S256, redirect URI equality, code and
refresh expiry, client secrets); this provider keeps the records and decides what a grant is:
one person's Toggl token, checked against Toggl on the login page (`login.py`), sealed in the
store (`store.py`), reached by the access tokens and refresh tokens issued for it.

- Access tokens are short-lived (an hour) and signed (HMAC-SHA256 under a key derived from the
  server secret); each names its grant, which is read from the store on every request, so a
  revoked grant ends every token at once, on every worker.
- They are bound to this server's resource (RFC 8707): the `resource` of the authorization
  request, which must be this server's `/mcp` URL when given (the SDK's token handler never
  passes the token request's own). `validate_token_resource` makes the SDK refuse a token whose
  resource is another.
- A code is used once: taking it is atomic; a second use is refused and ends the grant the first
  made (RFC 6749 §4.1.2). Refresh tokens rotate; a refresh token used twice ends its grant (a
  stolen one and its rightful holder cannot both go on, RFC 9700 §4.14).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl, Field, SecretStr

from ..logs import learn_secrets, token_secrets
from .store import Records, derive

log = logging.getLogger("toggl_groups_mcp.oauth")

SCOPE = "toggl"
# Asked for by clients that want refresh tokens (OpenID style); granted, as refresh tokens always are.
SCOPES = [SCOPE, "offline_access"]
ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 86400
CODE_SECONDS = 300
LOGIN_SECONDS = 600
CLIENT_SECONDS = 180 * 86400
TOKEN_PREFIX = "tgm1"
# Schemes a redirect may never use, whatever the allowlist says.
FORBIDDEN_SCHEMES = {"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "ws", "wss"}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class GrantAccessToken(AccessToken):
    """An access token, with its grant and the person's Toggl token (never serialized)."""

    grant_id: str = Field(exclude=True, repr=False)
    toggl_token: SecretStr = Field(exclude=True, repr=False)


class GrantCode(AuthorizationCode):
    grant_id: str


class GrantRefresh(RefreshToken):
    grant_id: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def same_resource(given: str, ours: str) -> bool:
    """RFC 8707 resources compared as URLs: scheme and host in any case, a trailing slash aside."""
    try:
        a, b = urlsplit(given.strip()), urlsplit(ours)
        return (
            a.scheme.lower() == b.scheme.lower()
            and (a.hostname or "") == (b.hostname or "")
            and (a.port or {"https": 443, "http": 80}.get(a.scheme.lower()))
            == (b.port or {"https": 443, "http": 80}.get(b.scheme.lower()))
            and a.path.rstrip("/") == b.path.rstrip("/")
            and not a.query
            and not a.fragment
        )
    except ValueError:
        return False


def redirect_problem(uri: str, allowed: tuple[str, ...]) -> str | None:
    """Why a client may not register this redirect URI, or None.

    https anywhere (or, with TOGGL_MCP_OAUTH_REDIRECT_HOSTS, on the hosts it names); http only to
    a loopback address (RFC 8252 native apps); a private scheme (`cursor:`) unless the allowlist
    is set and does not name it; never a fragment, credentials or a script-bearing scheme.
    """
    try:
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"{uri!r} is not a URL"
    scheme = parts.scheme.lower()
    if not scheme or scheme in FORBIDDEN_SCHEMES:
        return f"{uri!r}: redirects must be https://, http:// to a loopback address, or an app's own scheme"
    if parts.fragment or parts.username or parts.password:
        return f"{uri!r}: a redirect URI must not have a fragment or credentials"
    if scheme == "http":
        return None if host in LOOPBACK_HOSTS else f"{uri!r}: http:// redirects must go to a loopback address"
    if scheme == "https":
        if not host:
            return f"{uri!r} has no host"
        if not allowed or host in LOOPBACK_HOSTS:
            return None
        for name in allowed:
            if name == host or (name.startswith("*.") and host.endswith(name[1:])):
                return None
        return f"{uri!r}: this server accepts redirects only to {', '.join(allowed)} (TOGGL_MCP_OAUTH_REDIRECT_HOSTS)"
    if allowed and f"{scheme}:" not in allowed:
        return f"{uri!r}: this server accepts redirects only to {', '.join(allowed)} (TOGGL_MCP_OAUTH_REDIRECT_HOSTS)"
    return None


class TogglAuthProvider:
    """`OAuthAuthorizationServerProvider` for the SDK's routes; `login.py` completes `authorize`."""

    def __init__(
        self,
        records: Records,
        *,
        secret: bytes,
        issuer: str,
        resource: str,
        redirect_hosts: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = records
        self.issuer = issuer
        self.resource = resource
        self.redirect_hosts = redirect_hosts
        self.clock = clock
        self._sign_key = derive(secret, "access-token")

    # -- clients ------------------------------------------------------------------------------
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        record = await self.records.get("client", client_id)
        if record is None:
            return None
        try:
            return OAuthClientInformationFull.model_validate(record)
        except ValueError:
            return None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        for uri in client_info.redirect_uris or []:
            problem = redirect_problem(str(uri), self.redirect_hosts)
            if problem:
                raise RegistrationError("invalid_redirect_uri", problem)
        record = client_info.model_dump(mode="json", exclude_none=True)
        await self.records.put("client", client_info.client_id, record, CLIENT_SECONDS)

    # -- authorization --------------------------------------------------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        """Keep the request and send the person to the login page, where `login.py` issues the code."""
        if params.resource is not None and not same_resource(params.resource, self.resource):
            raise AuthorizeError("invalid_target", f"this server issues tokens only for {self.resource}")
        login_id = secrets.token_urlsafe(32)
        await self.records.put(
            "login",
            login_id,
            {
                "client_id": client.client_id,
                "redirect_uri": str(params.redirect_uri),
                "explicit": params.redirect_uri_provided_explicitly,
                "challenge": params.code_challenge,
                "state": params.state,
                # A login gives the person's whole Toggl access, so `toggl` is always granted.
                "scopes": sorted({*(params.scopes or []), SCOPE}),
                "resource": self.resource,
            },
            LOGIN_SECONDS,
        )
        return f"{self.issuer}/login?request={login_id}"

    async def complete_login(self, login: dict[str, Any], me: dict[str, Any], toggl_token: str) -> str:
        """A grant for the person Toggl answered `/me` for, and a code for it; returns the code."""
        grant_id = secrets.token_urlsafe(24)
        client = await self.get_client(login["client_id"])
        await self.records.put(
            "grant",
            grant_id,
            {
                "id": grant_id,
                "client_id": login["client_id"],
                "client_name": (client.client_name if client else None) or "",
                "user_id": me.get("id"),
                "name": me.get("fullname") or "",
                "email": me.get("email") or "",
                "toggl": toggl_token,
                "scopes": login["scopes"],
                "resource": login["resource"],
                "created": int(self.clock()),
            },
            # Until its code is exchanged; then as long as its refresh tokens.
            CODE_SECONDS * 2,
        )
        code = secrets.token_urlsafe(32)
        await self.records.put(
            "code",
            code,
            {
                "grant": grant_id,
                "client_id": login["client_id"],
                "redirect_uri": login["redirect_uri"],
                "explicit": login["explicit"],
                "challenge": login["challenge"],
                "scopes": login["scopes"],
                "resource": login["resource"],
                "subject": f"toggl:{me.get('id')}",
                "expires_at": self.clock() + CODE_SECONDS,
            },
            CODE_SECONDS,
        )
        return code

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> GrantCode | None:
        record = await self.records.get("code", authorization_code)
        if record is None:
            await self._refuse_reuse("used-code", authorization_code, "an authorization code used twice")
            return None
        if record.get("client_id") != client.client_id:
            return None
        return GrantCode(
            code=authorization_code,
            scopes=record["scopes"],
            expires_at=record["expires_at"],
            client_id=record["client_id"],
            code_challenge=record["challenge"],
            redirect_uri=AnyUrl(record["redirect_uri"]),
            redirect_uri_provided_explicitly=record["explicit"],
            resource=record["resource"],
            subject=record.get("subject"),
            grant_id=record["grant"],
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: GrantCode
    ) -> OAuthToken:
        # Taken, not read: of two exchanges of one code (two workers), one gets it.
        if await self.records.take("code", authorization_code.code) is None:
            await self.revoke_grant(authorization_code.grant_id, "its authorization code was used twice")
            raise TokenError("invalid_grant", "authorization code was already used")
        await self.records.put(
            "used-code", authorization_code.code, {"grant": authorization_code.grant_id}, CODE_SECONDS * 2
        )
        grant = await self.records.get("grant", authorization_code.grant_id)
        if grant is None or grant.get("client_id") != client.client_id:
            raise TokenError("invalid_grant", "the login this code came from has ended: log in again")
        await self._renew(client, grant)
        return await self._issue(grant, authorization_code.scopes)

    async def _renew(self, client: OAuthClientInformationFull, grant: dict[str, Any]) -> None:
        """A grant in use lives as long as its newest refresh token, and so does its client's
        registration (a connector used daily is never told to register again)."""
        await self.records.put("grant", grant["id"], grant, REFRESH_SECONDS)
        record = client.model_dump(mode="json", exclude_none=True)
        await self.records.put("client", client.client_id, record, max(CLIENT_SECONDS, REFRESH_SECONDS))

    # -- tokens ---------------------------------------------------------------------------------
    async def _issue(self, grant: dict[str, Any], scopes: list[str]) -> OAuthToken:
        now = int(self.clock())
        claims = {
            "g": grant["id"],
            "c": grant["client_id"],
            "r": grant["resource"],
            "s": scopes,
            "sub": f"toggl:{grant['user_id']}",
            "iat": now,
            "exp": now + ACCESS_SECONDS,
            "n": secrets.token_urlsafe(8),
        }
        access = self._sign(claims)
        refresh = secrets.token_urlsafe(32)
        await self.records.put(
            "refresh",
            refresh,
            {
                "grant": grant["id"],
                "client_id": grant["client_id"],
                "scopes": scopes,
                "resource": grant["resource"],
                "expires_at": now + REFRESH_SECONDS,
            },
            REFRESH_SECONDS,
        )
        return OAuthToken(
            access_token=access, expires_in=ACCESS_SECONDS, scope=" ".join(scopes), refresh_token=refresh
        )

    def _sign(self, claims: dict[str, Any]) -> str:
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._sign_key, f"{TOKEN_PREFIX}.{body}".encode(), hashlib.sha256).digest()
        return f"{TOKEN_PREFIX}.{body}.{_b64(mac)}"

    def _claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this server signed and that has not expired, else None."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(token) > 4096:
            return None
        expected = hmac.new(self._sign_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(parts[2]), expected):
                return None
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
            return None
        if claims["exp"] <= self.clock():
            return None
        return claims

    async def load_access_token(self, token: str) -> GrantAccessToken | None:
        claims = self._claims(token)
        if claims is None:
            return None
        grant = await self.records.get("grant", str(claims.get("g")))
        if grant is None or grant.get("client_id") != claims.get("c"):
            return None
        toggl = str(grant.get("toggl") or "")
        # Before anything below could log it (an httpx DEBUG line of the request to Toggl).
        learn_secrets(token_secrets(toggl))
        return GrantAccessToken(
            token=token,
            client_id=claims["c"],
            scopes=list(claims.get("s") or []),
            expires_at=claims["exp"],
            resource=claims.get("r"),
            subject=claims.get("sub"),
            claims={"iss": self.issuer},
            grant_id=grant["id"],
            toggl_token=SecretStr(toggl),
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> GrantRefresh | None:
        record = await self.records.get("refresh", refresh_token)
        if record is None:
            await self._refuse_reuse("used-refresh", refresh_token, "a refresh token used twice")
            return None
        if record.get("client_id") != client.client_id:
            return None
        return GrantRefresh(
            token=refresh_token,
            client_id=record["client_id"],
            scopes=record["scopes"],
            expires_at=record["expires_at"],
            resource=record["resource"],
            grant_id=record["grant"],
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefresh, scopes: list[str]
    ) -> OAuthToken:
        if await self.records.take("refresh", refresh_token.token) is None:
            await self.revoke_grant(refresh_token.grant_id, "its refresh token was used twice")
            raise TokenError("invalid_grant", "refresh token was already used")
        await self.records.put(
            "used-refresh", refresh_token.token, {"grant": refresh_token.grant_id}, REFRESH_SECONDS
        )
        grant = await self.records.get("grant", refresh_token.grant_id)
        if grant is None or grant.get("client_id") != client.client_id:
            raise TokenError("invalid_grant", "this grant was revoked: log in again")
        await self._renew(client, grant)
        return await self._issue(grant, scopes)

    # -- revocation -------------------------------------------------------------------------------
    async def revoke_token(self, token: GrantAccessToken | GrantRefresh | AccessToken | RefreshToken) -> None:
        """RFC 7009: either token ends the whole grant, and the Toggl token with it."""
        grant_id = getattr(token, "grant_id", None)
        if grant_id:
            await self.revoke_grant(grant_id, "revoked by its client")

    async def revoke_grant(self, grant_id: str, why: str) -> bool:
        """Forget a grant and the Toggl token it holds: its access and refresh tokens stop working."""
        gone = await self.records.take("grant", grant_id)
        if gone is not None:
            log.warning(
                "OAuth grant of Toggl user %s for client %s ended: %s",
                gone.get("user_id"),
                gone.get("client_id"),
                why,
            )
        return gone is not None

    async def exchange_identity_assertion(
        self, client: OAuthClientInformationFull, params: Any
    ) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "the JWT bearer grant is not supported here")

    async def _refuse_reuse(self, kind: str, ident: str, what: str) -> None:
        used = await self.records.get(kind, ident)
        if used is not None:
            await self.revoke_grant(str(used.get("grant")), f"{what} (a replay, or a stolen token)")
