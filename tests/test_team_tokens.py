"""Per-user tokens and the log: a team server learns a user's token, to blank it out of every log
line, only when the header holds something of a token's shape and only after the request passed
the bearer and Host/Origin checks; the learned tokens are bounded; ordinary words stay readable.

A word sent as a token ("e", "session") would otherwise turn later lines into
"T[redacted]rminating s[redacted]ssion", and a web page rebinding a name to the server could teach
the filter anything without ever passing the Host check.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import httpx2
import pytest
import respx
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from tests.conftest import make_settings
from tests.test_http_transport import INIT, MCP_HEADERS
from tests.test_team_confirmations import serving_app, team_app
from toggl_groups_mcp import logs
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.http import security_for
from toggl_groups_mcp.logs import REDACTED, SecretFilter, configure_logging, token_secrets
from toggl_groups_mcp.sandbox import DEFAULT_TOKEN, SECOND_TOKEN
from toggl_groups_mcp.server import build_server

BEARER = "Team-Bearer-5d8E2a7C91f04B3e"
# Of Toggl's shape: 32 hex digits.
TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
LINE = "Terminating session 7 of the streamable_http transport (toggl_groups_mcp)"
WORDS = ["e", "s", "session", "Terminating", "toggl_groups_mcp", "streamable_http"]

log = logging.getLogger("tests.team_tokens")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """What the server's stderr handler writes (at DEBUG, configured secrets: the bearer)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("DEBUG", [BEARER], stream=out)
    try:
        yield out
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def per_user(**overrides: object) -> Settings:
    values = {
        "api_token": SecretStr(""),
        "per_user_tokens": True,
        "http_token": SecretStr(BEARER),
        **overrides,
    }
    return make_settings(**values)


def headers(token: str, **more: str) -> dict[str, str]:
    return {**MCP_HEADERS, "Authorization": f"Bearer {BEARER}", "X-Toggl-Api-Token": token, **more}


def logged(stream: io.StringIO, message: str) -> str:
    """`message` as the log wrote it."""
    start = len(stream.getvalue())
    log.warning("%s", message)
    return stream.getvalue()[start:].strip().removeprefix(f"WARNING {log.name}: ")


# -- the shape ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [TOKEN, TOKEN.upper(), "A" * 24, "x_" * 128, "my-team-token-0123456789"],
    ids=["toggl", "upper-case", "24-characters", "256-characters", "hyphens"],
)
def test_a_token_of_24_to_256_letters_digits_hyphens_or_underscores_has_a_tokens_shape(token: str) -> None:
    assert per_user().takes_user_token(token)


@pytest.mark.parametrize(
    "token",
    [
        "e",
        "session",
        "A" * 23,
        "x" * 257,
        "0f1e2d3c4b5a6978 8796a5b4c3d2e1f0",
        TOKEN + ".",
        "tökentökentökentökentöken",
    ],
    ids=["letter", "word", "23-characters", "257-characters", "space", "dot", "non-ascii"],
)
def test_anything_else_has_not(token: str) -> None:
    assert not per_user().takes_user_token(token)


def test_the_embedded_sandboxs_own_tokens_are_taken_only_by_a_server_running_it() -> None:
    sandboxed = per_user(sandbox=True, api_token=SecretStr(DEFAULT_TOKEN))
    assert sandboxed.takes_user_token(DEFAULT_TOKEN) and sandboxed.takes_user_token(SECOND_TOKEN)
    assert not sandboxed.takes_user_token("sandbox")
    assert not per_user().takes_user_token(DEFAULT_TOKEN)


# -- over HTTP: refused before anything is learned -----------------------------------------------------


@pytest.mark.anyio
async def test_a_word_sent_as_a_token_gets_401_and_never_blanks_that_word_out_of_the_log(
    stream: io.StringIO,
) -> None:
    async with serving_app(team_app(per_user())) as url, httpx.AsyncClient(timeout=10) as http:
        refused = [await http.post(url, json=INIT, headers=headers(word)) for word in WORDS]
    for response in refused:
        assert response.status_code == 401, response.text
        description = response.json()["error_description"]
        assert "X-Toggl-Api-Token" in description and "24 to 256" in description, description
    assert logged(stream, LINE) == LINE


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        ({"Host": "evil.example:80"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Authorization": "Bearer wrong"}, 401),
    ],
    ids=["foreign-host", "foreign-origin", "wrong-bearer"],
)
async def test_a_token_in_a_request_the_transport_refuses_is_not_learned(
    stream: io.StringIO, refusal: dict[str, str], status: int
) -> None:
    async with serving_app(team_app(per_user())) as url, httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(url, json=INIT, headers=headers(TOKEN, **refusal))
        assert refused.status_code == status, refused.text
        # Not learned: a line carrying it is written as it is (the test's own canary, no secret).
        assert logged(stream, f"heard {TOKEN}") == f"heard {TOKEN}"

        accepted = await http.post(url, json=INIT, headers=headers(TOKEN))
        assert accepted.status_code == 200, accepted.text
    # Once a request passed every check, the token is blanked out wherever it shows.
    assert logged(stream, f"heard {TOKEN}") == f"heard {REDACTED}"


# -- the learned set is bounded ---------------------------------------------------------------------


def test_the_filter_keeps_the_most_recently_heard_tokens_up_to_its_limit_and_every_configured_secret() -> (
    None
):
    assert logs.LEARNED_LIMIT == 4096
    configured = "configured-secret-0123456789abcdef"
    handler_filter = SecretFilter([configured], learned_limit=4)
    tokens = [f"{i:032x}" for i in range(4)]
    for token in tokens[:2]:
        handler_filter.learn([token])
    handler_filter.learn([tokens[0]])  # heard again: the most recent now
    handler_filter.learn(tokens[2:])
    handler_filter.learn(["f" * 32])  # one past the limit: the least recently heard goes
    assert list(handler_filter.learned) == [tokens[0], tokens[2], tokens[3], "f" * 32]
    text = " ".join([configured, *tokens, "f" * 32])
    assert handler_filter.scrub(text) == " ".join(
        [REDACTED, REDACTED, tokens[1], REDACTED, REDACTED, REDACTED]
    )


def test_a_token_and_its_basic_form_are_learned_together_and_counted_as_two() -> None:
    handler_filter = SecretFilter([], learned_limit=4)
    handler_filter.learn(token_secrets(TOKEN))
    handler_filter.learn(token_secrets("e" * 32))
    handler_filter.learn(token_secrets("d" * 32))
    assert list(handler_filter.learned) == token_secrets("e" * 32) + token_secrets("d" * 32)
    assert handler_filter.scrub(f"{TOKEN} {'d' * 32}") == f"{TOKEN} {REDACTED}"


@pytest.mark.anyio
async def test_a_word_that_reaches_the_tools_by_another_way_is_refused_there_and_not_learned(
    stream: io.StringIO,
) -> None:
    """Without the HTTP layer's door (the SDK's own app, as an embedding might serve it), the tools
    apply the same rule when they open a user's state: a tool error, nothing learned or sent."""
    settings = per_user()
    server = build_server(settings)
    app = server.streamable_http_app(host="127.0.0.1", transport_security=security_for("127.0.0.1"))
    with respx.mock(base_url=settings.api_url, assert_all_called=False) as toggl:
        toggl.route(host="127.0.0.1").pass_through()
        refused_by_toggl = toggl.get("/me/organizations").respond(
            403, text="Incorrect username and/or password"
        )
        async with serving_app(app) as url:
            http = httpx2.AsyncClient(headers={"X-Toggl-Api-Token": "session"}, timeout=30)
            async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                result = await client.call_tool("list_organizations", {})
    assert result.is_error
    message = "\n".join(getattr(block, "text", "") for block in result.content)
    assert "X-Toggl-Api-Token" in message and "24 to 256" in message, message
    assert not refused_by_toggl.called
    assert logged(stream, LINE) == LINE
