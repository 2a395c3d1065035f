"""--state FILE: acknowledged changes survive a restart; writes are atomic."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from toggl_groups_mcp.sandbox import SandboxConfig, SandboxStateError, SandboxThread, Store, demo
from toggl_groups_mcp.sandbox.demo import build_demo_state

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


def demo_file(change: Callable[[dict[str, Any]], object]) -> str:
    """The demo state as the sandbox saves it, with one thing changed."""
    data = build_demo_state().to_json()
    change(data)
    return json.dumps(data)


# Each malformed file, and the part of the message that says where the problem is.
MALFORMED: dict[str, tuple[str, str]] = {
    "a top-level array": ("[]", "must be a JSON object, not an array"),
    "a top-level null": ("null", "must be a JSON object, not null"),
    "a top-level string": ('"state"', "must be a JSON object"),
    "no version": (demo_file(lambda d: d.pop("version")), "version"),
    "a version of true": (demo_file(lambda d: d.update(version=True)), "version"),
    "groups as a string": (demo_file(lambda d: d.update(groups="abc")), "groups must be an array"),
    "groups as null": (demo_file(lambda d: d.update(groups=None)), "groups must be an array"),
    "a group that is a number": (demo_file(lambda d: d["groups"].append(7)), "groups[6] must be an object"),
    "user_ids as a string": (
        demo_file(lambda d: d["groups"][0].update(user_ids="abc")),
        "groups[0].user_ids must be an array, not a string",
    ),
    "a user id that is a string": (
        demo_file(lambda d: d["groups"][1].update(user_ids=["6120451"])),
        "groups[1].user_ids[0] must be an integer, not a string",
    ),
    "a group id that is a string": (
        demo_file(lambda d: d["groups"][0].update(id=str(d["groups"][0]["id"]))),
        "groups[0].id must be an integer, not a string",
    ),
    "an id that is a float": (demo_file(lambda d: d["users"][0].update(id=1.5)), "users[0].id"),
    "an id that is a boolean": (
        demo_file(lambda d: d["members"][0].update(user_id=True)),
        "members[0].user_id",
    ),
    "me_user_id as a string": (demo_file(lambda d: d.update(me_user_id="6120451")), "me_user_id"),
    "no next_group_id": (demo_file(lambda d: d.pop("next_group_id")), "next_group_id is missing"),
    "a group without a name": (demo_file(lambda d: d["groups"][0].pop("name")), "groups[0].name is missing"),
    "a null name": (demo_file(lambda d: d["groups"][0].update(name=None)), "groups[0].name must be a string"),
    "admin as a string": (
        demo_file(lambda d: d["members"][0].update(admin="yes")),
        "members[0].admin must be true or false",
    ),
    "client_id as a string": (demo_file(lambda d: d["projects"][0].update(client_id="x")), "client_id"),
    "permissions of numbers": (
        demo_file(lambda d: d["groups"][0].update(permissions=[1])),
        "groups[0].permissions[0] must be a string, not an integer",
    ),
    "a misspelt key": (
        demo_file(lambda d: d["groups"][0].update(users=[1])),
        "groups[0] has an unknown key 'users'",
    ),
    "an unknown table": (demo_file(lambda d: d.update(clients=[])), "unknown key 'clients'"),
    "the same group twice": (demo_file(lambda d: d["groups"].append(d["groups"][0])), "twice"),
    "me_user_id not among the users": (demo_file(lambda d: d.update(me_user_id=1)), "me_user_id 1"),
    "a member of an unknown organization": (
        demo_file(lambda d: d["members"][0].update(organization_id=1)),
        "members[0].organization_id 1",
    ),
    "a link to an unknown group": (
        demo_file(lambda d: d["project_groups"][0].update(group_id=1)),
        "project_groups[0].group_id 1",
    ),
    "next_group_id behind the groups": (demo_file(lambda d: d.update(next_group_id=1)), "next_group_id"),
    "JSON nested too deep": ("[" * 100_000, "cannot read sandbox state file"),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_state_file_of_the_wrong_shape_is_refused_and_left_unchanged(tmp_path: Path, shape: str) -> None:
    text, where = MALFORMED[shape]
    state = tmp_path / "state.json"
    state.write_text(text)
    before = state.read_bytes()
    with pytest.raises(SandboxStateError) as refused:
        Store("t", state)
    message = str(refused.value)
    assert message.startswith(f"cannot read sandbox state file {state}: ")
    assert where in message
    assert "\n" not in message
    assert state.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_a_state_file_the_sandbox_wrote_loads_back_equal(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store = Store("t", state)
    store.create_group(demo.ORG_ACME, {"name": "Saved", "users": [demo.USER_DANA]})
    store.add_project_group(
        demo.WS_ACME_DESIGN, {"group_id": demo.FIRST_NEW_GROUP_ID, "project_id": demo.PROJECT_BRAND_REFRESH}
    )
    assert Store("t", state).snapshot() == store.snapshot()


def test_reset_writes_the_demo_data_back_to_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store = Store("t", state)
    store.delete_group(demo.ORG_ACME, demo.GROUP_DESIGNERS)
    store.reset()
    assert demo.GROUP_DESIGNERS in [g["id"] for g in json.loads(state.read_text())["groups"]]
