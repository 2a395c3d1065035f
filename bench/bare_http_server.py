"""The control for per-call overhead: a bare MCPServer whose one tool makes the same Toggl
request as ``list_groups`` (GET /organizations/{org}/groups) with a plain keep-alive
``httpx.AsyncClient`` and returns the body as it came. It is "the bare SDK plus the HTTP request
itself", measured from inside a stdio server process, with none of our layer.

Reads TOGGL_API_URL, TOGGL_API_TOKEN and TOGGL_ORGANIZATION_ID like our server. Log level
WARNING, as our server runs: at the SDK's default (INFO) httpx would log every request.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from mcp.server import MCPServer

_client: dict[str, httpx.AsyncClient] = {}


@asynccontextmanager
async def lifespan(_: MCPServer) -> AsyncIterator[None]:
    base = os.environ["TOGGL_API_URL"].rstrip("/") + "/"
    async with httpx.AsyncClient(base_url=base, auth=(os.environ["TOGGL_API_TOKEN"], "api_token")) as client:
        _client["http"] = client
        yield


mcp = MCPServer("bare-http", lifespan=lifespan, log_level="WARNING")


@mcp.tool()
async def list_groups_plain() -> str:
    """The organization's groups as Toggl sends them."""
    response = await _client["http"].get(f"organizations/{os.environ['TOGGL_ORGANIZATION_ID']}/groups")
    response.raise_for_status()
    return response.text


if __name__ == "__main__":
    mcp.run()
