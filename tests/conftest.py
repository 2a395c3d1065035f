"""Shared fixtures: the server driven through a real MCP client, Toggl mocked at the wire."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NamedTuple

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ElicitResult
from pydantic import SecretStr

# In CI (CI=true) a skip fails the run, unless the test is marked skip_by_design: tests/ci_skips.py.
from tests.ci_skips import (  # noqa: F401 (hooks, registered by being here)
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.server import build_server
from toggl_groups_mcp.toggl import TogglClient
from toggl_groups_mcp.toggl import client as toggl_client_module

BASE = "https://toggl.test/api/v9"
# A recognisable token: tests assert it never shows up anywhere.
CANARY_TOKEN = "canary-7f3a9c1e5b2d4e6f8a0b"
MODES = ["legacy", "modern"]

# The tools by name, written out: a test must not take its expectations from the code it tests.
READ_TOOLS = {
    "list_organizations",
    "list_workspaces",
    "list_projects",
    "list_organization_users",
    "get_quota",
    "list_groups",
    "list_workspace_groups",
    "list_project_groups",
    "get_group",
    "get_project_access",
    "review_access",
}

ALL_TOOLS = READ_TOOLS | {
    "create_group",
    "update_group",
    "patch_group",
    "delete_group",
    "add_project_group",
    "remove_project_group",
    "add_group_to_projects",
    "remove_group_from_projects",
    "remove_user_from_groups",
    "remove_user_from_projects",
}
# Registered only when the server keeps a change journal (settings built in tests start without).
JOURNAL_TOOLS = {"list_changes", "undo_change"}


@pytest.fixture(scope="session", autouse=True)
def _no_state_in_the_home_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A server started by a test, in process or as a child inheriting this environment, keeps its
    change journal under a temporary folder, never in the user's state folder."""
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


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


def asking_reads(mode: str) -> int:
    """How often a preview is read from Toggl when the human is asked: once on 2025-11-25 (the
    question is asked mid-request); on 2026-07-28 again in the request that brings the answer,
    since the human may have taken a minute and the preview must be what they approved."""
    return 1 if mode == "legacy" else 2


@pytest.fixture
def connect(settings: Settings, mode: str) -> Connect:
    """connect(answer=None, settings=None): a Client on a fresh server, in this test's era.

    `answer(message)` plays the human answering a confirmation; without it the client declares
    no elicitation capability.
    """

    @asynccontextmanager
    async def open_client(answer: ElicitAnswer = None, **overrides: Any) -> AsyncIterator[Client]:
        server = shared_server(settings.with_(**overrides) if overrides else settings)
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


# -- time without waiting (appended for the resilience, secrets and fuzz tests) ---------------------


class FakeTime:
    """A clock that moves only when something sleeps: pacing and retries are tested by it, never
    by waiting. `sleeps` records every wait asked for, in order."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Every TogglClient built in this test (including the server's) sleeps on a fake clock."""
    fake = FakeTime()
    monkeypatch.setattr(toggl_client_module, "default_sleep", fake.sleep)
    return fake


@asynccontextmanager
async def open_toggl(fake: FakeTime | None = None, **overrides: Any) -> AsyncIterator[TogglClient]:
    """A TogglClient on make_settings(**overrides), on `fake` time when given, closed afterwards."""
    kwargs: dict[str, Any] = {"sleep": fake.sleep, "clock": fake.clock} if fake is not None else {}
    toggl_client = TogglClient(make_settings(**overrides), **kwargs)
    try:
        yield toggl_client
    finally:
        await toggl_client.aclose()


def result_text(result: CallToolResult) -> str:
    """Everything a result shows the model: its text blocks and its structured content."""
    texts = [getattr(block, "text", "") for block in result.content]
    return "\n".join([*texts, json.dumps(result.structured_content, default=str)])


# -- what the server sent (appended for the groups, project-groups and metadata tests) -------------


class Sent(NamedTuple):
    """One request as Toggl saw it: method, path under BASE, query and JSON body."""

    method: str
    path: str
    params: dict[str, str]
    json: Any


def sent(router: respx.MockRouter) -> list[Sent]:
    """Every request the server made, in order."""
    prefix = httpx.URL(BASE).path
    requests = [call.request for call in router.calls]
    return [
        Sent(
            request.method,
            request.url.path.removeprefix(prefix),
            dict(request.url.params),
            json.loads(request.content) if request.content else None,
        )
        for request in requests
    ]


def recording(
    answer: Callable[[str], Awaitable[ElicitResult]],
) -> tuple[Callable[[str], Awaitable[ElicitResult]], list[str]]:
    """Wrap an elicitation answer so the test can read what the human was asked."""
    asked: list[str] = []

    async def record(message: str) -> ElicitResult:
        asked.append(message)
        return await answer(message)

    return record, asked


class _SharedTransport(httpx.AsyncBaseTransport):
    """One real transport (respx intercepts it) kept open for the run: a new httpx client would
    otherwise load the CA bundle again, which costs more than the rest of a test."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass  # shared by every connection; the process exit closes it


@functools.cache
def shared_server(settings: Settings) -> MCPServer[Any]:
    """One server per distinct settings for the whole run: building one costs about 0.1 s, and the
    in-memory Client runs the lifespan (Toggl client, caches) afresh for every connection anyway."""
    return build_server(settings, transport=_SharedTransport())


@pytest.fixture
def unexpected(toggl: respx.MockRouter) -> respx.Route:
    """A catch-all route for tests that expect no request at all: an unrouted request would only
    break the tool call, this one is counted in `toggl.calls`. Add no other route in such a test."""
    return toggl.route().respond(599, json="unexpected request")


def tool_error(result: CallToolResult) -> str:
    """The error text, which must carry a message: never the SDK's bare "Error executing tool X"."""
    text = error_text(result)
    assert not re.fullmatch(r"Error executing tool \w+", text.strip()), text
    return text


def assert_nothing_sent(toggl: respx.MockRouter) -> None:
    assert toggl.calls.call_count == 0
    assert sent(toggl) == []


def ids_of(items: list[dict[str, Any]]) -> list[int]:
    """The ids of named items in a result: members ({user_id, name}) or workspaces ({id, name})."""
    return [item["user_id"] if "user_id" in item else item["id"] for item in items]
