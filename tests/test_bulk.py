"""Bulk access changes and offboarding: one read, skip what is so, stop cleanly, resume."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from mcp.types import ElicitResult

from tests.conftest import Connect, accept, asking_reads, error_text

pytestmark = pytest.mark.anyio

WS = 100
ORG = 10
GROUP = 5


def links(*pids: int, group_id: int = GROUP) -> list[dict[str, int]]:
    return [{"id": 900 + pid, "group_id": group_id, "pid": pid, "wid": WS} for pid in pids]


@pytest.fixture
def named(toggl: respx.MockRouter) -> None:
    """What a preview reads for names and who else reaches the projects: the workspace list, the
    workspace's (private) projects, the groups and the projects' direct members (none)."""
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(f"/workspaces/{WS}/projects").respond(json=[{"id": 1, "name": "Web"}, {"id": 2, "name": "App"}])
    toggl.get(f"/organizations/{ORG}/groups").respond(
        json=[{"group_id": GROUP, "name": "Design", "users": [{"user_id": 7, "name": "Ann"}]}]
    )
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])


def quota_exhausted() -> httpx.Response:
    return httpx.Response(
        402,
        json="Quota exceeded",
        headers={"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1800"},
    )


async def test_add_group_to_projects_skips_existing_links_and_adds_the_rest(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    listing = toggl.get(f"/workspaces/{WS}/project_groups").respond(json=links(2) + links(3, group_id=77))
    posts = toggl.post(f"/workspaces/{WS}/project_groups").respond(json="OK")
    async with connect() as client:
        result = await client.call_tool(
            "add_group_to_projects", {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3, 3]}
        )
    assert listing.call_count == 1
    assert listing.calls.last.request.url.params["project_ids"] == "1,2,3"
    assert [json.loads(c.request.content) for c in posts.calls] == [
        {"group_id": GROUP, "project_id": 1},
        {"group_id": GROUP, "project_id": 3},
    ]
    assert result.structured_content == {
        "done": [1, 3],
        "skipped": {"already linked": [2]},
        "failed": [],
        "remaining": [],
        "complete": True,
        "requests": 3,
    }


async def test_a_refused_project_is_reported_and_the_others_still_done(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get(f"/workspaces/{WS}/project_groups").respond(json=[])
    toggl.post(f"/workspaces/{WS}/project_groups").mock(
        side_effect=[
            httpx.Response(200, json="OK"),
            httpx.Response(400, json="Project not found"),
            httpx.Response(200, json="OK"),
        ]
    )
    async with connect() as client:
        result = await client.call_tool(
            "add_group_to_projects", {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3]}
        )
    data = result.structured_content
    assert data is not None
    assert data["done"] == [1, 3]
    assert [f["id"] for f in data["failed"]] == [2]
    assert "Project not found" in data["failed"][0]["reason"]
    assert data["complete"] is False and data["remaining"] == []


async def test_a_quota_stop_lists_the_remaining_projects_and_a_second_call_resumes(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    listing = toggl.get(f"/workspaces/{WS}/project_groups")
    listing.side_effect = [httpx.Response(200, json=[]), httpx.Response(200, json=links(1, 2))]
    posts = toggl.post(f"/workspaces/{WS}/project_groups")
    posts.side_effect = [
        httpx.Response(200, json="OK"),
        httpx.Response(200, json="OK"),
        quota_exhausted(),
        httpx.Response(200, json="OK"),
        httpx.Response(200, json="OK"),
    ]
    args: dict[str, Any] = {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3, 4]}
    async with connect() as client:
        first = await client.call_tool("add_group_to_projects", args)
        second = await client.call_tool("add_group_to_projects", args)
    one, two = first.structured_content, second.structured_content
    assert one is not None and two is not None
    assert one["done"] == [1, 2] and one["remaining"] == [3, 4] and one["complete"] is False
    assert "quota" in one["stopped"].lower() and "1800" in one["stopped"]
    assert two["skipped"] == {"already linked": [1, 2]} and two["done"] == [3, 4] and two["complete"] is True
    sent = [json.loads(c.request.content)["project_id"] for c in posts.calls]
    assert sent == [1, 2, 3, 3, 4]  # 3 was refused by the quota, then done once on resume


async def test_a_bulk_result_says_how_much_quota_is_left_without_asking(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    toggl.get(f"/workspaces/{WS}/project_groups").respond(json=[])
    toggl.post(f"/workspaces/{WS}/project_groups").mock(
        side_effect=[
            httpx.Response(
                200, json="OK", headers={"X-Toggl-Quota-Remaining": "12", "X-Toggl-Quota-Resets-In": "900"}
            ),
            httpx.Response(
                200, json="OK", headers={"X-Toggl-Quota-Remaining": "11", "X-Toggl-Quota-Resets-In": "899"}
            ),
        ]
    )
    async with connect() as client:
        result = await client.call_tool(
            "add_group_to_projects", {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2]}
        )
    assert result.structured_content is not None
    assert result.structured_content["quota_remaining"] == 11
    assert len(toggl.calls) == 3  # no /me/quota request


async def test_progress_is_reported_for_each_project(toggl: respx.MockRouter, connect: Connect) -> None:
    toggl.get(f"/workspaces/{WS}/project_groups").respond(json=[])
    toggl.post(f"/workspaces/{WS}/project_groups").respond(json="OK")
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with connect() as client:
        result = await client.call_tool(
            "add_group_to_projects",
            {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3]},
            progress_callback=on_progress,
        )
    assert not result.is_error
    assert seen == [(1, 3), (2, 3), (3, 3)]


async def test_remove_group_from_projects_previews_without_confirmation_and_deletes_nothing(
    toggl: respx.MockRouter, connect: Connect, named: None
) -> None:
    toggl.get(f"/workspaces/{WS}/project_groups").respond(json=links(1, 2))
    deletes = toggl.delete(url__regex=rf"/workspaces/{WS}/project_groups/\d+").respond(json="OK")
    async with connect() as client:
        result = await client.call_tool(
            "remove_group_from_projects", {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3]}
        )
    text = error_text(result)
    assert "Confirmation required" in text
    assert "Design (5) loses access to 2 project(s) in Studio (100):" in text
    assert "Web (1, link 901), App (2, link 902)" in text
    assert deletes.call_count == 0


async def test_remove_group_from_projects_after_the_user_accepts_skips_unlinked(
    toggl: respx.MockRouter, connect: Connect, mode: str, named: None
) -> None:
    listing = toggl.get(f"/workspaces/{WS}/project_groups").respond(json=links(1, 2))
    deletes = toggl.delete(url__regex=rf"/workspaces/{WS}/project_groups/\d+").respond(json="OK")
    async with connect(answer=accept()) as client:
        result = await client.call_tool(
            "remove_group_from_projects", {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3]}
        )
    assert result.structured_content is not None
    assert result.structured_content["done"] == [1, 2]
    assert result.structured_content["skipped"] == {"not in this workspace": [3]}
    assert [c.request.url.path for c in deletes.calls] == [
        f"/api/v9/workspaces/{WS}/project_groups/901",
        f"/api/v9/workspaces/{WS}/project_groups/902",
    ]
    assert listing.call_count == asking_reads(mode)


GROUPS = [
    {"group_id": 1, "name": "Design", "users": [{"user_id": 7, "name": "Ann"}], "workspaces": [WS]},
    {"group_id": 2, "name": "Dev", "users": [{"user_id": 8, "name": "Bob"}], "workspaces": [WS]},
    {
        "group_id": 3,
        "name": "All",
        "users": [{"user_id": 7, "name": "Ann"}, {"user_id": 8}],
        "workspaces": [],
    },
]


def no_direct_memberships(toggl: respx.MockRouter) -> None:
    """An offboarding also says what stays open: the person's direct memberships (none here) and
    the public projects of the organization's workspaces (none)."""
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])
    toggl.get(f"/workspaces/{WS}/projects").respond(json=[])


async def test_offboarding_previews_every_group_holding_the_user(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    no_direct_memberships(toggl)
    toggl.get(f"/organizations/{ORG}/groups").respond(json=GROUPS)
    patches = toggl.patch(url__regex=rf"/organizations/{ORG}/groups/\d+").respond(
        json={"success": [], "failure": []}
    )
    questions: list[str] = []

    async def decline(message: str) -> ElicitResult:
        questions.append(message)
        return ElicitResult(action="decline")

    async with connect(answer=decline) as client:
        result = await client.call_tool("remove_user_from_groups", {"organization_id": ORG, "user_id": 7})
    assert "declined" in error_text(result)
    assert "Design (group 1)" in questions[0] and "All (group 3)" in questions[0]
    assert "Dev" not in questions[0]
    assert patches.call_count == 0


async def test_offboarding_with_confirmation_patches_each_group_once(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    no_direct_memberships(toggl)
    listing = toggl.get(f"/organizations/{ORG}/groups").respond(json=GROUPS)
    patches = toggl.patch(url__regex=rf"/organizations/{ORG}/groups/\d+").mock(
        side_effect=[
            httpx.Response(
                200, json={"success": [{"op": "remove", "path": "/users", "value": [7]}], "failure": []}
            ),
            httpx.Response(
                200,
                json={"success": [], "failure": [{"message": "Unknown group at organization", "patch": {}}]},
            ),
        ]
    )
    async with connect() as client:
        result = await client.call_tool(
            "remove_user_from_groups", {"organization_id": ORG, "user_id": 7, "confirm": True}
        )
    data = result.structured_content
    assert data is not None
    assert data["done"] == [1]
    assert data["failed"][0]["id"] == 3 and "Unknown group" in data["failed"][0]["reason"]
    assert [json.loads(c.request.content) for c in patches.calls] == [
        [{"op": "remove", "path": "/users", "value": [7]}]
    ] * 2
    assert listing.call_count == 1


async def test_offboarding_a_user_in_no_group_changes_nothing(
    toggl: respx.MockRouter, connect: Connect
) -> None:
    no_direct_memberships(toggl)
    toggl.get(f"/organizations/{ORG}/groups").respond(json=GROUPS)
    async with connect() as client:
        result = await client.call_tool("remove_user_from_groups", {"organization_id": ORG, "user_id": 99})
    assert result.structured_content == {
        "done": [],
        "failed": [],
        "remaining": [],
        "complete": True,
        "requests": 4,  # the groups, and what stays open: workspaces, memberships, projects
    }


@pytest.mark.parametrize(
    "lost",
    [
        httpx.Response(502, json="Bad gateway"),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("connection dropped"),
    ],
    ids=["5xx", "timeout", "dropped"],
)
async def test_a_post_whose_outcome_is_unknown_is_reported_failed_not_remaining(
    toggl: respx.MockRouter, connect: Connect, lost: Any
) -> None:
    """Toggl may have linked project 2: listing it as remaining would invite a blind repeat."""
    toggl.get(f"/workspaces/{WS}/project_groups").respond(json=[])
    posts = toggl.post(f"/workspaces/{WS}/project_groups").mock(
        side_effect=[httpx.Response(200, json="OK"), lost, httpx.Response(200, json="OK")]
    )
    async with connect() as client:
        result = await client.call_tool(
            "add_group_to_projects", {"workspace_id": WS, "group_id": GROUP, "project_ids": [1, 2, 3]}
        )
    data = result.structured_content
    assert data is not None
    assert data["done"] == [1]
    assert [f["id"] for f in data["failed"]] == [2]
    assert "may or may not have been applied" in data["failed"][0]["reason"]
    assert data["remaining"] == [3] and data["complete"] is False
    assert posts.call_count == 2  # never repeated blindly, and the run stopped
