"""The Vercel AI SDK (npm `ai` and `@ai-sdk/mcp`, pinned in the Makefile, installed under .tools/)
as an app built on it uses this server: over stdio with the 2025-11-25 handshake, and over
streamable HTTP with the 2026-07-28 discovery. Every tool's schema goes through the SDK's
`asSchema` (what it hands the model provider) unchanged and with every optional argument nullable,
and calls shaped like a strict model's (every property present, null where unused) work.

The SDK's stdio transport gives `server/discover` one second and then sends `initialize` on the
same connection, which a server already serving 2026-07-28 refuses: a server slower than that to
start cannot be used over stdio with the default settings. The stdio case here uses
`protocolVersionDiscovery: false`; how fast the server starts is `make bench` (cold start), not a
test.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ALL_TOOLS
from tests.e2e.test_team_server import child_env, http_server
from tests.redis_server import free_port
from toggl_groups_mcp.sandbox import SandboxThread
from toggl_groups_mcp.sandbox.demo import GROUP_DESIGNERS, ORG_ACME, WS_ACME_ENGINEERING

pytestmark = [pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools"
PROBE = Path(__file__).with_name("vercel_ai_probe.mjs")

# Every property present, null where the call has nothing to say (OpenAI strict mode's shape).
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_group", {"group_id": None, "name": "Engineers", "organization_id": ORG_ACME}),
    (
        "list_projects",
        {"workspace_id": WS_ACME_ENGINEERING, "name": None, "active": None, "page": None, "per_page": None},
    ),
    ("delete_group", {"group_id": GROUP_DESIGNERS, "organization_id": ORG_ACME, "confirm": None}),
]


@pytest.fixture(scope="module")
def node_tools() -> Path:
    problem = None
    if not (TOOLS / "node_modules" / "@ai-sdk" / "mcp").exists():
        problem = "the Vercel AI SDK is not installed under .tools/; run `make tools`"
    elif shutil.which("node") is None:
        problem = "node is not on PATH; the Vercel AI SDK needs Node 20 or newer"
    if problem is not None:
        # In CI this skip fails the run (tests/ci_skips.py): `make test` installs the tools.
        pytest.skip(problem)
    return TOOLS


def probe(run_command: Any, tools: Path, spec: dict[str, Any]) -> dict[str, Any]:
    completed = run_command(["node", str(PROBE), str(tools), json.dumps(spec)], timeout=90)
    assert completed.returncode == 0, completed.describe()
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def check(result: dict[str, Any], sandbox: SandboxThread) -> None:
    assert set(result["schemas"]) == set(ALL_TOOLS)
    for name, schema in result["schemas"].items():
        # What the model provider gets is what the server advertised, nullable optionals included
        # (the SDK closes the object itself; the server refuses unknown arguments either way).
        assert schema.pop("additionalProperties", False) is False, name
        assert schema == result["advertised"][name], name
        required = set(schema.get("required", []))
        for prop, sub in schema.get("properties", {}).items():
            kinds = sub.get("type") if isinstance(sub.get("type"), list) else [sub.get("type")]
            nullable = "null" in kinds or {"type": "null"} in sub.get("anyOf", [])
            assert nullable is (prop not in required), f"{name}.{prop}"
    calls = {call["name"]: call for call in result["calls"]}
    assert not calls["get_group"]["isError"], calls["get_group"]
    assert "Engineers" in calls["get_group"]["text"]
    assert not calls["list_projects"]["isError"], calls["list_projects"]
    assert "API Platform" in calls["list_projects"]["text"]
    # confirm: null is the preview; the SDK's client cannot be asked, so nothing is deleted.
    assert "Designers" in calls["delete_group"]["text"]
    assert GROUP_DESIGNERS in sandbox.sandbox.store.state.groups


def test_over_stdio_with_the_2025_11_25_handshake(
    node_tools: Path, sandbox: SandboxThread, run_command: Any
) -> None:
    env = child_env(sandbox.url, TOGGL_API_TOKEN=sandbox.token, TOGGL_RATE_PER_SEC="0")
    spec = {
        "stdio": {
            "command": sys.executable,
            "args": ["-m", "toggl_groups_mcp"],
            "env": env,
            "cwd": str(REPO),
        },
        "discovery": False,
        "calls": CALLS,
    }
    result = probe(run_command, node_tools, spec)
    assert result["protocolVersion"] == "2025-11-25"
    check(result, sandbox)


def test_over_streamable_http_with_2026_07_28_discovery(
    node_tools: Path, sandbox: SandboxThread, run_command: Any
) -> None:
    port = free_port()
    env = child_env(sandbox.url, TOGGL_API_TOKEN=sandbox.token, TOGGL_RATE_PER_SEC="0")
    with http_server(env, port=port):
        spec = {
            "http": {"url": f"http://127.0.0.1:{port}/mcp", "headers": {}},
            "discovery": True,
            "calls": CALLS,
        }
        result = probe(run_command, node_tools, spec)
    assert result["protocolVersion"] == "2026-07-28"
    check(result, sandbox)
