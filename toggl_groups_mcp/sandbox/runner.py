"""Serving a sandbox over real loopback HTTP: in the caller's event loop or in a thread.

uvicorn is imported only here, when a server actually starts, and runs embedded: no signal
handlers, no logging configuration, no access log, a socket we bound ourselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio

from .config import SandboxConfig
from .core import Sandbox
from .faults import API_PREFIX

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox being served: where to reach it and how to authenticate."""

    sandbox: Sandbox
    host: str
    port: int

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL a Toggl client uses, e.g. ``http://127.0.0.1:PORT/api/v9``."""
        return self.root_url + API_PREFIX

    @property
    def control_url(self) -> str:
        return self.root_url + "/__sandbox"

    @property
    def token(self) -> str:
        return self.sandbox.token

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials as Toggl wants them: the token and the literal ``api_token``."""
        return (self.sandbox.token, "api_token")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
    # TCP, and without it every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@functools.cache
def _server_class() -> Any:
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        """uvicorn without signal handling (the host program owns signals), with a startup
        event and a prompt exit instead of polling every 0.1 s."""

        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self.started_event = asyncio.Event()
            self.exit_event = asyncio.Event()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            self.started_event.set()

        async def main_loop(self) -> None:
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 1) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.exit_event.wait(), 0.1)

        def request_exit(self) -> None:
            self.should_exit = True
            self.exit_event.set()

    return EmbeddedServer


def _make_server(sandbox: Sandbox) -> Any:
    import uvicorn

    config = uvicorn.Config(
        sandbox.app,
        http="h11",
        interface="asgi3",
        lifespan="off",
        log_config=None,
        log_level=sandbox.config.log_level,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=5,
    )
    return _server_class()(config)


@contextlib.asynccontextmanager
async def running_sandbox(
    config: SandboxConfig | None = None, *, sandbox: Sandbox | None = None, **overrides: Any
) -> AsyncIterator[RunningSandbox]:
    """Serve a sandbox in the current (asyncio) event loop until the block ends.

    Pass a ``config`` (and/or field overrides), or an existing ``sandbox`` to serve its state.
    Port 0 picks a free port; the answer's ``url`` says which.
    """
    if sandbox is None:
        sandbox = Sandbox(config, **overrides)
    elif config is not None or overrides:
        raise TypeError("pass either a sandbox or a config, not both")
    sock = _bind(sandbox.config.host, sandbox.config.port)
    try:
        server = _make_server(sandbox)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="toggl-sandbox")
        try:
            await _wait_started(server, task)
            yield RunningSandbox(sandbox, sandbox.config.host, sock.getsockname()[1])
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(server, task)
    finally:
        sock.close()


async def _wait_started(server: Any, task: asyncio.Task[None]) -> None:
    waiter = asyncio.ensure_future(server.started_event.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        error = None if task.cancelled() else task.exception()
        raise RuntimeError("the Toggl sandbox server stopped during startup") from error
    if not server.started:
        server.request_exit()
        raise TimeoutError(f"the Toggl sandbox server did not start within {STARTUP_TIMEOUT} s")


async def _stop(server: Any, task: asyncio.Task[None]) -> None:
    server.request_exit()
    await asyncio.wait({task}, timeout=SHUTDOWN_TIMEOUT)
    if not task.done():
        server.force_exit = True
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if task.done() and not task.cancelled() and task.exception() is not None:
        logger.error("the Toggl sandbox server failed", exc_info=task.exception())


class SandboxThread:
    """A sandbox served from a background thread with its own event loop, for synchronous code.

    ``with SandboxThread(config) as sb:`` gives ``sb.url``, ``sb.token``, ``sb.sandbox``;
    leaving the block stops the server and joins the thread.
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, sandbox: Sandbox | None = None, **overrides: Any
    ) -> None:
        if sandbox is None:
            sandbox = Sandbox(config, **overrides)
        elif config is not None or overrides:
            raise TypeError("pass either a sandbox or a config, not both")
        self.sandbox = sandbox
        self._handle: RunningSandbox | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def handle(self) -> RunningSandbox:
        if self._handle is None:
            raise RuntimeError("the sandbox thread is not running")
        return self._handle

    @property
    def url(self) -> str:
        return self.handle.url

    @property
    def root_url(self) -> str:
        return self.handle.root_url

    @property
    def control_url(self) -> str:
        return self.handle.control_url

    @property
    def port(self) -> int:
        return self.handle.port

    @property
    def token(self) -> str:
        return self.sandbox.token

    @property
    def auth(self) -> tuple[str, str]:
        return self.handle.auth

    def start(self, timeout: float = STARTUP_TIMEOUT) -> SandboxThread:
        if self._thread is not None:
            raise RuntimeError("the sandbox thread was already started")
        self._thread = threading.Thread(target=self._run, name="toggl-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"the Toggl sandbox did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError("the Toggl sandbox failed to start") from self._error
        return self

    def stop(self, timeout: float = SHUTDOWN_TIMEOUT + 2.0) -> None:
        loop, stop_event, thread = self._loop, self._stop_event, self._thread
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.error("the Toggl sandbox thread did not stop within %s s", timeout)
        self._handle = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        async with running_sandbox(sandbox=self.sandbox) as handle:
            self._handle = handle
            self._ready.set()
            await self._stop_event.wait()

    def __enter__(self) -> SandboxThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
