"""Confirmations on a stateless team server (2026-07-28): the human's answer comes back in a second
request, which carries the question's sealed requestState. That state is sealed under a key every
worker shares (TOGGL_MCP_STATE_KEY) and bound to the caller (a hash of their Toggl token, or of the
bearer), so any worker takes the answer, and an answer replayed under another user's token is
refused before anything is sent to Toggl.

The servers here run in process (uvicorn on a loopback port) against an embedded Toggl sandbox
whose two users have tokens of a Toggl token's shape. The wire is driven raw, as a client would
send it, so that the second request can be replayed under another token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from tests.conftest import make_settings
from tests.test_http_transport import MCP_HEADERS, serving_app
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.http import http_app
from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread
from toggl_groups_mcp.sandbox.demo import GROUP_GLOBEX_RESEARCHERS, ORG_GLOBEX, USER_GUSTAVO
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

# Two users of the sandbox, with tokens shaped as Toggl's (32 hex digits): Alex (admin of Globex,
# among others) and Gustavo (admin of Globex only), so that a deletion would work as either.
ALEX = "a1e5c0ffee0123456789abcdef012345"
GUSTAVO = "9057a40c0ffee0123456789abcdef012"
BEARER = "Team-Bearer-7F3a9C2e41D84b6B"
STATE_KEY = "k" * 16 + "0123456789abcdef0123"
MODERN = "2026-07-28"
REFUSED_STATE = "Invalid or expired requestState"
DELETE = {"organization_id": ORG_GLOBEX, "group_id": GROUP_GLOBEX_RESEARCHERS}
DELETE_PATH = f"/api/v9/organizations/{ORG_GLOBEX}/groups/{GROUP_GLOBEX_RESEARCHERS}"
TIMEOUT = 30


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(SandboxConfig(token=ALEX, other_tokens={GUSTAVO: USER_GUSTAVO})) as sb:
        yield sb


def team_settings(sb: SandboxThread, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_token": SecretStr(""),
        "api_url": sb.url,
        "per_user_tokens": True,
        "http_token": SecretStr(BEARER),
        **overrides,
    }
    return make_settings(**values)


def team_app(settings: Settings) -> ASGIApp:
    return http_app(build_server(settings), settings, "127.0.0.1", stateless=True)


# -- the 2026-07-28 wire, raw ------------------------------------------------------------------------


def tool_call(name: str, arguments: dict[str, Any], request_id: int = 1, **extra: Any) -> dict[str, Any]:
    """A 2026-07-28 tools/call from a client that can show the user a form (elicitation)."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
    }
    params = {"name": name, "arguments": arguments, "_meta": meta, **extra}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def wire_headers(token: str | None, body: dict[str, Any], bearer: str = BEARER) -> dict[str, str]:
    headers = {
        **MCP_HEADERS,
        "Authorization": f"Bearer {bearer}",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": body["method"],
        "Mcp-Name": body["params"]["name"],
    }
    if token is not None:
        headers["X-Toggl-Api-Token"] = token
    return headers


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response, sent as JSON or as one SSE event (a refused request
    state comes back as a JSON-RPC error with HTTP 400)."""
    assert response.status_code in (200, 400), (response.status_code, response.text)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        messages = [json.loads(d) for d in data if d]
        return messages[-1]
    message: dict[str, Any] = response.json()
    return message


async def post(http: httpx.AsyncClient, url: str, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """One request on a connection of its own (as a load balancer might route it anywhere)."""
    return answer_of(
        await http.post(url, json=body, headers={**wire_headers(token, body), "Connection": "close"})
    )


async def ask(
    http: httpx.AsyncClient, url: str, token: str, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """The first round of a destructive call: the question, and the second request that answers yes."""
    first = await post(http, url, token, tool_call(name, arguments))
    result = first["result"]
    assert result.get("resultType") == "input_required", first
    (key,) = result["inputRequests"]
    assert result["inputRequests"][key]["method"] == "elicitation/create", result
    responses = {key: {"action": "accept", "content": {"confirm": True}}}
    return tool_call(name, arguments, 2, inputResponses=responses, requestState=result["requestState"])


def deletes(sb: SandboxThread) -> list[str]:
    return [e["path"] for e in sb.sandbox.request_log() if e["method"] == "DELETE"]


# -- bound to the caller -------------------------------------------------------------------------------


async def test_an_answer_replayed_with_another_users_token_is_refused_and_nothing_is_deleted(
    sandbox: SandboxThread,
) -> None:
    async with (
        serving_app(team_app(team_settings(sandbox))) as url,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        answer = await ask(http, url, ALEX, "delete_group", DELETE)
        replayed = await post(http, url, GUSTAVO, answer)
        assert "error" in replayed, replayed
        assert replayed["error"]["message"] == REFUSED_STATE, replayed
        assert deletes(sandbox) == []
        assert GROUP_GLOBEX_RESEARCHERS in sandbox.sandbox.store.state.groups

        # The owner's own answer still goes through.
        owner = await post(http, url, ALEX, answer)
    assert owner["result"].get("isError") is False, owner
    assert owner["result"]["structuredContent"]["deleted"] is True, owner
    assert deletes(sandbox) == [DELETE_PATH]


async def test_an_answer_without_the_users_token_never_reaches_the_server(sandbox: SandboxThread) -> None:
    async with (
        serving_app(team_app(team_settings(sandbox))) as url,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        answer = await ask(http, url, ALEX, "delete_group", DELETE)
        bare = await http.post(url, json=answer, headers=wire_headers(None, answer))
    assert bare.status_code == 401
    assert deletes(sandbox) == []


async def test_with_one_token_for_all_a_state_minted_under_another_bearer_is_refused(
    sandbox: SandboxThread,
) -> None:
    """Without per-user tokens the state is bound to the bearer: two deployments sharing a state key
    but not a bearer cannot answer each other's questions."""
    first = team_settings(
        sandbox, per_user_tokens=False, api_token=SecretStr(ALEX), state_key=SecretStr(STATE_KEY)
    )
    other = first.with_(http_token=SecretStr(BEARER + "-other"))
    async with (
        serving_app(team_app(first)) as url,
        serving_app(team_app(other)) as other_url,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        answer = await ask(http, url, ALEX, "delete_group", DELETE)
        elsewhere = answer_of(
            await http.post(
                other_url, json=answer, headers=wire_headers(None, answer, bearer=BEARER + "-other")
            )
        )
        assert elsewhere["error"]["message"] == REFUSED_STATE, elsewhere
        assert deletes(sandbox) == []
        here = await post(http, url, None, answer)
    assert here["result"]["structuredContent"]["deleted"] is True, here
    assert deletes(sandbox) == [DELETE_PATH]


# -- shared by every worker ----------------------------------------------------------------------------


async def test_servers_sharing_the_state_key_answer_each_others_questions(sandbox: SandboxThread) -> None:
    settings = team_settings(sandbox, state_key=SecretStr(STATE_KEY))
    async with (
        serving_app(team_app(settings)) as asking,
        serving_app(team_app(settings)) as answering,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        answer = await ask(http, asking, ALEX, "delete_group", DELETE)
        done = await post(http, answering, ALEX, answer)
    assert done["result"].get("isError") is False, done
    assert done["result"]["structuredContent"]["deleted"] is True, done
    assert deletes(sandbox) == [DELETE_PATH]


async def test_servers_without_a_shared_key_refuse_each_others_state(sandbox: SandboxThread) -> None:
    """The control: each process seals under a key of its own when none is configured."""
    settings = team_settings(sandbox)
    async with (
        serving_app(team_app(settings)) as asking,
        serving_app(team_app(settings)) as answering,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        answer = await ask(http, asking, ALEX, "delete_group", DELETE)
        refused = await post(http, answering, ALEX, answer)
    assert refused["error"]["message"] == REFUSED_STATE, refused
    assert deletes(sandbox) == []


async def test_the_workers_of_one_server_answer_each_others_questions_with_the_key_their_parent_made(
    sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--workers N` with no TOGGL_MCP_STATE_KEY: the parent makes one key and every worker it
    starts seals and opens with it. Two workers are built here as uvicorn would build them, from
    the environment the parent leaves, and the answer goes to the worker that did not ask."""

    from toggl_groups_mcp.http import STATE_KEY as STATE_KEY_VAR
    from toggl_groups_mcp.http import WORKER_OPTIONS, serve_workers, worker_app

    for name in ("TOGGL_MCP_STATE_KEY", "TOGGL_API_TOKEN", "TOGGL_MCP_REDIS_URL", WORKER_OPTIONS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOGGL_API_URL", sandbox.url)
    monkeypatch.setenv("TOGGL_MCP_PER_USER_TOKENS", "1")
    monkeypatch.setenv("TOGGL_MCP_HTTP_TOKEN", BEARER)
    monkeypatch.setenv("TOGGL_MCP_JOURNAL", "off")
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append({"app": app, **options}))

    serve_workers(Settings.from_env(None), {"journal": None}, host="127.0.0.1", port=0, workers=2)

    assert [(s["app"], s["workers"], s["factory"]) for s in started] == [
        ("toggl_groups_mcp.http:worker_app", 2, True)
    ]
    assert len(os.environ[STATE_KEY_VAR]) >= 32  # made by the parent, inherited by each worker
    async with (
        serving_app(worker_app()) as asking,
        serving_app(worker_app()) as answering,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        answer = await ask(http, asking, ALEX, "delete_group", DELETE)
        done = await post(http, answering, ALEX, answer)
    assert done["result"]["structuredContent"]["deleted"] is True, done
    assert deletes(sandbox) == [DELETE_PATH]
