"""Logs never carry a secret: a filter on the stderr handler scrubs every record, whoever logs it.

The API token, its HTTP Basic form and the HTTP bearer token are replaced by "[redacted]" in the
message, its arguments, a traceback and a stack, for records from any logger (httpcore logs
response headers at DEBUG, pydantic puts `input_value=...` in its errors).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import SecretStr, TypeAdapter, ValidationError

from tests.conftest import CANARY_TOKEN, make_settings, open_toggl
from toggl_groups_mcp.logs import REDACTED, SecretFilter, configure_logging, secrets_of
from toggl_groups_mcp.toggl import TogglError

BASIC = base64.b64encode(f"{CANARY_TOKEN}:api_token".encode()).decode()
HTTP_TOKEN = "bearer-secret-5d8e2a7c91"
SECRETS = (CANARY_TOKEN, BASIC, HTTP_TOKEN)
FORMAT_LINE = "WARNING tests.logging: hello"

log = logging.getLogger("tests.logging")


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into the log:\n{text}"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """configure_logging changes the root logger: put its handlers and level back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def stream(restore_root_logger: None) -> io.StringIO:
    """What the stderr handler writes, configured at DEBUG with SECRETS."""
    out = io.StringIO()
    configure_logging("DEBUG", SECRETS, stream=out)
    return out


# -- the filter, record by record ------------------------------------------------------------------


def test_the_handler_writes_level_logger_and_message_at_the_level_asked(restore_root_logger: None) -> None:
    out = io.StringIO()
    configure_logging("warning", SECRETS, stream=out)
    log.info("not shown")
    log.warning("hello")
    assert out.getvalue() == FORMAT_LINE + "\n"


def test_an_unknown_level_is_refused_with_a_value_error(restore_root_logger: None) -> None:
    with pytest.raises(ValueError, match="chatty"):
        configure_logging("chatty", SECRETS, stream=io.StringIO())


def test_a_secret_in_the_message_itself_is_redacted(stream: io.StringIO) -> None:
    log.warning(f"token {CANARY_TOKEN} basic {BASIC} bearer {HTTP_TOKEN}")
    assert (
        stream.getvalue() == f"WARNING tests.logging: token {REDACTED} basic {REDACTED} bearer {REDACTED}\n"
    )


def test_a_secret_in_the_arguments_is_redacted(stream: io.StringIO) -> None:
    log.debug(
        "token %s, basic %r, header %s", CANARY_TOKEN, BASIC, (b"Authorization", f"Basic {BASIC}".encode())
    )
    text = stream.getvalue()
    assert_clean(text)
    assert text.count(REDACTED) == 3


def test_a_secret_in_a_key_of_a_dict_argument_is_redacted(stream: io.StringIO) -> None:
    log.info("answer %s", {CANARY_TOKEN: {"nested": BASIC}, "ok": 1})
    log.info("%(key)s and %(other)s", {"key": HTTP_TOKEN, "other": "fine"})
    text = stream.getvalue()
    assert_clean(text)
    assert "'ok': 1" in text and f"{REDACTED} and fine" in text


def test_a_secret_in_an_exception_and_its_traceback_is_redacted(stream: io.StringIO) -> None:
    try:
        raise ValueError(f"Toggl said {CANARY_TOKEN!r} with {BASIC}")
    except ValueError:
        log.exception("the answer was malformed")
    text = stream.getvalue()
    assert_clean(text)
    assert "Traceback (most recent call last)" in text
    assert f"ValueError: Toggl said '{REDACTED}' with {REDACTED}" in text


def test_a_pydantic_error_showing_the_input_value_is_redacted(stream: io.StringIO) -> None:
    try:
        TypeAdapter(int).validate_python({"api_token": CANARY_TOKEN})
    except ValidationError:
        log.error("Toggl answered something else", exc_info=True)
    text = stream.getvalue()
    assert_clean(text)
    assert "input_value=" in text and REDACTED in text


def test_the_traceback_is_redacted_for_every_handler_that_formats_it(stream: io.StringIO) -> None:
    other = io.StringIO()
    second = logging.StreamHandler(other)
    second.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger().addHandler(second)  # after ours: it sees the record ours scrubbed
    try:
        raise RuntimeError(CANARY_TOKEN)
    except RuntimeError:
        log.exception("boom")
    assert_clean(stream.getvalue())
    assert_clean(other.getvalue())
    assert f"RuntimeError: {REDACTED}" in other.getvalue()


def test_a_secret_in_the_stack_info_is_redacted(stream: io.StringIO) -> None:
    stack = f'Stack (most recent call last):\n  File "x.py", line 1, in f\n    call(token="{CANARY_TOKEN}")'
    record = log.makeRecord(log.name, logging.WARNING, __file__, 1, "with a stack", (), None, sinfo=stack)
    log.handle(record)
    text = stream.getvalue()
    assert_clean(text)
    assert f'call(token="{REDACTED}")' in text


def test_a_plain_message_without_arguments_is_scrubbed_and_never_formatted(stream: io.StringIO) -> None:
    log.warning(f"100% of {CANARY_TOKEN} %s %d")
    assert stream.getvalue() == f"WARNING tests.logging: 100% of {REDACTED} %s %d\n"


def test_a_message_that_is_not_a_string_is_scrubbed(stream: io.StringIO) -> None:
    log.warning(ValueError(f"token {CANARY_TOKEN}"))
    log.warning({"basic": BASIC})
    text = stream.getvalue()
    assert_clean(text)
    assert text.count(REDACTED) == 2


def test_a_record_whose_arguments_do_not_fit_its_format_is_still_logged_scrubbed(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    log.warning("%s and %s", CANARY_TOKEN)
    log.warning("%d tokens", BASIC)
    text = stream.getvalue()
    assert_clean(text)
    assert len(text.splitlines()) == 2 and text.count(REDACTED) == 2
    # logging reports a record it cannot format on stderr, arguments and all: that never happens.
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert_clean(err)


def test_a_record_whose_arguments_cannot_even_be_printed_is_still_logged(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError(CANARY_TOKEN)

        __repr__ = __str__

    log.warning("value %s", Unprintable())
    assert len(stream.getvalue().splitlines()) == 1
    assert_clean(stream.getvalue())
    assert "Logging error" not in capsys.readouterr().err


def test_a_record_without_a_secret_is_left_as_it_was() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s went %d", ("it", 3), None)
    assert SecretFilter(SECRETS).filter(record) is True
    assert (record.msg, record.args) == ("%s went %d", ("it", 3))


def test_the_filter_rewrites_a_record_that_carries_a_secret() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s went %d", (CANARY_TOKEN, 3), None)
    assert SecretFilter(SECRETS).filter(record) is True
    assert (record.msg, record.args) == (f"{REDACTED} went 3", ())


def test_empty_secrets_are_ignored(restore_root_logger: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", ["", "  ", CANARY_TOKEN], stream=out)
    log.warning("hello")
    assert out.getvalue() == FORMAT_LINE + "\n"


def test_a_secret_is_also_redacted_as_a_repr_escapes_it(restore_root_logger: None) -> None:
    odd = "tok\\en'with\"quotes-é"
    out = io.StringIO()
    configure_logging("DEBUG", [odd], stream=out)
    log.debug("headers %s %r", [(b"x-echo", odd.encode())], odd)
    text = out.getvalue()
    for form in (odd, repr(odd)[1:-1], repr(odd.encode())[2:-1]):
        assert form not in text, text


@pytest.mark.parametrize(
    "name", ["httpx", "httpcore.http11", "mcp.server.lowlevel", "toggl_groups_mcp.http", ""]
)
def test_records_from_every_logger_are_scrubbed(stream: io.StringIO, name: str) -> None:
    logging.getLogger(name).warning("header %r", (b"x-token", CANARY_TOKEN.encode()))
    assert_clean(stream.getvalue())
    assert REDACTED in stream.getvalue()


def test_the_secrets_are_the_token_its_basic_form_and_the_bearer_token() -> None:
    settings = make_settings(http_token=SecretStr(HTTP_TOKEN))
    assert set(secrets_of(settings)) == {CANARY_TOKEN, BASIC, HTTP_TOKEN}
    assert set(secrets_of(make_settings())) == {CANARY_TOKEN, BASIC}
    assert set(secrets_of(make_settings(), api_token=False)) == set()
    assert set(secrets_of(settings, api_token=False)) == {HTTP_TOKEN}


def test_the_state_key_is_a_secret_too() -> None:
    key = "State-Key-0123456789abcdef0123456789"
    assert set(secrets_of(make_settings(state_key=SecretStr(key)), api_token=False)) == {key}


# -- end to end: a real socket, so httpcore logs the headers it receives ----------------------------

ECHOED_BODY = [{"id": 1, "name": "Acme", "admin": True, CANARY_TOKEN: BASIC, "note": CANARY_TOKEN}]


@asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    """A tiny Toggl on 127.0.0.1 that echoes the secrets in headers and bodies; yields its base URL.

    Any path with "fail" in it answers 400 with a long error body, the rest 200 with ECHOED_BODY.
    """

    async def serve(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            with anyio.fail_after(10):
                while b"\r\n\r\n" not in data:
                    data += await stream.receive()
            path = data.split(b" ", 2)[1]
            if b"fail" in path:
                status = b"400 Bad Request"
                body = ("x" * 3000 + f" token {CANARY_TOKEN} basic {BASIC} " + "y" * 3000).encode()
            else:
                status = b"200 OK"
                body = json.dumps(ECHOED_BODY).encode()
            await stream.send(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"X-Echo-Token: {CANARY_TOKEN}\r\nX-Echo-Basic: Basic {BASIC}\r\n".encode()
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        try:
            yield f"http://127.0.0.1:{port}/api/v9"
        finally:
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_at_debug_httpcore_logs_the_echoed_headers_but_never_a_secret(stream: io.StringIO) -> None:
    with anyio.fail_after(20):
        async with echo_server() as url, open_toggl(api_url=url) as client:
            answer = await client.request("GET", "/me")
            assert answer[0]["id"] == 1
            with pytest.raises(TogglError) as failed:
                await client.request("GET", "/fail")
            log.warning("the request failed: %s", failed.value, exc_info=failed.value)
    text = stream.getvalue()
    assert "DEBUG httpcore.http11: receive_response_headers.complete" in text, text
    assert f"(b'x-echo-token', b'{REDACTED}')" in text.lower()
    assert f"(b'x-echo-basic', b'basic {REDACTED}')" in text.lower()
    assert "INFO httpx: HTTP Request: GET" in text
    assert_clean(text)


@pytest.mark.anyio
async def test_the_command_at_debug_over_stdio_never_logs_a_secret(tmp_path: Path) -> None:
    errlog = tmp_path / "stderr.txt"
    async with echo_server() as url:
        env = {
            "TOGGL_API_TOKEN": CANARY_TOKEN,
            "TOGGL_API_URL": url,
            "TOGGL_MCP_HTTP_TOKEN": HTTP_TOKEN,
            "TOGGL_MCP_JOURNAL": str(tmp_path / "journal.jsonl"),
        }
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "toggl_groups_mcp", "--log-level", "DEBUG"], env=env
        )
        with errlog.open("w") as err, anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=err), mode="legacy") as client:
                result: Any = await client.call_tool("list_organizations", {})
    assert not result.is_error, result
    text = errlog.read_text()
    assert "DEBUG httpcore.http11: receive_response_headers.complete" in text, text
    assert f"(b'x-echo-token', b'{REDACTED}')" in text.lower()
    assert_clean(text)
