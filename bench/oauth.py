"""What OAuth costs a team server per request (issue 21): a tool call through a server whose
people send their Toggl token in a header (`TOGGL_MCP_PER_USER_TOKENS` behind the team bearer),
against the same call with an OAuth access token, its grant kept in memory and in Redis. Each
server is a real `--sandbox --transport http --stateless` subprocess; the calls are interleaved in
rounds so drift hits all series alike. A second measure times the access-token check alone
(`TogglAuthProvider.load_access_token`: the HMAC, the grant read, AES-GCM), in process.

`python -m bench.oauth [CALLS]` prints the figures; `python -m bench --only oauth` puts them in the
table.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx

from . import wire
from .overhead import Latencies
from .report import Row, ms
from .shared import spawn, stop_group, until_listening

TOOL = "list_organizations"
TEAM_BEARER = "bench-team-bearer-" + "7" * 24
TOKEN = "sandbox-token"  # the embedded sandbox's own user (accepted with --sandbox)
ROUND = 10
WARMUP = 20
REDIRECT = "http://127.0.0.1:1/callback"  # never reached: the code is read from the Location header


@dataclass
class OAuthResult:
    header: Latencies = field(default_factory=lambda: Latencies("per-user header"))
    header_redis: Latencies = field(default_factory=lambda: Latencies("per-user header, Redis"))
    memory: Latencies = field(default_factory=lambda: Latencies("OAuth, grants in memory"))
    redis: Latencies = field(default_factory=lambda: Latencies("OAuth, grants in Redis"))
    check_memory: Latencies = field(default_factory=lambda: Latencies("token check, memory"))
    check_redis: Latencies = field(default_factory=lambda: Latencies("token check, Redis"))


@asynccontextmanager
async def serving(env_extra: dict[str, str]) -> AsyncIterator[str]:
    """Our server with its own sandbox over stateless HTTP; yields its base URL."""
    from mcp.client.stdio import get_default_environment

    env = get_default_environment() | {"TOGGL_MCP_JOURNAL": "off", **env_extra}
    folder = Path(tempfile.mkdtemp(prefix="toggl-bench-oauth-"))
    from tests.redis_server import free_port

    port = free_port()
    command = [
        sys.executable,
        *wire.OURS_ARGS,
        "--sandbox",
        "--transport",
        "http",
        "--stateless",
        "--port",
        str(port),
    ]
    log = folder / "server.log"
    process = spawn(command, env, log)
    try:
        await until_listening(process, port, lambda: log.read_text(errors="replace")[-800:])
        yield f"http://127.0.0.1:{port}"
    finally:
        await anyio.to_thread.run_sync(stop_group, process)
        shutil.rmtree(folder, ignore_errors=True)


async def access_token(base: str, toggl_token: str = TOKEN) -> str:
    """Register, authorize with PKCE, log in on the page, exchange: as a client and a person do."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        client = (
            await http.post(
                meta["registration_endpoint"],
                json={
                    "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "none",
                    "client_name": "bench",
                },
            )
        ).json()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        page = await http.get(
            meta["authorization_endpoint"],
            params={
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "bench",
                "resource": f"{base}/mcp",
            },
            follow_redirects=True,
        )
        form = dict(re.findall(r'name="(request|csrf)" value="([^"]+)"', page.text))
        done = await http.post("/login", data={**form, "toggl_token": toggl_token, "action": "allow"})
        code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
        tokens = (
            await http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "client_id": client["client_id"],
                    "code_verifier": verifier,
                },
            )
        ).json()
        token: str = tokens["access_token"]
        return token


async def check_latency(calls: int, redis_url: str | None) -> Latencies:
    """`load_access_token` alone, in process, against memory or Redis."""
    from pydantic import SecretStr

    from toggl_groups_mcp.config import Settings
    from toggl_groups_mcp.oauth import OAuthServer

    settings = Settings(
        api_token=SecretStr(""),
        oauth=True,
        public_url="http://127.0.0.1:9",
        oauth_secret=SecretStr(secrets.token_hex(32)),
        redis_url=SecretStr(redis_url) if redis_url else None,
    )
    oauth = OAuthServer(settings, check_token=lambda _: _me())
    provider = oauth.provider
    login = {
        "client_id": "bench",
        "redirect_uri": REDIRECT,
        "explicit": True,
        "challenge": "x",
        "state": None,
        "scopes": ["toggl"],
        "resource": oauth.resource,
    }
    await provider.records.put("client", "bench", {"client_id": "bench", "redirect_uris": [REDIRECT]}, 60)
    code = await provider.complete_login(login, {"id": 1, "fullname": "Bench", "email": "b@x"}, "0" * 32)
    client = await provider.get_client("bench")
    assert client is not None
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None
    token = (await provider.exchange_authorization_code(client, loaded)).access_token
    series = Latencies("check")
    for i in range(calls + WARMUP):
        t0 = time.perf_counter()
        found = await provider.load_access_token(token)
        if i >= WARMUP:
            series.samples.append(time.perf_counter() - t0)
        assert found is not None
    await oauth.records.aclose()
    return series


async def _me() -> dict[str, Any]:
    return {"id": 1}


async def measure_oauth(calls: int) -> OAuthResult:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from tests.redis_server import RedisServer

    result = OAuthResult()
    with RedisServer() as redis:
        secret = secrets.token_hex(32)
        async with AsyncExitStack() as stack:
            header_base = await stack.enter_async_context(
                serving({"TOGGL_MCP_PER_USER_TOKENS": "1", "TOGGL_MCP_HTTP_TOKEN": TEAM_BEARER})
            )
            header_redis_base = await stack.enter_async_context(
                serving(
                    {
                        "TOGGL_MCP_PER_USER_TOKENS": "1",
                        "TOGGL_MCP_HTTP_TOKEN": TEAM_BEARER,
                        "TOGGL_MCP_REDIS_URL": redis.url,
                    }
                )
            )
            memory_base = await stack.enter_async_context(serving({"TOGGL_MCP_OAUTH": "1"}))
            redis_base = await stack.enter_async_context(
                serving(
                    {
                        "TOGGL_MCP_OAUTH": "1",
                        "TOGGL_MCP_REDIS_URL": redis.url,
                        "TOGGL_MCP_OAUTH_SECRET": secret,
                    }
                )
            )
            headers = {
                "header": {"Authorization": f"Bearer {TEAM_BEARER}", "X-Toggl-Api-Token": TOKEN},
                "header_redis": {"Authorization": f"Bearer {TEAM_BEARER}", "X-Toggl-Api-Token": TOKEN},
                "memory": {"Authorization": f"Bearer {await access_token(memory_base)}"},
                "redis": {"Authorization": f"Bearer {await access_token(redis_base)}"},
            }
            clients = {}
            bases = {
                "header": header_base,
                "header_redis": header_redis_base,
                "memory": memory_base,
                "redis": redis_base,
            }
            for name, base in bases.items():
                http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers[name], timeout=60))
                clients[name] = await stack.enter_async_context(
                    Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy")
                )
            series = {
                "header": result.header,
                "header_redis": result.header_redis,
                "memory": result.memory,
                "redis": result.redis,
            }

            async def call(name: str) -> None:
                answer = await clients[name].call_tool(TOOL, {})
                if answer.is_error:
                    raise RuntimeError(f"{TOOL} via {name} answered an error: {str(answer.content)[:300]}")

            for _ in range(WARMUP):
                for name in series:
                    await call(name)
            turn = 0
            while len(result.header.samples) < calls:
                order = list(series) if turn % 2 == 0 else list(series)[::-1]
                turn += 1
                for name in order:
                    for _ in range(min(ROUND, calls - len(series[name].samples))):
                        t0 = time.perf_counter()
                        await call(name)
                        series[name].samples.append(time.perf_counter() - t0)
        result.check_memory = await check_latency(calls * 10, None)
        result.check_redis = await check_latency(calls * 2, redis.url)
    return result


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def rows(found: OAuthResult) -> list[Row]:
    """Each OAuth series beside the header mode with the same store of shared state."""

    def row(label: str, s: Latencies, base: Latencies | None) -> Row:
        versus = (
            ""
            if base is None
            else f"{s.median / base.median:.2f}x the header mode ({ms(s.median - base.median)} more)"
        )
        return Row(
            f"OAuth: `{TOOL}` over stateless HTTP, {label}, median / p95",
            f"{ms(s.median)} / {ms(s.p95)}",
            versus,
        )

    return [
        row("token in a header (per-user tokens), no Redis", found.header, None),
        row("OAuth, grants in memory, no Redis", found.memory, found.header),
        row("token in a header, with Redis", found.header_redis, None),
        row("OAuth, grants in Redis", found.redis, found.header_redis),
        Row(
            "OAuth: access-token check alone (HMAC, grant read, AES-GCM), median",
            f"{us(found.check_memory.median)} memory / {us(found.check_redis.median)} Redis",
        ),
    ]


async def _main(calls: int) -> None:
    found = await measure_oauth(calls)
    for row in rows(found):
        print(f"| {row.measure} | {row.ours} | {row.reference} |")
    print(f"({len(found.header.samples)} calls per series; median of samples)", file=sys.stderr)


if __name__ == "__main__":
    anyio.run(_main, int(sys.argv[1]) if len(sys.argv) > 1 else 200)
