"""The control API answers only to the sandbox's own names and origins, and changes state only on a
JSON request: a foreign web page (a cross-site form, a DNS-rebound name) can neither read nor reset
it. Binding off loopback needs an explicit allow_remote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, SandboxThread, demo
from toggl_groups_mcp.sandbox.__main__ import main

ACME_GROUPS = f"/organizations/{demo.ORG_ACME}/groups"
JSON = "application/json"

# What a foreign page can make a browser send. "{port}" becomes the served sandbox's port.
REFUSED: dict[str, tuple[dict[str, str], int]] = {
    "cross-site form": ({"Origin": "https://evil.example", "Content-Type": "text/plain"}, 403),
    "form from a DNS-rebound name": (
        {"Host": "evil.example:{port}", "Origin": "http://evil.example:{port}", "Content-Type": "text/plain"},
        403,
    ),
    "DNS-rebound name without an origin": ({"Host": "evil.example:{port}", "Content-Type": JSON}, 403),
    "foreign origin with JSON": ({"Origin": "http://evil.example", "Content-Type": JSON}, 403),
    "a page on another local port": ({"Origin": "http://127.0.0.1:1", "Content-Type": JSON}, 403),
    "an https origin": ({"Origin": "https://127.0.0.1:{port}", "Content-Type": JSON}, 403),
    "an opaque origin": ({"Origin": "null", "Content-Type": JSON}, 403),
    "a host with a bad port": ({"Host": "127.0.0.1:x", "Content-Type": JSON}, 403),
    "plain text from the sandbox's own name": ({"Content-Type": "text/plain"}, 415),
    "form encoding": ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    "no content type": ({}, 415),
}
WRITES = [
    ("POST", "/reset", '{"keep_faults": false}'),
    ("POST", "/faults", '{"plan_402": true}'),
    ("DELETE", "/requests", ""),
]


def with_port(headers: dict[str, str], port: int) -> dict[str, str]:
    return {name: value.replace("{port}", str(port)) for name, value in headers.items()}


@pytest.fixture
def changed(sb: SandboxThread, api: httpx.Client) -> Iterator[None]:
    """Something a reset, a fault change or clearing the log would undo."""
    api.post(ACME_GROUPS, json={"name": "Survivor"})
    sb.sandbox.faults.update(hourly_quota=500)
    yield


def everything(control: httpx.Client) -> list[Any]:
    return [control.get(path).json() for path in ("/state", "/faults", "/requests")]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
@pytest.mark.parametrize("attack", list(REFUSED))
def test_control_writes_from_a_foreign_host_or_origin_or_without_json_are_refused_and_change_nothing(
    sb: SandboxThread, control: httpx.Client, changed: None, attack: str, method: str, path: str, body: str
) -> None:
    headers, status = REFUSED[attack]
    before = everything(control)
    response = control.request(method, path, content=body, headers=with_port(headers, sb.port))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert everything(control) == before


def test_a_cross_site_form_post_to_reset_changes_neither_the_state_nor_its_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with SandboxThread(SandboxConfig(state_path=state)) as sb, httpx.Client(timeout=5.0) as http:
        http.post(sb.url + ACME_GROUPS, auth=sb.auth, json={"name": "Survivor"}).raise_for_status()
        saved = state.read_bytes()
        form = http.post(
            sb.control_url + "/reset",
            content="keep_faults=",
            headers={"Origin": "http://evil.example", "Host": "evil.example", "Content-Type": "text/plain"},
        )
        assert form.status_code == 403
        assert state.read_bytes() == saved
        groups = http.get(sb.url + ACME_GROUPS, auth=sb.auth).json()
        assert "Survivor" in [g["name"] for g in groups]


@pytest.mark.parametrize("path", ["", "/state", "/requests", "/faults", "/stats"])
def test_a_dns_rebound_name_cannot_read_the_control_api(
    sb: SandboxThread, control: httpx.Client, path: str
) -> None:
    response = control.get(path, headers={"Host": f"evil.example:{sb.port}"})
    assert response.status_code == 403
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Host": "127.0.0.1"},
        {"Host": "LOCALHOST:{port}"},
        {"Host": "localhost"},
        {"Host": "[::1]:{port}"},
        {"Origin": "http://127.0.0.1:{port}"},
        {"Host": "localhost:{port}", "Origin": "http://localhost:{port}"},
        {"Host": "[::1]:{port}", "Origin": "http://[::1]:{port}"},
    ],
)
def test_the_sandboxs_own_names_and_origins_may_read_and_reset(
    sb: SandboxThread, control: httpx.Client, changed: None, headers: dict[str, str]
) -> None:
    headers = with_port(headers, sb.port)
    assert control.get("/state", headers=headers).status_code == 200
    reset = control.post("/reset", json={}, headers=headers)
    assert (reset.status_code, reset.json()) == (200, {"ok": True})
    assert control.get("/requests").json() == []


def test_writes_accept_json_with_a_charset_or_an_empty_json_body(
    sb: SandboxThread, control: httpx.Client, changed: None
) -> None:
    assert control.post("/reset", headers={"Content-Type": f"{JSON}; charset=utf-8"}).status_code == 200
    assert control.post("/faults", json={"hourly_quota": 7}).json()["hourly_quota"] == 7
    assert control.request("DELETE", "/requests", json={}).json() == {"ok": True}


def test_a_reset_with_a_body_that_is_not_json_answers_400(control: httpx.Client) -> None:
    response = control.post("/reset", content="{nope", headers={"Content-Type": JSON})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_the_toggl_routes_ignore_host_and_origin_because_they_need_the_token(
    sb: SandboxThread, api: httpx.Client, anonymous: httpx.Client
) -> None:
    foreign = {"Host": "evil.example", "Origin": "http://evil.example"}
    assert api.get("/me", headers=foreign).status_code == 200
    assert anonymous.get("/me", headers=foreign).status_code == 403


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "2001:db8::1", "sandbox.example"])
def test_a_config_off_loopback_is_refused_without_allow_remote(host: str) -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        SandboxConfig(host=host)
    with pytest.raises(ValueError, match="allow_remote"):
        Sandbox(host=host)
    assert SandboxConfig(host=host, allow_remote=True).allow_remote


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_need_no_allow_remote(host: str) -> None:
    assert SandboxConfig(host=host).host == host


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bound", "url", "status"),
    [
        ("192.0.2.7", "http://192.0.2.7:8080", 200),
        ("192.0.2.7", "http://localhost:8080", 200),
        ("192.0.2.7", "http://192.0.2.8:8080", 403),
        ("192.0.2.7", "http://evil.example:8080", 403),
        ("2001:db8::7", "http://[2001:db8::7]:8080", 200),
        ("sandbox.example", "http://sandbox.example:8080", 200),
        ("sandbox.example", "http://evil.example:8080", 403),
        ("0.0.0.0", "http://192.0.2.9:8080", 200),
        ("0.0.0.0", "http://[2001:db8::9]:8080", 200),
        ("0.0.0.0", "http://evil.example:8080", 403),
        ("::", "http://10.1.2.3", 200),
        ("::", "http://evil.example", 403),
    ],
)
async def test_with_allow_remote_the_control_api_answers_to_the_bound_name_and_refuses_others(
    bound: str, url: str, status: int
) -> None:
    sandbox = Sandbox(host=bound, allow_remote=True)
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url=url + "/__sandbox") as client:
        assert (await client.get("/state")).status_code == status
        assert (await client.post("/reset", json={}, headers={"Origin": url})).status_code == status


def test_the_cli_refuses_a_host_off_loopback_without_allow_remote(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[SandboxConfig] = []

    async def serve(config: SandboxConfig) -> None:
        served.append(config)

    monkeypatch.setattr("toggl_groups_mcp.sandbox.__main__.serve", serve)
    assert main(["--host", "0.0.0.0"]) == 1
    assert served == []
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("toggl-groups-sandbox: ") and "--allow-remote" in err


def test_the_cli_with_allow_remote_warns_on_stderr_and_serves(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[SandboxConfig] = []

    async def serve(config: SandboxConfig) -> None:
        served.append(config)

    monkeypatch.setattr("toggl_groups_mcp.sandbox.__main__.serve", serve)
    assert main(["--host", "0.0.0.0", "--allow-remote"]) == 0
    assert [(c.host, c.allow_remote) for c in served] == [("0.0.0.0", True)]
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "warning" in err.lower() and "0.0.0.0" in err
