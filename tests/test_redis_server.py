"""The test helper tests/redis_server.py: a real redis-server on a free loopback port, stopped and
started again on the same port, and nothing left behind."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.redis_server import HOST, RedisServer, redis_fixture

redis = redis_fixture()


def refuses(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def gone(pid: int, timeout: float = 5.0) -> bool:
    """The process no longer exists (already reaped by Popen.wait, so kill(pid, 0) fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def raw_command(port: int, *args: str) -> bytes:
    """One command in RESP, the reply's first line."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection((HOST, port), timeout=2) as sock:
        sock.sendall(payload)
        return sock.recv(1024).split(b"\r\n")[0]


def test_it_starts_on_a_free_loopback_port_and_answers_ping() -> None:
    with RedisServer() as server:
        assert server.running and server.port != 6379
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        with socket.create_connection((HOST, server.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"


def test_it_persists_nothing_and_writes_only_into_its_temporary_directory() -> None:
    with RedisServer() as server:
        assert raw_command(server.port, "CONFIG", "GET", "save") == b"*2"
        directory = server.dir
        assert raw_command(server.port, "SET", "k", "v") == b"+OK"
        server.stop()
        assert {p.name for p in directory.iterdir()} <= {"redis.log"}  # no dump.rdb, no AOF
        server.start()
        assert raw_command(server.port, "GET", "k") == b"$-1"  # restarted empty
    assert not directory.exists()


def test_stop_refuses_connections_and_start_comes_back_on_the_same_port() -> None:
    with RedisServer() as server:
        port, first_pid = server.port, server.pid
        assert first_pid is not None
        server.stop()
        assert not server.running and server.pid is None
        assert refuses(port) and not server.ping()
        assert gone(first_pid)
        server.stop()  # idempotent
        server.start()
        assert server.port == port and server.url.endswith(f":{port}/0")
        assert server.ping() and server.pid != first_pid
        server.start()  # already running: a no-op
        assert server.ping()


def test_no_process_remains_after_the_context_exits() -> None:
    with RedisServer() as server:
        pid, port, directory = server.pid, server.port, server.dir
        assert pid is not None
    assert gone(pid) and refuses(port) and not directory.exists()
    server.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        server.start()


def test_no_process_remains_when_the_test_fails_inside_the_block() -> None:
    with pytest.raises(AssertionError), RedisServer() as server:
        pid, port = server.pid, server.port
        raise AssertionError("the test failed")
    assert pid is not None and gone(pid) and refuses(port)


def test_a_forgotten_server_is_stopped_when_collected() -> None:
    server = RedisServer().start()
    pid, directory = server.pid, server.dir
    assert pid is not None
    del server  # no stop(), no close(): the finalizer stops it
    assert gone(pid) and not directory.exists()


def test_two_servers_get_different_ports() -> None:
    with RedisServer() as one, RedisServer() as two:
        assert one.port != two.port and one.ping() and two.ping()


def test_the_fixture_gives_a_started_server(redis: RedisServer) -> None:
    assert redis.running and redis.ping()
    assert raw_command(redis.port, "SET", "k", "v") == b"+OK"
