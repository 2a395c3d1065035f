"""The HTTP face of the sandbox: Toggl's routes under /api/v9, the fault pipeline in front of
them, and the control API under /__sandbox (no Toggl auth, never logged or counted).

The pipeline is a plain ASGI callable rather than Starlette middleware because dropping a
connection needs the server's own ``send``, which Starlette's middleware would wrap.

The control API has no credentials, so it guards itself against web pages (403 or 415, with a
short ``{"error": ...}`` body):

- Host must name the sandbox: ``localhost``, ``127.0.0.1`` or ``[::1]`` (any port, or none), or
  the address it was bound to as given (``host`` in the config). A DNS-rebound name (an attacker's
  domain pointed at 127.0.0.1) is refused. Bound to a wildcard (``0.0.0.0`` or ``::``, which needs
  ``allow_remote``) it also answers to any IP literal: the machine's addresses cannot be listed
  portably, and a literal address cannot be rebound, unlike a name.
- Origin, when present, must be ``http://`` plus one of those names and the same port as Host
  (the sandbox itself); a page on another origin, another local port or ``null`` is refused.
  No Origin (curl, httpx, scripts) is fine.
- Writes (any method but GET, HEAD, OPTIONS) need ``Content-Type: application/json``, which an
  HTML form cannot send; the body may be empty.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from .config import acting_as
from .faults import API_PREFIX, BudgetKey
from .store import INVALID_JSON, ApiError

if TYPE_CHECKING:
    from .core import Sandbox

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/__sandbox"
BAD_CREDENTIALS = "Incorrect username and/or password"
RATE_LIMITED = "Too Many Requests: slow down to about 1 request per second"
QUOTA_EXHAUSTED = "You have hit your hourly limit for API calls. Your quota will reset in {seconds} seconds."
PLAN_LACKS_FEATURE = "This feature is not available on your organization's plan"
CONTROL_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})
PROJECTS_DEFAULT_PER_PAGE = 151  # /workspaces/{id}/projects without per_page
ORG_USERS_DEFAULT_PER_PAGE = 50  # /organizations/{id}/users without per_page
MAX_PER_PAGE = 200  # groups are never paged: /organizations/{id}/groups answers all of them

_ORG_PATH = re.compile(r"^/organizations/(\d+)(?:/|$)")
_WORKSPACE_PATH = re.compile(r"^/workspaces/(\d+)(?:/|$)")
_GROUP_FEATURE_PATH = re.compile(
    r"^/organizations/\d+/(?:groups|workspaces/\d+/groups)(?:/|$)|^/workspaces/\d+/project_groups(?:/|$)"
)


class ConnectionDropped(Exception):
    """Raised when a drop is asked for but the server gives no transport to close
    (e.g. ``httpx.ASGITransport``); the in-process client then sees this exception."""


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    quota_headers: bool = True


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_reply(status: int, message: str, *, quota_headers: bool = True) -> Reply:
    """Toggl's usual error form: a JSON-encoded string."""
    return Reply(status, json_bytes(message), quota_headers=quota_headers)


def _default_message(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _decode_json(body: bytes) -> Any:
    """The request's JSON, or ApiError 'Invalid JSON input' (an empty body included)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, INVALID_JSON) from None


def _query_int(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid number '{raw}' for parameter {name}") from None


def _paging(sandbox: Sandbox, request: Request, default_per_page: int) -> tuple[int, int | None]:
    """(page, per_page), checked; per_page None under the ``ignore_per_page`` fault (every item on
    page 1, as Toggl has been seen to answer more than asked)."""
    page = _query_int(request, "page", 1)
    per_page = _query_int(request, "per_page", default_per_page)
    assert page is not None and per_page is not None
    if page < 1:
        raise ApiError(400, "page must be a positive number")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, f"per_page must be between 1 and {MAX_PER_PAGE}")
    return page, None if sandbox.faults.ignore_per_page else per_page


# ---- Toggl endpoints ---------------------------------------------------------------------------

Handler = Callable[["Sandbox", Request], Any]


def _toggl_routes(sandbox: Sandbox) -> list[Route]:
    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                payload = handler(sandbox, request)
            except ApiError as exc:
                return JSONResponse(exc.message, status_code=exc.status)
            return JSONResponse(payload)

        return Route(API_PREFIX + path, endpoint, methods=methods)

    return [
        route("/me", _me, ["GET"]),
        route("/me/organizations", _my_organizations, ["GET"]),
        route("/me/workspaces", _my_workspaces, ["GET"]),
        route("/me/quota", _my_quota, ["GET"]),
        route("/workspaces/{workspace_id:int}/projects", _projects, ["GET"]),
        route("/organizations/{organization_id:int}/users", _org_users, ["GET"]),
        route("/organizations/{organization_id:int}/groups", _list_groups, ["GET"]),
        route("/organizations/{organization_id:int}/groups", _create_group, ["POST"]),
        route("/organizations/{organization_id:int}/groups/{group_id:int}", _edit_group, ["PUT"]),
        route("/organizations/{organization_id:int}/groups/{group_id:int}", _patch_group, ["PATCH"]),
        route("/organizations/{organization_id:int}/groups/{group_id:int}", _delete_group, ["DELETE"]),
        route(
            "/organizations/{organization_id:int}/workspaces/{workspace_id:int}/groups",
            _workspace_groups,
            ["GET"],
        ),
        route("/workspaces/{workspace_id:int}/project_groups", _list_project_groups, ["GET"]),
        route("/workspaces/{workspace_id:int}/project_groups", _add_project_group, ["POST"]),
        route(
            "/workspaces/{workspace_id:int}/project_groups/{project_group_id:int}",
            _delete_project_group,
            ["DELETE"],
        ),
        route("/workspaces/{workspace_id:int}/project_users", _list_project_users, ["GET"]),
        route("/workspaces/{workspace_id:int}/project_users", _add_project_user, ["POST"]),
        route(
            "/workspaces/{workspace_id:int}/project_users/{project_user_id:int}", _edit_project_user, ["PUT"]
        ),
        route(
            "/workspaces/{workspace_id:int}/project_users/{project_user_id:int}",
            _delete_project_user,
            ["DELETE"],
        ),
    ]


def _body(request: Request) -> bytes:
    body: bytes = request.scope.get("sandbox.body", b"")
    return body


def _me(sandbox: Sandbox, request: Request) -> Any:
    return sandbox.store.me()


def _my_organizations(sandbox: Sandbox, request: Request) -> Any:
    return sandbox.store.my_organizations()


def _my_workspaces(sandbox: Sandbox, request: Request) -> Any:
    return sandbox.store.my_workspaces()


def _my_quota(sandbox: Sandbox, request: Request) -> Any:
    rows = []
    for org_id in sandbox.store.my_organization_ids():
        remaining, resets_in, total = sandbox.faults.quota_status(org_id)
        rows.append(
            {"organization_id": org_id, "remaining": remaining, "resets_in_secs": resets_in, "total": total}
        )
    return rows


def _projects(sandbox: Sandbox, request: Request) -> Any:
    active_raw = (request.query_params.get("active") or "true").strip().lower()
    active_values: dict[str, bool | None] = {"true": True, "false": False, "both": None}
    if active_raw not in active_values:
        raise ApiError(400, "active must be true, false or both")
    page, per_page = _paging(sandbox, request, PROJECTS_DEFAULT_PER_PAGE)
    return sandbox.store.list_projects(
        request.path_params["workspace_id"],
        text=[request.query_params.get("name") or "", request.query_params.get("search") or ""],
        active=active_values[active_raw],
        page=page,
        per_page=per_page,
    )


def _org_users(sandbox: Sandbox, request: Request) -> Any:
    page, per_page = _paging(sandbox, request, ORG_USERS_DEFAULT_PER_PAGE)
    return sandbox.store.list_org_users(
        request.path_params["organization_id"],
        text=request.query_params.get("filter"),
        page=page,
        per_page=per_page,
    )


def _list_groups(sandbox: Sandbox, request: Request) -> Any:
    return sandbox.store.list_groups(
        request.path_params["organization_id"],
        name=request.query_params.get("name"),
        workspace_id=_query_int(request, "workspace"),
    )


def _create_group(sandbox: Sandbox, request: Request) -> Any:
    return sandbox.store.create_group(request.path_params["organization_id"], _decode_json(_body(request)))


def _edit_group(sandbox: Sandbox, request: Request) -> Any:
    params = request.path_params
    return sandbox.store.edit_group(
        params["organization_id"], params["group_id"], _decode_json(_body(request))
    )


def _patch_group(sandbox: Sandbox, request: Request) -> Any:
    params = request.path_params
    return sandbox.store.patch_group(
        params["organization_id"], params["group_id"], _decode_json(_body(request))
    )


def _delete_group(sandbox: Sandbox, request: Request) -> Any:
    sandbox.store.delete_group(request.path_params["organization_id"], request.path_params["group_id"])
    return "OK"


def _workspace_groups(sandbox: Sandbox, request: Request) -> Any:
    params = request.path_params
    return sandbox.store.workspace_groups(params["organization_id"], params["workspace_id"])


def _project_ids(request: Request) -> list[int] | None:
    """The comma-separated ``project_ids`` query parameter; None when it is absent or blank."""
    raw = (request.query_params.get("project_ids") or "").strip()
    if not raw:
        return None
    project_ids = []
    for part in raw.split(","):
        try:
            project_ids.append(int(part))
        except ValueError:
            raise ApiError(400, f"Invalid number '{part}' in project_ids") from None
    return project_ids


def _list_project_groups(sandbox: Sandbox, request: Request) -> Any:
    project_ids = _project_ids(request)
    if project_ids is None:
        raise ApiError(400, "project_ids is required")
    return sandbox.store.list_project_groups(request.path_params["workspace_id"], project_ids)


def _add_project_group(sandbox: Sandbox, request: Request) -> Any:
    sandbox.store.add_project_group(
        request.path_params["workspace_id"],
        _decode_json(_body(request)),
        consistency_delay=sandbox.faults.consistency_delay,
    )
    return "OK"


def _delete_project_group(sandbox: Sandbox, request: Request) -> Any:
    params = request.path_params
    sandbox.store.delete_project_group(params["workspace_id"], params["project_group_id"])
    return "OK"


_TRUE_WORDS = frozenset({"1", "t", "true"})
_FALSE_WORDS = frozenset({"0", "f", "false"})


def _query_bool(request: Request, name: str) -> bool:
    """Go's strconv.ParseBool, as Toggl's handlers parse a boolean query; absent or empty is false."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return False
    word = raw.strip().lower()
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise ApiError(400, f"Invalid boolean '{raw}' for parameter {name}")


def _list_project_users(sandbox: Sandbox, request: Request) -> Any:
    """``project_ids`` (comma-separated) and ``user_id`` narrow the rows; without either, every
    direct member of every project of the workspace."""
    return sandbox.store.list_project_users(
        request.path_params["workspace_id"],
        project_ids=_project_ids(request),
        user_id=_query_int(request, "user_id"),
        with_group_members=_query_bool(request, "with_group_members"),
    )


def _add_project_user(sandbox: Sandbox, request: Request) -> Any:
    return sandbox.store.add_project_user(request.path_params["workspace_id"], _decode_json(_body(request)))


def _edit_project_user(sandbox: Sandbox, request: Request) -> Any:
    params = request.path_params
    return sandbox.store.edit_project_user(
        params["workspace_id"], params["project_user_id"], _decode_json(_body(request))
    )


def _delete_project_user(sandbox: Sandbox, request: Request) -> Any:
    params = request.path_params
    return sandbox.store.delete_project_user(params["workspace_id"], params["project_user_id"])


async def _toggl_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse("Not Found", status_code=404)(scope, receive, send)


# ---- control API -------------------------------------------------------------------------------


def _control_routes(sandbox: Sandbox) -> list[Route]:
    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "api_base": API_PREFIX,
                "routes": {
                    "GET /__sandbox/state": "the whole state",
                    "GET /__sandbox/requests": "requests received under /api/v9 (DELETE clears)",
                    "POST /__sandbox/reset": "demo data, empty log, knobs from the config",
                    "GET /__sandbox/faults": "current knobs and pending rules",
                    "POST /__sandbox/faults": "change knobs, add rules",
                    "GET /__sandbox/stats": "counts",
                },
            }
        )

    async def state(request: Request) -> Response:
        return JSONResponse(sandbox.store.snapshot())

    async def requests(request: Request) -> Response:
        return JSONResponse(sandbox.request_log())

    async def clear_requests(request: Request) -> Response:
        sandbox.requests.clear()
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        body = await request.body()
        try:
            options = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        if not isinstance(options, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        sandbox.reset(keep_faults=bool(options.get("keep_faults")))
        return JSONResponse({"ok": True})

    async def get_faults(request: Request) -> Response:
        return JSONResponse(sandbox.faults.describe())

    async def set_faults(request: Request) -> Response:
        try:
            sandbox.faults.configure(json.loads(await request.body() or b"{}"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(sandbox.faults.describe())

    async def stats(request: Request) -> Response:
        return JSONResponse(sandbox.stats())

    return [
        Route(CONTROL_PREFIX, info, methods=["GET"]),
        Route(CONTROL_PREFIX + "/", info, methods=["GET"]),
        Route(CONTROL_PREFIX + "/state", state, methods=["GET"]),
        Route(CONTROL_PREFIX + "/requests", requests, methods=["GET"]),
        Route(CONTROL_PREFIX + "/requests", clear_requests, methods=["DELETE"]),
        Route(CONTROL_PREFIX + "/reset", reset, methods=["POST"]),
        Route(CONTROL_PREFIX + "/faults", get_faults, methods=["GET"]),
        Route(CONTROL_PREFIX + "/faults", set_faults, methods=["POST"]),
        Route(CONTROL_PREFIX + "/stats", stats, methods=["GET"]),
    ]


# ---- the control API's guard -------------------------------------------------------------------


def _canonical_name(name: str) -> str:
    """A host name in lower case, an IP address in its standard form, without IPv6 brackets."""
    name = name.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _split_authority(authority: str) -> tuple[str, int] | None:
    """``name[:port]`` or ``[v6][:port]`` as (canonical name, port; 80 when absent); None if malformed."""
    if authority.startswith("["):
        name, closed, rest = authority[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    else:
        name, _, port_text = authority.partition(":")
    if not name:
        return None
    if not port_text:
        return _canonical_name(name), 80
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        return None
    return _canonical_name(name), int(port_text)


class ControlGuard:
    """Which Host and Origin headers the control API answers to (see the module docstring)."""

    def __init__(self, bound_host: str) -> None:
        bound = _canonical_name(bound_host)
        self.any_ip = bound in WILDCARD_ADDRESSES
        self.names = LOOPBACK_NAMES if self.any_ip else LOOPBACK_NAMES | {bound}

    def accepts_name(self, name: str) -> bool:
        return name in self.names or (self.any_ip and _is_ip(name))

    def refusal(self, scope: Scope) -> Reply | None:
        host: str | None = None
        origins: list[str] = []
        content_type = ""
        for raw_name, raw_value in scope.get("headers", []):
            name, value = raw_name.lower(), raw_value.decode("latin-1").strip()
            if name == b"host" and host is None:
                host = value
            elif name == b"origin":
                origins.append(value)
            elif name == b"content-type":
                content_type = value.partition(";")[0].strip().lower()
        where = _split_authority(host) if host else None
        if where is None or not self.accepts_name(where[0]):
            return _control_error(403, "the Host header does not name this sandbox")
        for origin in origins:
            if not self._same_origin(origin, where[1]):
                return _control_error(403, "the Origin header is not this sandbox")
        if scope["method"] not in CONTROL_SAFE_METHODS and content_type != "application/json":
            return _control_error(415, "control API writes need Content-Type: application/json")
        return None

    def _same_origin(self, origin: str, port: int) -> bool:
        scheme, sep, authority = origin.lower().partition("://")
        if scheme != "http" or not sep or "/" in authority or "@" in authority:
            return False
        where = _split_authority(authority)
        return where is not None and where[1] == port and self.accepts_name(where[0])


def _control_error(status: int, message: str) -> Reply:
    return Reply(status, json_bytes({"error": message}), quota_headers=False)


# ---- the pipeline ------------------------------------------------------------------------------


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers]
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body, "more_body": False})


async def _drop_connection(send: Send) -> None:
    """Close the connection without a byte of answer. Under uvicorn ``send`` is bound to the
    request cycle, whose transport we abort; the cycle then sees the disconnect and stays quiet."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionDropped("the Toggl sandbox dropped the connection")
    transport.abort()
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            return
        await anyio.lowlevel.checkpoint()


class SandboxApp:
    """The ASGI application of one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.toggl = Router(routes=_toggl_routes(sandbox), default=_toggl_not_found)
        self.control = Router(routes=_control_routes(sandbox))
        self.control_guard = ControlGuard(sandbox.config.host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            # No Host, Origin or Content-Type check here, unlike the control API: every Toggl route
            # needs the token in Basic auth, which a cross-site form or a DNS-rebound page cannot
            # send, and real Toggl clients may use any Host (a proxy, a tunnel, a container name).
            await self._toggl_request(scope, receive, send)
        elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            refusal = self.control_guard.refusal(scope)
            if refusal is not None:
                await _send_reply(send, refusal)
                return
            await self.control(scope, receive, send)
        else:
            await _send_reply(send, error_reply(404, "Not Found"))

    def _budget_key(self, api_path: str) -> BudgetKey:
        org = _ORG_PATH.match(api_path)
        if org:
            return self.sandbox.store.budget_key(org_id=int(org.group(1)))
        workspace = _WORKSPACE_PATH.match(api_path)
        if workspace:
            return self.sandbox.store.budget_key(workspace_id=int(workspace.group(1)))
        return None

    def _caller(self, scope: Scope) -> str | None:
        """The request's API token if it authenticates a user, else None (403)."""
        for name, value in scope.get("headers", []):
            if name.lower() != b"authorization":
                continue
            scheme, _, encoded = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            known = bool(sep) and self.sandbox.store.knows_token(user) and password == "api_token"
            return user if known else None
        return None

    async def _toggl_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answered as the caller's user, with the caller's bucket and quotas; a request without
        a known token as the sandbox's own user (whose quota headers its 403 carries)."""
        caller = self._caller(scope)
        with acting_as(caller):
            await self._toggl_answer(scope, receive, send, authorized=caller is not None)

    async def _toggl_answer(self, scope: Scope, receive: Receive, send: Send, *, authorized: bool) -> None:
        sandbox, faults = self.sandbox, self.sandbox.faults
        body = await _read_body(receive)
        method: str = scope["method"]
        api_path = scope["path"][len(API_PREFIX) :] or "/"
        entry = sandbox.log_request(method, scope["path"], scope.get("query_string", b""), body)

        if faults.latency > 0:
            await anyio.sleep(faults.latency)

        key = self._budget_key(api_path)
        drop_after = False
        reply: Reply | None = None
        if not authorized:
            reply = error_reply(403, BAD_CREDENTIALS)
        elif (retry_after := faults.take_token()) is not None:
            entry["fault"] = "rate_limited"
            reply = error_reply(429, RATE_LIMITED)
            reply.headers.append(("Retry-After", str(retry_after)))
        else:
            rule = faults.take_rule(method, api_path)
            if rule is not None and rule.kind == "drop":
                entry["fault"] = "dropped"
                await _drop_connection(send)
                return
            drop_after = rule is not None and rule.kind == "drop_after"
            if rule is not None and rule.kind == "fail":
                entry["fault"] = "injected"
                reply = error_reply(rule.status, rule.message or _default_message(rule.status))
                if rule.status == 429:
                    reply.headers.append(("Retry-After", "1"))
            elif (status := faults.random_failure()) is not None:
                entry["fault"] = "injected"
                reply = error_reply(status, _default_message(status))
            elif faults.quota_exhausted(key):
                entry["fault"] = "quota"
                resets_in = faults.quota_status(key)[1]
                reply = error_reply(402, QUOTA_EXHAUSTED.format(seconds=resets_in))
            elif faults.plan_402 and _GROUP_FEATURE_PATH.match(api_path):
                entry["fault"] = "plan_402"
                reply = error_reply(402, PLAN_LACKS_FEATURE, quota_headers=False)
            else:
                faults.record_call(key)
                reply = await self._dispatch(scope, body)

        if reply.quota_headers:
            reply.headers.extend(faults.quota_headers(key))
        if drop_after:
            entry["fault"] = "dropped_after_apply"
            await _drop_connection(send)
            return
        entry["status"] = reply.status
        await _send_reply(send, reply)

    async def _dispatch(self, scope: Scope, body: bytes) -> Reply:
        captured = Reply(500, b"")
        chunks: list[bytes] = []

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() != b"content-length":
                        captured.headers.append((name.decode("latin-1"), value.decode("latin-1")))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.toggl({**scope, "sandbox.body": body}, replay, capture)
        except Exception:
            logger.exception("Toggl sandbox handler failed")
            return error_reply(500, "Internal Server Error")
        captured.body = b"".join(chunks)
        return captured


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
