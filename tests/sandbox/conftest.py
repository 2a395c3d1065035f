"""One sandbox served over loopback for the whole sandbox suite; state and knobs reset per test.

The httpx clients are shared too: building one costs ~35 ms (its TLS context), which would
otherwise dominate this suite.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from toggl_groups_mcp.sandbox import SandboxThread


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def served() -> Iterator[SandboxThread]:
    with SandboxThread() as sb:
        yield sb


@pytest.fixture(scope="session")
def _api_client(served: SandboxThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, auth=served.auth, timeout=5.0) as client:
        yield client


@pytest.fixture(scope="session")
def _control_client(served: SandboxThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.control_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def sb(served: SandboxThread) -> Iterator[SandboxThread]:
    served.sandbox.reset()
    yield served
    served.sandbox.reset()


@pytest.fixture
def api(sb: SandboxThread, _api_client: httpx.Client) -> httpx.Client:
    """An httpx client authenticated the way Toggl wants: the token, then the literal 'api_token'."""
    return _api_client


@pytest.fixture
def control(sb: SandboxThread, _control_client: httpx.Client) -> httpx.Client:
    """An httpx client on the control API (no Toggl auth)."""
    return _control_client


@pytest.fixture(scope="session")
def anonymous(served: SandboxThread) -> Iterator[httpx.Client]:
    """An httpx client on the Toggl base URL without credentials."""
    with httpx.Client(base_url=served.url, timeout=5.0) as client:
        yield client
