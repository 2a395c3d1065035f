"""The examples/ folder works as documented: the narrated demo, the automation script, and the
host configs (Claude Desktop, VS Code, Cursor) that start the sandbox server."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ALL_TOOLS, JOURNAL_TOOLS

pytestmark = [pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "toggl-groups-mcp"
HOST_CONFIGS = {
    "claude-desktop/sandbox.json": "mcpServers",
    "vscode/mcp.sandbox.json": "servers",
    "cursor/mcp.sandbox.json": "mcpServers",
}


def quiet_env() -> dict[str, str]:
    """PATH only: nothing of the developer's TOGGL_* environment leaks into an example."""
    return {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}


def test_the_demo_narrates_a_whole_session(run_command: Any) -> None:
    completed = run_command([sys.executable, "examples/demo.py"], env=quiet_env(), cwd=REPO, timeout=120)
    assert completed.returncode == 0, completed.describe()
    out = completed.stdout
    for narration in (
        "Acme Studio",
        "at a glance",
        "Confirmation required",
        "deleted group",
        "recreated group",
    ):
        assert narration in out, completed.describe()
    assert "\033[" not in out  # no colours when stdout is not a terminal


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param({"args": ["--workspace-id", "8231045"], "env": {}}, id="as-documented"),
        pytest.param({"args": [], "env": {"TOGGL_WORKSPACE_ID": "8231045"}}, id="workspace-in-env"),
    ],
)
def test_the_automation_example_skips_a_project_the_group_already_has(
    run_command: Any, ids: dict[str, Any]
) -> None:
    completed = run_command(
        [
            sys.executable,
            "examples/grant_matching_projects.py",
            "--sandbox",
            "--group",
            "Designers",
            "--match",
            "Website",
            *ids["args"],
        ],
        env={**quiet_env(), **ids["env"]},
        cwd=REPO,
        timeout=120,
    )
    assert completed.returncode == 0, completed.describe()
    # Designers already reach Website Redesign (2040023) in the demo data.
    assert "Group Designers (3150012); projects: Website Redesign" in completed.stdout, completed.describe()
    assert "done: []  skipped (already had access): [2040023]" in completed.stdout, completed.describe()


@pytest.mark.anyio
@pytest.mark.parametrize("config", HOST_CONFIGS)
async def test_each_host_config_starts_the_sandbox_server(config: str) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.fail(f"the console script {CONSOLE_SCRIPT} is missing: is the package installed?")
    servers = json.loads((REPO / "examples" / config).read_text())[HOST_CONFIGS[config]]
    entry = next(server for name, server in servers.items() if "sandbox" in name)
    assert entry["command"] == "toggl-groups-mcp"
    assert "--sandbox" in entry["args"] and "env" not in entry  # the sandbox needs no token
    params = StdioServerParameters(
        command=str(CONSOLE_SCRIPT), args=entry["args"], env={"PATH": os.environ["PATH"]}
    )
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            tools = (await client.list_tools()).tools
            assert {t.name for t in tools} == ALL_TOOLS | JOURNAL_TOOLS  # --sandbox journals
            assert "THIS IS A SANDBOX" in (client.session.instructions or "")


# -- the team server: compose's command line, and each host config as a person fills it in ------------

TEAM = REPO / "examples" / "team"
TEAM_CONFIGS = {
    "vscode-mcp.json": ("servers", {"${input:team-token}": "TEAM", "${input:toggl-api-token}": "USER"}),
    "cursor-mcp.json": (
        "mcpServers",
        {"${env:TOGGL_MCP_TEAM_TOKEN}": "TEAM", "${env:TOGGL_API_TOKEN}": "USER"},
    ),
}


def compose_command() -> list[str]:
    """The server's command line in compose.yaml (a JSON-style list on one line)."""
    text = (TEAM / "compose.yaml").read_text()
    match = re.search(r"^\s+command: (\[.*\"--stateless\".*\])\s*$", text, re.M)
    assert match, "compose.yaml has no server command with --stateless"
    command: list[str] = json.loads(match.group(1))
    return command


def test_the_compose_file_runs_stateless_workers_that_share_limits_and_take_user_tokens() -> None:
    text = (TEAM / "compose.yaml").read_text()
    command = compose_command()
    assert int(command[command.index("--workers") + 1]) > 1
    for setting in ("TOGGL_MCP_REDIS_URL: redis://redis:6379/0", 'TOGGL_MCP_PER_USER_TOKENS: "1"'):
        assert setting in text
    assert "TOGGL_MCP_HTTP_TOKEN: ${TOGGL_MCP_HTTP_TOKEN:?" in text  # compose refuses without it


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    """The console script with these arguments, listening on `port`; its whole group is stopped."""
    from tests.test_http_transport import wait_until_listening

    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [str(CONSOLE_SCRIPT), *command], env=env, stderr=stderr, start_new_session=True
        )
        try:
            wait_until_listening(process, port)  # type: ignore[arg-type]
            yield
        except BaseException:
            stderr.seek(0)
            print(stderr.read().decode(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.anyio
async def test_the_team_host_configs_reach_a_server_run_as_compose_runs_it() -> None:
    """The compose command (two workers here, Redis, per-user tokens, a team bearer), reached the
    way each config says, under the host name it uses: every person sees their own Toggl."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from tests.e2e.test_team_server import ALEX_TOKEN, GUSTAVO_TOKEN
    from tests.redis_server import RedisServer, free_port
    from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread
    from toggl_groups_mcp.sandbox.demo import USER_GUSTAVO

    command = compose_command()
    port = free_port()
    command[command.index("--workers") + 1] = "2"
    command[command.index("--port") + 1] = str(port)
    # Per-user tokens must have a Toggl token's shape: a sandbox whose two users' tokens do.
    config = SandboxConfig(token=ALEX_TOKEN, other_tokens={GUSTAVO_TOKEN: USER_GUSTAVO})
    with RedisServer() as redis, SandboxThread(config) as sandbox:
        env = {
            **quiet_env(),
            "TOGGL_API_URL": sandbox.url,
            "TOGGL_MCP_REDIS_URL": redis.url,
            "TOGGL_MCP_HTTP_TOKEN": "team-bearer-0123456789",
            "TOGGL_MCP_PER_USER_TOKENS": "1",
            "TOGGL_MCP_ALLOWED_HOSTS": "team-host",
            "TOGGL_MCP_JOURNAL": "off",
        }
        with running(command, env, port):
            seen = {}
            for config, (key, fill) in TEAM_CONFIGS.items():
                entry = json.loads((TEAM / config).read_text())[key]["toggl-groups"]
                for user, toggl_token in (("alex", ALEX_TOKEN), ("gustavo", GUSTAVO_TOKEN)):
                    values = {"TEAM": "team-bearer-0123456789", "USER": toggl_token}
                    headers = {
                        name: functools.reduce(
                            lambda v, kv: v.replace(kv[0], values[kv[1]]), fill.items(), value
                        )
                        for name, value in entry["headers"].items()
                    }
                    url = httpx2.URL(entry["url"])
                    assert url.host == "team-host" and url.path == "/mcp"
                    headers["Host"] = f"team-host:{url.port}"
                    http = httpx2.AsyncClient(headers=headers, timeout=30)
                    local = str(url.copy_with(host="127.0.0.1", port=port))
                    with anyio.fail_after(60):
                        async with http, Client(streamable_http_client(local, http_client=http)) as client:
                            result = await client.call_tool("list_organizations", {})
                    assert not result.is_error, result.content
                    seen[config, user] = {
                        o["name"] for o in (result.structured_content or {})["organizations"]
                    }
            for config in TEAM_CONFIGS:
                assert seen[config, "alex"] == {"Acme Studio", "Globex Research", "Initech"}
                assert seen[config, "gustavo"] == {"Globex Research"}
