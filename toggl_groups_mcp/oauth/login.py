"""The login page: a person pastes their Toggl API token; the server checks it against Toggl
(`GET /me`) and only then issues an authorization code.

Plain HTML with no script and no third-party asset, served with a strict Content-Security-Policy
(nothing loads but its own inline style, under a nonce; forms post only here and to the client's
registered redirect, which Chromium needs to follow the redirect back). The form carries a CSRF
token bound to this login and to a cookie set with the page (SameSite=Strict, HttpOnly): a form
posted from another site has no cookie and is refused. Failed tokens are counted per client and
per address; past the limit the page says when to try again and does not ask Toggl.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import construct_redirect_uri
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..config import Settings
from ..logs import learn_secrets, token_secrets
from ..toggl import TogglClient, TogglError
from .provider import LOGIN_SECONDS, TogglAuthProvider
from .store import derive

log = logging.getLogger("toggl_groups_mcp.oauth")

# Failed tokens, in a window of this many seconds: per client from one address (a person's typos),
# per address (one source trying many clients), and per client from anywhere (a wide bound, so that
# whoever learns a client's id cannot lock its person out with a few posts).
FAILURE_WINDOW = 15 * 60
FAILURES_PER_CLIENT_ADDRESS = 10
FAILURES_PER_ADDRESS = 20
FAILURES_PER_CLIENT = 100
MAX_FIELD = 1024

CheckToken = Callable[[str], Awaitable[dict[str, Any] | None]]

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f6f8;color:#1b1b1f}
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.75rem;
box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin-top:0}
label{display:block;font-weight:600;margin:1.25rem 0 .25rem}
input[type=password]{width:100%;box-sizing:border-box;font:inherit;padding:.6rem;border:1px solid #767680;
border-radius:.4rem}
input:focus,button:focus{outline:3px solid #3b5bdb;outline-offset:2px}
.help{color:#44444c;font-size:.9rem;margin:.25rem 0 0}
.error{border-left:4px solid #c92a2a;background:#fff0f0;padding:.75rem 1rem;margin:1rem 0}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #3b5bdb;cursor:pointer}
button[value=allow]{background:#3b5bdb;color:#fff}
button[value=deny]{background:#fff;color:#3b5bdb}
code{overflow-wrap:anywhere}
@media (prefers-color-scheme:dark){body{background:#151518;color:#e8e8ee}main{background:#202026}
.help{color:#b8b8c4}.error{background:#3a1a1a}input[type=password]{background:#151518;color:#e8e8ee}
button[value=deny]{background:#202026;color:#9fb3ff}}
"""


def _page(title: str, body: str, *, nonce: str, status: int = 200, form_to: str = "") -> HTMLResponse:
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'{form_to}; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        # Not no-referrer: with it Chromium sends `Origin: null` on the form's own POST, which the
        # Origin check must refuse. same-origin still gives the client's site no referrer.
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title><style nonce="{nonce}">{STYLE}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=headers)


def redirect_source(uri: str) -> str:
    """The CSP source that lets a form's redirect reach this URI (its origin, or its scheme)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return f" {parts.scheme}://{parts.netloc}"
    return f" {parts.scheme}:"


class LoginPage:
    """GET and POST /login for one server."""

    def __init__(
        self,
        provider: TogglAuthProvider,
        settings: Settings,
        *,
        secret: bytes,
        check_token: CheckToken | None = None,
        transport: Any = None,
    ) -> None:
        self.provider = provider
        self.records = provider.records
        self.settings = settings
        self.issuer = provider.issuer
        self._csrf_key = derive(secret, "login-csrf")
        self.check_token = check_token or self._ask_toggl
        self.transport = transport
        secure = self.issuer.startswith("https://")
        # __Host-: only this origin can set or read it (needs Secure, so https only).
        self.cookie = "__Host-toggl_mcp_login" if secure else "toggl_mcp_login"
        self.secure = secure

    def _csrf(self, login_id: str, browser: str) -> str:
        return hmac.new(self._csrf_key, f"{login_id}\0{browser}".encode(), hashlib.sha256).hexdigest()

    async def _ask_toggl(self, token: str) -> dict[str, Any] | None:
        """Toggl's /me for this token; None when Toggl refuses it (401/403). Other failures raise."""
        client = TogglClient(self.settings.with_(api_token=SecretStr(token)), transport=self.transport)
        try:
            me = await client.request("GET", "/me")
        except TogglError as error:
            if error.status in (401, 403):
                return None
            raise
        finally:
            await client.aclose()
        return me if isinstance(me, dict) else None

    # -- GET ------------------------------------------------------------------------------------
    async def show(self, request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        login_id = request.query_params.get("request", "")
        login = await self.records.get("login", login_id) if 0 < len(login_id) <= MAX_FIELD else None
        if login is None:
            return self._expired(nonce)
        browser = request.cookies.get(self.cookie) or secrets.token_urlsafe(32)
        response = await self._form(login_id, login, browser, nonce)
        response.set_cookie(
            self.cookie,
            browser,
            max_age=LOGIN_SECONDS,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )
        return response

    async def _form(
        self,
        login_id: str,
        login: dict[str, Any],
        browser: str,
        nonce: str,
        error: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        client = await self.provider.get_client(login["client_id"])
        # The name a client registered itself under: shown (escaped, and cut short), never trusted.
        app = " ".join(((client.client_name if client else None) or "An MCP client").split())[:80]
        target = urlsplit(login["redirect_uri"])
        where = target.netloc or f"{target.scheme}:"
        alert = (
            f'<div class="error" role="alert" id="problem"><strong>Not signed in.</strong> {html.escape(error)}</div>'
            if error
            else ""
        )
        described = "help problem" if error else "help"
        body = f"""
<h1>Connect {html.escape(app)} to Toggl</h1>
<p><strong>{html.escape(app)}</strong> asks to manage Toggl Track groups and project access as you,
through this server ({html.escape(self.issuer)}). After you sign in you return to
<code>{html.escape(where)}</code>.</p>
{alert}
<form method="post" action="/login">
<input type="hidden" name="request" value="{html.escape(login_id)}">
<input type="hidden" name="csrf" value="{self._csrf(login_id, browser)}">
<label for="toggl_token">Your Toggl API token</label>
<input type="password" id="toggl_token" name="toggl_token" autocomplete="off" spellcheck="false"
 required maxlength="256" aria-describedby="{described}"{' aria-invalid="true" autofocus' if error else ""}>
<p class="help" id="help">In Toggl Track: Profile settings, API Token. The server checks it with Toggl and
keeps it encrypted; revoking the app's access (in the app, where it offers that, or by the server's
admin) makes the server forget it.</p>
<div class="actions">
<button type="submit" name="action" value="allow">Allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Deny</button>
</div>
</form>"""
        return _page(
            f"Connect {app} to Toggl",
            body,
            nonce=nonce,
            status=status,
            form_to=redirect_source(login["redirect_uri"]),
        )

    def _expired(self, nonce: str, status: int = 400) -> HTMLResponse:
        body = (
            '<h1>This sign-in link has ended</h1><p role="alert">It was used already, or it is older than '
            "ten minutes. Go back to your app and connect again.</p>"
        )
        return _page("Sign-in link ended", body, nonce=nonce, status=status)

    # -- POST -----------------------------------------------------------------------------------
    async def submit(self, request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        form = await request.form(max_files=0, max_fields=8)
        fields = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= MAX_FIELD}
        login_id = fields.get("request", "")
        login = await self.records.get("login", login_id) if login_id else None
        if login is None:
            return self._expired(nonce)
        browser = request.cookies.get(self.cookie, "")
        if not browser or not hmac.compare_digest(fields.get("csrf", ""), self._csrf(login_id, browser)):
            body = (
                '<h1>Please try again</h1><p role="alert">This form did not come from this page in this browser. '
                "Go back to your app and connect again.</p>"
            )
            return _page("Please try again", body, nonce=nonce, status=403)
        if fields.get("action") == "deny":
            if await self.records.take("login", login_id) is None:
                return self._expired(nonce)
            return self._back(login, error="access_denied", error_description="the person denied access")
        client_id = login["client_id"]
        address = request.client.host if request.client else "unknown"
        wait = await self._locked_out(client_id, address)
        if wait:
            return await self._form(login_id, login, browser, nonce, wait, status=429)
        token = fields.get("toggl_token", "").strip()
        refused = (
            "That is not a Toggl API token: it is 32 letters and digits, found in Toggl Track under "
            "Profile settings, API Token."
        )
        if self.settings.takes_user_token(token):
            # A token of a token's shape, learned before anything could log it (the request to Toggl).
            learn_secrets(token_secrets(token))
            try:
                me = await self.check_token(token)
            except Exception as error:  # Toggl down, a timeout: nothing issued, nothing counted
                log.warning("login: could not check a token with Toggl: %s", type(error).__name__)
                problem = "Toggl could not be reached to check the token: try again."
                return await self._form(login_id, login, browser, nonce, problem, status=502)
            refused = "Toggl did not accept this API token. Copy it again from Profile settings, API Token."
        else:
            me = None
        if me is None:
            await self._failed(client_id, address)
            return await self._form(login_id, login, browser, nonce, refused, status=400)
        # Taken only now: a wrong token leaves the login open to try again; of two right ones, one wins.
        if await self.records.take("login", login_id) is None:
            return self._expired(nonce)
        code = await self.provider.complete_login(login, me, token)
        return self._back(login, code=code)

    def _back(self, login: dict[str, Any], **params: str) -> Response:
        uri = construct_redirect_uri(
            login["redirect_uri"], **params, state=login.get("state"), iss=self.issuer
        )
        return RedirectResponse(uri, status_code=303, headers={"Cache-Control": "no-store"})

    async def _locked_out(self, client_id: str, address: str) -> str:
        for ident, limit in self._counters(client_id, address):
            if await self.records.peek("failures", ident) >= limit:
                return (
                    "Too many wrong tokens were tried for this app or from this address. Wait 15 minutes, "
                    "then try again."
                )
        return ""

    @staticmethod
    def _counters(client_id: str, address: str) -> list[tuple[str, int]]:
        return [
            (f"client-addr:{client_id}\0{address}", FAILURES_PER_CLIENT_ADDRESS),
            (f"addr:{address}", FAILURES_PER_ADDRESS),
            (f"client:{client_id}", FAILURES_PER_CLIENT),
        ]

    async def _failed(self, client_id: str, address: str) -> None:
        for ident, _ in self._counters(client_id, address):
            await self.records.count("failures", ident, FAILURE_WINDOW)
