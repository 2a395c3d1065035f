"""A throwaway redis-server for tests: Debian's /usr/bin/redis-server (`make test` installs it) on a
free loopback port, with no persistence and a temporary working directory, so it never touches
6379 or writes anything outside that directory.

    from tests.redis_server import RedisServer, redis_fixture

    def test_something() -> None:
        with RedisServer() as redis:
            settings = ...(redis_url=redis.url)   # "redis://127.0.0.1:<port>/0"
            redis.stop()                          # Redis goes away mid-run: the port refuses
            redis.start()                         # back on the same port, empty

    redis = redis_fixture()                       # or as a pytest fixture, one server per test

    def test_other(redis: RedisServer) -> None: ...

The process is terminated (then killed after a timeout) when the `with` block or fixture ends,
even when the test fails; a server left running by mistake is stopped when it is garbage collected
or at interpreter exit.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

REDIS_SERVER = "/usr/bin/redis-server"
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def free_port() -> int:
    """A loopback port nobody listens on right now (another process may still take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis on 127.0.0.1:port answers PING with +PONG (raw RESP, no redis package)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _terminate(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cleanup(process_box: list[subprocess.Popen[bytes]], directory: str) -> None:
    """The finalizer: stop whatever still runs and remove the directory (holds no reference to self)."""
    for process in process_box:
        _terminate(process)
    process_box.clear()
    shutil.rmtree(directory, ignore_errors=True)


class RedisServer:
    """One redis-server on 127.0.0.1; `port` is chosen free unless given, and kept across restarts."""

    def __init__(self, port: int | None = None, executable: str = REDIS_SERVER) -> None:
        self.executable = executable
        self._chosen_port = port is None
        self.port = free_port() if port is None else port
        self.dir = Path(tempfile.mkdtemp(prefix="toggl-mcp-redis-"))
        self.log = self.dir / "redis.log"
        self._process: list[subprocess.Popen[bytes]] = []  # zero or one; shared with the finalizer
        self._started_once = False
        self._finalizer = weakref.finalize(self, _cleanup, self._process, str(self.dir))

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process[0].pid if self.running else None

    @property
    def running(self) -> bool:
        return bool(self._process) and self._process[0].poll() is None

    def ping(self) -> bool:
        return ping(self.port)

    def start(self, timeout: float = START_TIMEOUT) -> RedisServer:
        """Start (or start again, on the same port) and return once it answers PING."""
        if not self._finalizer.alive:
            raise RuntimeError("this RedisServer was closed; make a new one")
        if self.running:
            return self
        if not os.access(self.executable, os.X_OK):
            pytest.fail(f"{self.executable} is missing: `make {REDIS_SERVER}` installs Debian's redis-server")
        # A port chosen free may be taken before Redis binds it: on the first start only, try another.
        attempts = 3 if self._chosen_port and not self._started_once else 1
        for attempt in range(attempts):
            if attempt:
                self.port = free_port()
            if self._spawn(timeout):
                self._started_once = True
                return self
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{self._log_tail()}")

    def _spawn(self, timeout: float) -> bool:
        command = [
            self.executable,
            "--bind", HOST,
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(self.dir),
            "--logfile", "",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._process.append(process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:  # exited: the port was taken, or a bad option
                self._process.clear()
                return False
            if ping(self.port, timeout=0.2):
                return True
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(
            f"redis-server on port {self.port} did not answer PING in {timeout}s:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate and wait (kill after `timeout`); doing nothing when already stopped."""
        while self._process:
            _terminate(self._process.pop(), timeout)

    def close(self) -> None:
        """Stop and remove the temporary directory; idempotent."""
        self._finalizer()

    def __enter__(self) -> RedisServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisServer(url={self.url!r}, running={self.running})"


def redis_fixture(scope: Any = "function") -> Callable[..., Iterator[RedisServer]]:
    """A pytest fixture giving a started RedisServer, closed afterwards: `redis = redis_fixture()`
    at module level (or in a conftest), then `def test_x(redis: RedisServer)`."""

    @pytest.fixture(scope=scope)
    def redis() -> Iterator[RedisServer]:
        with RedisServer() as server:
            yield server

    return redis
