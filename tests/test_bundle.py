"""The MCP Bundle (bundle/, `make bundle`): its manifest is what the official mcpb CLI accepts and
what the server is, and the packed bundle runs the way a desktop host runs it.

The mcpb CLI (npm @anthropic-ai/mcpb, pinned in the Makefile's NPM_TOOLS) is installed by `make`
into .tools/. What the CLI does not check is checked here: that every `${user_config.X}` in
`mcp_config` names a declared field and every field is used, that the host's substitution leaves no
placeholder behind, that the entry point is in the packed bundle, and that the tools listed are the
server's. The host's substitution is the package's own `getMcpConfigForManifest` (what a host built
on @anthropic-ai/mcpb calls), run in node on the unpacked bundle.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ALL_TOOLS, JOURNAL_TOOLS, make_settings
from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.server import build_server
from toggl_groups_mcp.tools.toolsets import select_tools

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundle"
MANIFEST = json.loads((BUNDLE / "manifest.json").read_text())
MCPB = REPO / ".tools" / "node_modules" / ".bin" / "mcpb"
MCPB_PACKAGE = REPO / ".tools" / "node_modules" / "@anthropic-ai" / "mcpb" / "dist" / "index.js"
PLACEHOLDER = re.compile(r"\$\{user_config\.([^}]*)\}")
# The one variable the bundle's entry point reads itself (server/main.py): the sandbox checkbox.
ENTRY_POINT_VARIABLES = {"TOGGL_MCP_SANDBOX"}


def mcpb_cli() -> Path:
    """The pinned CLI, or a skip that says how to install it (a failure in CI: tests/ci_skips.py)."""
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH; the mcpb CLI needs Node 18 or newer")
    if not MCPB.exists():
        pytest.skip(f"the mcpb CLI is not installed at {MCPB}; run `make tools`")
    return MCPB


def validate(manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(mcpb_cli()), "validate", str(manifest)], capture_output=True, text=True, timeout=60
    )


def placeholders(value: Any) -> set[str]:
    return set(PLACEHOLDER.findall(json.dumps(value)))


# -- the manifest ------------------------------------------------------------------------------


def test_the_mcpb_cli_accepts_the_manifest_and_its_icon() -> None:
    completed = validate(BUNDLE / "manifest.json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Manifest schema validation passes!" in completed.stdout
    assert "ERROR" not in completed.stdout


def test_the_mcpb_cli_refuses_a_broken_manifest(tmp_path: Path) -> None:
    """The validation above can fail: the same manifest without its author, or with a missing icon."""
    broken = {key: value for key, value in MANIFEST.items() if key != "author"}
    (tmp_path / "manifest.json").write_text(json.dumps(broken))
    shutil.copy2(BUNDLE / "icon.png", tmp_path / "icon.png")
    assert validate(tmp_path / "manifest.json").returncode != 0
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp_path / "icon.png").unlink()
    completed = validate(tmp_path / "manifest.json")
    assert completed.returncode != 0 and "Icon file not found" in completed.stdout


def test_the_manifest_version_is_the_projects() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert MANIFEST["version"] == project["version"]
    assert MANIFEST["license"] == project["license"]
    assert MANIFEST["homepage"] == project["urls"]["Homepage"]
    python = project["requires-python"]
    assert MANIFEST["compatibility"]["runtimes"]["python"] == python


def test_every_user_config_placeholder_names_a_field_and_every_field_is_used() -> None:
    fields = set(MANIFEST["user_config"])
    used = placeholders(MANIFEST["server"]["mcp_config"])
    assert used - fields == set(), "placeholders without a user_config field"
    assert fields - used == set(), "user_config fields that mcp_config never passes"


def test_every_optional_field_has_a_default_so_no_placeholder_reaches_the_server() -> None:
    """A host leaves `${user_config.X}` as it is when X has no value and no default (the package's
    getMcpConfigForManifest does): the server would read the placeholder as the setting."""
    for name, option in MANIFEST["user_config"].items():
        assert option.get("required") is False, name
        assert "default" in option, name


def test_the_token_is_sensitive_and_nothing_else_is() -> None:
    env = MANIFEST["server"]["mcp_config"]["env"]
    token_fields = placeholders(env["TOGGL_API_TOKEN"])
    assert token_fields == {"toggl_api_token"}
    for name, option in MANIFEST["user_config"].items():
        assert option.get("sensitive", False) is (name in token_fields), name
    # The token goes only through the environment, never on a command line others can read.
    assert not placeholders(MANIFEST["server"]["mcp_config"]["args"])


def test_the_environment_names_only_what_the_server_reads() -> None:
    config_source = (REPO / "toggl_groups_mcp" / "config.py").read_text()
    for variable in MANIFEST["server"]["mcp_config"]["env"]:
        if variable in ENTRY_POINT_VARIABLES:
            assert f'"{variable}"' in (BUNDLE / "server" / "main.py").read_text()
        else:
            assert f'"{variable}"' in config_source, f"config.py never reads {variable}"


def test_the_defaults_are_settings_the_server_accepts() -> None:
    """Every field at its default, as the host substitutes it (booleans as "true"/"false", numbers as
    text), is a valid environment for Settings.from_env; each boolean also as true."""
    options = MANIFEST["user_config"]

    def text(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    def environment(values: dict[str, Any]) -> dict[str, str]:
        return {
            variable: PLACEHOLDER.sub(lambda m: text(values[m.group(1)]), template)
            for variable, template in MANIFEST["server"]["mcp_config"]["env"].items()
        }

    defaults = {name: option["default"] for name, option in options.items()}
    env = environment({**defaults, "toggl_api_token": "0123456789abcdef0123456789abcdef"})
    settings = Settings.from_env(env)
    assert settings.bulk_seconds == defaults["bulk_seconds"]
    assert not settings.read_only and settings.tools is None and settings.workspace_id is None
    on = {name: True for name, option in options.items() if option["type"] == "boolean"}
    assert Settings.from_env(environment({**defaults, **on, "toggl_api_token": "t"})).read_only


@pytest.mark.anyio
async def test_the_tools_listed_are_the_servers() -> None:
    """The server with its change journal (as the bundle runs by default) lists exactly these, in
    this order."""
    with tempfile.TemporaryDirectory(prefix="toggl-bundle-") as folder:
        server = build_server(make_settings(journal_path=Path(folder) / "journal.jsonl"))
        async with Client(server) as client:
            listed = [tool.name for tool in (await client.list_tools()).tools]
    assert [tool["name"] for tool in MANIFEST["tools"]] == listed
    assert set(listed) == ALL_TOOLS | JOURNAL_TOOLS
    assert all(tool["description"].strip() for tool in MANIFEST["tools"])


def test_the_entry_point_turns_the_sandbox_checkbox_into_the_flag() -> None:
    spec = importlib.util.spec_from_file_location("bundle_entry_point", BUNDLE / "server" / "main.py")
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    command_line = entry.command_line
    assert command_line({"TOGGL_MCP_SANDBOX": "true"}) == ["--sandbox"]
    assert command_line({"TOGGL_MCP_SANDBOX": "false"}) == []
    assert command_line({}) == []
    with pytest.raises(SystemExit):
        command_line({"TOGGL_MCP_SANDBOX": "enabled"})  # never a silent real run


# -- the packed bundle, run as a host runs it ---------------------------------------------------------

HOST_SUBSTITUTION = """
import { readFileSync } from "node:fs";
const { getMcpConfigForManifest } = await import(process.argv[1]);
const [dir, userConfig] = [process.argv[2], JSON.parse(process.argv[3])];
const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8"));
const config = await getMcpConfigForManifest({
  manifest, extensionPath: dir, systemDirs: {}, userConfig, pathSeparator: "/",
});
console.log(JSON.stringify(config ?? null));
"""


@pytest.fixture(scope="module")
def unpacked() -> Iterator[Path]:
    """bundle/build.py (what `make bundle` runs) into a temporary dist/, unpacked by `mcpb unpack`."""
    cli = mcpb_cli()
    with tempfile.TemporaryDirectory(prefix="toggl-bundle-") as folder:
        dist = Path(folder) / "dist"
        built = subprocess.run(
            [sys.executable, str(BUNDLE / "build.py"), "--out", str(dist), "--mcpb", str(cli)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert built.returncode == 0, built.stdout + built.stderr
        version = MANIFEST["version"]
        packed = dist / f"toggl-groups-mcp-{version}.mcpb"
        with zipfile.ZipFile(packed) as archive:
            names = set(archive.namelist())
        assert MANIFEST["server"]["entry_point"] in names
        assert {"manifest.json", "pyproject.toml", "LICENSE", MANIFEST["icon"]} <= names
        assert "server/toggl_groups_mcp/_prompts/onboard_team.md" in names
        assert not any("__pycache__" in name or name.startswith(("dist/", ".venv/")) for name in names)
        target = Path(folder) / "installed"
        unpack = subprocess.run(
            [str(cli), "unpack", str(packed), str(target)], capture_output=True, text=True, timeout=60
        )
        assert unpack.returncode == 0, unpack.stdout + unpack.stderr
        yield target


def host_config(unpacked: Path, user_config: dict[str, Any]) -> dict[str, Any]:
    arguments = [MCPB_PACKAGE.as_uri(), str(unpacked), json.dumps(user_config)]
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", HOST_SUBSTITUTION, "--", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    config: dict[str, Any] = json.loads(completed.stdout)
    assert not PLACEHOLDER.search(json.dumps(config)), config
    return config


def host_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A host's own environment: a PATH with uv on it (the venv's, a test extra) and the test
    session's state folder, never the user's."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {
        "PATH": path,
        "HOME": os.environ.get("HOME", "/tmp"),
        "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"],
    }
    for name in ("UV_CACHE_DIR", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "SSL_CERT_FILE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return {**env, **(extra or {})}


@contextlib.asynccontextmanager
async def bundle_client(config: dict[str, Any], extra: dict[str, str] | None = None) -> Any:
    params = StdioServerParameters(
        command=config["command"], args=config["args"], env={**host_environment(extra), **config["env"]}
    )
    async with Client(params, mode="legacy") as client:
        yield client


@pytest.mark.e2e
@pytest.mark.anyio
async def test_the_packed_bundle_runs_the_sandbox_as_a_host_starts_it(unpacked: Path) -> None:
    """With the Sandbox checkbox on (and a journal named for real changes, which the sandbox's
    simulated ones must not reach): tools listed as the manifest says, a read and a change work."""
    from toggl_groups_mcp.sandbox.demo import ORG_ACME

    with tempfile.TemporaryDirectory(prefix="toggl-bundle-") as folder:
        journal = Path(folder) / "journal.jsonl"
        config = host_config(unpacked, {"sandbox": True, "journal": str(journal)})
        assert config["command"] == "uv" and str(unpacked) in config["args"]
        with anyio.fail_after(300):  # the first run installs the dependencies
            async with bundle_client(config) as client:
                assert "THIS IS A SANDBOX" in (client.session.instructions or "")
                listed = [tool.name for tool in (await client.list_tools()).tools]
                assert listed == [tool["name"] for tool in MANIFEST["tools"]]
                result = await client.call_tool("list_organizations", {})
                created = await client.call_tool(
                    "create_group", {"name": "Bundle", "organization_id": ORG_ACME}
                )
                changes = await client.call_tool("list_changes", {})
        assert not journal.exists()  # the sandbox journalled in its own temporary file
    assert not result.is_error and not created.is_error and not changes.is_error, created.content
    names = {org["name"] for org in (result.structured_content or {})["organizations"]}
    assert "Acme Studio" in names
    assert "Bundle" in json.dumps(changes.structured_content)


@pytest.mark.e2e
@pytest.mark.anyio
async def test_the_token_and_settings_reach_the_server(unpacked: Path) -> None:
    """A real-token install with read-only and one toolset: the token from the keychain field
    reaches Toggl (here the sandbox, at the address the host's own environment gives)."""
    from toggl_groups_mcp.sandbox import SandboxThread

    with SandboxThread() as sandbox:
        user = {"toggl_api_token": sandbox.token, "read_only": True, "tools": "discovery", "journal": "off"}
        config = host_config(unpacked, user)
        assert config["env"]["TOGGL_API_TOKEN"] == sandbox.token
        with anyio.fail_after(300):
            async with bundle_client(config, {"TOGGL_API_URL": sandbox.url}) as client:
                assert "SANDBOX" not in (client.session.instructions or "")
                listed = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool("list_workspaces", {})
    assert listed == {spec.name for spec in select_tools(["discovery"])}
    assert not result.is_error, result.content


@pytest.mark.e2e
def test_without_a_token_or_the_sandbox_the_bundle_says_what_to_do(unpacked: Path) -> None:
    config = host_config(unpacked, {})
    completed = subprocess.run(
        [config["command"], *config["args"]],
        env={**host_environment(), **config["env"]},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 2, completed.stderr
    assert "TOGGL_API_TOKEN is not set" in completed.stderr and "--sandbox" in completed.stderr
