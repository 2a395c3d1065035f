"""End-to-end fixtures: one Toggl sandbox served over loopback for the session (reset around each
test), a view of what it received through its control API, and a bounded subprocess runner.

Test modules use these as fixtures only: importing this file by name would clash with the other
conftest modules of the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import SandboxThread

REPO = Path(__file__).resolve().parents[2]
API_PREFIX = "/api/v9"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Every subprocess is bounded: nothing in this folder may hang the suite.
COMMAND_TIMEOUT = 60.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def _served() -> Iterator[SandboxThread]:
    with SandboxThread() as sb:
        yield sb


@pytest.fixture
def sandbox(_served: SandboxThread) -> Iterator[SandboxThread]:
    """The session's sandbox with the demo data back and an empty request log."""
    _served.sandbox.reset()
    yield _served
    _served.sandbox.reset()


@pytest.fixture
def server_env(sandbox: SandboxThread) -> dict[str, str]:
    """What `python -m toggl_groups_mcp` needs to talk to the sandbox (a stdio child inherits nothing)."""
    return {
        "TOGGL_API_TOKEN": sandbox.token,
        "TOGGL_API_URL": sandbox.url,
        "TOGGL_RATE_PER_SEC": "0",
        # These tests count Toggl requests without the journal's reads before a deletion; the
        # journal has end-to-end tests of its own. Never the user's real state folder.
        "TOGGL_MCP_JOURNAL": "off",
        "PATH": os.environ["PATH"],
    }


@dataclass(frozen=True)
class Received:
    """One request as the sandbox saw it, under /api/v9."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None


class Control:
    """The sandbox's control API (/__sandbox/...), over real HTTP."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def state(self) -> dict[str, Any]:
        response = self.http.get("/state")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def requests(self) -> list[Received]:
        response = self.http.get("/requests")
        response.raise_for_status()
        return [
            Received(e["method"], e["path"].removeprefix(API_PREFIX), e["query"], e["json"], e["status"])
            for e in response.json()
        ]

    def mutating(self) -> list[Received]:
        return [r for r in self.requests() if r.method in MUTATING]

    def groups(self, organization_id: int | None = None) -> dict[int, dict[str, Any]]:
        return {
            g["id"]: g
            for g in self.state()["groups"]
            if organization_id is None or g["organization_id"] == organization_id
        }

    def links(self) -> set[tuple[int, int, int]]:
        """Project-group links as (workspace_id, project_id, group_id)."""
        return {(x["workspace_id"], x["project_id"], x["group_id"]) for x in self.state()["project_groups"]}


@pytest.fixture(scope="session")
def _control_http(_served: SandboxThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_served.control_url, timeout=10.0) as http:
        yield http


@pytest.fixture
def control(sandbox: SandboxThread, _control_http: httpx.Client) -> Control:
    return Control(_control_http)


@dataclass(frozen=True)
class Completed:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"{list(self.args)} exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _run(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> Completed:
    """Run a command in its own process group; on timeout kill the whole group and fail the test."""
    process = subprocess.Popen(
        list(args),
        cwd=cwd or REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate(timeout=10)
        pytest.fail(f"{list(args)} did not finish within {timeout} s\n{stdout}\n{stderr}")
    finally:
        if process.poll() is None:
            _kill_group(process)
            process.wait(timeout=10)
    return Completed(args, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def run_command() -> Any:
    """run_command(args, env=None, cwd=REPO, timeout=60) -> Completed (args, returncode, stdout, stderr)."""
    return _run


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
