"""--state FILE: acknowledged changes survive a restart; writes are atomic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from toggl_groups_mcp.sandbox import SandboxConfig, SandboxStateError, SandboxThread, Store, demo

ACME_GROUPS = f"/organizations/{demo.ORG_ACME}/groups"


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_changes_survive_a_restart_with_the_same_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with (
        SandboxThread(SandboxConfig(state_path=state)) as sb,
        httpx.Client(base_url=sb.url, auth=sb.auth) as api,
    ):
        created = api.post(ACME_GROUPS, json={"name": "Persistent", "users": [demo.USER_DANA]}).json()
        api.delete(f"{ACME_GROUPS}/{demo.GROUP_MANAGERS}")
        api.post(
            f"/workspaces/{demo.WS_ACME_DESIGN}/project_groups",
            json={"group_id": created["group_id"], "project_id": demo.PROJECT_BRAND_REFRESH},
        )
    with (
        SandboxThread(SandboxConfig(state_path=state)) as sb,
        httpx.Client(base_url=sb.url, auth=sb.auth) as api,
    ):
        groups = {g["name"]: g for g in api.get(ACME_GROUPS).json()}
        assert set(groups) == {"Designers", "Engineers", "Persistent"}
        assert groups["Persistent"] == created
        links = api.get(
            f"/workspaces/{demo.WS_ACME_DESIGN}/project_groups",
            params={"project_ids": demo.PROJECT_BRAND_REFRESH},
        ).json()
        assert created["group_id"] in [link["group_id"] for link in links]
        # Ids keep counting from where they were, never reused.
        assert api.post(ACME_GROUPS, json={"name": "Next"}).json()["group_id"] == created["group_id"] + 1
    assert leftovers(tmp_path) == []


def test_a_missing_state_file_starts_from_demo_data_and_is_written_at_once(tmp_path: Path) -> None:
    state = tmp_path / "nested" / "state.json"
    Store("t", state)
    saved = json.loads(state.read_text())
    assert {g["name"] for g in saved["groups"]} >= {"Designers", "Engineers", "Managers"}


def test_each_write_replaces_the_file_through_a_temporary_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store = Store("t", state)
    inode_before = state.stat().st_ino
    store.create_group(demo.ORG_ACME, {"name": "Atomic"})
    assert state.stat().st_ino != inode_before
    assert "Atomic" in [g["name"] for g in json.loads(state.read_text())["groups"]]
    assert leftovers(tmp_path) == []


def test_a_crash_while_writing_keeps_the_last_acknowledged_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.json"
    store = Store("t", state)
    store.create_group(demo.ORG_ACME, {"name": "Acknowledged"})
    before = state.read_text()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        store.create_group(demo.ORG_ACME, {"name": "Never Acknowledged"})
    monkeypatch.undo()
    assert state.read_text() == before
    assert leftovers(tmp_path) == []
    assert "Acknowledged" in [
        g["name"] for g in Store("t", state).list_groups(demo.ORG_ACME, name=None, workspace_id=None)
    ]


def test_a_corrupt_leftover_temporary_file_never_breaks_loading(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    Store("t", state).create_group(demo.ORG_ACME, {"name": "Kept"})
    (tmp_path / ".state.json.abc123.tmp").write_text('{"version": 1, "gro')
    groups = Store("t", state).list_groups(demo.ORG_ACME, name="Kept", workspace_id=None)
    assert [g["name"] for g in groups] == ["Kept"]


def test_a_corrupt_state_file_is_refused_rather_than_overwritten(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(SandboxStateError):
        Store("t", state)
    assert state.read_text() == "{not json"


def test_reset_writes_the_demo_data_back_to_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store = Store("t", state)
    store.delete_group(demo.ORG_ACME, demo.GROUP_DESIGNERS)
    store.reset()
    assert demo.GROUP_DESIGNERS in [g["id"] for g in json.loads(state.read_text())["groups"]]
