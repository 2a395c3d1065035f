"""The examples/ folder works as documented: the narrated demo, the automation script, the host
configs (Claude Desktop, Claude Code, VS Code, Cursor, Windsurf, Gemini CLI, Codex) and the OpenAI
Agents SDK example, each started the way its host starts it, and the team server."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from pydantic import SecretStr

from tests.conftest import ALL_TOOLS, JOURNAL_TOOLS
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.sandbox import SandboxThread

pytestmark = [pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "toggl-groups-mcp"


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


# -- every host config: it names what the CLI and config.py take, and it starts the server ------------

EXAMPLES = REPO / "examples"
# The forms a config may give the token in: the host's own way to read it from the environment or
# ask for it (replaced here by the sandbox's token), or a placeholder to paste over.
TOKEN_FORMS = {
    "${env:TOGGL_API_TOKEN}": "Cursor, Windsurf and VS Code read the environment",
    "${input:toggl-api-token}": "VS Code asks, as a password input",
    "$TOGGL_API_TOKEN": "Gemini CLI reads the environment",
    "${TOGGL_API_TOKEN}": "Claude Code expands it in .mcp.json",
    "forwarded": "Codex forwards it from its environment (env_vars)",
    "paste-your-toggl-api-token-here": "a placeholder",
    "your-toggl-api-token": "a placeholder",
}
# What `uvx` may be given before the console script's name: nothing (PyPI), or where from.
UVX_SOURCES = {
    None,
    "git+https://github.com/toggl-groups-mcp/toggl-groups-mcp",
}


@dataclass(frozen=True)
class HostEntry:
    """One server entry of a host config: how the host would start it."""

    where: str
    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, where: str, server: dict[str, Any], env: dict[str, str]) -> HostEntry:
        """From a config's server table; its keys besides how to start it are the host's settings."""
        settings = {
            k: v for k, v in server.items() if k not in ("command", "args", "env", "env_vars", "type")
        }
        args = tuple(server.get("args", []))
        return cls(where, server["command"], args, tuple(env.items()), tuple(settings.items()))

    @property
    def sandbox(self) -> bool:
        return "--sandbox" in self.server_args()

    def server_args(self) -> list[str]:
        """The console script's arguments: as given, or what follows `uvx [--from SOURCE]
        toggl-groups-mcp` (uvx installs the package and runs that same script with them)."""
        args = list(self.args)
        if self.command == "toggl-groups-mcp":
            return args
        assert self.command == "uvx", f"{self.where}: starts {self.command!r}"
        source = None
        if args[:1] == ["--from"]:
            source, args = args[1], args[2:]
        assert source in UVX_SOURCES, f"{self.where}: uvx --from {source}"
        assert args[:1] == ["toggl-groups-mcp"], f"{self.where}: uvx runs {args[:1]}"
        return args[1:]


def json_entries(config: str, key: str) -> list[HostEntry]:
    data = json.loads((EXAMPLES / config).read_text())
    inputs = {item["id"]: item for item in data.get("inputs", [])}
    entries = []
    for name, server in data[key].items():
        for value in server.get("env", {}).values():
            for input_id in re.findall(r"\$\{input:([^}]+)\}", value):
                assert inputs[input_id].get("password") is True, f"{config}: {input_id} is not a password"
        if key == "servers":
            assert server["type"] == "stdio"
        entries.append(HostEntry.of(f"{config}:{name}", server, server.get("env", {})))
    return entries


def codex_entries(config: str) -> list[HostEntry]:
    data = tomllib.loads((EXAMPLES / config).read_text())["mcp_servers"]
    entries = []
    for name, server in data.items():
        env = dict(server.get("env", {}))
        env.update({variable: "forwarded" for variable in server.get("env_vars", [])})
        entries.append(HostEntry.of(f"{config}:{name}", server, env))
    return entries


def claude_code_entries(readme: str) -> list[HostEntry]:
    """Each `claude mcp add [options] NAME -- COMMAND ARGS...` line in the page's shell blocks."""
    text = (EXAMPLES / readme).read_text()
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("claude mcp add "):
            continue
        words = shlex.split(line)
        split = words.index("--")
        options, (command, *args) = words[3:split], words[split + 1 :]
        env: dict[str, str] = {}
        names = []
        while options:
            option = options.pop(0)
            if option in ("--env", "-e"):
                variable, _, value = options.pop(0).partition("=")
                env[variable] = value
            elif option in ("--scope", "-s"):
                assert options.pop(0) in ("local", "user", "project"), line
            elif option in ("--transport", "-t"):
                assert options.pop(0) == "stdio", line
            else:
                assert not option.startswith("-"), f"unknown option in: {line}"
                names.append(option)
        assert len(names) == 1, line
        entries.append(HostEntry(f"{readme}:{number}", command, tuple(args), tuple(env.items())))
    assert entries, f"no `claude mcp add` line in {readme}"
    return entries


def host_entries() -> list[HostEntry]:
    entries = [
        *claude_code_entries("claude-code/README.md"),
        *codex_entries("codex/config.toml"),
        *json_entries("gemini-cli/settings.json", "mcpServers"),
        *json_entries("windsurf/mcp_config.json", "mcpServers"),
    ]
    for host, key in (("claude-desktop", "mcpServers"), ("cursor", "mcpServers"), ("vscode", "servers")):
        for path in sorted((EXAMPLES / host).glob("*.json")):
            entries += json_entries(f"{host}/{path.name}", key)
    return entries


HOST_ENTRIES = host_entries()
HOST_FOLDERS = ("claude-desktop", "claude-code", "vscode", "cursor", "windsurf", "gemini-cli", "codex")


def test_every_host_config_file_is_read_here() -> None:
    """A config added under a host's folder is tested too (each file gives at least one entry)."""
    files = {
        path.relative_to(EXAMPLES).as_posix() for host in HOST_FOLDERS for path in (EXAMPLES / host).iterdir()
    }
    read = {entry.where.split(":")[0] for entry in HOST_ENTRIES}
    assert files == read
    assert {entry.command for entry in HOST_ENTRIES} == {"toggl-groups-mcp", "uvx"}


def test_each_host_with_a_timeout_waits_longer_than_a_bulk_call() -> None:
    """A paced bulk call stops after TOGGL_MCP_BULK_SECONDS (40 s by default): Gemini CLI's
    `timeout` (milliseconds) and Codex's `tool_timeout_sec` must leave it room; Codex's start-up
    wait must let uvx install the server on first start."""
    from toggl_groups_mcp.config import Settings

    bulk = Settings(api_token=SecretStr("t")).bulk_seconds
    seen = set()
    for entry in HOST_ENTRIES:
        settings = dict(entry.settings)
        if "timeout" in settings:
            assert settings["timeout"] / 1000 > bulk + 10, entry.where
            seen.add("gemini")
        if "tool_timeout_sec" in settings:
            assert settings["tool_timeout_sec"] > bulk + 10, entry.where
            seen.add("codex")
        if entry.command == "uvx" and entry.where.startswith("codex/"):
            assert settings.get("startup_timeout_sec", 10) >= 30, entry.where
    assert seen == {"gemini", "codex"}


@pytest.mark.parametrize("entry", HOST_ENTRIES, ids=lambda entry: entry.where)
def test_each_host_entry_names_what_the_server_takes(entry: HostEntry) -> None:
    from toggl_groups_mcp.__main__ import parse_args

    parse_args(entry.server_args())  # argparse exits on anything it does not know
    config_source = (REPO / "toggl_groups_mcp" / "config.py").read_text()
    env = dict(entry.env)
    for variable in env:
        assert f'"{variable}"' in config_source, f"{entry.where}: config.py never reads {variable}"
    if entry.sandbox:
        assert "TOGGL_API_TOKEN" not in env, entry.where  # the sandbox needs no token
    else:
        assert env.get("TOGGL_API_TOKEN") in TOKEN_FORMS, (
            f"{entry.where}: the token as {env.get('TOGGL_API_TOKEN')!r}"
        )


def distinct_starts() -> list[Any]:
    """One start per distinct command line and set of variables (after uvx's rewrite): entries
    that start the server alike are started once, and the id names every entry it stands for."""
    groups: dict[tuple[Any, ...], list[HostEntry]] = {}
    for entry in HOST_ENTRIES:
        groups.setdefault((tuple(entry.server_args()), tuple(sorted(dict(entry.env)))), []).append(entry)
    return [pytest.param(group[0], id=" ".join(e.where for e in group)) for group in groups.values()]


@pytest.mark.anyio
@pytest.mark.parametrize("entry", distinct_starts())
async def test_each_host_entry_starts_the_server(entry: HostEntry, sandbox: SandboxThread) -> None:
    """Started as the host would (uvx's form as the same console script, with the same arguments):
    a sandbox entry runs the embedded sandbox; a token entry, given the sandbox's token where the
    user's would go and the sandbox's address as the user's environment, reaches Toggl with it."""
    if not CONSOLE_SCRIPT.exists():
        pytest.fail(f"the console script {CONSOLE_SCRIPT} is missing: is the package installed?")
    env = {"PATH": os.environ["PATH"], "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}
    if not entry.sandbox:
        env.update(dict(entry.env), TOGGL_API_TOKEN=sandbox.token, TOGGL_API_URL=sandbox.url)
    params = StdioServerParameters(command=str(CONSOLE_SCRIPT), args=entry.server_args(), env=env)
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("list_organizations", {})
            instructions = client.session.instructions or ""
    assert {t.name for t in tools} == ALL_TOOLS | JOURNAL_TOOLS  # with a journal, as every config runs
    assert ("THIS IS A SANDBOX" in instructions) is entry.sandbox
    assert not result.is_error, result.content
    assert "Acme Studio" in {org["name"] for org in (result.structured_content or {})["organizations"]}


@pytest.mark.parametrize("form", [["--sandbox"], []], ids=["sandbox", "token-from-the-environment"])
def test_the_openai_agents_example_connects_lists_and_calls_a_tool(
    run_command: Any, sandbox: SandboxThread, form: list[str]
) -> None:
    """examples/openai-agents/agent.py --check: the real Agents SDK's MCPServerStdio, no model."""
    path = os.pathsep.join([str(CONSOLE_SCRIPT.parent), os.environ["PATH"]])
    env = {**quiet_env(), "PATH": path, "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}
    if not form:
        env.update(TOGGL_API_TOKEN=sandbox.token, TOGGL_API_URL=sandbox.url)
    command = [sys.executable, "examples/openai-agents/agent.py", "--check", *form]
    completed = run_command(command, env=env, cwd=REPO, timeout=120)
    assert completed.returncode == 0, completed.describe()
    checked = json.loads(completed.stdout)
    assert set(checked["tools"]) == ALL_TOOLS | JOURNAL_TOOLS
    assert not checked["is_error"] and "Acme Studio" in checked["organizations"]


def test_the_openai_agents_example_waits_longer_than_a_bulk_call() -> None:
    """The SDK's default wait (5 s) would cut off a paced bulk call; the example's covers it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("agents_example", EXAMPLES / "openai-agents" / "agent.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    toggl = example.server(sandbox=True)
    assert toggl.client_session_timeout_seconds > Settings(api_token=SecretStr("t")).bulk_seconds


# -- the team server: compose's command line, and each host config as a person fills it in ------------

TEAM = REPO / "examples" / "team"
TEAM_CONFIGS = {
    "vscode-mcp.json": ("servers", {"${input:team-token}": "TEAM", "${input:toggl-api-token}": "USER"}),
    "cursor-mcp.json": (
        "mcpServers",
        {"${env:TOGGL_MCP_TEAM_TOKEN}": "TEAM", "${env:TOGGL_API_TOKEN}": "USER"},
    ),
}


def compose_command(name: str = "compose.yaml") -> list[str]:
    """The server's command line in a compose file (a JSON-style list on one line)."""
    text = (TEAM / name).read_text()
    match = re.search(r"^\s+command: (\[.*\"--stateless\".*\])\s*$", text, re.M)
    assert match, f"{name} has no server command with --stateless"
    command: list[str] = json.loads(match.group(1))
    return command


TEAM_COMPOSE_FILES = ("compose.yaml", "compose.oauth.yaml")


def compose_file(name: str) -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load((TEAM / name).read_text())
    return loaded


def compose_interpolated(environment: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """The server's environment as compose fills it in from `given` (its .env): `${X:?why}` refuses
    to start without X, `${X:-default}` falls back; a literal stays as written."""

    def fill(match: re.Match[str]) -> str:
        variable, form, word = match.group(1), match.group(2), match.group(3)
        value = given.get(variable, "")
        if form == ":?" and not value:
            raise AssertionError(f"compose refuses to start: {variable} is not set ({word})")
        return value or (word if form == ":-" else "")

    return {
        name: re.sub(r"\$\{([A-Z_]+)(?:(:\?|:-)([^}]*))?\}", fill, str(value))
        for name, value in environment.items()
    }


def variables_the_server_reads() -> set[str]:
    return {
        name
        for source in (REPO / "toggl_groups_mcp").rglob("*.py")
        for name in re.findall(r'"(TOGGL_[A-Z_]+)"', source.read_text())
    }


@pytest.mark.parametrize("name", TEAM_COMPOSE_FILES)
def test_each_team_compose_file_sets_settings_the_server_reads_and_runs_a_command_it_parses(
    name: str,
) -> None:
    from toggl_groups_mcp.__main__ import parse_args

    service = compose_file(name)["services"]["toggl-groups-mcp"]
    unknown = set(service["environment"]) - variables_the_server_reads()
    assert not unknown, f"{name} sets variables the server never reads: {unknown}"
    assert service["command"] == compose_command(name)
    args = parse_args(service["command"])
    assert (args.transport, args.stateless, args.host) == ("http", True, "0.0.0.0")
    assert args.workers > 1 and service["environment"]["TOGGL_MCP_REDIS_URL"] == "redis://redis:6379/0"
    assert (TEAM / service["build"]["context"]).resolve() == REPO
    assert (REPO / service["build"]["dockerfile"]).resolve() == REPO / "Dockerfile"
    assert "ports" not in compose_file(name)["services"]["redis"]  # Redis never leaves the network


def test_the_oauth_compose_file_requires_the_public_url_and_the_secret_and_sets_no_team_token() -> None:
    environment = compose_file("compose.oauth.yaml")["services"]["toggl-groups-mcp"]["environment"]
    assert environment["TOGGL_MCP_OAUTH"] == "1"
    for required in ("TOGGL_MCP_PUBLIC_URL", "TOGGL_MCP_OAUTH_SECRET"):
        assert environment[required].startswith("${" + required + ":?"), required
        with pytest.raises(AssertionError, match="compose refuses"):
            compose_interpolated(
                environment,
                {"TOGGL_MCP_PUBLIC_URL": "https://h", "TOGGL_MCP_OAUTH_SECRET": "s"} | {required: ""},
            )
    assert not {"TOGGL_MCP_HTTP_TOKEN", "TOGGL_MCP_PER_USER_TOKENS"} & set(environment)
    # Filled in as the README's .env says, the settings are ones the server starts with.
    filled = compose_interpolated(
        environment,
        {"TOGGL_MCP_PUBLIC_URL": "https://team-host.example.com", "TOGGL_MCP_OAUTH_SECRET": "0f" * 32},
    )
    settings = Settings.from_env(filled)
    assert settings.oauth and settings.public_url == "https://team-host.example.com"
    assert settings.oauth_redirect_hosts == ()
    # The image it builds has what OAuth needs (cryptography, through the `oauth` extra).
    install = re.search(r"pip install \"\$\{wheel\}\[([a-z,]+)\]\"", (REPO / "Dockerfile").read_text())
    assert install and "oauth" in install.group(1).split(",")


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
            wait_until_listening(process, port)
            yield
        except BaseException:
            stderr.seek(0)
            print(stderr.read().decode(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            # A server that stopped by itself (a setting it refused) has no group left to signal.
            with contextlib.suppress(ProcessLookupError):
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
    sandbox_config = SandboxConfig(token=ALEX_TOKEN, other_tokens={GUSTAVO_TOKEN: USER_GUSTAVO})
    with RedisServer() as redis, SandboxThread(sandbox_config) as sandbox:
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


# -- the OAuth team server: a remote connector, as compose.oauth.yaml runs it ---------------------------

CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback"


async def connector_login(public: str, toggl_token: str) -> tuple[set[str], str]:
    """A hosted connector that knows only `<public>/mcp`, as claude.ai registers (its callback), with
    the person's browser step scripted: the organizations it sees, and its access token."""
    import httpx2
    from mcp.client.auth import OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import (
        AuthorizationCodeResult,
        OAuthClientMetadata,
    )

    from tests.test_oauth import Memory

    back: dict[str, str] = {}

    async def browser(authorization_url: str) -> None:
        async with httpx2.AsyncClient(follow_redirects=True, timeout=30) as person:
            page = await person.get(authorization_url)
            assert page.status_code == 200 and "Your Toggl API token" in page.text, page.text
            fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
            sent = await person.post(
                f"{public}/login",
                data={**fields, "toggl_token": toggl_token, "action": "allow"},
                follow_redirects=False,
            )
        assert sent.status_code == 303, sent.text
        location = httpx2.URL(sent.headers["location"])
        assert str(location.copy_with(query=None)) == CLAUDE_CALLBACK
        back.update({k: location.params[k] for k in ("code", "state", "iss")})

    async def callback() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=back["code"], state=back["state"], iss=back["iss"])

    storage = Memory()
    auth = OAuthClientProvider(
        f"{public}/mcp",
        OAuthClientMetadata.model_validate(
            {
                "client_name": "Connector",
                "redirect_uris": [CLAUDE_CALLBACK],
                "token_endpoint_auth_method": "none",
            }
        ),
        storage,
        redirect_handler=browser,
        callback_handler=callback,
    )
    http = httpx2.AsyncClient(auth=auth, timeout=30)
    with anyio.fail_after(90):
        async with http, Client(streamable_http_client(f"{public}/mcp", http_client=http)) as client:
            result = await client.call_tool("list_organizations", {})
    assert not result.is_error, result.content
    assert storage.tokens is not None
    return {
        o["name"] for o in (result.structured_content or {})["organizations"]
    }, storage.tokens.access_token


async def mcp_status(public: str, access_token: str | None) -> Any:
    """The answer to an initialize request with this access token (or none)."""
    import httpx2

    headers = {"Accept": "application/json, text/event-stream"}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(f"{public}/mcp", json=initialize, headers=headers)


@pytest.mark.anyio
async def test_a_remote_connector_reaches_the_oauth_compose_setup_and_its_admin_revokes_a_person() -> None:
    """compose.oauth.yaml's command and environment (two workers here, Redis, the README's .env with
    claude.ai as the only redirect host), on loopback: a client that knows only the URL discovers
    the server, each person logs in with their Toggl token and sees their own Toggl, and the
    documented `oauth list` / `oauth revoke --user EMAIL` end one person's access only."""
    import httpx2

    from tests.e2e.test_team_server import ALEX_TOKEN, GUSTAVO_TOKEN
    from tests.redis_server import RedisServer, free_port
    from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread
    from toggl_groups_mcp.sandbox.demo import USER_GUSTAVO

    command = compose_command("compose.oauth.yaml")
    port = free_port()
    command[command.index("--workers") + 1] = "2"
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    public = f"http://127.0.0.1:{port}"
    environment = compose_file("compose.oauth.yaml")["services"]["toggl-groups-mcp"]["environment"]
    sandbox_config = SandboxConfig(token=ALEX_TOKEN, other_tokens={GUSTAVO_TOKEN: USER_GUSTAVO})
    with RedisServer() as redis, SandboxThread(sandbox_config) as sandbox:
        env = {
            **quiet_env(),
            **compose_interpolated(
                environment,
                {
                    "TOGGL_MCP_PUBLIC_URL": public,
                    "TOGGL_MCP_OAUTH_SECRET": "5e" * 32,
                    "TOGGL_MCP_OAUTH_REDIRECT_HOSTS": "claude.ai",
                },
            ),
            "TOGGL_API_URL": sandbox.url,
            "TOGGL_MCP_REDIS_URL": redis.url,
            "TOGGL_MCP_JOURNAL": "off",
        }
        with running(command, env, port):
            refused = await mcp_status(public, None)
            assert refused.status_code == 401
            metadata_url = f"{public}/.well-known/oauth-protected-resource/mcp"
            assert f'resource_metadata="{metadata_url}"' in refused.headers["www-authenticate"]
            async with httpx2.AsyncClient(timeout=30) as http:
                metadata = (await http.get(metadata_url)).json()
            assert metadata["resource"] == f"{public}/mcp" and metadata["authorization_servers"] == [public]

            alex, alex_access = await connector_login(public, ALEX_TOKEN)
            gustavo, gustavo_access = await connector_login(public, GUSTAVO_TOKEN)
            assert alex == {"Acme Studio", "Globex Research", "Initech"}
            assert gustavo == {"Globex Research"}

            def admin(*args: str) -> subprocess.CompletedProcess[str]:
                done = subprocess.run(
                    [str(CONSOLE_SCRIPT), "oauth", *args], env=env, capture_output=True, text=True, timeout=60
                )
                assert done.returncode == 0, done.stderr
                return done

            listed = admin("list").stdout.splitlines()
            assert len(listed) == 2 and all("via Connector" in line for line in listed), listed
            (alex_line,) = [line for line in listed if "Alex Morgan" in line]
            email = re.search(r"<([^>]+)>", alex_line)
            assert email, alex_line
            assert "revoked: Alex Morgan" in admin("revoke", "--user", email.group(1)).stdout
            assert (await mcp_status(public, alex_access)).status_code == 401
            assert (await mcp_status(public, gustavo_access)).status_code == 200
            assert [line for line in admin("list").stdout.splitlines()] == [
                line for line in listed if "Alex Morgan" not in line
            ]
