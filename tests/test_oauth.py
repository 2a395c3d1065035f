"""OAuth 2.1 on the HTTP transport (TOGGL_MCP_OAUTH), at the protocol level, as a client drives it
and as an attacker would try it: discovery from the 401 and the metadata, registration, the login
page (CSRF, Origin, Host, the failure limit), codes, refresh tokens, access tokens (tampered,
expired, for another resource, under another secret), revocation, the sealed Redis records and the
admin command, and the settings that cannot work.

The servers run in process (uvicorn on a free loopback port, so that the SDK's session manager
runs) against an embedded Toggl sandbox whose two people have tokens of a Toggl token's shape:
Alex Morgan (Acme Studio, Globex Research, Initech) and Gustavo Lima (Globex Research only).
Everything a client needs is discovered from the server's answers, never written here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import SecretStr

from tests.conftest import make_settings
from tests.redis_server import RedisServer, redis_fixture
from tests.test_http_transport import INIT, MCP_HEADERS, loopback_socket, serving_app
from tests.test_team_confirmations import REFUSED_STATE, answer_of, deletes, tool_call
from toggl_groups_mcp.config import ConfigError, Settings
from toggl_groups_mcp.http import http_app, uvicorn_options
from toggl_groups_mcp.oauth import OAuthServer
from toggl_groups_mcp.oauth.store import MemoryBackend
from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread
from toggl_groups_mcp.sandbox.demo import GROUP_GLOBEX_RESEARCHERS, ORG_GLOBEX, USER_GUSTAVO
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

# The sandbox's two people, with tokens of Toggl's shape (32 hex digits), so the login page's own
# shape check is the production one.
ALEX = "a1e5c0ffee0123456789abcdef012345"
GUSTAVO = "9057a40c0ffee0123456789abcdef012"
# Of the shape, but no Toggl user's: Toggl refuses it.
STRANGER = "0badc0de0badc0de0badc0de0badc0de"
SECRET = "oauth-secret-" + "0123456789abcdef" * 3
REDIRECT = "http://127.0.0.1:9/callback"
TIMEOUT = 30
ERAS = {"legacy": "legacy", "modern": "auto"}
MODERN = "2026-07-28"
GUSTAVO_EMAIL = "gustavo.lima@globex.example"

redis = redis_fixture()


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(SandboxConfig(token=ALEX, other_tokens={GUSTAVO: USER_GUSTAVO})) as sb:
        yield sb


def me_requests(sb: SandboxThread) -> int:
    return sum(1 for e in sb.sandbox.request_log() if e["path"].endswith("/me"))


def oauth_settings(sb: SandboxThread | None, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_token": SecretStr(""),
        "api_url": sb.url if sb is not None else "http://127.0.0.1:9/api/v9",
        "oauth": True,
        "public_url": f"http://127.0.0.1:{port}",
        **overrides,
    }
    return make_settings(**values)


@dataclass
class Served:
    """A running OAuth server: its issuer (the origin), its resource, and its parts."""

    issuer: str
    oauth: OAuthServer
    settings: Settings
    # Where it listens (the issuer, unless a public URL says otherwise).
    bound: str

    @property
    def resource(self) -> str:
        return f"{self.issuer}/mcp"


@asynccontextmanager
async def serving(
    sb: SandboxThread | None, *, stateless: bool = False, **overrides: Any
) -> AsyncIterator[Served]:
    """An OAuth server on a free loopback port (its issuer names that port) for the block."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    settings = oauth_settings(sb, port, **overrides)
    server = build_server(settings)
    app = http_app(server, settings, "127.0.0.1", stateless=stateless)
    # The server's own uvicorn options: the trusted proxies among them.
    async with serving_app(app, sock, **uvicorn_options(settings)):
        oauth = server.oauth  # type: ignore[attr-defined]
        yield Served(settings.public_url or "", oauth, settings, f"http://127.0.0.1:{port}")


# -- a client, by hand -----------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


async def discover(http: httpx.AsyncClient, resource: str) -> dict[str, Any]:
    """The authorization server's metadata, found as a client finds it: from the 401."""
    refused = await http.post(resource, json=INIT, headers=MCP_HEADERS)
    assert refused.status_code == 401, refused.text
    found = re.search(r'resource_metadata="([^"]+)"', refused.headers["www-authenticate"])
    assert found, refused.headers["www-authenticate"]
    prm = (await http.get(found.group(1))).json()
    (issuer,) = prm["authorization_servers"]
    meta: dict[str, Any] = (
        await http.get(f"{issuer.rstrip('/')}/.well-known/oauth-authorization-server")
    ).json()
    return meta


async def register(
    http: httpx.AsyncClient, meta: dict[str, Any], redirect: str = REDIRECT, **extra: Any
) -> httpx.Response:
    body = {
        "client_name": "Test client",
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        **extra,
    }
    return await http.post(meta["registration_endpoint"], json=body)


@dataclass
class Login:
    """One run of the authorization step, up to the login form."""

    meta: dict[str, Any]
    client: dict[str, Any]
    verifier: str
    state: str
    request: str = ""
    csrf: str = ""
    page: httpx.Response | None = field(default=None, repr=False)


async def authorize(
    http: httpx.AsyncClient, meta: dict[str, Any], client: dict[str, Any], challenge: str, **params: str
) -> httpx.Response:
    """GET the authorization endpoint as a client would (S256 PKCE, its first redirect); `params`
    change or (given empty) drop a parameter."""
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "toggl",
        **params,
    }
    return await http.get(
        f"{meta['authorization_endpoint']}?{urlencode({k: v for k, v in query.items() if v})}"
    )


async def start(
    http: httpx.AsyncClient, served: Served, client: dict[str, Any] | None = None, **params: str
) -> Login:
    """Discover, register (unless a client is given), authorize, and open the login form."""
    meta = await discover(http, served.resource)
    if client is None:
        made = await register(http, meta)
        assert made.status_code == 201, made.text
        client = made.json()
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    sent = await authorize(http, meta, client, challenge, state=state, resource=served.resource, **params)
    login = Login(meta, client, verifier, state)
    assert sent.status_code == 302, sent.text
    page = await http.get(sent.headers["location"])
    assert page.status_code == 200, page.text
    login.page = page
    login.request = form_field(page.text, "request")
    login.csrf = form_field(page.text, "csrf")
    return login


def form_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def submit(
    http: httpx.AsyncClient, served: Served, login: Login, token: str, action: str = "allow", **headers: str
) -> httpx.Response:
    data = {"request": login.request, "csrf": login.csrf, "toggl_token": token, "action": action}
    return await http.post(f"{served.issuer}/login", data=data, headers=headers)


def redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, (response.status_code, response.text)
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def code_for(http: httpx.AsyncClient, served: Served, token: str = ALEX) -> tuple[Login, str]:
    login = await start(http, served)
    back = redirected(await submit(http, served, login, token))
    assert back["state"] == login.state and back["iss"] == served.issuer, back
    return login, back["code"]


async def exchange(
    http: httpx.AsyncClient, login: Login, code: str, verifier: str | None = None, **extra: str
) -> httpx.Response:
    return await http.post(
        login.meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.client["redirect_uris"][0],
            "client_id": login.client["client_id"],
            "code_verifier": verifier or login.verifier,
            "resource": login.meta["issuer"].rstrip("/") + "/mcp",
            **extra,
        },
    )


async def refresh(http: httpx.AsyncClient, login: Login, token: str) -> httpx.Response:
    return await http.post(
        login.meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": token, "client_id": login.client["client_id"]},
    )


async def tokens_for(
    http: httpx.AsyncClient, served: Served, token: str = ALEX
) -> tuple[Login, dict[str, Any]]:
    login, code = await code_for(http, served, token)
    got = await exchange(http, login, code)
    assert got.status_code == 200, got.text
    issued: dict[str, Any] = got.json()
    return login, issued


async def status_with(http: httpx.AsyncClient, served: Served, access: str) -> int:
    """What /mcp answers an initialize carrying this access token (200, or 401)."""
    answer = await http.post(
        served.resource, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {access}"}
    )
    return answer.status_code


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT)


# -- 1. discovery --------------------------------------------------------------------------------------


async def test_a_request_without_a_token_gets_401_naming_metadata_that_leads_to_the_authorization_server() -> (
    None
):
    async with serving(None) as served, http_client() as http:
        refused = await http.post(served.resource, json=INIT, headers=MCP_HEADERS)
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        named = re.search(r'resource_metadata="([^"]+)"', challenge)
        assert named and named.group(1) == f"{served.issuer}/.well-known/oauth-protected-resource/mcp"
        for url in (named.group(1), f"{served.issuer}/.well-known/oauth-protected-resource"):
            prm = (await http.get(url)).json()
            assert prm["resource"] == served.resource, prm
            assert prm["authorization_servers"] in ([served.issuer], [served.issuer + "/"]), prm
            assert prm["scopes_supported"] == ["toggl"], prm
        meta = (await http.get(f"{served.issuer}/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"].rstrip("/") == served.issuer
    for endpoint, path in (
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("revocation_endpoint", "/revoke"),
    ):
        assert meta[endpoint] == served.issuer + path, (endpoint, meta)
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    assert meta["response_types_supported"] == ["code"]
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert meta.get("authorization_response_iss_parameter_supported") is True


# -- 2. registration ------------------------------------------------------------------------------------


async def test_a_public_client_and_a_confidential_client_can_register() -> None:
    async with serving(None) as served, http_client() as http:
        meta = await discover(http, served.resource)
        public = await register(http, meta)
        confidential = await register(
            http, meta, "https://app.example.com/cb", token_endpoint_auth_method="client_secret_post"
        )
    assert public.status_code == 201, public.text
    assert public.json()["token_endpoint_auth_method"] == "none"
    assert not public.json().get("client_secret")
    assert confidential.status_code == 201, confidential.text
    assert confidential.json()["client_secret"]


@pytest.mark.parametrize(
    "redirect",
    [
        "http://app.example.com/cb",
        "javascript:alert(1)",
        "https://app.example.com/cb#fragment",
        "http://127.0.0.1:9/cb#x",
        "data:text/html,hi",
        "https://user:pw@app.example.com/cb",
    ],
    ids=["http-off-loopback", "javascript", "fragment", "loopback-with-fragment", "data", "credentials"],
)
async def test_a_redirect_uri_that_could_leak_a_code_is_refused_at_registration(redirect: str) -> None:
    async with serving(None) as served, http_client() as http:
        refused = await register(http, await discover(http, served.resource), redirect)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_redirect_uri", refused.json()


@pytest.mark.parametrize(
    "redirect",
    [
        "http://127.0.0.1:4567/cb",
        "http://localhost/cb",
        "https://any.example.org/cb",
        "cursor://anysphere/cb",
    ],
)
async def test_without_an_allowlist_https_loopback_http_and_app_schemes_register(redirect: str) -> None:
    async with serving(None) as served, http_client() as http:
        made = await register(http, await discover(http, served.resource), redirect)
    assert made.status_code == 201, made.text


async def test_with_redirect_hosts_set_only_the_listed_hosts_and_schemes_register() -> None:
    allowed = ("claude.ai", "*.example.com", "cursor:")
    async with serving(None, oauth_redirect_hosts=allowed) as served, http_client() as http:
        meta = await discover(http, served.resource)
        taken = [
            (await register(http, meta, uri)).status_code
            for uri in (
                "https://claude.ai/api/cb",
                "https://app.example.com/cb",
                "cursor://anysphere/cb",
                REDIRECT,
            )
        ]
        refused = [
            await register(http, meta, uri)
            for uri in (
                "https://evil.test/cb",
                "https://example.com.evil.test/cb",
                "vscode://x/cb",
                "https://claude.ai.evil.test/cb",
            )
        ]
    assert taken == [201, 201, 201, 201]
    assert [r.status_code for r in refused] == [400] * 4, [r.text for r in refused]
    assert {r.json()["error"] for r in refused} == {"invalid_redirect_uri"}


async def test_the_31st_registration_from_one_address_in_an_hour_gets_429() -> None:
    async with serving(None) as served, http_client() as http:
        meta = await discover(http, served.resource)
        made = [(await register(http, meta)).status_code for _ in range(30)]
        refused = await register(http, meta)
    assert made == [201] * 30
    assert refused.status_code == 429, refused.text


# -- 3. the whole flow, with the Python SDK's client -------------------------------------------------------


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def sdk_auth(served: Served, toggl_token: str, storage: Memory | None = None) -> OAuthClientProvider:
    """The SDK's OAuth client, with a person who opens the login page and pastes `toggl_token`."""
    back: dict[str, str] = {}

    async def open_browser(url: str) -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT) as browser:
            page = await browser.get(url, follow_redirects=True)
            assert page.status_code == 200, page.text
            assert "Your Toggl API token" in page.text
            data = {
                "request": form_field(page.text, "request"),
                "csrf": form_field(page.text, "csrf"),
                "toggl_token": toggl_token,
                "action": "allow",
            }
            back.update(redirected(await browser.post(f"{served.issuer}/login", data=data)))

    async def callback() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))

    metadata = OAuthClientMetadata(
        client_name="SDK test",
        redirect_uris=[REDIRECT],  # type: ignore[list-item]
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        served.resource,
        metadata,
        storage or Memory(),
        redirect_handler=open_browser,
        callback_handler=callback,
    )


async def organizations(
    served: Served, toggl_token: str, era: str, auth: OAuthClientProvider | None = None
) -> list[str]:
    """The names of the organizations `list_organizations` shows this person, through the SDK."""
    auth = auth or sdk_auth(served, toggl_token)
    async with (
        httpx2.AsyncClient(auth=auth, timeout=TIMEOUT) as http,
        Client(streamable_http_client(served.resource, http_client=http), mode=ERAS[era]) as client,
    ):
        result = await client.call_tool("list_organizations", {})
    assert not result.is_error, result
    found = result.structured_content
    assert isinstance(found, dict), result
    return sorted(org["name"] for org in found["organizations"])


async def test_the_sdk_client_refreshes_an_expired_access_token_without_a_new_login(
    sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Memory()
    async with serving(sandbox) as served:
        auth = sdk_auth(served, ALEX, storage)
        first = await organizations(served, ALEX, "modern", auth)
        old = storage.tokens
        assert old is not None and old.expires_in
        # An hour and more later, for the server and for the client.
        provider = served.oauth.provider
        now = provider.clock()
        monkeypatch.setattr(provider, "clock", lambda: now + old.expires_in + 60)
        async with http_client() as http:
            assert await status_with(http, served, old.access_token) == 401
        auth.context.token_expiry_time = 1.0
        second = await organizations(served, ALEX, "modern", auth)
        logins = await grants(served)
    assert second == first
    assert storage.tokens is not None and storage.tokens.access_token != old.access_token
    assert storage.tokens.refresh_token != old.refresh_token
    # One grant: the person logged in once (a new login would have made another).
    assert len(logins) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_each_person_logs_in_with_the_sdk_client_and_acts_as_themselves(
    era: str, sandbox: SandboxThread
) -> None:
    async with serving(sandbox) as served:
        alex = await organizations(served, ALEX, era)
        gustavo = await organizations(served, GUSTAVO, era)
    assert alex == ["Acme Studio", "Globex Research", "Initech"]
    assert gustavo == ["Globex Research"]


# -- 4. the login page ------------------------------------------------------------------------------------


def grants(served: Served) -> Any:
    return served.oauth.records.all("grant")


async def test_the_login_form_asks_for_the_token_under_a_strict_policy_and_sets_its_cookie(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
    assert login.page is not None
    policy = login.page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, policy
    assert "form-action 'self' http://127.0.0.1:9" in policy, policy
    assert 'type="password"' in login.page.text and "Your Toggl API token" in login.page.text
    cookie = login.page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie, cookie
    assert "script" not in login.page.text.lower()


@pytest.mark.parametrize(
    "token", ["not-a-token", "", STRANGER], ids=["wrong-shape", "empty", "refused-by-toggl"]
)
async def test_a_wrong_token_gets_the_form_again_with_an_error_and_nothing_is_issued(
    token: str, sandbox: SandboxThread
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        wrong = await submit(http, served, login, token)
        issued = await grants(served)
        # The login stays open: the right token still goes through.
        right = redirected(await submit(http, served, login, ALEX))
    assert wrong.status_code == 400, wrong.text
    assert 'role="alert"' in wrong.text and "Not signed in" in wrong.text
    assert "location" not in wrong.headers and "code=" not in wrong.text
    assert issued == []
    assert right["code"]
    assert me_requests(sandbox) == (2 if token == STRANGER else 1)


async def test_a_form_without_the_csrf_token_or_the_cookie_is_refused_with_403(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        data = {"request": login.request, "toggl_token": ALEX, "action": "allow"}
        missing = await http.post(f"{served.issuer}/login", data=data)
        wrong = await http.post(f"{served.issuer}/login", data={**data, "csrf": "0" * 64})
        async with http_client() as elsewhere:  # the right csrf, from a browser without the cookie
            cookieless = await elsewhere.post(f"{served.issuer}/login", data={**data, "csrf": login.csrf})
        async with httpx.AsyncClient(timeout=TIMEOUT, cookies={"toggl_mcp_login": "another"}) as other:
            other_cookie = await other.post(f"{served.issuer}/login", data={**data, "csrf": login.csrf})
        issued = await grants(served)
    for refused in (missing, wrong, cookieless, other_cookie):
        assert refused.status_code == 403, refused.text
        assert "location" not in refused.headers
    assert issued == [] and me_requests(sandbox) == 0


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://evil.example", "http://127.0.0.1:1"]
)
async def test_a_form_posted_from_another_site_is_refused_with_403(
    origin: str, sandbox: SandboxThread
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        cross = await submit(http, served, login, ALEX, Origin=origin)
        issued = await grants(served)
        same = await submit(http, served, login, ALEX, Origin=served.issuer)
    assert cross.status_code == 403, cross.text
    assert issued == [] and me_requests(sandbox) == 1
    assert redirected(same)["code"]


async def test_a_foreign_host_is_refused_with_421_on_every_oauth_path(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        evil = {"Host": "evil.example"}
        answers = [
            await http.get(f"{served.issuer}/.well-known/oauth-authorization-server", headers=evil),
            await http.post(f"{served.issuer}/register", json={"redirect_uris": [REDIRECT]}, headers=evil),
            await http.get(f"{served.issuer}/login?request={login.request}", headers=evil),
            await submit(http, served, login, ALEX, **evil),
        ]
    assert [a.status_code for a in answers] == [421] * 4, [a.text for a in answers]
    assert me_requests(sandbox) == 0


async def test_deny_sends_the_person_back_with_access_denied_and_the_state(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        denied = redirected(await submit(http, served, login, "", action="deny"))
        again = await submit(http, served, login, ALEX)
        issued = await grants(served)
    assert denied["error"] == "access_denied" and denied["state"] == login.state, denied
    assert "code" not in denied
    assert again.status_code == 400 and "has ended" in again.text
    assert issued == [] and me_requests(sandbox) == 0


@pytest.mark.parametrize("request_id", ["", "no-such-login", "x" * 5000])
async def test_an_unknown_login_gets_the_ended_page(request_id: str, sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        shown = await http.get(f"{served.issuer}/login", params={"request": request_id})
        posted = await http.post(
            f"{served.issuer}/login",
            data={"request": request_id, "csrf": "x", "toggl_token": ALEX, "action": "allow"},
        )
    assert shown.status_code == 400 and "has ended" in shown.text
    assert posted.status_code == 400 and "has ended" in posted.text
    assert me_requests(sandbox) == 0


async def test_an_expired_login_gets_the_ended_page(
    sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        backend = served.oauth.records.backend
        assert isinstance(backend, MemoryBackend)
        now = backend.clock()
        monkeypatch.setattr(backend, "clock", lambda: now + 601)
        late = await submit(http, served, login, ALEX)
    assert late.status_code == 400 and "has ended" in late.text
    assert me_requests(sandbox) == 0


async def test_after_ten_wrong_tokens_for_one_client_the_page_says_wait_and_toggl_is_not_asked(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        wrong = [(await submit(http, served, login, STRANGER)).status_code for _ in range(10)]
        asked = me_requests(sandbox)
        locked = await submit(http, served, login, STRANGER)
        even_right = await submit(http, served, login, ALEX)
        # Another login of the same client is locked out too.
        other = await start(http, served, login.client)
        other_right = await submit(http, served, other, ALEX)
        issued = await grants(served)
    assert wrong == [400] * 10 and asked == 10
    assert locked.status_code == 429 and "Wait 15 minutes" in locked.text
    assert even_right.status_code == 429 and other_right.status_code == 429
    assert me_requests(sandbox) == 10
    assert issued == []


async def test_a_login_cannot_be_used_twice(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        first = redirected(await submit(http, served, login, ALEX))
        second = await submit(http, served, login, GUSTAVO)
        issued = await grants(served)
    assert first["code"]
    assert second.status_code == 400 and "has ended" in second.text
    assert [g["user_id"] for g in issued] == [6120451]


# -- 5. codes, refresh tokens, access tokens ----------------------------------------------------------------


async def test_a_code_with_the_wrong_verifier_is_refused(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login, code = await code_for(http, served)
        wrong = await exchange(http, login, code, verifier=pkce()[0])
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["error"] == "invalid_grant"
    assert "access_token" not in wrong.json()


async def test_a_code_older_than_five_minutes_or_sent_with_another_redirect_uri_is_refused(
    sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        provider = served.oauth.provider
        now = provider.clock()
        # The login happened six minutes ago (the store still holds the code; its expiry says no).
        monkeypatch.setattr(provider, "clock", lambda: now - 360)
        old_login, old_code = await code_for(http, served)
        monkeypatch.setattr(provider, "clock", lambda: now)
        late = await exchange(http, old_login, old_code)
        login, code = await code_for(http, served)
        moved = Login(
            login.meta, {**login.client, "redirect_uris": ["http://127.0.0.1:9/other"]}, login.verifier, ""
        )
        elsewhere = await exchange(http, moved, code)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant", late.text
    assert "expired" in late.json()["error_description"], late.text
    assert elsewhere.status_code == 400 and "access_token" not in elsewhere.json(), elsewhere.text


async def test_an_unknown_client_is_refused_at_authorization_without_a_redirect(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        meta = await discover(http, served.resource)
        stranger = {"client_id": "no-such-client", "redirect_uris": [REDIRECT]}
        sent = await authorize(http, meta, stranger, pkce()[1], state="s1")
    assert sent.status_code == 400, (sent.status_code, sent.headers)
    assert "location" not in sent.headers


async def test_a_code_or_a_refresh_token_presented_by_another_client_is_refused(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login, code = await code_for(http, served)
        thief = Login(login.meta, (await register(http, login.meta)).json(), login.verifier, login.state)
        stolen_code = await exchange(http, thief, code)
        own_code = await exchange(http, login, code)
        assert own_code.status_code == 200, own_code.text
        stolen_refresh = await refresh(http, thief, own_code.json()["refresh_token"])
        own_refresh = await refresh(http, login, own_code.json()["refresh_token"])
    for stolen in (stolen_code, stolen_refresh):
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant", stolen.text
    assert own_refresh.status_code == 200, own_refresh.text


async def test_a_replayed_code_is_refused_and_ends_the_grant_the_first_exchange_made(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login, code = await code_for(http, served)
        first = await exchange(http, login, code)
        assert first.status_code == 200, first.text
        access = first.json()["access_token"]
        assert await status_with(http, served, access) == 200
        replayed = await exchange(http, login, code)
        after = await status_with(http, served, access)
        refreshed = await refresh(http, login, first.json()["refresh_token"])
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant", replayed.text
    assert after == 401
    assert refreshed.status_code == 400, refreshed.text


async def test_a_resource_other_than_this_servers_is_refused_at_authorization(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        meta = await discover(http, served.resource)
        client = (await register(http, meta)).json()
        sent = await authorize(http, meta, client, pkce()[1], state="s1", resource="http://other.example/mcp")
    assert sent.status_code == 302, sent.text
    back = {k: v[0] for k, v in parse_qs(urlsplit(sent.headers["location"]).query).items()}
    assert back["error"] == "invalid_target" and back["state"] == "s1", back
    assert "/login" not in sent.headers["location"]


@pytest.mark.parametrize(
    "change",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"response_type": "token"},
    ],
    ids=["plain-pkce", "no-challenge", "implicit"],
)
async def test_an_authorization_request_without_s256_pkce_or_for_a_token_never_reaches_the_login(
    change: dict[str, str], sandbox: SandboxThread
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        meta = await discover(http, served.resource)
        client = (await register(http, meta)).json()
        sent = await authorize(http, meta, client, pkce()[1], state="s1", **change)
    assert "/login" not in sent.headers.get("location", ""), sent.headers
    if sent.status_code == 302:
        assert "error=" in sent.headers["location"], sent.headers
    else:
        assert sent.status_code == 400, sent.text


@pytest.mark.parametrize("redirect", ["http://127.0.0.1:9/elsewhere", "https://evil.example/cb"])
async def test_an_unregistered_redirect_uri_is_refused_without_redirecting_to_it(
    redirect: str, sandbox: SandboxThread
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        meta = await discover(http, served.resource)
        client = (await register(http, meta)).json()
        sent = await authorize(http, meta, client, pkce()[1], redirect_uri=redirect)
    assert sent.status_code == 400, (sent.status_code, sent.headers)
    assert "location" not in sent.headers


async def test_a_refresh_gives_new_tokens_and_the_old_refresh_token_is_refused(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login, first = await tokens_for(http, served)
        second = await refresh(http, login, first["refresh_token"])
        assert second.status_code == 200, second.text
        new = second.json()
        assert new["access_token"] != first["access_token"] and new["refresh_token"] != first["refresh_token"]
        assert await status_with(http, served, new["access_token"]) == 200
        reused = await refresh(http, login, first["refresh_token"])
        # A refresh token used twice: a thief and the rightful holder cannot both go on.
        after = [await status_with(http, served, t) for t in (new["access_token"], first["access_token"])]
        newest = await refresh(http, login, new["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", reused.text
    assert after == [401, 401]
    assert newest.status_code == 400, newest.text


def flipped(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


async def test_a_tampered_access_token_gets_401(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        _, issued = await tokens_for(http, served)
        access = issued["access_token"]
        prefix, claims, mac = access.split(".")
        body = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        longer = (
            base64.urlsafe_b64encode(
                json.dumps({**body, "exp": body["exp"] + 86400}, separators=(",", ":")).encode()
            )
            .decode()
            .rstrip("=")
        )
        tampered = [
            flipped(access, len(prefix) + 3),  # in the claims
            flipped(access, len(access) - 5),  # in the signature
            f"{prefix}.{longer}.{mac}",  # a later expiry, the old signature
            f"{prefix}.{claims}.",  # no signature
            f"{prefix}.{claims}",
            access + "x",
            "Bearer " + access,
        ]
        answers = [await status_with(http, served, t) for t in tampered]
        before = len(sandbox.sandbox.request_log())
        call = tool_call("list_organizations", {})
        calls = [
            (await http.post(served.resource, json=call, headers=wire(t, call))).status_code for t in tampered
        ]
        asked = len(sandbox.sandbox.request_log()) - before
        still = await status_with(http, served, access)
        right = answer_of(await http.post(served.resource, json=call, headers=wire(access, call)))
        asked_right = len(sandbox.sandbox.request_log()) - before
    assert answers == [401] * len(tampered)
    # No tool ran: nothing was asked of Toggl.
    assert calls == [401] * len(tampered) and asked == 0
    assert still == 200
    assert right["result"]["isError"] is False and asked_right > 0, right


async def test_an_expired_access_token_gets_401(
    sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        _, issued = await tokens_for(http, served)
        provider = served.oauth.provider
        now = provider.clock()
        monkeypatch.setattr(provider, "clock", lambda: now + issued["expires_in"] + 1)
        late = await status_with(http, served, issued["access_token"])
        monkeypatch.setattr(provider, "clock", lambda: now + issued["expires_in"] - 60)
        in_time = await status_with(http, served, issued["access_token"])
    assert late == 401
    assert in_time == 200


def claims_of(access: str) -> dict[str, Any]:
    body = access.split(".")[1]
    found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return found


async def test_a_token_signed_for_another_resource_gets_401(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        _, issued = await tokens_for(http, served)
        claims = claims_of(issued["access_token"])
        provider = served.oauth.provider
        elsewhere = provider._sign({**claims, "r": "http://other.example/mcp"})
        unnamed = provider._sign({k: v for k, v in claims.items() if k != "r"})
        resigned = provider._sign(claims)  # the same claims, signed again: this server's own
        answers = [await status_with(http, served, t) for t in (elsewhere, unnamed, resigned)]
    assert answers[0] == 401
    assert answers[1] == 401
    assert answers[2] == 200


async def test_a_token_signed_under_another_secret_gets_401(sandbox: SandboxThread) -> None:
    async with serving(sandbox, oauth_secret=SecretStr(SECRET)) as served, http_client() as http:
        _, issued = await tokens_for(http, served)
        other = OAuthServer(served.settings.with_(oauth_secret=SecretStr(SECRET[::-1])))
        forged = other.provider._sign(claims_of(issued["access_token"]))
        answer = await status_with(http, served, forged)
    assert forged != issued["access_token"]
    assert answer == 401


async def revoke(http: httpx.AsyncClient, login: Login, token: str, **extra: str) -> httpx.Response:
    return await http.post(
        login.meta["revocation_endpoint"],
        data={"token": token, "client_id": login.client["client_id"], **extra},
    )


async def test_a_public_client_revokes_with_its_client_id_alone(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login, issued = await tokens_for(http, served)
        revoked = await revoke(http, login, issued["access_token"])
        after = await status_with(http, served, issued["access_token"])
    assert revoked.status_code == 200, revoked.text
    assert after == 401


async def test_revoking_either_token_ends_the_grant(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        for which in ("access_token", "refresh_token"):
            login, issued = await tokens_for(http, served)
            assert await status_with(http, served, issued["access_token"]) == 200
            revoked = await revoke(http, login, issued[which])
            assert revoked.status_code == 200, revoked.text
            assert await status_with(http, served, issued["access_token"]) == 401, which
            again = await refresh(http, login, issued["refresh_token"])
            assert again.status_code == 400, (which, again.text)
        assert await grants(served) == []


async def test_a_confidential_client_must_send_its_secret_to_revoke(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        meta = await discover(http, served.resource)
        made = await register(http, meta, token_endpoint_auth_method="client_secret_post")
        client = made.json()
        login = await start(http, served, client)
        code = redirected(await submit(http, served, login, ALEX))["code"]
        got = await exchange(http, login, code, client_secret=client["client_secret"])
        assert got.status_code == 200, got.text
        access = got.json()["access_token"]
        bare = await revoke(http, login, access)
        wrong = await revoke(http, login, access, client_secret="not-the-secret")
        still = await status_with(http, served, access)
        right = await revoke(http, login, access, client_secret=client["client_secret"])
        after = await status_with(http, served, access)
    assert bare.status_code == 401 and wrong.status_code == 401, (bare.text, wrong.text)
    assert still == 200
    assert right.status_code == 200 and after == 401


async def test_another_client_cannot_revoke_a_grant(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login, issued = await tokens_for(http, served)
        other = (await register(http, login.meta)).json()
        await http.post(
            login.meta["revocation_endpoint"],
            data={"token": issued["access_token"], "client_id": other["client_id"]},
        )
        still = await status_with(http, served, issued["access_token"])
    assert still == 200


# -- 6. the Redis store -------------------------------------------------------------------------------------


@asynccontextmanager
async def redis_serving(sb: SandboxThread, server: RedisServer, **overrides: Any) -> AsyncIterator[Served]:
    async with serving(
        sb, redis_url=SecretStr(server.url), oauth_secret=SecretStr(SECRET), **overrides
    ) as served:
        yield served


@asynccontextmanager
async def raw_redis(server: RedisServer) -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def everything_in(client: Any) -> list[bytes]:
    """Every key in Redis, and every value (strings, hashes, lists, sets, sorted sets)."""
    found: list[bytes] = []
    async for key in client.scan_iter(count=500):
        found.append(key)
        kind = (await client.type(key)).decode()
        if kind == "string":
            found.append(await client.get(key))
        elif kind == "hash":
            for k, v in (await client.hgetall(key)).items():
                found += [k, v]
        elif kind == "list":
            found += await client.lrange(key, 0, -1)
        elif kind == "set":
            found += list(await client.smembers(key))
        elif kind == "zset":
            found += [m for m, _ in await client.zrange(key, 0, -1, withscores=True)]
    return found


async def test_redis_never_holds_a_toggl_token_a_code_a_refresh_token_or_an_access_token_in_the_clear(
    sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http, raw_redis(redis) as client:
        login, issued = await tokens_for(http, served)
        _, unused_code = await code_for(http, served, GUSTAVO)  # a code never exchanged
        pending = await start(http, served)  # a login never finished
        assert await status_with(http, served, issued["access_token"]) == 200
        stored = await everything_in(client)
    claims = claims_of(issued["access_token"])
    secrets_ = [
        ALEX,
        GUSTAVO,
        unused_code,
        issued["refresh_token"],
        issued["access_token"],
        issued["access_token"].split(".")[1],
        issued["access_token"].split(".")[2],
        claims["g"],
        login.client["client_id"],
        pending.request,
        "6120451",
        "morgan",
    ]
    assert len(stored) > 8
    for item in stored:
        readable = [item]
        try:
            readable.append(base64.urlsafe_b64decode(item + b"=" * (-len(item) % 4)))
        except ValueError:
            pass
        for text in readable:
            for secret in secrets_:
                assert secret.encode().lower() not in text.lower(), (secret, item[:80])


async def oauth_keys(client: Any, kind: str) -> list[bytes]:
    return [k async for k in client.scan_iter(match=f"toggl-groups-mcp:v1:oauth:{kind}:*")]


async def test_a_grant_record_copied_onto_another_persons_key_is_ignored_never_trusted(
    sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http, raw_redis(redis) as client:
        _, alex = await tokens_for(http, served, ALEX)
        _, gustavo = await tokens_for(http, served, GUSTAVO)
        records = served.oauth.records
        alex_key = records.key("grant", claims_of(alex["access_token"])["g"])
        gustavo_key = records.key("grant", claims_of(gustavo["access_token"])["g"])
        # Gustavo, with write access to Redis, moves Alex's grant under his own grant's key.
        await client.set(gustavo_key, await client.get(alex_key), keepttl=True)
        moved = await status_with(http, served, gustavo["access_token"])
        owner = await status_with(http, served, alex["access_token"])
    assert moved == 401
    assert owner == 200


@pytest.mark.parametrize(
    "written",
    [
        "random",
        "huge",
        "unsealed",
        "sealed-elsewhere",
    ],
)
async def test_a_grant_record_written_by_someone_else_is_ignored(
    written: str, sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http, raw_redis(redis) as client:
        login, issued = await tokens_for(http, served, GUSTAVO)
        records = served.oauth.records
        grant_id = claims_of(issued["access_token"])["g"]
        key = records.key("grant", grant_id)
        grant = await records.get("grant", grant_id)
        assert grant is not None
        # Gustavo's grant, now holding Alex's Toggl token.
        forged = {**grant, "toggl": ALEX, "user_id": 6120451}
        value = {
            "random": base64.urlsafe_b64encode(os.urandom(300)).decode(),
            "huge": "A" * 100_000,
            "unsealed": json.dumps(forged),
            # Sealed with this server's secret, but for another key (no associated data of its own).
            "sealed-elsewhere": records.sealer.seal(records.key("grant", "another"), forged),
        }[written]
        await client.set(key, value)
        answer = await status_with(http, served, issued["access_token"])
        refreshed = await refresh(http, login, issued["refresh_token"])
    assert answer == 401
    assert refreshed.status_code == 400, refreshed.text


async def test_a_code_record_written_by_someone_else_is_refused(
    sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http, raw_redis(redis) as client:
        login, code = await code_for(http, served, GUSTAVO)
        records = served.oauth.records
        record = await records.get("code", code)
        assert record is not None
        await client.set(records.key("code", code), json.dumps(record))
        refused = await exchange(http, login, code)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text


async def test_a_server_under_another_secret_opens_none_of_the_grants(
    sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http:
        _, issued = await tokens_for(http, served)
        other = OAuthServer(served.settings.with_(oauth_secret=SecretStr(SECRET[::-1])))
        try:
            seen = await other.records.all("grant")
            grant = await other.records.get("grant", claims_of(issued["access_token"])["g"])
        finally:
            await other.records.aclose()
    assert seen == [] and grant is None


def admin_env(server: RedisServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGGL")}
    return env | {
        "TOGGL_MCP_OAUTH": "1",
        "TOGGL_MCP_REDIS_URL": server.url,
        "TOGGL_MCP_OAUTH_SECRET": SECRET,
    }


async def admin(server: RedisServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(TIMEOUT):
        return await anyio.run_process(
            [sys.executable, "-m", "toggl_groups_mcp", "oauth", *args], env=admin_env(server), check=False
        )


async def test_the_admin_command_without_redis_exits_2_saying_why() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGGL")} | {"TOGGL_MCP_OAUTH": "1"}
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            [sys.executable, "-m", "toggl_groups_mcp", "oauth", "list"], env=env, check=False
        )
    assert done.returncode == 2
    assert "TOGGL_MCP_REDIS_URL" in done.stderr.decode() and done.stdout == b""


async def test_the_admin_command_lists_grants_and_revokes_a_persons_which_then_stop_working(
    sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http:
        _, alex = await tokens_for(http, served, ALEX)
        gustavo_login, gustavo = await tokens_for(http, served, GUSTAVO)
        listed = await admin(redis, "list")
        revoked = await admin(redis, "revoke", "--user", GUSTAVO_EMAIL.upper())
        after = [await status_with(http, served, t["access_token"]) for t in (alex, gustavo)]
        refreshed = await refresh(http, gustavo_login, gustavo["refresh_token"])
        relisted = await admin(redis, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.decode().splitlines()
    assert len(lines) == 2, lines
    assert any("Alex Morgan" in line for line in lines) and any(GUSTAVO_EMAIL in line for line in lines)
    assert revoked.returncode == 0, revoked.stderr
    assert "Gustavo Lima" in revoked.stdout.decode() and "Alex" not in revoked.stdout.decode()
    assert after == [200, 401]
    assert refreshed.status_code == 400
    assert relisted.stdout.decode().splitlines() == [line for line in lines if "Alex" in line]
    for out in (listed, revoked, relisted):
        for token in (ALEX, GUSTAVO, alex["access_token"], gustavo["refresh_token"]):
            assert token not in (out.stdout + out.stderr).decode()


# -- 7. confirmations are bound to the person ------------------------------------------------------------------


def wire(access: str, body: dict[str, Any]) -> dict[str, str]:
    return {
        **MCP_HEADERS,
        "Authorization": f"Bearer {access}",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": body["method"],
        "Mcp-Name": body["params"]["name"],
        "Connection": "close",
    }


async def test_a_confirmation_asked_of_one_person_cannot_be_answered_with_another_persons_token(
    sandbox: SandboxThread,
) -> None:
    delete = {"organization_id": ORG_GLOBEX, "group_id": GROUP_GLOBEX_RESEARCHERS}
    async with serving(sandbox, stateless=True) as served, http_client() as http:
        _, alex = await tokens_for(http, served, ALEX)
        _, gustavo = await tokens_for(http, served, GUSTAVO)
        call = tool_call("delete_group", delete)
        first = answer_of(
            await http.post(served.resource, json=call, headers=wire(alex["access_token"], call))
        )
        result = first["result"]
        assert result.get("resultType") == "input_required", first
        (key,) = result["inputRequests"]
        answer = tool_call(
            "delete_group",
            delete,
            2,
            inputResponses={key: {"action": "accept", "content": {"confirm": True}}},
            requestState=result["requestState"],
        )
        replayed = answer_of(
            await http.post(served.resource, json=answer, headers=wire(gustavo["access_token"], answer))
        )
        assert "error" in replayed and replayed["error"]["message"] == REFUSED_STATE, replayed
        assert deletes(sandbox) == []
        owner = answer_of(
            await http.post(served.resource, json=answer, headers=wire(alex["access_token"], answer))
        )
    assert owner["result"]["structuredContent"]["deleted"] is True, owner
    assert len(deletes(sandbox)) == 1


# -- 8. settings that cannot work ----------------------------------------------------------------------------


def oauth_env(**more: str) -> dict[str, str]:
    return {"TOGGL_MCP_OAUTH": "1", **more}


@pytest.mark.parametrize(
    ("more", "named"),
    [
        ({"TOGGL_MCP_HTTP_TOKEN": "Team-Bearer-0123456789abcdef"}, "TOGGL_MCP_HTTP_TOKEN"),
        ({"TOGGL_MCP_PER_USER_TOKENS": "1"}, "TOGGL_MCP_PER_USER_TOKENS"),
        ({"TOGGL_MCP_REDIS_URL": "redis://127.0.0.1:9/0"}, "TOGGL_MCP_OAUTH_SECRET"),
        ({"TOGGL_MCP_PUBLIC_URL": "http://team.example.com"}, "TOGGL_MCP_PUBLIC_URL"),
        ({"TOGGL_MCP_PUBLIC_URL": "https://team.example.com/mcp"}, "TOGGL_MCP_PUBLIC_URL"),
        ({"TOGGL_MCP_PUBLIC_URL": "https://team.example.com?x=1"}, "TOGGL_MCP_PUBLIC_URL"),
        ({"TOGGL_MCP_PUBLIC_URL": "team.example.com"}, "TOGGL_MCP_PUBLIC_URL"),
        ({"TOGGL_MCP_OAUTH_SECRET": "short"}, "TOGGL_MCP_OAUTH_SECRET"),
        ({"TOGGL_MCP_OAUTH_REDIRECT_HOSTS": "https://claude.ai/cb"}, "TOGGL_MCP_OAUTH_REDIRECT_HOSTS"),
    ],
    ids=[
        "http-token",
        "per-user-tokens",
        "redis-without-secret",
        "http-off-loopback",
        "a-path",
        "a-query",
        "no-scheme",
        "short-secret",
        "a-url-as-host",
    ],
)
def test_oauth_settings_that_cannot_work_are_refused_naming_the_variable(
    more: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(oauth_env(**more))


def test_oauth_settings_without_oauth_are_refused() -> None:
    with pytest.raises(ConfigError, match="need TOGGL_MCP_OAUTH=1"):
        Settings.from_env({"TOGGL_API_TOKEN": "x" * 32, "TOGGL_MCP_PUBLIC_URL": "https://team.example.com"})


def test_good_oauth_settings_need_no_toggl_token() -> None:
    settings = Settings.from_env(
        oauth_env(
            TOGGL_MCP_PUBLIC_URL="https://team.example.com/",
            TOGGL_MCP_REDIS_URL="redis://127.0.0.1:9/0",
            TOGGL_MCP_OAUTH_SECRET=SECRET,
            TOGGL_MCP_OAUTH_REDIRECT_HOSTS="claude.ai, *.example.com, cursor:",
        )
    )
    assert settings.oauth and settings.public_url == "https://team.example.com"
    assert settings.oauth_redirect_hosts == ("claude.ai", "*.example.com", "cursor:")
    assert (
        Settings.from_env(oauth_env(TOGGL_MCP_PUBLIC_URL="http://localhost:8000")).public_url
        == "http://localhost:8000"
    )


def test_off_loopback_without_a_public_url_the_server_exits_2_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGGL")} | {"TOGGL_MCP_OAUTH": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "toggl_groups_mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "9"],
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "TOGGL_MCP_PUBLIC_URL" in lines[0] and "0.0.0.0" in lines[0]
    assert done.stdout == b""


# -- the store and the body, when they misbehave ------------------------------------------------------------


async def test_when_redis_does_not_answer_requests_get_503_not_a_401_that_sends_people_to_log_in(
    sandbox: SandboxThread, redis: RedisServer
) -> None:
    async with redis_serving(sandbox, redis) as served, http_client() as http:
        login, issued = await tokens_for(http, served)
        redis.stop()
        answers = [
            await http.post(
                served.resource,
                json=INIT,
                headers={**MCP_HEADERS, "Authorization": f"Bearer {issued['access_token']}"},
            ),
            await refresh(http, login, issued["refresh_token"]),
            await http.get(f"{served.issuer}/login", params={"request": "x"}),
        ]
    assert [a.status_code for a in answers] == [503] * 3, [a.text for a in answers]
    assert all(a.headers.get("retry-after") for a in answers)


async def test_a_huge_login_form_is_refused_before_it_is_read(sandbox: SandboxThread) -> None:
    async with serving(sandbox) as served, http_client() as http:
        login = await start(http, served)
        huge = await submit(http, served, login, "A" * 100_000)
        issued = await grants(served)
    assert huge.status_code == 413, huge.text
    assert issued == [] and me_requests(sandbox) == 0


# -- addresses, names and origins --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proxies", [("10.0.0.1",), ("127.0.0.1",)], ids=["untrusted-sender", "trusted-proxy"]
)
async def test_a_forged_x_forwarded_for_does_not_dodge_the_failure_limit(
    proxies: tuple[str, ...], sandbox: SandboxThread
) -> None:
    """From a sender that is not a trusted proxy the header is ignored; through a trusted proxy
    that appends the real address, the addresses a client wrote before it are ignored."""
    async with serving(sandbox, trusted_proxies=proxies) as served, http_client() as http:
        login = await start(http, served)
        for n in range(10):
            forged = {"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.7"}
            wrong = await submit(http, served, login, STRANGER, **forged)
            assert wrong.status_code == 400, wrong.text
        locked = await submit(http, served, login, ALEX, **{"X-Forwarded-For": "203.0.113.99, 198.51.100.7"})
    assert locked.status_code == 429, locked.text
    assert me_requests(sandbox) == 10


async def test_behind_a_trusted_proxy_one_persons_typos_do_not_lock_out_the_same_client_elsewhere(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox, trusted_proxies=("127.0.0.1",)) as served, http_client() as http:
        login = await start(http, served)
        typist = {"X-Forwarded-For": "203.0.113.5"}
        wrong = [(await submit(http, served, login, STRANGER, **typist)).status_code for _ in range(10)]
        locked = await submit(http, served, login, ALEX, **typist)
        elsewhere = await submit(http, served, login, ALEX, **{"X-Forwarded-For": "198.51.100.7"})
    assert wrong == [400] * 10
    assert locked.status_code == 429
    assert redirected(elsewhere)["code"]


async def test_one_address_trying_many_clients_is_locked_out_after_twenty_wrong_tokens(
    sandbox: SandboxThread,
) -> None:
    async with serving(sandbox) as served, http_client() as http:
        logins = [await start(http, served) for _ in range(3)]
        wrong = [(await submit(http, served, logins[n // 9], STRANGER)).status_code for n in range(20)]
        locked = await submit(http, served, logins[2], ALEX)
    assert wrong == [400] * 20
    assert locked.status_code == 429
    assert me_requests(sandbox) == 20


async def test_a_clients_name_is_shown_escaped_and_cut_short_on_the_login_page(
    sandbox: SandboxThread,
) -> None:
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>' + "A" * 200
    async with serving(sandbox) as served, http_client() as http:
        meta = await discover(http, served.resource)
        client = (await register(http, meta, client_name=name)).json()
        login = await start(http, served, client)
    assert login.page is not None
    assert "<script" not in login.page.text and "<img" not in login.page.text
    assert "&lt;script&gt;" in login.page.text
    assert "A" * 81 not in login.page.text


async def test_behind_an_https_public_url_the_login_cookie_is_host_only_and_secure(
    sandbox: SandboxThread,
) -> None:
    public = "https://team.example.com"
    async with (
        serving(sandbox, public_url=public) as served,
        httpx.AsyncClient(
            base_url=served.bound, headers={"Host": "team.example.com"}, timeout=TIMEOUT
        ) as http,
    ):
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert meta["issuer"].rstrip("/") == public and meta["token_endpoint"] == f"{public}/token", meta
        client = (
            await http.post(
                "/register", json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
            )
        ).json()
        local = {**meta, "authorization_endpoint": f"{served.bound}/authorize"}
        sent = await authorize(http, local, client, pkce()[1], state="s1")
        assert sent.headers["location"].startswith(f"{public}/login?"), sent.headers
        target = urlsplit(sent.headers["location"])
        page = await http.get(f"{target.path}?{target.query}")
        cookie = page.headers["set-cookie"]
        name, value = cookie.split(";")[0].split("=", 1)
        data = {
            "request": form_field(page.text, "request"),
            "csrf": form_field(page.text, "csrf"),
            "toggl_token": ALEX,
            "action": "allow",
        }
        http.cookies.clear()
        plain = await http.post(
            "/login", data=data, headers={"Cookie": f"{name}={value}", "Origin": "http://team.example.com"}
        )
        right = await http.post("/login", data=data, headers={"Cookie": f"{name}={value}", "Origin": public})
    assert name == "__Host-toggl_mcp_login"
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attributes, cookie
    assert not any(a.startswith("domain") for a in attributes), cookie
    assert plain.status_code == 403
    assert redirected(right)["iss"] == public
