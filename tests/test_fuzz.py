"""Every tool, arbitrary arguments, a Toggl that answers anything plausibly (or fails): the answer is
always a tool result with a message, and arguments that fail validation never reach Toggl."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, Tool

from tests.conftest import FakeTime, client_mode, make_settings, result_text
from toggl_groups_mcp.server import build_server
from toggl_groups_mcp.tools.toolsets import all_tools

EXAMPLES_PER_TOOL = 40
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
BARE_CRASH = re.compile(r"^Error executing tool [\w.-]+\s*$")

# -- Toggl, answering plausibly whatever it is asked -------------------------------------------------

ORG = 1
WS = 10


def _group(
    group_id: int, name: str = "Support", users: Any = (1, 2), workspaces: Any = (WS,)
) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "name": name,
        "at": "2026-03-01T10:00:00Z",
        "permissions": [],
        "users": [{"user_id": u, "name": f"User {u}", "inactive": False, "joined": True} for u in users],
        "workspaces": list(workspaces),
    }


def _ints(values: Any) -> list[int]:
    return [v for v in values if isinstance(v, int)] if isinstance(values, list) else []


def plausible(request: httpx.Request) -> httpx.Response:
    """What Toggl would answer to a well-formed request on any route the server may use."""
    method = request.method
    path = request.url.path.removeprefix("/api/v9").strip("/")
    parts = path.split("/")
    query = dict(request.url.params)
    try:
        body = json.loads(request.content) if request.content else None
    except ValueError:
        body = None
    fields = body if isinstance(body, dict) else {}

    if path == "me":
        return httpx.Response(200, json={"id": 1, "fullname": "Ada", "default_workspace_id": WS})
    if path == "me/organizations":
        return httpx.Response(200, json=[{"id": ORG, "name": "Acme", "admin": True, "owner": True}])
    if path == "me/workspaces":
        return httpx.Response(200, json=[{"id": WS, "name": "Main", "organization_id": ORG, "admin": True}])
    if path == "me/quota":
        return httpx.Response(
            200, json=[{"organization_id": ORG, "remaining": 20, "resets_in_secs": 99, "total": 30}]
        )
    if parts[0] == "organizations" and len(parts) >= 3 and parts[2] == "groups":
        if method == "GET":
            groups = [_group(1), _group(2, "Ops", users=[2]), _group(3, "Empty", users=[], workspaces=[])]
            if "name" in query:
                groups = [g for g in groups if query["name"].casefold() in g["name"].casefold()]
            return httpx.Response(200, json=groups)
        group_id = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 99
        if method in ("POST", "PUT"):
            name = fields["name"] if isinstance(fields.get("name"), str) else "Group"
            group = _group(group_id, name, _ints(fields.get("users")), _ints(fields.get("workspaces")))
            return httpx.Response(200, json=group)
        if method == "PATCH":
            ops = body if isinstance(body, list) else []
            return httpx.Response(200, json={"success": ops, "failure": []})
        if method == "DELETE":
            return httpx.Response(200, json="Group deleted")
    if parts[0] == "organizations" and len(parts) >= 3 and parts[2] == "users":
        return httpx.Response(
            200,
            json=[
                {"id": 100 + u, "user_id": u, "name": f"User {u}", "email": f"u{u}@x.test"} for u in (1, 2)
            ],
        )
    if parts[0] == "organizations" and len(parts) >= 5 and parts[4] == "groups":
        return httpx.Response(200, json=[_group(1)])
    if parts[0] == "workspaces" and len(parts) >= 3 and parts[2] == "project_groups":
        if method == "GET":
            pids = [int(p) for p in query.get("project_ids", "").split(",") if p.isdigit()]
            return httpx.Response(
                200, json=[{"id": 300 + i, "group_id": 1, "pid": p, "wid": WS} for i, p in enumerate(pids)]
            )
        return httpx.Response(200, json="ok")
    if parts[0] == "workspaces" and len(parts) >= 3 and parts[2] == "projects":
        return httpx.Response(200, json=[{"id": 8, "name": "Website", "workspace_id": WS, "active": True}])
    return httpx.Response(200, json=[] if method == "GET" else {})


class Toggl:
    """The catch-all route's behaviour for the current example: plausible, or a failure."""

    def __init__(self) -> None:
        self.weather: Any = 200
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.weather == 200:
            return plausible(request)
        if self.weather == "connect":
            raise httpx.ConnectError("refused", request=request)
        if self.weather == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        headers = {"Retry-After": "1"} if self.weather == 429 else {}
        if self.weather == "quota":
            headers = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "120"}
        code = 402 if self.weather == "quota" else int(self.weather)
        return httpx.Response(code, json=f"refused with {code}", headers=headers)


# Two examples in three meet a plausible Toggl; the third a failure of some kind.
WEATHER = st.one_of(
    st.just(200),
    st.just(200),
    st.sampled_from([400, 402, 403, 404, 410, 429, 500, 503, "quota", "connect", "timeout"]),
)

# -- arguments, valid-ish and not --------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**53, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.text(min_size=190, max_size=400)
)
JUNK = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
IDS = (
    st.integers(min_value=1, max_value=4)
    | st.integers(min_value=1, max_value=10**6)
    | st.integers(2**40, 2**63)
)


def valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value that fits `schema`, derived from its JSON schema (ids are mostly small, so that
    they name the groups and workspaces the plausible Toggl knows)."""
    if "anyOf" in schema:
        return st.one_of([valid(s) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        low = schema.get("minimum", 1)
        high = schema.get("maximum")
        if high is not None:
            return st.integers(min_value=low, max_value=high)
        return st.integers(min_value=max(low, 1), max_value=4) | st.integers(min_value=low)
    if kind == "number":
        return st.floats(min_value=schema.get("minimum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 50)
        text = st.text(min_size=low, max_size=min(high, 40))
        return (text.filter(str.strip) if low else text) | st.sampled_from(["Support", "x" * min(high, 200)])
    if kind == "array":
        return st.lists(
            valid(schema.get("items", {})),
            min_size=max(1, schema.get("minItems", 0)),  # edge() covers []
            max_size=min(schema.get("maxItems", 6), 6),
        )
    if kind == "null":
        return st.none()
    return JUNK


def edge(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value at or just past the edges of `schema`."""
    if "anyOf" in schema:
        return st.one_of([edge(s) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "integer":
        low, high = schema.get("minimum", 1), schema.get("maximum")
        near = [low - 1, low, 0, -1, 2**63, -(2**63)] + ([high, high + 1] if high is not None else [])
        return st.sampled_from(near)
    if kind == "string":
        high = schema.get("maxLength", 50)
        return st.sampled_from(["", " ", "\u0000", "x" * high, "x" * (high + 1), "é" * 300])
    if kind == "array":
        return (
            st.just([])
            | st.lists(valid(schema.get("items", {})), min_size=101, max_size=120)
            | st.lists(JUNK)
        )
    return JUNK


def arguments(tool: Tool) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for `tool`: half of them valid, the rest near the edges, junk, with a required
    key missing, or with an unknown key."""
    properties: dict[str, Any] = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))

    def shaped(value: Any) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {k: value(s) for k, s in properties.items() if k in required},
            optional={k: value(s) for k, s in properties.items() if k not in required},
        )

    good = shaped(valid)
    risky = shaped(lambda s: valid(s) | edge(s) | JUNK)
    unknown = st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda k: k not in properties), JUNK, min_size=1, max_size=2
    )
    with_unknown = st.builds(lambda a, b: {**a, **b}, good, unknown)
    missing = good.flatmap(
        lambda d: st.sampled_from([{k: v for k, v in d.items() if k != r} for r in sorted(required)] or [d])
    )
    return st.one_of(good, good, good, risky, missing, with_unknown)


# -- the fuzz ----------------------------------------------------------------------------------------


@contextmanager
def mcp_client(portal: BlockingPortal, mode: str) -> Iterator[Client]:
    # With a change journal: its tools are fuzzed too (and undo_change meets journaled changes).
    with tempfile.TemporaryDirectory(prefix="toggl-fuzz-") as folder:
        server = build_server(make_settings(journal_path=Path(folder) / "journal.jsonl"))
        with portal.wrap_async_context_manager(Client(server, mode=client_mode(mode))) as client:
            yield client


def check(tool: Tool, result: Any, sent: list[httpx.Request]) -> None:
    assert isinstance(result, CallToolResult), f"{tool.name} answered {type(result).__name__}"
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        assert text.strip(), f"{tool.name}: an error result without text"
        assert not BARE_CRASH.match(text.strip()), f"{tool.name} crashed: {text!r}"
    if result.is_error and "validation error" in text:
        assert not sent, f"{tool.name}: arguments that failed validation reached Toggl: {sent}"
    if result.is_error and "nothing was sent to toggl" in text.lower():
        assert not sent, f"{tool.name} said nothing was sent, but sent {[r.url.path for r in sent]}"
    if result.is_error and "no change was sent to toggl" in text.lower():
        changes = [f"{r.method} {r.url.path}" for r in sent if r.method in MUTATING]
        assert not changes, f"{tool.name} said no change was sent, but sent {changes}"
    # Every result, success or not, is serialisable as it would go over the wire.
    json.loads(result.model_dump_json())
    assert result_text(result)


@pytest.mark.parametrize("mode", ["legacy", "modern"])
def test_every_tool_answers_arbitrary_arguments_with_a_tool_result(
    mode: str, toggl: respx.MockRouter, fake_time: FakeTime
) -> None:
    behaviour = Toggl()
    toggl.route().mock(side_effect=behaviour)
    with start_blocking_portal("asyncio") as portal, mcp_client(portal, mode) as client:
        tools = portal.call(client.list_tools).tools
        # The tools list is read at run time, so tools added later are fuzzed too.
        assert {t.name for t in tools} == {spec.name for spec in all_tools()}
        outcomes: list[tuple[str, bool, bool]] = []
        for tool in tools:
            fuzz(portal, client, behaviour, tool, outcomes)
    # The fuzz reaches the handlers and Toggl, not only the argument validator.
    assert any(not failed for _, failed, _ in outcomes), "no call succeeded"
    assert len({name for name, _, reached in outcomes if reached}) >= len(tools) // 2, (
        "Toggl was rarely reached"
    )


def fuzz(
    portal: BlockingPortal,
    client: Client,
    behaviour: Toggl,
    tool: Tool,
    outcomes: list[tuple[str, bool, bool]],
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_TOOL,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(args=arguments(tool), weather=WEATHER)
    def call(args: dict[str, Any], weather: Any) -> None:
        note(f"tool={tool.name} weather={weather} args={args!r}")
        behaviour.weather = weather
        behaviour.sent = []
        result = portal.call(client.call_tool, tool.name, args)
        check(tool, result, behaviour.sent)
        outcomes.append((tool.name, bool(result.is_error), bool(behaviour.sent)))

    call()
