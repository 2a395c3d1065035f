"""Shared fixtures: the server driven through a real MCP client, Toggl mocked at the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import respx
from mcp import Client
from mcp.types import CallToolResult, ElicitResult
from pydantic import SecretStr

from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.server import build_server

BASE = "https://toggl.test/api/v9"
# A recognisable token: tests assert it never shows up anywhere.
CANARY_TOKEN = "canary-7f3a9c1e5b2d4e6f8a0b"
MODES = ["legacy", "modern"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_token": SecretStr(CANARY_TOKEN),
        "api_url": BASE,
        "rate_per_sec": None,
        "backoff_base": 0.001,
        "consistency_wait": 0.01,
        "retry_budget": 2.0,
        "organization_id": None,
        "workspace_id": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def toggl() -> respx.MockRouter:
    """Toggl at the wire. Every request the server makes must be routed, or the test fails."""
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


ElicitAnswer = Callable[[str], Awaitable[ElicitResult]] | None
Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2025-11-25 with initialize, and the stateless 2026-07-28."""
    return str(request.param)


def client_mode(mode: str) -> str:
    return "legacy" if mode == "legacy" else "auto"


@pytest.fixture
def connect(settings: Settings, mode: str) -> Connect:
    """connect(answer=None, settings=None): a Client on a fresh server, in this test's era.

    `answer(message)` plays the human answering a confirmation; without it the client declares
    no elicitation capability.
    """

    @asynccontextmanager
    async def open_client(answer: ElicitAnswer = None, **overrides: Any) -> AsyncIterator[Client]:
        server = build_server(settings.with_(**overrides) if overrides else settings)
        callback = None
        if answer is not None:

            async def callback(context: Any, params: Any) -> ElicitResult:
                return await answer(params.message)

        async with Client(server, mode=client_mode(mode), elicitation_callback=callback) as client:  # type: ignore[arg-type]
            yield client

    return open_client


@pytest.fixture
async def client(connect: Connect) -> AsyncIterator[Client]:
    async with connect() as c:
        yield c


def error_text(result: CallToolResult) -> str:
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    return "\n".join(getattr(block, "text", "") for block in result.content)


def accept(confirm: bool = True) -> Callable[[str], Awaitable[ElicitResult]]:
    async def answer(message: str) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": confirm})

    return answer


def refuse(action: str = "decline") -> Callable[[str], Awaitable[ElicitResult]]:
    async def answer(message: str) -> ElicitResult:
        return ElicitResult(action=action)  # type: ignore[arg-type]

    return answer
