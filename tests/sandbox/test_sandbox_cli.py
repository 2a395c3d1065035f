"""The toggl-groups-sandbox command: starts, prints its URL and token, serves, stops on a signal."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from toggl_groups_mcp.sandbox import demo
from toggl_groups_mcp.sandbox.__main__ import build_parser, config_from_args
from toggl_groups_mcp.sandbox.demo import build_demo_state

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Toggl sandbox listening on (http://\S+/api/v9) \(token: (\S+)\)")


def start(*command: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def first_line(process: subprocess.Popen[str], timeout: float = 10.0) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the sandbox printed nothing within {timeout} s")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["python -m", "console script"])
def test_the_cli_prints_its_url_serves_and_stops_on_a_signal(
    processes: list[subprocess.Popen[str]], tmp_path: Path, how: str
) -> None:
    flags = ["--port", "0", "--token", "cli-token", "--state", str(tmp_path / "state.json"), "--quota", "50"]
    if how == "python -m":
        command = [sys.executable, "-m", "toggl_groups_mcp.sandbox", *flags]
    else:
        script = shutil.which("toggl-groups-sandbox", path=str(Path(sys.executable).parent))
        if script is None:
            pytest.skip("the package is not installed with its console scripts")
        command = [script, *flags]
    process = start(*command)
    processes.append(process)
    match = LISTENING.search(first_line(process))
    assert match, "no 'listening on' line"
    url, token = match.groups()
    assert token == "cli-token"
    me = httpx.get(url + "/me", auth=(token, "api_token"), timeout=5.0)
    assert (me.status_code, me.json()["api_token"]) == (200, "cli-token")
    groups = httpx.get(f"{url}/organizations/{demo.ORG_ACME}/groups", auth=(token, "api_token"), timeout=5.0)
    assert groups.headers["X-Toggl-Quota-Remaining"] == "49"
    assert (tmp_path / "state.json").exists()
    process.send_signal(signal.SIGINT if how == "python -m" else signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_cli_flags_become_the_sandbox_config() -> None:
    args = build_parser().parse_args(
        "--port 0 --token t --latency 0.5 --rate 1 --quota 30 --plan-402 --error-rate 0.1 --seed 3 "
        "--consistency-delay 2 --state s.json".split()
    )
    config = config_from_args(args)
    assert (config.port, config.token, config.latency, config.rate_per_sec) == (0, "t", 0.5, 1.0)
    assert (config.hourly_quota, config.plan_402, config.error_rate, config.seed) == (30, True, 0.1, 3)
    assert (config.consistency_delay, config.state_path) == (2.0, "s.json")


def test_the_cli_refuses_a_corrupt_state_file_with_a_message(tmp_path: Path) -> None:
    from toggl_groups_mcp.sandbox.__main__ import main

    state = tmp_path / "state.json"
    state.write_text("garbage")
    assert main(["--state", str(state)]) == 1


def demo_with_groups_as_a_string() -> str:
    data = build_demo_state().to_json()
    data["groups"] = "abc"
    return json.dumps(data)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "text", [demo_with_groups_as_a_string(), "[]"], ids=["groups as a string", "an array"]
)
def test_the_cli_refuses_a_state_file_of_the_wrong_shape_in_one_line_and_leaves_it_unchanged(
    tmp_path: Path, text: str
) -> None:
    state = tmp_path / "state.json"
    state.write_text(text)
    before = state.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "toggl_groups_mcp.sandbox", "--port", "0", "--state", str(state)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"toggl-groups-sandbox: cannot read sandbox state file {state}: ")
    assert len(done.stderr.splitlines()) == 1
    assert state.read_bytes() == before
