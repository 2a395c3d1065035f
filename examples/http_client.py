"""The server over streamable HTTP, with a bearer token, driven by the MCP client SDK.

    python examples/http_client.py

Starts `toggl-groups-mcp --sandbox --transport http` on a free loopback port with
TOGGL_MCP_HTTP_TOKEN set, connects with the token, lists the tools and calls one, then shows that
a request without the token is refused with 401.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server did not start at {url}")


async def session(url: str, token: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        tools = await client.list_tools()
        print(f"{len(tools.tools)} tools over HTTP")
        result = await client.call_tool("list_organizations", {})
        for org in (result.structured_content or {}).get("organizations", []):
            print(f"organization {org['id']}: {org['name']}")


def main() -> None:
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "TOGGL_MCP_HTTP_TOKEN": token}
    cmd = [sys.executable, "-m", "toggl_groups_mcp", "--sandbox", "--transport", "http", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_for(url, time.monotonic() + 20)
        anyio.run(session, url, token)
        refused = httpx2.post(url, json={}, timeout=5)
        print(f"without the token: HTTP {refused.status_code}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
