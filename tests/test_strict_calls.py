"""Every tool called the way a model in OpenAI's strict mode calls it (issue #20): every property of
the input schema present, `null` for each one the call does not use, against the embedded sandbox.

`null` is "not given" for every optional argument (defaults apply, either/or arguments take the
other one); a destructive call with `confirm: null` and no elicitation is the preview, with nothing
changed. Every structured result is valid against the tool's output schema.

The examples are keyed by the server's own tool list: a new tool without an example fails here.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import jsonschema
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, Tool
from pydantic import SecretStr

from tests.conftest import error_text, make_settings
from tests.test_metadata import listed
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.sandbox import SandboxThread, demo
from toggl_groups_mcp.server import build_server

pytestmark = pytest.mark.anyio

# Both protocol eras: 2025-11-25 with initialize, and the stateless 2026-07-28.
ERAS = ["legacy", "auto"]
TOOLS: dict[str, Tool] = {tool.name: tool for tool in listed("legacy")}

ACME, DESIGN, ENGINEERING = demo.ORG_ACME, demo.WS_ACME_DESIGN, demo.WS_ACME_ENGINEERING
API, PIPELINE = demo.PROJECT_API_PLATFORM, demo.PROJECT_DATA_PIPELINE
ENGINEERS, DESIGNERS, MANAGERS = demo.GROUP_ENGINEERS, demo.GROUP_DESIGNERS, demo.GROUP_MANAGERS
LINK_ENGINEERS_API = 4700103  # Engineers on API Platform (demo data)
PREVIEW = "Confirmation required; no change was sent to Toggl."


class Example(NamedTuple):
    """The values a call needs (every other property is sent as null), and what it gives without
    confirmation and without elicitation: "ok" (a result), or "preview" (a tool error carrying
    the preview; nothing changed)."""

    values: dict[str, Any]
    expect: str = "ok"


EXAMPLES: dict[str, Example] = {
    "list_organizations": Example({}),
    "list_workspaces": Example({}),
    "list_projects": Example({"name": "API"}),
    "list_organization_users": Example({"filter": "Dana"}),
    "get_quota": Example({}),
    "list_groups": Example({"name": "Eng"}),
    "list_workspace_groups": Example({"workspace_id": ENGINEERING}),
    "create_group": Example({"name": "Strict Shaped"}),
    # A rename with user_ids and workspace_ids null: nothing dropped, so no question.
    "update_group": Example({"group_id": ENGINEERS, "name": "Engineering"}),
    "patch_group": Example({"group_id": ENGINEERS, "remove_user_ids": [demo.USER_ELIAS]}, "preview"),
    "delete_group": Example({"group_id": DESIGNERS}, "preview"),
    "get_group": Example({"name": "Engineers"}),
    "get_project_access": Example({"project_name": "API Platform"}),
    "list_project_groups": Example({"project_ids": [API], "workspace_id": ENGINEERING}),
    "add_project_group": Example({"workspace_id": ENGINEERING, "project_id": PIPELINE, "group_id": MANAGERS}),
    "remove_project_group": Example(
        {"workspace_id": ENGINEERING, "project_id": API, "group_id": ENGINEERS}, "preview"
    ),
    "add_group_to_projects": Example(
        {"workspace_id": ENGINEERING, "group_id": DESIGNERS, "project_name": "Data Pipeline"}
    ),
    "remove_group_from_projects": Example(
        {"workspace_id": ENGINEERING, "group_id": ENGINEERS, "project_ids": [API]}, "preview"
    ),
    "remove_user_from_groups": Example({"organization_id": ACME, "user": "Chen Wei"}, "preview"),
    "remove_user_from_projects": Example({"organization_id": ACME, "user_id": demo.USER_CHEN}, "preview"),
    "review_access": Example({"workspace_id": ENGINEERING}),
    "list_changes": Example({}),
    # change_id: filled in by the test from a change it makes first.
    "undo_change": Example({"change_id": None}, "preview"),
}


def strict_shaped(tool: Tool, values: dict[str, Any]) -> dict[str, Any]:
    """Every property of the tool's input schema, null unless `values` gives it."""
    properties = tool.input_schema.get("properties", {})
    unknown = set(values) - set(properties)
    assert not unknown, f"{tool.name}: the example names arguments the tool does not have: {unknown}"
    return {name: values.get(name) for name in properties}


class Session(NamedTuple):
    client: Client
    sandbox: SandboxThread


class _TestsTransport(httpx.AsyncBaseTransport):
    """The transport of the module's servers, one per era, built once (a build costs 0.1 s): each
    test gives it a fresh connection pool on its own event loop and closes it at its end (a pool
    kept from an earlier test's loop would hang), with one TLS context for all (each new one costs
    35 ms)."""

    tls = ssl.create_default_context()

    def __init__(self) -> None:
        self.inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self.inner is not None, "no test is running"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass  # the server's Toggl client closes it after each connection; the test's pool is closed by the test

    @asynccontextmanager
    async def pool(self) -> AsyncIterator[None]:
        self.inner = httpx.AsyncHTTPTransport(verify=self.tls)
        try:
            yield
        finally:
            await self.inner.aclose()
            self.inner = None


TRANSPORT = _TestsTransport()


@functools.cache
def server_for(settings: Settings) -> MCPServer[Any]:
    return build_server(settings, transport=TRANSPORT)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxThread, Path]]:
    """One demo sandbox over loopback for the module (reset for each test), and a change journal."""
    with SandboxThread() as sandbox:
        yield sandbox, tmp_path_factory.mktemp("strict-calls") / "journal.jsonl"


@pytest.fixture(params=ERAS)
def on_sandbox(request: pytest.FixtureRequest, served: tuple[SandboxThread, Path]) -> Callable[[], Any]:
    """open_(): a client in this test's era (no elicitation) on a server with a change journal and
    Acme / Acme Engineering as the default organization and workspace, on the demo sandbox as it
    starts."""
    sandbox, journal = served

    @asynccontextmanager
    async def open_() -> AsyncIterator[Session]:
        sandbox.sandbox.reset()
        settings = make_settings(
            api_token=SecretStr(sandbox.token),
            api_url=sandbox.url,
            journal_path=journal,
            # The defaults a user configures, so that null scope arguments mean them.
            organization_id=ACME,
            workspace_id=ENGINEERING,
        )
        async with TRANSPORT.pool(), Client(server_for(settings), mode=request.param) as client:
            yield Session(client, sandbox)

    return open_


def valid_result(tool: Tool, result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call, checked against the tool's output schema."""
    assert not result.is_error, f"{tool.name}: {error_text(result)}"
    data = result.structured_content
    assert isinstance(data, dict), f"{tool.name} gave no structured content"
    if tool.output_schema is not None:
        jsonschema.Draft202012Validator(tool.output_schema).validate(data)
    return data


def answer(data: dict[str, Any]) -> dict[str, Any]:
    """A result without the count of Toggl requests the call made (a cached answer makes none)."""
    return {key: value for key, value in data.items() if key != "requests"}


async def call(session: Session, name: str, values: dict[str, Any]) -> CallToolResult:
    return await session.client.call_tool(name, strict_shaped(TOOLS[name], values))


def state_of(session: Session) -> dict[str, Any]:
    return session.sandbox.sandbox.store.snapshot()


def writes(session: Session) -> list[str]:
    """The mutating requests the sandbox answered so far."""
    return [
        f"{entry['method']} {entry['path']}"
        for entry in session.sandbox.sandbox.request_log()
        if entry["method"] not in ("GET", "HEAD")
    ]


# -- one strict-shaped call per tool -----------------------------------------------------------------


def test_every_listed_tool_has_a_strict_shaped_example_and_every_example_a_tool() -> None:
    assert set(EXAMPLES) == set(TOOLS), (
        f"without an example: {sorted(set(TOOLS) - set(EXAMPLES))}; "
        f"examples of no tool: {sorted(set(EXAMPLES) - set(TOOLS))}"
    )


@pytest.mark.parametrize("name", list(TOOLS))
async def test_a_strict_shaped_call_with_null_for_every_unused_argument_works(
    name: str, on_sandbox: Callable[[], Any]
) -> None:
    tool, example = TOOLS[name], EXAMPLES.get(name)
    assert example is not None, f"{name} has no strict-shaped example in EXAMPLES"
    values = dict(example.values)
    async with on_sandbox() as session:
        if name == "undo_change":
            made = valid_result(
                TOOLS["create_group"], await call(session, "create_group", {"name": "To undo"})
            )
            values["change_id"] = made["change_id"]
        before, sent_before = state_of(session), writes(session)
        result = await call(session, name, values)
        if example.expect == "preview":
            text = error_text(result)
            assert PREVIEW in text, text
            assert "confirm: true" in text
            assert state_of(session) == before and writes(session) == sent_before
        else:
            valid_result(tool, result)


# -- what null must not mean -------------------------------------------------------------------------


async def test_update_group_with_null_lists_renames_and_keeps_every_member_and_workspace(
    on_sandbox: Callable[[], Any],
) -> None:
    async with on_sandbox() as session:
        group = state_of(session)["groups"]
        engineers = next(g for g in group if g["id"] == ENGINEERS)
        data = valid_result(
            TOOLS["update_group"],
            await call(session, "update_group", {"group_id": ENGINEERS, "name": "Engineering"}),
        )
        after = next(g for g in state_of(session)["groups"] if g["id"] == ENGINEERS)
    assert data["group"]["name"] == "Engineering" and after["name"] == "Engineering"
    assert {k: v for k, v in after.items() if k not in ("name", "at")} == {
        k: v for k, v in engineers.items() if k not in ("name", "at")
    }


async def test_null_page_per_page_and_active_are_the_defaults_not_an_error(
    on_sandbox: Callable[[], Any],
) -> None:
    async with on_sandbox() as session:
        nulls = valid_result(TOOLS["list_projects"], await call(session, "list_projects", {}))
        omitted = await session.client.call_tool("list_projects", {})
        groups_nulls = valid_result(TOOLS["list_groups"], await call(session, "list_groups", {}))
        groups_omitted = await session.client.call_tool("list_groups", {})
        users_nulls = valid_result(
            TOOLS["list_organization_users"], await call(session, "list_organization_users", {})
        )
        users_omitted = await session.client.call_tool("list_organization_users", {})
    # The second call of each is answered from the cache: its request count differs.
    assert answer(nulls) == answer(valid_result(TOOLS["list_projects"], omitted))
    assert answer(groups_nulls) == answer(valid_result(TOOLS["list_groups"], groups_omitted))
    assert answer(users_nulls) == answer(valid_result(TOOLS["list_organization_users"], users_omitted))


# -- either this or that, the other null ------------------------------------------------------------


async def test_get_group_by_name_with_group_id_null_and_by_id_with_name_null_find_the_same_group(
    on_sandbox: Callable[[], Any],
) -> None:
    async with on_sandbox() as session:
        by_name = valid_result(
            TOOLS["get_group"],
            await session.client.call_tool(
                "get_group", {"group_id": None, "name": "Engineers", "organization_id": None}
            ),
        )
        by_id = valid_result(TOOLS["get_group"], await call(session, "get_group", {"group_id": ENGINEERS}))
    assert by_name["group_id"] == by_id["group_id"] == ENGINEERS
    assert answer(by_name) == answer(by_id)


async def test_get_project_access_by_name_with_ids_null_and_by_ids_with_name_null(
    on_sandbox: Callable[[], Any],
) -> None:
    async with on_sandbox() as session:
        by_name = valid_result(
            TOOLS["get_project_access"],
            await call(session, "get_project_access", {"project_name": "API Platform", "project_ids": None}),
        )
        by_ids = valid_result(
            TOOLS["get_project_access"],
            await call(session, "get_project_access", {"project_ids": [API], "workspace_id": ENGINEERING}),
        )

    def projects(data: dict[str, Any]) -> list[int]:
        return [p["project_id"] for p in data["projects"]]

    assert projects(by_name) == projects(by_ids) == [API]


async def test_remove_project_group_by_project_and_group_with_link_id_null_and_by_link_id_with_them_null(
    on_sandbox: Callable[[], Any],
) -> None:
    async with on_sandbox() as session:
        by_pair = valid_result(
            TOOLS["remove_project_group"],
            await call(
                session,
                "remove_project_group",
                {"workspace_id": ENGINEERING, "project_id": API, "group_id": ENGINEERS, "confirm": True},
            ),
        )
        by_link = valid_result(
            TOOLS["remove_project_group"],
            await call(
                session,
                "remove_project_group",
                {"workspace_id": DESIGN, "project_group_id": demo.LINK_DESIGNERS_HANDBOOK, "confirm": True},
            ),
        )
        links = {link["id"] for link in state_of(session)["project_groups"]}
    assert by_pair["project_group_id"] == LINK_ENGINEERS_API
    assert by_link["project_group_id"] == demo.LINK_DESIGNERS_HANDBOOK
    assert not {LINK_ENGINEERS_API, demo.LINK_DESIGNERS_HANDBOOK} & links


@pytest.mark.parametrize(
    "who",
    [{"user": "Chen Wei", "user_id": None}, {"user": None, "user_id": demo.USER_CHEN}],
    ids=["user", "user_id"],
)
async def test_remove_user_from_groups_by_name_or_by_id_with_the_other_null_takes_chen_out_of_designers(
    who: dict[str, Any], on_sandbox: Callable[[], Any]
) -> None:
    async with on_sandbox() as session:
        preview = error_text(await call(session, "remove_user_from_groups", {"organization_id": ACME, **who}))
        assert PREVIEW in preview and "Designers" in preview
        done = valid_result(
            TOOLS["remove_user_from_groups"],
            await call(session, "remove_user_from_groups", {"organization_id": ACME, "confirm": True, **who}),
        )
        designers = next(g for g in state_of(session)["groups"] if g["id"] == DESIGNERS)
    assert done["done"] == [DESIGNERS]
    assert demo.USER_CHEN not in designers["user_ids"]


@pytest.mark.parametrize(
    "which",
    [
        {"project_name": "Data Pipeline", "project_ids": None},
        {"project_name": None, "project_ids": [PIPELINE]},
    ],
    ids=["project_name", "project_ids"],
)
async def test_add_group_to_projects_by_name_or_by_ids_with_the_other_null(
    which: dict[str, Any], on_sandbox: Callable[[], Any]
) -> None:
    async with on_sandbox() as session:
        data = valid_result(
            TOOLS["add_group_to_projects"],
            await call(
                session,
                "add_group_to_projects",
                {"workspace_id": ENGINEERING, "group_id": DESIGNERS, "include_archived": None, **which},
            ),
        )
        linked = {(link["project_id"], link["group_id"]) for link in state_of(session)["project_groups"]}
    assert data["done"] == [PIPELINE]
    assert (PIPELINE, DESIGNERS) in linked


async def test_confirmed_deletes_and_patches_with_null_elsewhere_change_only_what_they_name(
    on_sandbox: Callable[[], Any],
) -> None:
    async with on_sandbox() as session:
        deleted = valid_result(
            TOOLS["delete_group"],
            await call(session, "delete_group", {"group_id": DESIGNERS, "confirm": True}),
        )
        patched = valid_result(
            TOOLS["patch_group"],
            await call(
                session,
                "patch_group",
                {"group_id": ENGINEERS, "remove_user_ids": [demo.USER_ELIAS], "confirm": True},
            ),
        )
        groups = {g["id"]: g for g in state_of(session)["groups"]}
    assert deleted["deleted"] is True and DESIGNERS not in groups
    assert patched["group_id"] == ENGINEERS
    assert demo.USER_ELIAS not in groups[ENGINEERS]["user_ids"] and groups[ENGINEERS]["user_ids"]
    assert groups[ENGINEERS]["workspace_ids"]


# -- a wrong type, or null where a value is needed, beside the nulls ---------------------------------


@pytest.mark.parametrize(
    ("name", "values", "said"),
    [
        ("list_projects", {"page": "two"}, "page: Input should be a valid integer"),
        ("delete_group", {"group_id": "Designers"}, "group_id: Input should be a valid integer"),
        ("get_group", {"group_id": "Engineers"}, "group_id: Input should be a valid integer"),
        (
            "remove_user_from_groups",
            {"user_id": "Chen", "confirm": True},
            "user_id: Input should be a valid integer",
        ),
        (
            "update_group",
            {"group_id": ENGINEERS, "user_ids": "all"},
            "user_ids: Input should be a valid list",
        ),
        # A required argument sent as null is refused, not taken as "not given".
        ("delete_group", {}, "group_id: Input should be a valid integer"),
        # Either/or with both null: which ones to give.
        ("get_group", {}, "Give group_id or name"),
        ("remove_project_group", {}, "give project_group_id, or both project_id and group_id"),
    ],
    ids=[
        "page",
        "group_id",
        "get_group_id",
        "user_id",
        "user_ids",
        "required_null",
        "neither_group",
        "neither_link",
    ],
)
async def test_a_wrong_type_or_a_missing_value_beside_nulls_is_refused_by_name_and_sends_nothing(
    name: str, values: dict[str, Any], said: str, on_sandbox: Callable[[], Any]
) -> None:
    async with on_sandbox() as session:
        text = error_text(await call(session, name, values))
        requests = session.sandbox.sandbox.request_log()
    assert said in text, text
    assert "nothing was sent to toggl" in text.casefold(), text
    assert requests == [], json.dumps(requests)[:500]
