"""Streamable HTTP at /mcp: bearer token, DNS-rebinding protection, and a real client session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import respx
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr
from starlette.types import ASGIApp

from tests.conftest import CANARY_TOKEN, make_settings
from toggl_groups_mcp.config import ConfigError, Settings
from toggl_groups_mcp.http import http_app
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio
# Mixed case: a comparison that ignored case would let the same letters in another case through.
TOKEN = "Http-Bearer-0123456789AbCdEf"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def serving(settings: Settings, host: str = "127.0.0.1") -> AsyncIterator[str]:
    async with serving_app(http_app(build_server(settings), settings, host)) as url:
        yield url


def loopback_socket() -> socket.socket:
    """A socket bound to a free loopback port, for a server whose settings must name that port."""
    sock = socket.socket()
    # Inherited by the accepted connections: without it each response waits out a delayed ACK (40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving_app(app: ASGIApp, sock: socket.socket | None = None, **config: Any) -> AsyncIterator[str]:
    """`app` on a free loopback port (or `sock`'s) for the block, with uvicorn's `config`; its /mcp
    URL."""
    sock = sock or loopback_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **({"log_level": "warning", "lifespan": "on"} | config)))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: server.serve(sockets=[sock]))
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
                    await anyio.sleep(0.02)
            try:
                yield f"http://127.0.0.1:{port}/mcp"
            finally:
                server.should_exit = True
    finally:
        sock.close()


async def test_requests_without_the_bearer_token_get_401() -> None:
    async with serving(make_settings(http_token=SecretStr(TOKEN))) as url, httpx.AsyncClient() as http:
        missing = await http.post(url, json=INIT, headers=MCP_HEADERS)
        wrong = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
        right = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200


@pytest.mark.parametrize("given", [TOKEN.lower(), TOKEN.upper(), TOKEN.swapcase()])
async def test_the_bearer_token_in_another_letter_case_gets_401(given: str) -> None:
    async with serving(make_settings(http_token=SecretStr(TOKEN))) as url, httpx.AsyncClient() as http:
        other_case = await http.post(
            url, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {given}"}
        )
    assert other_case.status_code == 401, other_case.text


async def test_a_foreign_host_header_is_refused_by_dns_rebinding_protection() -> None:
    async with serving(make_settings()) as url, httpx.AsyncClient() as http:
        foreign = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example:80"})
        local = await http.post(url, json=INIT, headers=MCP_HEADERS)
    assert foreign.status_code == 421
    assert local.status_code == 200


def test_binding_beyond_loopback_without_a_token_is_refused() -> None:
    settings = make_settings()
    with pytest.raises(ConfigError, match="TOGGL_MCP_HTTP_TOKEN"):
        http_app(build_server(settings), settings, "0.0.0.0")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_with_the_token_calls_tools_over_http(mode: str) -> None:
    settings = make_settings(http_token=SecretStr(TOKEN))
    with respx.mock(base_url=settings.api_url, assert_all_called=False) as toggl:
        toggl.route(host="127.0.0.1").pass_through()
        toggl.get("/me/organizations").respond(json=[{"id": 1, "name": "Acme", "admin": True}])
        toggl.get("/me/workspaces").respond(json=[{"id": 5, "name": "Main", "organization_id": 1}])
        async with serving(settings) as url:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                tools = await client.list_tools()
                result = await client.call_tool("list_organizations", {})
    assert len(tools.tools) >= 9
    assert result.structured_content == {
        "organizations": [
            {"id": 1, "name": "Acme", "admin": True, "workspaces": [{"id": 5, "name": "Main"}]}
        ],
        "default_organization_id": 1,
        "default_workspace_id": 5,
        "requests": 2,
    }


# -- the real command: the bearer token comes from the environment ---------------------------------


COMMAND = [sys.executable, "-m", "toggl_groups_mcp"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command_env(**settings: str) -> dict[str, str]:
    """The parent's environment without any TOGGL_ setting, plus `settings`. Toggl's URL points at
    a closed local port: nothing here may reach the real Toggl."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOGGL_")}
    return {**env, "TOGGL_API_URL": "http://127.0.0.1:9/api/v9", **settings}


def wait_until_listening(process: subprocess.Popen[bytes], port: int, timeout: float = 30) -> None:
    """Until the port accepts a connection; fails at once if the process exits, and after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not listen on port {port} within {timeout} s")
        try:
            # Waiting on the process is the pause between attempts, and notices an early exit.
            code = process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"the server exited with {code} before listening")


def stop(process: subprocess.Popen[bytes]) -> bytes:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    return stderr


def test_the_command_takes_the_bearer_token_from_the_environment_and_enforces_it_on_loopback() -> None:
    port = free_port()
    process = subprocess.Popen(
        [*COMMAND, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
        env=command_env(TOGGL_API_TOKEN=CANARY_TOKEN, TOGGL_MCP_HTTP_TOKEN=TOKEN),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(process, port)
        url = f"http://127.0.0.1:{port}/mcp"
        with httpx.Client(timeout=10) as http:
            missing = http.post(url, json=INIT, headers=MCP_HEADERS)
            wrong = http.post(url, json=INIT, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
            right = http.post(url, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"})
    finally:
        stderr = stop(process)
    assert missing.status_code == 401 and wrong.status_code == 401, stderr
    assert right.status_code == 200, stderr
    assert TOKEN.encode() not in stderr and CANARY_TOKEN.encode() not in stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_the_command_refuses_to_bind_beyond_loopback_without_a_bearer_token(host: str) -> None:
    completed = subprocess.run(
        [*COMMAND, "--transport", "http", "--host", host, "--port", str(free_port())],
        env=command_env(TOGGL_API_TOKEN=CANARY_TOKEN),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == b""
    lines = completed.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "TOGGL_MCP_HTTP_TOKEN" in lines[0] and host in lines[0]


# Two users' tokens, of Toggl's shape (32 hex digits).
A_TOKEN = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
B_TOKEN = "b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5"


async def test_per_user_tokens_take_exactly_one_token_header_before_anything_runs() -> None:
    """Two X-Toggl-Api-Token headers are refused: the door and the tools could read different ones."""
    settings = make_settings(api_token=SecretStr(""), per_user_tokens=True)
    async with serving(settings) as url, httpx.AsyncClient() as http:
        missing = await http.post(url, json=INIT, headers=MCP_HEADERS)
        blank = await http.post(url, json=INIT, headers={**MCP_HEADERS, "X-Toggl-Api-Token": ""})
        twice = await http.post(
            url,
            json=INIT,
            headers=[
                *MCP_HEADERS.items(),
                ("X-Toggl-Api-Token", A_TOKEN),
                ("X-Toggl-Api-Token", B_TOKEN),
            ],
        )
        one = await http.post(url, json=INIT, headers={**MCP_HEADERS, "X-Toggl-Api-Token": A_TOKEN})
    for refused in (missing, blank, twice):
        assert refused.status_code == 401
        assert "X-Toggl-Api-Token" in refused.json()["error_description"]
    assert one.status_code == 200
