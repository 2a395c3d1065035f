"""In-process servers for the sections that count bytes and calls (context, answers, assistant):
a server built in the bench process and driven by the SDK's in-memory ``Client`` (handshake era
2025-11-25, no elicitation capability), talking to a sandbox over loopback HTTP. Pacing off, and
no TOGGL_ORGANIZATION_ID / TOGGL_WORKSPACE_ID: a fresh session that has to scope itself.

Two releases can be built:

- ``current()``: ``toggl_groups_mcp.server.build_server`` of this tree;
- ``previous()``: the previous release (commit ``PREVIOUS_RELEASE``), read from git history with
  ``git archive`` into a temporary directory as the package ``toggl_groups_prev`` and imported
  beside today's. Git state is not touched. None (and ``previous_problem()`` says why) when git
  or the commit is not available, e.g. in an unpacked source archive.

Importing this module starts nothing.
"""

from __future__ import annotations

import atexit
import importlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import wire

PREVIOUS_RELEASE = "e949e509dadd0e430a22565df99b45c84a5efb3c"
PREVIOUS_SHORT = PREVIOUS_RELEASE[:7]
PREVIOUS_PACKAGE = "toggl_groups_prev"


@dataclass(frozen=True)
class Release:
    label: str
    build: Callable[[str, str], Any]  # (api_url, token) -> an MCPServer


def _settings_kwargs(api_url: str, token: str) -> dict[str, Any]:
    from pydantic import SecretStr

    return {"api_token": SecretStr(token), "api_url": api_url, "rate_per_sec": None}


def current() -> Release:
    def build(api_url: str, token: str) -> Any:
        from toggl_groups_mcp.config import Settings
        from toggl_groups_mcp.server import build_server

        return build_server(Settings(**_settings_kwargs(api_url, token)))

    return Release("this tree", build)


_loaded: dict[str, Any] = {}


def previous_problem() -> str | None:
    """Why the previous release could not be loaded, or None."""
    previous()
    problem = _loaded.get("problem")
    return problem if isinstance(problem, str) else None


def previous() -> Release | None:
    """The previous release's server, loaded once per process from git history; None if unavailable."""
    if "release" in _loaded:
        release: Release | None = _loaded["release"]
        return release
    _loaded["release"] = None
    try:
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(wire.REPO),
                "archive",
                "--format=tar",
                PREVIOUS_RELEASE,
                "toggl_groups_mcp",
                "prompts",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        _loaded["problem"] = f"git archive {PREVIOUS_SHORT} failed ({type(error).__name__})"
        return None
    root = Path(tempfile.mkdtemp(prefix="toggl-groups-prev-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        try:
            tar.extractall(root, filter="data")
        except TypeError:  # Python before 3.11.4: no filters, and our own archive is trusted
            tar.extractall(root)
    # Its own package name, so it imports beside today's; its imports are all relative.
    (root / "toggl_groups_mcp").rename(root / PREVIOUS_PACKAGE)
    sys.path.insert(0, str(root))
    try:
        server = importlib.import_module(f"{PREVIOUS_PACKAGE}.server")
        config = importlib.import_module(f"{PREVIOUS_PACKAGE}.config")
    except Exception as error:
        _loaded["problem"] = f"the previous release {PREVIOUS_SHORT} did not import ({error!r:.200})"
        return None
    finally:
        sys.path.remove(str(root))

    def build(api_url: str, token: str) -> Any:
        return server.build_server(config.Settings(**_settings_kwargs(api_url, token)))

    release = Release(f"previous release ({PREVIOUS_SHORT})", build)
    _loaded["release"] = release
    return release


@asynccontextmanager
async def connect(release: Release, sandbox_thread: Any) -> AsyncIterator[Any]:
    """A fresh server of ``release`` behind an in-memory client without elicitation."""
    from mcp import Client

    server = release.build(sandbox_thread.url, sandbox_thread.token)
    async with Client(server, mode="legacy") as client:
        yield client


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)
