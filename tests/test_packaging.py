"""The package as people install it: a wheel and an sdist from `python -m build` with complete
metadata, the wheel run by `uvx --from <wheel>` as a real stdio MCP server, the MCP Registry's
server.json, and the container (Dockerfile, .dockerignore, the team example's compose.yaml).

One build per run (module-scoped), from a copy of the working tree's files (tracked, or new and not
ignored), so that uncommitted changes are what is tested and a developer's untracked junk is not.
The uvx run installs the wheel's dependencies from PyPI into a temporary uv cache shared within
the run. No docker engine exists here: the Dockerfile is parsed and checked, and its stages are
played without docker (COPY through .dockerignore, the `pip` lines into fresh virtual environments).
"""

from __future__ import annotations

import email.message
import email.parser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import TextResourceContents

from tests.conftest import READ_TOOLS, make_settings

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SERVER_JSON = json.loads((REPO / "server.json").read_text())
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
REGISTRY_NAME = "io.github.toggl-groups-mcp/toggl-groups-mcp"
REPOSITORY_URL = "https://github.com/toggl-groups-mcp/toggl-groups-mcp"
# Bounds every subprocess: nothing here may hang the suite.
BUILD_TIMEOUT = 300
SESSION_TIMEOUT = 180

# Planted in the copy before building: none of it may reach the sdist.
JUNK = [
    ".venv/bin/python",
    ".tools/node_modules/x/index.js",
    "node_modules/x/index.js",
    "dist/toggl_groups_mcp-0.0.1-py3-none-any.whl",
    "build/lib/x.py",
    "bench/results/run.json",
    "toggl_groups_mcp/__pycache__/server.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
    ".env",
    "examples/team/.env",
]


def source_files() -> list[str]:
    """The working tree's files as a clean clone with these changes would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the working tree's files in one commit: what a clean clone has."""
    tree = tmp_path_factory.mktemp("clone")
    for name in source_files():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "tree"]):
        subprocess.run(["git", *command], cwd=tree, check=True, capture_output=True, timeout=60)
    return tree


@pytest.fixture(scope="module")
def dist(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """`python -m build` (wheel and sdist, isolated: hatchling from PyPI) on that clone, with a
    developer's junk planted in it first."""
    root = tmp_path_factory.mktemp("build")
    tree = root / "tree"
    shutil.copytree(clone, tree, ignore=shutil.ignore_patterns(".git"))
    for name in JUNK:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("junk\n")
    out = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(tree)],
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dist(wheel, sdist)


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(name).decode())


# -- the wheel and the sdist -----------------------------------------------------------------------


def test_the_wheel_carries_complete_metadata(dist: Dist) -> None:
    meta = wheel_metadata(dist.wheel)
    assert meta["Name"] == "toggl-groups-mcp"
    assert meta["Version"] == PROJECT["version"]
    assert meta["Summary"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Author"]
    assert {"mcp", "toggl"} <= set(meta["Keywords"].split(","))
    classifiers = set(meta.get_all("Classifier") or [])
    assert {
        "Development Status :: 4 - Beta",
        "Environment :: Console",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    } <= classifiers
    assert any(c.startswith("Intended Audience :: ") for c in classifiers)
    assert any(c.startswith("Topic :: ") for c in classifiers)
    # PEP 639: the SPDX expression replaces license classifiers, and PyPI refuses both together.
    assert not any(c.startswith("License :: ") for c in classifiers)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls["Repository"] == REPOSITORY_URL == SERVER_JSON["repository"]["url"]
    assert {"Homepage", "Documentation", "Issues"} <= set(urls)
    # The README is the long description, as PyPI shows it and the MCP Registry reads it.
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload() == (REPO / "README.md").read_text()
    requires = meta.get_all("Requires-Dist") or []
    assert "redis" in (meta.get_all("Provides-Extra") or [])
    assert any(r.startswith("redis") and "extra == 'redis'" in r for r in requires)
    assert any(r.startswith("mcp") and "extra" not in r for r in requires)


def test_the_wheel_has_what_the_server_reads_at_run_time(dist: Dist, clone: Path) -> None:
    """Every file of the package folder (code, data, the view), the prompts, the license."""
    with zipfile.ZipFile(dist.wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"toggl_groups_mcp-{PROJECT['version']}.dist-info/entry_points.txt").decode()
    prompts = {p.name for p in (clone / "prompts").glob("*.md")}
    assert prompts
    assert {n.removeprefix("toggl_groups_mcp/_prompts/") for n in names if "/_prompts/" in n} == prompts
    assert "toggl_groups_mcp/tools/access_review.html" in names
    assert f"toggl_groups_mcp-{PROJECT['version']}.dist-info/licenses/LICENSE" in names
    package = {str(p.relative_to(clone)) for p in (clone / "toggl_groups_mcp").rglob("*") if p.is_file()}
    assert package <= names, package - names
    assert not any(n.startswith(("tests/", "bench/", "examples/")) or n.endswith(".pyc") for n in names)
    for script, target in PROJECT["scripts"].items():
        assert f"{script} = {target}" in entry_points


def test_the_sdist_has_tests_docs_and_license_and_no_junk(dist: Dist, clone: Path) -> None:
    with tarfile.open(dist.sdist) as tf:
        top = f"toggl_groups_mcp-{PROJECT['version']}/"
        names = {m.name.removeprefix(top) for m in tf.getmembers() if m.isfile()}
    for needed in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "server.json",
        "tests/conftest.py",
        "tests/test_packaging.py",
        "toggl_groups_mcp/tools/access_review.html",
    ):
        assert needed in names, needed
    tracked = {str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert tracked - {".gitignore"} <= names, tracked - names
    for junk in JUNK:
        assert junk not in names, junk
    assert not [n for n in names if n.startswith((".venv/", ".tools/", "node_modules/", "dist/", ".git/"))]


# -- uvx --from <wheel>: the server as a host starts it ------------------------------------------


@pytest.fixture(scope="module")
def uv_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """uv's cache and tool folders in a temporary folder (shared by this module's runs), the
    running interpreter instead of a downloaded one."""
    root = tmp_path_factory.mktemp("uv")
    return {
        **os.environ,
        "UV_CACHE_DIR": str(root / "cache"),
        "UV_TOOL_DIR": str(root / "tools"),
        "UV_TOOL_BIN_DIR": str(root / "bin"),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }


def uv_command(name: str) -> str:
    """uv and uvx come with the test extras, beside this interpreter."""
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    assert path, f"{name} is missing: `pip install -e '.[test]'` installs it"
    return path


async def listed_in_process(tmp: Path) -> dict[str, Any]:
    """What the source tree's server offers a plain client, with its change journal (as --sandbox has)."""
    from toggl_groups_mcp.server import build_server

    server = build_server(make_settings(journal_path=tmp / "journal.jsonl"))
    async with Client(server) as client:
        resources = [str(r.uri) for r in (await client.list_resources()).resources]
        return {
            "tools": sorted(t.name for t in (await client.list_tools()).tools),
            "prompts": sorted(p.name for p in (await client.list_prompts()).prompts),
            "resources": {uri: text_of(await client.read_resource(uri)) for uri in resources},
        }


def text_of(result: Any) -> str:
    return "".join(c.text for c in result.contents if isinstance(c, TextResourceContents))


@pytest.mark.e2e
@pytest.mark.anyio
async def test_uvx_runs_the_wheel_as_a_stdio_server_on_the_sandbox(
    dist: Dist, uv_env: dict[str, str], tmp_path: Path
) -> None:
    expected = await listed_in_process(tmp_path)
    params = StdioServerParameters(
        command=uv_command("uvx"),
        args=["--from", str(dist.wheel), "toggl-groups-mcp", "--sandbox"],
        env=uv_env,
        cwd=tmp_path,
    )
    with anyio.fail_after(SESSION_TIMEOUT):
        async with Client(stdio_client(params), mode="legacy") as client:
            assert client.server_info is not None
            assert client.server_info.version == PROJECT["version"]
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            assert tools == expected["tools"]
            assert READ_TOOLS <= set(tools)
            # The prompts and the access-review view come from files the wheel must carry.
            assert sorted(p.name for p in (await client.list_prompts()).prompts) == expected["prompts"]
            assert expected["prompts"]
            resources = [str(r.uri) for r in (await client.list_resources()).resources]
            assert {uri: text_of(await client.read_resource(uri)) for uri in resources} == expected[
                "resources"
            ]
            result = await client.call_tool("list_organizations", {})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["organizations"]


@pytest.mark.e2e
def test_uvx_runs_the_server_from_a_git_url(clone: Path, uv_env: dict[str, str], tmp_path: Path) -> None:
    """`uvx --from git+<URL> toggl-groups-mcp`, as the README shows it, here from the clone's URL."""
    result = subprocess.run(
        [uv_command("uvx"), "--from", f"git+{clone.as_uri()}", "toggl-groups-mcp", "--version"],
        env=uv_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"toggl-groups-mcp {PROJECT['version']}"


# -- server.json for the MCP Registry ---------------------------------------------------------------


def config_variables() -> set[str]:
    """The environment variables toggl_groups_mcp/config.py reads (it alone reads the environment)."""
    source = (REPO / "toggl_groups_mcp" / "config.py").read_text()
    names = set(re.findall(r'env\.get\(\s*"([A-Z0-9_]+)"', source))
    names |= set(re.findall(r'\(\s*env\s*,\s*"([A-Z0-9_]+)"', source))
    assert {"TOGGL_API_TOKEN", "TOGGL_MCP_JOURNAL", "TOGGL_MCP_READ_ONLY"} <= names  # the scan works
    return names


def test_server_json_is_a_registry_entry_for_this_package() -> None:
    server = SERVER_JSON
    assert server["$schema"] == SCHEMA_URL
    assert server["name"] == REGISTRY_NAME
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", server["name"])
    assert 1 <= len(server["description"]) <= 100
    assert server["version"] == PROJECT["version"]
    assert server["repository"] == {"url": REPOSITORY_URL, "source": "github"}
    assert set(server) <= {
        "$schema",
        "name",
        "description",
        "version",
        "repository",
        "packages",
        "websiteUrl",
    }
    by_type = {p["registryType"]: p for p in server["packages"]}
    assert set(by_type) == {"pypi", "oci"}
    pypi, oci = by_type["pypi"], by_type["oci"]
    assert pypi["identifier"] == PROJECT["name"]
    assert pypi["version"] == PROJECT["version"]
    assert pypi["runtimeHint"] == "uvx"
    # An image names its version in its tag, and the registry refuses `version` on it.
    assert oci["identifier"] == f"ghcr.io/toggl-groups-mcp/toggl-groups-mcp:{PROJECT['version']}"
    assert "version" not in oci and "registryBaseUrl" not in oci
    assert oci["runtimeHint"] == "docker"
    for package in server["packages"]:
        assert package["transport"] == {"type": "stdio"}
        assert set(package) <= {
            "registryType",
            "identifier",
            "version",
            "runtimeHint",
            "transport",
            "runtimeArguments",
            "packageArguments",
            "environmentVariables",
        }
        for argument in package.get("runtimeArguments", []) + package.get("packageArguments", []):
            assert argument["type"] in ("named", "positional")
            assert "name" in argument if argument["type"] == "named" else "valueHint" in argument


def test_server_json_lists_only_variables_the_server_reads_with_secrets_marked() -> None:
    read = config_variables()
    secret = {"TOGGL_API_TOKEN", "TOGGL_MCP_REDIS_URL", "TOGGL_MCP_HTTP_TOKEN", "TOGGL_MCP_STATE_KEY"}
    for package in SERVER_JSON["packages"]:
        variables = package["environmentVariables"]
        names = [v["name"] for v in variables]
        assert len(names) == len(set(names))
        assert set(names) <= read, set(names) - read
        for v in variables:
            assert set(v) <= {"name", "description", "isRequired", "isSecret", "format", "default"}, v
            assert v["description"] and isinstance(v["isRequired"], bool) and isinstance(v["isSecret"], bool)
            assert v["isSecret"] is (v["name"] in secret), v["name"]
            assert v.get("format", "string") in ("string", "number", "boolean", "filepath")
            assert isinstance(v.get("default", ""), str)
        token = next(v for v in variables if v["name"] == "TOGGL_API_TOKEN")
        assert token["isRequired"] is True and token["isSecret"] is True


def test_the_versions_agree_everywhere(dist: Dist) -> None:
    import toggl_groups_mcp

    version = PROJECT["version"]
    assert toggl_groups_mcp.__version__ == version
    assert wheel_metadata(dist.wheel)["Version"] == version
    assert dist.wheel.name == f"toggl_groups_mcp-{version}-py3-none-any.whl"
    assert SERVER_JSON["version"] == version
    assert all(p.get("version", version) == version for p in SERVER_JSON["packages"])


def test_the_readme_carries_the_registry_ownership_line(dist: Dist) -> None:
    """The registry finds `mcp-name: <server name>` in the PyPI long description (the README)."""
    line = f"mcp-name: {REGISTRY_NAME}"
    assert line in (REPO / "README.md").read_text(), f"README.md needs the line `<!-- {line} -->`"
    assert line in wheel_metadata(dist.wheel).get_payload()


# -- the container ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    name: str
    args: str


def dockerfile(path: Path = REPO / "Dockerfile") -> list[list[Instruction]]:
    """The Dockerfile's stages, each a list of instructions: comments dropped, continued lines joined."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined: list[str] = []
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = []
    for text in filter(str.strip, joined):
        name, _, args = text.strip().partition(" ")
        assert name.isupper() or name.upper() in KNOWN, f"not an instruction: {text!r}"
        instruction = Instruction(name.upper(), args.strip())
        assert instruction.name in KNOWN, instruction
        if instruction.name == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM"
        stages[-1].append(instruction)
    return stages


KNOWN = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


def last(stage: list[Instruction], name: str) -> Instruction:
    found = [i for i in stage if i.name == name]
    assert found, f"the final stage has no {name}"
    return found[-1]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.name == "ENV":
            for word in shlex.split(instruction.args):
                key, _, value = word.partition("=")
                values[key] = value
    return values


def image_journal(final: list[Instruction], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the server in the image keeps its journal: the state folder its environment names."""
    from toggl_groups_mcp.config import journal_path

    env = env_of(final)
    monkeypatch.setenv("XDG_STATE_HOME", env.get("XDG_STATE_HOME", "/nowhere"))
    journal = journal_path(env)
    assert journal is not None
    return journal


def test_the_image_runs_the_console_script_as_a_non_root_user_with_the_journal_on_a_volume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stages = dockerfile()
    final = stages[-1]
    assert re.fullmatch(r"python:3\.1[1-3]-slim", final[0].args), final[0]
    user = last(final, "USER").args.split(":")[0]
    assert user not in ("root", "0"), user
    entrypoint = json.loads(last(final, "ENTRYPOINT").args)
    assert entrypoint == ["toggl-groups-mcp"] and entrypoint[0] in PROJECT["scripts"]
    # With no arguments the image is the stdio server; `--transport http` makes it the team server.
    assert json.loads(last(final, "CMD").args) == []
    (volume,) = (Path(v) for v in json.loads(last(final, "VOLUME").args))
    journal = image_journal(final, monkeypatch)
    assert volume in journal.parents, (journal, volume)
    # Named in TOGGL_MCP_JOURNAL, the journal would be --sandbox's too: simulated changes beside
    # real ones, where undo_change could reach them. The state folder leaves --sandbox its own.
    assert "TOGGL_MCP_JOURNAL" not in env_of(final)
    # The volume's folder belongs to the server's user and is writable by it alone.
    setup = " ".join(i.args for i in final if i.name == "RUN")
    account = re.search(r"useradd [^&]*--uid (\d+) .*?(\w+)\s*&&", setup)
    assert account and user in account.groups(), (user, setup)
    assert f"mkdir {volume}" in setup and f"chmod 0700 {volume}" in setup
    assert re.search(rf"chown \w+ {volume}", setup)
    assert last(final, "EXPOSE").args == "8000"
    labels = dict(word.split("=", 1) for i in final if i.name == "LABEL" for word in shlex.split(i.args))
    assert labels["io.modelcontextprotocol.server.name"] == REGISTRY_NAME
    assert labels["org.opencontainers.image.source"] == REPOSITORY_URL
    assert not any(i.name == "HEALTHCHECK" for i in final)  # the stdio default has nothing to probe


def ignored(patterns: list[str], path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path, or a folder above it, wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, c) for c in candidates):
            result = not negated
    return result


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_has_what_the_image_copies_and_no_junk_or_secrets() -> None:
    patterns = dockerignore()
    build = dockerfile()[0]
    copied = [
        word.rstrip("/")
        for i in build
        if i.name == "COPY" and "--from" not in i.args
        for word in i.args.split()[:-1]
    ]
    assert {"pyproject.toml", "README.md", "LICENSE", "prompts", "toggl_groups_mcp"} <= set(copied)
    files = source_files()
    for source in copied:
        inside = [f for f in files if f == source or f.startswith(source + "/")]
        assert inside, f"COPY {source}: nothing in the tree"
        assert not [f for f in inside if ignored(patterns, f)], (
            f"COPY {source}: .dockerignore drops some of it"
        )
    for junk in [*JUNK, ".git/config", "examples/team/.env", "tests/conftest.py", "dist/x.tar.gz"]:
        assert ignored(patterns, junk), junk


def simulate(stages: list[list[Instruction]], context: Path, root: Path, env: dict[str, str]) -> list[Path]:
    """Builds the image without docker, as far as a build can run unprivileged on this machine:
    each stage's COPY (from the context as .dockerignore filters it, or from an earlier stage), ENV,
    WORKDIR and its `pip` RUN lines, with every absolute path of stage N under root/N/. Hands back
    each stage's venv, made fresh per stage (its FROM's Python with nothing installed)."""
    patterns = dockerignore()
    files = sorted(
        str(f.relative_to(context)) for f in context.rglob("*") if f.is_file() and ".git" not in f.parts
    )
    names: dict[str, int] = {}
    venvs: list[Path] = []

    def inside(index: int, path: str, workdir: str) -> Path:
        absolute = path if path.startswith("/") else f"{workdir.rstrip('/')}/{path}"
        return root / str(index) / absolute.lstrip("/")

    for index, stage in enumerate(stages):
        words = stage[0].args.split()
        if len(words) == 3 and words[1].upper() == "AS":
            names[words[2]] = index
        venv = root / f"venv{index}"
        subprocess.run(
            [uv_command("uv"), "venv", "--seed", "--quiet", str(venv)], env=env, check=True, timeout=120
        )
        venvs.append(venv)
        stage_env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}
        workdir = "/"
        for instruction in stage[1:]:
            if instruction.name == "ENV":
                stage_env.update(env_of([instruction]))
            elif instruction.name == "WORKDIR":
                workdir = instruction.args
            elif instruction.name == "COPY":
                words = instruction.args.split()
                source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
                words = [w for w in words if not w.startswith("--")]
                *sources, target = words
                for source in sources:
                    if source_stage is not None:
                        origin = inside(names[source_stage], source, "/")
                        made = [p for p in origin.rglob("*") if p.is_file()] if origin.is_dir() else [origin]
                        pairs = [
                            (f, f.relative_to(origin) if origin.is_dir() else Path(f.name)) for f in made
                        ]
                    else:
                        clean = source.rstrip("/")
                        chosen = [
                            f
                            for f in files
                            if (f == clean or f.startswith(clean + "/")) and not ignored(patterns, f)
                        ]
                        assert chosen, f"COPY {source}: nothing reaches the build"
                        pairs = [
                            (context / f, Path(f).relative_to(clean) if f != clean else Path(f))
                            for f in chosen
                        ]
                    base = inside(index, target, workdir)
                    for origin_file, relative in pairs:
                        destination = base / relative if str(relative) != "." else base
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(origin_file, destination)
            elif instruction.name == "RUN" and re.search(r"\bpip\b", instruction.args):
                command = re.sub(r"(?<![\w.:/])/(?=\w)", f"{root / str(index)}/", instruction.args)
                # Nothing outside the stage's folder is touched (the line may `rm -rf` what it made).
                absolute = re.findall(r"(?<![\w.:/])/\S*", command)
                assert all(a.startswith(str(root)) for a in absolute), absolute
                cwd = inside(index, workdir, "/")
                cwd.mkdir(parents=True, exist_ok=True)
                result = subprocess.run(
                    ["sh", "-c", command],
                    cwd=cwd,
                    env=stage_env,
                    capture_output=True,
                    text=True,
                    timeout=BUILD_TIMEOUT,
                )
                assert result.returncode == 0, f"RUN {instruction.args}\n{result.stderr[-3000:]}"
    return venvs


@pytest.mark.e2e
def test_the_image_builds_and_installs_the_server_with_redis_and_oauth(
    clone: Path, dist: Dist, uv_env: dict[str, str], tmp_path: Path
) -> None:
    """The Dockerfile's stages played without docker: the build stage makes the wheel from what
    .dockerignore lets through, the final stage's install line installs it with the `redis` and
    `oauth` extras (the team server's shared limits and remote connectors) into a fresh
    environment, and the ENTRYPOINT runs."""
    stages = dockerfile()
    final = stages[-1]
    (line,) = [i.args for i in final if i.name == "RUN" and re.search(r"\bpip install\b", i.args)]
    extras = re.search(r"\[([a-z,]+)\]", line)
    assert extras is not None and {"redis", "oauth"} <= set(extras.group(1).split(",")), line
    venvs = simulate(stages, clone, tmp_path, {**uv_env, "PIP_CACHE_DIR": str(tmp_path / "pip-cache")})
    # The build stage's wheel has every file of the one `python -m build` makes from the whole tree.
    (built,) = (tmp_path / "0").rglob("*.whl")
    with zipfile.ZipFile(built) as image_wheel, zipfile.ZipFile(dist.wheel) as full_wheel:
        assert sorted(image_wheel.namelist()) == sorted(full_wheel.namelist())
    python = venvs[-1] / "bin" / "python"
    check = "import cryptography, redis, toggl_groups_mcp; print(toggl_groups_mcp.__version__)"
    out = subprocess.run([str(python), "-c", check], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == PROJECT["version"]
    (script,) = json.loads(last(final, "ENTRYPOINT").args)
    version = subprocess.run(
        [str(venvs[-1] / "bin" / script), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.stdout.strip() == f"toggl-groups-mcp {PROJECT['version']}", version.stderr
    # The install line cleans up after itself: no wheel is left in the final image.
    assert not list((tmp_path / str(len(stages) - 1)).rglob("*.whl"))


# -- the team example builds the top-level image -----------------------------------------------------


# The bearer-and-header team server, and the OAuth one for remote connectors.
COMPOSE_FILES = ["compose.yaml", "compose.oauth.yaml"]


def compose(name: str = "compose.yaml") -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "examples" / "team" / name).read_text())
    return loaded


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_team_compose_file_builds_the_top_level_image(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = compose(name)["services"]["toggl-groups-mcp"]
    context = (REPO / "examples" / "team" / service["build"]["context"]).resolve()
    assert context == REPO
    assert (context / service["build"]["dockerfile"]).resolve() == REPO / "Dockerfile"
    assert not (REPO / "examples" / "team" / "Dockerfile").exists()  # one Dockerfile, not two
    assert service["command"][:2] == ["--transport", "http"]
    final = dockerfile()[-1]
    assert any(p.split(":")[-1] == last(final, "EXPOSE").args for p in service["ports"])
    volume_paths = {v.split(":", 1)[1] for v in service["volumes"]}
    named = service["environment"].get("TOGGL_MCP_JOURNAL")
    journal = Path(named) if named else image_journal(final, monkeypatch)
    assert any(Path(v) in journal.parents for v in volume_paths), (journal, volume_paths)
    assert set(json.loads(last(final, "VOLUME").args)) <= volume_paths


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_team_compose_file_sets_only_variables_the_server_reads(name: str) -> None:
    environment = compose(name)["services"]["toggl-groups-mcp"]["environment"]
    assert set(environment) <= config_variables(), set(environment) - config_variables()
