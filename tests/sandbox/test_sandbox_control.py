"""The control API and in-process use: outside /api/v9, unauthenticated, never logged or counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import Sandbox, SandboxConfig, SandboxThread, demo, running_sandbox
from toggl_groups_mcp.sandbox.app import ConnectionDropped

ACME_GROUPS = f"/organizations/{demo.ORG_ACME}/groups"


def test_the_request_log_records_method_path_query_body_and_status_but_no_credentials(
    api: httpx.Client, control: httpx.Client
) -> None:
    api.get(ACME_GROUPS, params={"name": "des"})
    api.post(ACME_GROUPS, json={"name": "Logged"})
    log = control.get("/requests").json()
    assert [(e["method"], e["path"], e["query"], e["json"], e["status"]) for e in log] == [
        ("GET", f"/api/v9{ACME_GROUPS}", {"name": "des"}, None, 200),
        ("POST", f"/api/v9{ACME_GROUPS}", {}, {"name": "Logged"}, 200),
    ]
    assert "sandbox-token" not in str(log)


def test_control_calls_are_neither_logged_nor_counted(sb: SandboxThread, control: httpx.Client) -> None:
    sb.sandbox.faults.update(hourly_quota=1, user_hourly_quota=1)
    for _ in range(3):
        assert control.get("/state").status_code == 200
        assert control.get("/stats").status_code == 200
    assert control.get("/requests").json() == []
    assert sb.sandbox.faults.quota_status(None)[0] == 1


def test_the_control_api_does_not_exist_under_the_toggl_base(api: httpx.Client) -> None:
    assert api.get("/__sandbox/state").status_code == 404


def test_state_shows_every_table(control: httpx.Client) -> None:
    state = control.get("/state").json()
    assert {g["id"] for g in state["groups"]} >= {demo.GROUP_DESIGNERS, demo.GROUP_MANAGERS}
    assert {"users", "organizations", "members", "workspaces", "projects", "project_groups"} <= set(state)


def test_faults_can_be_set_and_scripted_over_http(api: httpx.Client, control: httpx.Client) -> None:
    answer = control.post(
        "/faults",
        json={"plan_402": False, "latency": 0, "fail_next": {"status": 503, "method": "GET", "path": "/me"}},
    )
    assert answer.status_code == 200
    assert answer.json()["rules"] == [
        {"kind": "fail", "count": 1, "method": "GET", "path": "/me", "status": 503, "message": None}
    ]
    assert api.get("/me").status_code == 503
    assert api.get("/me").status_code == 200
    control.post("/faults", json={"drop_next": [{"method": "GET", "after_apply": True}]})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("/me")
    assert control.post("/faults", json={"hourly_quota": 2}).json()["hourly_quota"] == 2


def test_bad_fault_settings_answer_400_and_change_nothing(control: httpx.Client) -> None:
    before = control.get("/faults").json()
    payloads: list[Any] = [
        {"error_rate": 2},
        {"no_such_knob": 1},
        {"plan_402": True, "fail_next": {"status": 99}},
        {"drop_next": {"status": 500}},
        [],
    ]
    for payload in payloads:
        response = control.post("/faults", json=payload)
        assert response.status_code == 400, payload
        assert "error" in response.json()
    assert control.get("/faults").json() == before


def test_reset_over_http_brings_back_the_demo_data_and_empties_the_log(
    api: httpx.Client, control: httpx.Client
) -> None:
    api.delete(f"{ACME_GROUPS}/{demo.GROUP_DESIGNERS}")
    assert control.post("/reset", json={}).json() == {"ok": True}
    assert control.get("/requests").json() == []
    assert "Designers" in [g["name"] for g in api.get(ACME_GROUPS).json()]


def test_stats_count_requests_by_status_endpoint_and_fault(
    sb: SandboxThread, api: httpx.Client, control: httpx.Client
) -> None:
    sb.sandbox.faults.fail_next(status=500, path="/me")
    api.get("/me")
    api.get(ACME_GROUPS)
    api.get(ACME_GROUPS)
    stats = control.get("/stats").json()
    assert stats["requests"] == 3
    assert stats["by_status"] == {"500": 1, "200": 2}
    assert stats["by_endpoint"]["GET /api/v9/organizations/{id}/groups"] == 2
    assert stats["by_fault"] == {"injected": 1}
    assert stats["quota"][str(demo.ORG_ACME)]["remaining"] == stats["quota"][str(demo.ORG_ACME)]["total"] - 2


@pytest.mark.anyio
async def test_running_sandbox_serves_in_the_current_event_loop_on_a_free_port() -> None:
    async with running_sandbox(SandboxConfig(token="async-token")) as sb:
        assert sb.url.startswith("http://127.0.0.1:") and sb.url.endswith("/api/v9")
        assert sb.port > 0
        async with httpx.AsyncClient(base_url=sb.url, auth=(sb.token, "api_token"), timeout=5.0) as client:
            me = await client.get("/me")
            assert (me.status_code, me.json()["api_token"]) == (200, "async-token")
            sb.sandbox.faults.drop_next()
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await client.get("/me")
    async with httpx.AsyncClient(timeout=1.0) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(sb.url + "/me")


@pytest.mark.anyio
async def test_an_error_inside_the_block_propagates_unwrapped_and_the_server_stops() -> None:
    with pytest.raises(ValueError, match="boom"):
        async with running_sandbox():
            raise ValueError("boom")


@pytest.mark.anyio
async def test_the_app_serves_in_process_and_a_drop_raises_in_the_client() -> None:
    sandbox = Sandbox(token="in-process")
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox/api/v9", auth=("in-process", "api_token")
    ) as client:
        assert (await client.get(ACME_GROUPS)).status_code == 200
        sandbox.faults.drop_next()
        with pytest.raises(ConnectionDropped):
            await client.get(ACME_GROUPS)


def test_sandbox_thread_stops_cleanly_and_frees_its_port() -> None:
    with SandboxThread(SandboxConfig(), token="thread-token") as sb:
        url = sb.url
        assert httpx.get(url + "/me", auth=sb.auth, timeout=5.0).json()["api_token"] == "thread-token"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/me", timeout=1.0)
