"""The API token never leaves the process: not in a result, an error, a log line or a repr."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
import respx
from mcp.types import CallToolResult, ElicitResult
from pydantic import SecretStr

from tests.conftest import CANARY_TOKEN, Connect, FakeTime, make_settings, open_toggl, result_text
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.toggl import TogglClient, TogglError
from toggl_groups_mcp.toggl.client import redact

pytestmark = pytest.mark.anyio

BASIC = base64.b64encode(f"{CANARY_TOKEN}:api_token".encode()).decode()
FORBIDDEN = (CANARY_TOKEN, BASIC)
LOGGERS = ("", "httpx", "httpcore", "mcp", "toggl_groups_mcp", "toggl_groups_mcp.http")

ORG = 7
WS = 70
GROUPS = f"/organizations/{ORG}/groups"
# Toggl answers that carry the caller's token, as /me and workspace objects do.
LEAKY_GROUP = {
    "group_id": 501,
    "name": "Support",
    "api_token": CANARY_TOKEN,
    "users": [
        {"user_id": 1, "name": "Ada", "api_token": CANARY_TOKEN, "extra": [{"api_token": CANARY_TOKEN}]}
    ],
    "workspaces": [WS],
}
LEAKY_ORGS = [{"id": ORG, "name": "Acme", "api_token": CANARY_TOKEN}]
LEAKY_WORKSPACES = [{"id": WS, "name": "Main", "organization_id": ORG, "api_token": CANARY_TOKEN}]


def assert_clean(text: str, where: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"the token leaked into {where}"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(repr(record.args))
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


# -- the secret type -------------------------------------------------------------------------------


def test_settings_never_print_the_token() -> None:
    settings = make_settings(http_token=SecretStr("http-" + CANARY_TOKEN))
    for shown in (
        repr(settings),
        str(settings),
        f"{settings}",
        repr(settings.api_token),
        str(settings.api_token),
    ):
        assert_clean(shown, "the settings' repr")
    assert settings.api_token.get_secret_value() == CANARY_TOKEN


def test_settings_read_from_the_environment_never_print_the_token() -> None:
    settings = Settings.from_env({"TOGGL_API_TOKEN": CANARY_TOKEN})
    assert_clean(repr(settings), "the settings' repr")
    assert_clean(repr(settings.with_(timeout=3.0)), "a changed copy's repr")


async def test_the_client_never_prints_the_token() -> None:
    async with open_toggl() as client:
        for shown in (
            repr(client),
            str(client),
            repr(client._http),
            repr(client.pacer),
            repr(client.settings),
        ):
            assert_clean(shown, "the client's repr")


def test_api_token_is_stripped_recursively_from_what_toggl_returns() -> None:
    answer = {
        "id": 1,
        "api_token": CANARY_TOKEN,
        "API_Token": CANARY_TOKEN,
        "workspaces": [{"id": 2, "api_token": CANARY_TOKEN, "nested": {"deeper": [{"api_token": 1}]}}],
        "note": f"your token is {CANARY_TOKEN}",
    }
    cleaned = redact(answer, FORBIDDEN)
    assert cleaned == {
        "id": 1,
        "workspaces": [{"id": 2, "nested": {"deeper": [{}]}}],
        "note": "your token is [redacted]",
    }
    assert answer["api_token"] == CANARY_TOKEN  # the input is left alone


async def test_the_client_strips_api_token_from_every_answer(toggl: respx.MockRouter) -> None:
    toggl.get("/me").respond(json={"id": 1, "api_token": CANARY_TOKEN, "workspaces": LEAKY_WORKSPACES})
    toggl.get("/me/workspaces").respond(json=LEAKY_WORKSPACES)
    async with open_toggl() as client:
        me = await client.request("GET", "/me")
        workspaces = await client.request("GET", "/me/workspaces")
    assert me == {"id": 1, "workspaces": [{"id": WS, "name": "Main", "organization_id": ORG}]}
    assert workspaces == [{"id": WS, "name": "Main", "organization_id": ORG}]


async def test_toggl_echoing_the_token_in_an_error_does_not_carry_it_into_the_error(
    toggl: respx.MockRouter,
) -> None:
    toggl.get("/me").respond(403, json=f"token {CANARY_TOKEN} ({BASIC}) is not valid")
    toggl.get("/me/workspaces").respond(400, text=f"bad token {CANARY_TOKEN}")
    async with open_toggl() as client:
        for path in ("/me", "/me/workspaces"):
            with pytest.raises(TogglError) as caught:
                await client.request("GET", path)
            assert_clean(f"{caught.value} {caught.value.hint()} {caught.value!r}", "an error")
            assert "[redacted]" in caught.value.message


async def test_the_authorization_header_is_sent_but_never_logged(
    toggl: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    capture_everything(caplog)
    route = toggl.get("/me").mock(side_effect=[httpx.Response(500), httpx.Response(200, json={})])
    toggl.post(GROUPS).mock(side_effect=httpx.ReadError("reset"))
    async with open_toggl(FakeTime()) as client:
        await client.request("GET", "/me")
        with pytest.raises(TogglError):
            await client.request("POST", GROUPS, json={"name": "x"})
    assert route.calls.last.request.headers["Authorization"] == f"Basic {BASIC}"
    assert caplog.records, "the scenario logs something"
    assert_clean(logged(caplog), "the logs")


async def test_the_authorization_header_is_never_logged_over_a_real_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httpcore only logs when a real connection is made, which respx skips: serve one locally."""
    capture_everything(caplog)
    seen: list[bytes] = []

    async def serve(stream: Any) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            seen.append(data)
            body = json.dumps({"id": 1, "api_token": CANARY_TOKEN}).encode()
            await stream.send(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

    try:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    except OSError as error:  # pragma: no cover - a machine without loopback sockets
        pytest.skip(f"no local socket: {error}")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    with anyio.fail_after(10):
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, serve)
            client = TogglClient(make_settings(api_url=f"http://127.0.0.1:{port}/api/v9"))
            try:
                assert await client.request("GET", "/me") == {"id": 1}
            finally:
                await client.aclose()
            tg.cancel_scope.cancel()
    assert f"Basic {BASIC}".encode() in seen[0]
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore logged at DEBUG"
    assert_clean(logged(caplog), "the logs")


# -- the canary through the whole server -----------------------------------------------------------


@dataclass
class Scenario:
    """Routes Toggl's answers, then one tool call; `answer` plays the human for confirmations."""

    tool: str
    arguments: dict[str, Any]
    routes: Callable[[respx.MockRouter], object]
    settings: dict[str, Any] = field(default_factory=lambda: {"organization_id": ORG, "workspace_id": WS})
    answer: bool = False
    expect_error: bool | None = None


def _status(code: int, **headers: str) -> Callable[[respx.MockRouter], None]:
    def routes(toggl: respx.MockRouter) -> None:
        toggl.get(GROUPS).respond(code, json=f"refused ({code})", headers=headers)

    return routes


SCENARIOS: dict[str, Scenario] = {
    "success with leaky groups": Scenario(
        "list_groups", {}, lambda t: t.get(GROUPS).respond(json=[LEAKY_GROUP]), expect_error=False
    ),
    "ids found through leaky /me answers": Scenario(
        "list_workspace_groups",
        {},
        lambda t: (
            t.get("/me/organizations").respond(json=LEAKY_ORGS),
            t.get("/me/workspaces").respond(json=LEAKY_WORKSPACES),
            t.get(f"/organizations/{ORG}/workspaces/{WS}/groups").respond(json=[LEAKY_GROUP]),
        ),
        settings={},
        expect_error=False,
    ),
    "create answered with a leaky group": Scenario(
        "create_group",
        {"name": "Support"},
        lambda t: t.post(GROUPS).respond(json=LEAKY_GROUP),
        expect_error=False,
    ),
    "403": Scenario("list_groups", {}, _status(403), expect_error=True),
    "403 that echoes the token": Scenario(
        "list_groups",
        {},
        lambda t: t.get(GROUPS).respond(403, json=f"Incorrect token {CANARY_TOKEN} / {BASIC}"),
        expect_error=True,
    ),
    "402 quota": Scenario(
        "list_groups",
        {},
        _status(402, **{"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "99"}),
        expect_error=True,
    ),
    "402 plan": Scenario("list_groups", {}, _status(402), expect_error=True),
    "429": Scenario("list_groups", {}, _status(429, **{"Retry-After": "1"}), expect_error=True),
    "500": Scenario("list_groups", {}, _status(500), expect_error=True),
    "500 on create, then a leaky lookup": Scenario(
        "create_group",
        {"name": "Support"},
        lambda t: (
            t.post(GROUPS).respond(500),
            t.get(GROUPS, params={"name": "Support"}).respond(json=[LEAKY_GROUP]),
        ),
        expect_error=False,
    ),
    "network error": Scenario(
        "list_groups",
        {},
        lambda t: t.get(GROUPS).mock(side_effect=httpx.ConnectError("refused")),
        expect_error=True,
    ),
    "timeout on create and on the lookup": Scenario(
        "create_group",
        {"name": "Support"},
        lambda t: t.route().mock(side_effect=httpx.ReadTimeout("slow")),
        expect_error=True,
    ),
    "validation error": Scenario(
        "list_groups", {"organization_id": -1, "bogus": CANARY_TOKEN[:6]}, lambda t: None, expect_error=True
    ),
    "confirmation preview of a leaky group": Scenario(
        "delete_group",
        {"group_id": 501},
        lambda t: t.get(GROUPS).respond(json=[LEAKY_GROUP]),
        expect_error=True,
    ),
    "elicitation with a leaky group": Scenario(
        "delete_group",
        {"group_id": 501},
        lambda t: (
            t.get(GROUPS).respond(json=[LEAKY_GROUP]),
            # The preview's names: Toggl puts the token in workspace objects, and may echo it anywhere.
            t.get("/me/workspaces").respond(json=LEAKY_WORKSPACES),
            t.get(f"/workspaces/{WS}/projects").respond(
                json=[{"id": 9, "name": CANARY_TOKEN, "api_token": CANARY_TOKEN}]
            ),
            t.get(f"/workspaces/{WS}/project_groups").respond(json=[{"id": 90, "pid": 9, "group_id": 501}]),
            t.get(f"/workspaces/{WS}/project_users").respond(
                json=[{"id": 80, "project_id": 9, "user_id": 1, "api_token": CANARY_TOKEN}]
            ),
            t.delete(f"{GROUPS}/501").respond(json=f"deleted by {CANARY_TOKEN}"),
        ),
        answer=True,
        expect_error=False,
    ),
    "a malformed answer that crashes a tool": Scenario(
        "create_group",
        {"name": "Support"},
        lambda t: t.post(GROUPS).respond(json={"api_token": CANARY_TOKEN, "name": CANARY_TOKEN}),
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_the_canary_token_appears_in_no_result_error_or_log(
    name: str,
    toggl: respx.MockRouter,
    connect: Connect,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = SCENARIOS[name]
    capture_everything(caplog)
    scenario.routes(toggl)
    asked: list[str] = []

    async def answer(message: str) -> ElicitResult:
        asked.append(message)
        return ElicitResult(action="accept", content={"confirm": True})

    with anyio.fail_after(10):
        async with connect(answer if scenario.answer else None, **scenario.settings) as client:
            result: CallToolResult = await client.call_tool(scenario.tool, scenario.arguments)
    if scenario.expect_error is not None:
        assert result.is_error is scenario.expect_error, result.content
    assert_clean(result_text(result), "a result")
    assert_clean(result.model_dump_json(), "the wire form of a result")
    for message in asked:
        assert_clean(message, "a confirmation question")
    if scenario.answer:
        assert asked, "the human was asked"
    assert_clean(logged(caplog), "the logs")


@pytest.mark.parametrize("key", ["api_token", "API_TOKEN", "apiToken", "api-token"])
async def test_every_spelling_of_the_token_key_is_stripped_from_answers(
    toggl: respx.MockRouter, key: str
) -> None:
    toggl.get("/me/organizations").respond(json=[{"id": 1, "name": "Acme", key: "leaked-value"}])
    async with open_toggl() as client:
        data = await client.request("GET", "/me/organizations")
    assert data == [{"id": 1, "name": "Acme"}]


# -- the token as a key, and in long bodies (found in review) ---------------------------------------


async def test_a_patch_failure_echoing_the_token_as_a_key_does_not_reach_the_result(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.patch(f"{GROUPS}/501").respond(
        json={
            "success": [],
            "failure": [{"message": "bad", "patch": {CANARY_TOKEN: [1], BASIC: "x", "op": "add"}}],
        }
    )
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("patch_group", {"group_id": 501, "add_user_ids": [1]})
    assert result.structured_content is not None and result.structured_content["failed"]
    assert_clean(result_text(result), "a result")
    assert_clean(result.model_dump_json(), "the wire form of a result")


async def test_the_quota_answer_echoing_the_token_as_a_key_is_scrubbed(toggl: respx.MockRouter) -> None:
    toggl.get("/me/quota").respond(json=[{"organization_id": ORG, CANARY_TOKEN: {BASIC: 1}, "remaining": 3}])
    async with open_toggl() as client:
        data = await client.request("GET", "/me/quota")
    assert_clean(json.dumps(data), "an answer's keys")
    assert data[0]["remaining"] == 3


@pytest.mark.parametrize("padding", [490, 495, 499, 500, 2000])
@pytest.mark.parametrize("secret", FORBIDDEN)
@pytest.mark.parametrize("as_json", [True, False])
async def test_a_long_error_body_is_scrubbed_before_it_is_shortened(
    toggl: respx.MockRouter, padding: int, secret: str, as_json: bool
) -> None:
    """A cut after the secret's first characters must not leave its prefix in the message."""
    body = "x" * padding + secret + " and more"
    route = toggl.get("/me")
    if as_json:
        route.respond(400, json=body)
    else:
        route.respond(400, text=body)
    async with open_toggl() as client:
        with pytest.raises(TogglError) as caught:
            await client.request("GET", "/me")
    shown = f"{caught.value} {caught.value.hint()} {caught.value!r} {caught.value.message}"
    for forbidden in FORBIDDEN:
        assert forbidden[:8] not in shown, "a prefix of the token leaked"
    assert len(caught.value.message) <= 500


async def test_a_json_escaped_token_in_an_error_body_is_scrubbed(toggl: respx.MockRouter) -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in CANARY_TOKEN)
    toggl.get("/me").respond(400, content=f'{{"error": {{"message": "token {escaped}"}}}}'.encode())
    async with open_toggl() as client:
        with pytest.raises(TogglError) as caught:
            await client.request("GET", "/me")
    assert_clean(str(caught.value), "an error")
    assert "[redacted]" in caught.value.message
