"""OAuth on the team server (TOGGL_MCP_OAUTH=1), end to end, as people and clients meet it.

1. The login page in Debian's Chromium (headless, driven by Playwright): a client registers with a
   loopback redirect URI served by this test, sends the browser to the authorization endpoint
   with PKCE S256 and a state, and the browser lands on /login. With and without JavaScript, a
   wrong token shows an alert and issues nothing; the right one sends the browser on to the
   client's redirect URI (the page's Content-Security-Policy must let that form redirect
   through), with the code, the same state and the issuer. The page loads nothing from anywhere
   else and Chromium reports no CSP violation. The code then buys tokens that act, over MCP, as
   the person who logged in.
2. The official TypeScript SDK client (tests/e2e/oauth_client.mjs) does the whole dance with its
   own OAuth support against two stateless workers sharing Redis; Chromium is the person.
3. After a login and tool calls with a distinctive Toggl token, that token is nowhere the server
   writes: not in its DEBUG log, its journal, its temporary files, nor any Redis key or value.

Every server is a real `python -m toggl_groups_mcp` subprocess. Needs Debian's /usr/bin/chromium,
node and the npm tools under .tools/, and redis-server (`make test` installs them); without them
these tests skip, and in CI (CI=true) that skip fails the run (tests/ci_skips.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import pytest
import redis as redis_client
from playwright.async_api import Browser, Page, Request, Response, async_playwright, expect

from tests.e2e.apphost.host import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_team_server import http_client, http_server
from tests.redis_server import REDIS_SERVER, RedisServer, free_port
from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread
from toggl_groups_mcp.sandbox.demo import ORG_ACME

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools"
NODE_CLIENT = Path(__file__).with_name("oauth_client.mjs")
INSTALL_HINT = "run `make test` (it installs Chromium, redis-server and the npm tools under .tools/)"

ALEX_TOKEN = "sandbox-token"  # the embedded sandbox's own users (--sandbox)
GUSTAVO_TOKEN = "sandbox-token-2"
ALEX_ORGANIZATIONS = ["Acme Studio", "Globex Research", "Initech"]
GUSTAVO_ORGANIZATIONS = ["Globex Research"]
# Of a token's shape (32 hex digits), unknown to Toggl: the login checks it with Toggl's /me.
UNKNOWN_TOKEN = "0badc0de0badc0de0badc0de0badc0de"
LABEL = "Your Toggl API token"
SECRET = "e2e-oauth-secret-" + "7" * 32  # TOGGL_MCP_OAUTH_SECRET: at least 32 bytes
WAIT = 30.0  # seconds, for anything a test waits on
NAVIGATION = 15.0  # seconds for the browser to follow a local redirect (a blocked one never does)


# -- what is installed ------------------------------------------------------------------------------


def need(*, chromium: bool = False, node: bool = False, redis: bool = False) -> None:
    """Skip (a failure in CI, tests/ci_skips.py) when something the test drives is not installed."""
    if chromium and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; {INSTALL_HINT}")
    if node and shutil.which("node") is None:
        pytest.skip(f"node is not on PATH; {INSTALL_HINT}")
    if node and not (TOOLS / "node_modules" / "@modelcontextprotocol" / "client").exists():
        pytest.skip(f"the TypeScript SDK client is not installed under {TOOLS}; {INSTALL_HINT}")
    if redis and not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip(f"{REDIS_SERVER} is not installed; {INSTALL_HINT}")


# -- servers ----------------------------------------------------------------------------------------


def oauth_env(**settings: str) -> dict[str, str]:
    """Only what the server needs (nothing inherited): OAuth on, no journal unless said."""
    return {"PATH": os.environ["PATH"], "TOGGL_MCP_OAUTH": "1", "TOGGL_MCP_JOURNAL": "off", **settings}


@dataclass
class Callback:
    """A client's loopback redirect URI, served here: what the browser brought back to it."""

    url: str
    hits: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def callback_server() -> Iterator[Callback]:
    """A tiny HTTP server on 127.0.0.1 answering /callback with a page, recording each query."""
    hits: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/callback":
                hits.append({k: v[0] for k, v in parse_qs(parts.query).items()})
                body, status = b"<!doctype html><title>Signed in</title><p>Signed in.</p>", 200
            elif parts.path == "/favicon.ico":  # Chromium asks; a 404 would be a console error
                body, status = b"", 204
            else:
                body, status = b"", 404
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Callback(f"http://127.0.0.1:{server.server_address[1]}/callback", hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- the client's side of OAuth (what an MCP client does before and after the browser) -------------


@dataclass
class Authorization:
    url: str  # where the browser goes
    client_id: str
    verifier: str
    state: str
    redirect_uri: str
    metadata: dict[str, Any]


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def start_authorization(base: str, redirect_uri: str, scope: str = "toggl offline_access") -> Authorization:
    """Discover (protected resource, then authorization server), register, build the authorize URL."""
    with httpx.Client(timeout=WAIT) as http:
        resource = http.get(f"{base}/.well-known/oauth-protected-resource/mcp").json()
        issuer = resource["authorization_servers"][0].rstrip("/")
        metadata = http.get(f"{issuer}/.well-known/oauth-authorization-server").json()
        assert "S256" in metadata["code_challenge_methods_supported"]
        registered = http.post(
            metadata["registration_endpoint"],
            json={
                "client_name": "E2E browser client",
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": scope,
            },
        )
        assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "state": state,
        "scope": scope,
        "resource": resource["resource"],
    }
    url = f"{metadata['authorization_endpoint']}?{urlencode(query)}"
    return Authorization(url, client_id, verifier, state, redirect_uri, metadata)


def redeem(authorization: Authorization, code: str) -> dict[str, Any]:
    """The token endpoint: code + PKCE verifier -> access and refresh tokens."""
    with httpx.Client(timeout=WAIT) as http:
        answer = http.post(
            authorization.metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": authorization.redirect_uri,
                "client_id": authorization.client_id,
                "code_verifier": authorization.verifier,
            },
        )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def organizations_as(port: int, access_token: str) -> list[str]:
    """list_organizations over MCP with that bearer: whose organizations the server sees."""
    async with http_client(port, mode="auto", headers={"Authorization": f"Bearer {access_token}"}) as client:
        result = await client.call_tool("list_organizations", {})
    assert not result.is_error, result
    assert result.structured_content is not None
    return [org["name"] for org in result.structured_content["organizations"]]


# -- the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-wide, so that one browser serves every test here (Playwright lives on one loop)."""
    return "asyncio"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    need(chromium=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


# In a page with JavaScript, a CSP violation is also an event: said on the console, where the test
# looks (Chromium's own "Refused to ..." console messages come with or without JavaScript).
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`));
"""


@dataclass
class Watched:
    """Everything a page did: its requests, console messages, script errors and responses."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def login_pages(self) -> list[Response]:
        """The pages /login answered (not the redirect that ends it)."""
        return [r for r in self.responses if urlsplit(r.url).path == "/login" and not 300 <= r.status < 400]


def watch(page: Page) -> Watched:
    watched = Watched(page)

    def on_request(request: Request) -> None:
        watched.requests.append(f"{request.method} {request.url}")

    page.on("request", on_request)
    page.on(
        "console",
        lambda message: watched.console.append((message.type, message.text, message.location.get("url", ""))),
    )
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("response", lambda response: watched.responses.append(response))
    return watched


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_csp(policy: str, *, redirect_origin: str) -> None:
    """Strict: nothing loads by default, no inline script or style without a nonce, no source but
    the server itself and the client's redirect (for the form), no framing, no <base>."""
    directives = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}
    assert directives["default-src"] == ["'none'"], policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, policy
    assert "script-src" not in directives, policy  # no script at all (default-src 'none')
    assert [s for s in directives["style-src"] if not s.startswith("'nonce-")] == [], policy
    assert directives["form-action"] == ["'self'", redirect_origin], policy
    assert directives["frame-ancestors"] == ["'none'"], policy
    assert directives["base-uri"] == ["'none'"], policy
    sources = [s for values in directives.values() for s in values if not s.startswith("'")]
    assert sources == [redirect_origin], policy


# -- 1. the login page in Chromium ------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_port() -> Iterator[int]:
    """One OAuth server on the embedded sandbox for this module's browser tests (each registers
    its own client; grants in memory)."""
    port = free_port()
    with http_server(oauth_env(), "--sandbox", port=port):
        yield port


@dataclass
class Login:
    """A browser on the login page of a client's authorization, and what it did there."""

    callback: Callback
    authorization: Authorization
    watched: Watched

    @property
    def page(self) -> Page:
        return self.watched.page

    async def until_back_at_the_client(self) -> None:
        await self.page.wait_for_url(f"{self.callback.url}?**", timeout=NAVIGATION * 1000)


@asynccontextmanager
async def login_page(browser: Browser, server: str, *, javascript: bool) -> AsyncIterator[Login]:
    """A client registers (its redirect URI served here) and sends a fresh browser to authorize."""
    with callback_server() as callback:
        authorization = start_authorization(server, callback.url)
        context = await browser.new_context(java_script_enabled=javascript)
        try:
            if javascript:
                await context.add_init_script(REPORT_VIOLATIONS)
            watched = watch(await context.new_page())
            await watched.page.goto(authorization.url)
            assert urlsplit(watched.page.url).path == "/login", watched.page.url
            yield Login(callback, authorization, watched)
        finally:
            await context.close()


@pytest.mark.parametrize(
    ("javascript", "token", "organizations"),
    [(False, ALEX_TOKEN, ALEX_ORGANIZATIONS), (True, GUSTAVO_TOKEN, GUSTAVO_ORGANIZATIONS)],
    ids=["without-javascript-as-alex", "with-javascript-as-gustavo"],
)
async def test_the_login_page_refuses_a_wrong_token_and_sends_the_browser_back_to_the_client_with_a_code(
    browser: Browser, oauth_port: int, javascript: bool, token: str, organizations: list[str]
) -> None:
    server = f"http://127.0.0.1:{oauth_port}"
    async with login_page(browser, server, javascript=javascript) as login:
        page = login.page
        # The field is found by its label, as a screen reader names it.
        field = page.get_by_label(LABEL)
        await expect(field).to_have_attribute("type", "password")
        await expect(page.get_by_role("alert")).to_have_count(0)

        # A token of the right shape that Toggl does not know: an alert, the field marked, no code.
        await field.fill(UNKNOWN_TOKEN)
        await page.get_by_role("button", name="Allow").click()
        await expect(page.get_by_role("alert")).to_contain_text("Toggl did not accept")
        await expect(field).to_have_attribute("aria-invalid", "true")
        assert urlsplit(page.url).path == "/login", page.url
        assert login.callback.hits == []
        assert [r.status for r in login.watched.login_pages()] == [200, 400]

        # The right token: the browser itself arrives at the client's redirect URI.
        await field.fill(token)
        await page.get_by_role("button", name="Allow").click()
        await login.until_back_at_the_client()
        await expect(page.get_by_text("Signed in.")).to_be_visible()
        landed = page.url

    callback, authorization, watched = login.callback, login.authorization, login.watched
    assert len(callback.hits) == 1, callback.hits
    back = callback.hits[0]
    assert set(back) == {"code", "state", "iss"}, back
    assert back["state"] == authorization.state
    assert back["iss"] == authorization.metadata["issuer"].rstrip("/") == server

    # The page reached nothing but the server, and the client's redirect once (a favicon aside).
    strays = [r for r in watched.requests if origin(r.split(" ", 1)[1]) not in (server, origin(callback.url))]
    assert strays == [], watched.requests
    at_callback = [r for r in watched.requests if r.split(" ", 1)[1].startswith(callback.url)]
    assert at_callback == [f"GET {landed}"], watched.requests

    # Every page of the login (the form, the refusal) under the same strict policy.
    for response in watched.login_pages():
        check_csp(response.headers["content-security-policy"], redirect_origin=origin(callback.url))
        assert response.headers["x-frame-options"] == "DENY"
    # Chromium refused nothing and logged no error but the refusal's own 400; no script failed.
    refusal = (
        "error",
        "Failed to load resource: the server responded with a status of 400 (Bad Request)",
        f"{server}/login",
    )
    assert [m for m in watched.console if m[0] in ("error", "warning") and m != refusal] == [], (
        watched.console
    )
    assert watched.console.count(refusal) <= 1, watched.console
    assert watched.errors == []
    # The code buys tokens; they act, over MCP, as the person who logged in.
    tokens = redeem(authorization, back["code"])
    assert tokens["token_type"].lower() == "bearer"
    assert await organizations_as(oauth_port, tokens["access_token"]) == organizations


async def test_a_browser_that_denies_access_returns_to_the_client_with_access_denied_and_no_code(
    browser: Browser, oauth_port: int
) -> None:
    async with login_page(browser, f"http://127.0.0.1:{oauth_port}", javascript=False) as login:
        await login.page.get_by_role("button", name="Deny").click()
        await login.until_back_at_the_client()
    callback, authorization, watched = login.callback, login.authorization, login.watched
    assert len(callback.hits) == 1, callback.hits
    back = callback.hits[0]
    assert back["error"] == "access_denied" and back["state"] == authorization.state, back
    assert "code" not in back
    assert [m for m in watched.console if m[0] in ("error", "warning")] == [], watched.console


# -- 2. the TypeScript SDK client against two stateless workers and Redis ---------------------------


class NodeClient:
    """tests/e2e/oauth_client.mjs in its own process group, read line by line (each a JSON event)."""

    def __init__(self, mcp_url: str) -> None:
        self.process = subprocess.Popen(
            ["node", str(NODE_CLIENT), str(TOOLS), mcp_url],
            cwd=REPO,
            env={"PATH": os.environ["PATH"]},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.events: list[dict[str, Any]] = []

    async def next_event(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        with anyio.fail_after(WAIT):
            line = await anyio.to_thread.run_sync(self.process.stdout.readline, abandon_on_cancel=True)
        if not line:
            raise AssertionError(f"the node client ended early:\n{self.stderr()}")
        event: dict[str, Any] = json.loads(line)
        self.events.append(event)
        return event

    async def until(self, key: str) -> dict[str, Any]:
        while True:
            event = await self.next_event()
            if key in event:
                return event

    def stderr(self) -> str:
        self.stop()
        return self.process.stderr.read() if self.process.stderr else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)


async def log_in_with_chromium(browser: Browser, url: str, token: str) -> str:
    """The person's part: open the authorization URL, paste the token, Allow; where the browser ends up."""
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(url)
        redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        await page.get_by_label(LABEL).fill(token)
        await page.get_by_role("button", name="Allow").click()
        await page.wait_for_url(f"{redirect_uri}?**", timeout=NAVIGATION * 1000)
        return page.url
    finally:
        await context.close()


async def test_the_typescript_sdk_client_logs_in_and_refreshes_against_two_stateless_workers_sharing_redis(
    browser: Browser,
) -> None:
    need(node=True, redis=True)
    port = free_port()
    with RedisServer() as redis:
        env = oauth_env(TOGGL_MCP_REDIS_URL=redis.url, TOGGL_MCP_OAUTH_SECRET=SECRET)
        with http_server(env, "--sandbox", "--stateless", "--workers", "2", port=port) as server:
            node = NodeClient(f"http://127.0.0.1:{port}/mcp")
            try:
                authorize = (await node.until("authorize"))["authorize"]
                landed = await log_in_with_chromium(browser, authorize, ALEX_TOKEN)
                callback = (await node.until("callback"))["callback"]
                tools = (await node.until("tools"))["tools"]
                calls = [(await node.next_event())["call"] for _ in range(4)]
                refresh = (await node.until("refresh"))["refresh"]
                await node.until("done")
                with anyio.fail_after(WAIT):
                    code = await anyio.to_thread.run_sync(node.process.wait)
                assert code == 0, node.stderr()
            finally:
                node.stop()
            workers = server_workers(server.pid)
            with redis_client.Redis.from_url(redis.url) as r:
                oauth_records = [key.decode() for key in r.scan_iter(match="toggl-groups-mcp:v1:oauth:*")]
    assert urlsplit(landed).path == "/callback"
    assert callback == {
        "stateMatches": True,
        "hasCode": True,
        "iss": f"http://127.0.0.1:{port}",
        "error": None,
    }
    assert "list_organizations" in tools and "create_group" in tools
    assert [c["label"] for c in calls] == ["call-0", "call-1", "call-2", "after-refresh"]
    assert all(not c["isError"] and c["organizations"] == ALEX_ORGANIZATIONS for c in calls), calls
    # The spoilt access token got a 401; the SDK refreshed (a new access token, the refresh token
    # rotated) and the call went through.
    assert refresh == {
        "hadRefreshToken": True,
        "refreshed": True,
        "newAccessToken": True,
        "rotatedRefreshToken": True,
    }
    # Two worker processes served it, with the grant in Redis where both find it.
    assert len(workers) == 2, workers
    assert {key.split(":")[3] for key in oauth_records} >= {"client", "grant"}, oauth_records


def server_workers(pid: int) -> list[int]:
    """A server's worker processes: its children started by multiprocessing's spawn (uvicorn's
    process manager), not its resource tracker. From /proc."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            workers.append(int(stat.parent.name))
    return workers


# -- 3. the Toggl token is nowhere the server writes ------------------------------------------------

# Toggl's token shape, distinctive enough that any copy of it is this test's.
CANARY = "c0ffee" + secrets.token_hex(13)[:26]


def forms_of(token: str) -> dict[str, bytes]:
    """The token as it may leak: itself, and in HTTP Basic (`token:api_token`, base64)."""
    basic = base64.b64encode(f"{token}:api_token".encode())
    return {
        "token": token.encode(),
        "basic": basic,
        "basic-urlsafe": base64.urlsafe_b64encode(f"{token}:api_token".encode()),
    }


def files_holding(folder: Path, forms: dict[str, bytes]) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path} holds the {name}" for name, form in forms.items() if form in data]
    return found


def redis_holding(url: str, forms: dict[str, bytes]) -> tuple[int, list[str]]:
    """How many keys Redis holds, and where (key or value, by type) any form of the token is."""
    found: list[str] = []
    keys = 0
    with redis_client.Redis.from_url(url) as r:
        for key in r.scan_iter(count=500):
            keys += 1
            kind = r.type(key).decode()
            if kind == "string":
                values = [r.get(key) or b""]
            elif kind == "hash":
                values = [b for pair in r.hgetall(key).items() for b in pair]
            elif kind == "list":
                values = list(r.lrange(key, 0, -1))
            elif kind == "set":
                values = list(r.smembers(key))
            elif kind == "zset":
                values = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":
                values = [b for _, entry in r.xrange(key) for pair in entry.items() for b in pair]
            else:
                values = [r.dump(key) or b""]
            for name, form in forms.items():
                if form in key:
                    found.append(f"key {key!r} holds the {name}")
                if any(form in value for value in values):
                    found.append(f"the {kind} at {key!r} holds the {name}")
    return keys, found


def log_in_over_http(authorization: Authorization, token: str) -> str:
    """The login form posted as a browser would (cookie, CSRF field, Origin); the code it gives."""
    with httpx.Client(timeout=WAIT, follow_redirects=True) as http:
        form = http.get(authorization.url)
        assert form.status_code == 200 and urlsplit(str(form.url)).path == "/login", form.text
        page = form.text
        fields = {
            name: page.split(f'name="{name}" value="', 1)[1].split('"', 1)[0] for name in ("request", "csrf")
        }
        base = origin(str(form.url))
        answer = http.post(
            f"{base}/login",
            data={**fields, "toggl_token": token, "action": "allow"},
            headers={"Origin": base},
            follow_redirects=False,
        )
    assert answer.status_code == 303, answer.text
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["state"] == [authorization.state]
    return back["code"][0]


async def test_a_persons_toggl_token_is_in_no_log_journal_temporary_file_or_redis_record(
    tmp_path: Path,
) -> None:
    need(redis=True)
    journal, temporary = tmp_path / "journal", tmp_path / "tmp"
    journal.mkdir()
    temporary.mkdir()
    stderr_path = tmp_path / "server.stderr"
    port = free_port()
    # The person's token is the sandbox's own user's (Alex): Toggl knows it only as this canary.
    with RedisServer() as redis, SandboxThread(SandboxConfig(token=CANARY, other_tokens={})) as sb:
        env = oauth_env(
            TOGGL_API_URL=sb.url,
            TOGGL_RATE_PER_SEC="0",
            TOGGL_MCP_REDIS_URL=redis.url,
            TOGGL_MCP_OAUTH_SECRET=SECRET,
            TOGGL_MCP_JOURNAL=str(journal / "journal.jsonl"),
            TMPDIR=str(temporary),
        )
        with (
            stderr_path.open("wb") as stderr,
            http_server(env, "--log-level", "DEBUG", port=port, stderr=stderr),
        ):
            server = f"http://127.0.0.1:{port}"
            with callback_server() as callback:
                authorization = start_authorization(server, callback.url)
                tokens = redeem(authorization, log_in_over_http(authorization, CANARY))
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            async with http_client(port, mode="auto", headers=headers) as client:
                listed = await client.call_tool("list_organizations", {})
                created = await client.call_tool(
                    "create_group", {"name": "Canary auditors", "organization_id": ORG_ACME}
                )
                changes = await client.call_tool("list_changes", {})
            # A refresh too: the grant's record is sealed again under the new refresh token.
            async with httpx.AsyncClient(timeout=WAIT) as http:
                refreshed = await http.post(
                    authorization.metadata["token_endpoint"],
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": tokens["refresh_token"],
                        "client_id": authorization.client_id,
                    },
                )
            assert refreshed.status_code == 200, refreshed.text
            assert await organizations_as(port, refreshed.json()["access_token"]) == ALEX_ORGANIZATIONS
            keys, in_redis = redis_holding(redis.url, forms_of(CANARY))
        sandbox_saw = [e for e in sb.sandbox.request_log() if e["method"] == "POST"]
    logged = stderr_path.read_bytes()

    # The calls did what they say, as Alex, and the journal wrote the change.
    assert not listed.is_error and not created.is_error and not changes.is_error
    assert [e["path"] for e in sandbox_saw] == [f"/api/v9/organizations/{ORG_ACME}/groups"], sandbox_saw
    assert any(path.is_file() and path.stat().st_size for path in journal.rglob("*")), list(
        journal.rglob("*")
    )
    assert b"DEBUG" in logged and len(logged) > 1000  # the log is there, and talkative
    assert keys > 0  # the grant lives in Redis

    # The token: in none of it.
    forms = forms_of(CANARY)
    assert [name for name, form in forms.items() if form in logged] == [], (
        "the server's stderr holds the token"
    )
    assert files_holding(journal, forms) == []
    assert files_holding(temporary, forms) == []
    assert in_redis == []
