"""The safety promises, attacked: fresh reads for destructive decisions, the human's word over the
model's, strict booleans, and what a confused or manipulated model can and cannot make happen."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from mcp import Client
from mcp.types import ElicitResult

from tests.conftest import (
    Connect,
    Sent,
    accept,
    assert_nothing_sent,
    client_mode,
    ids_of,
    make_settings,
    recording,
    refuse,
    sent,
    shared_server,
    tool_error,
)
from tests.test_groups import GROUP, GROUP_ID, GROUPS, ORG, echo_patch, toggl_group

pytestmark = pytest.mark.anyio

ADA, BOB, CY = (11, "Ada Lovelace"), (12, "Bob Marley"), (13, "Cy Twombly")
WS = 100
LINKS = f"/workspaces/{WS}/project_groups"

# One call per destructive tool, with everything but `confirm`, and what Toggl answers to it.
DESTRUCTIVE_CALLS: dict[str, dict[str, Any]] = {
    "delete_group": {"group_id": GROUP_ID},
    "update_group": {"group_id": GROUP_ID, "user_ids": [11]},
    "patch_group": {"group_id": GROUP_ID, "remove_user_ids": [12]},
    "remove_project_group": {"workspace_id": WS, "project_group_id": 900},
    "remove_group_from_projects": {"workspace_id": WS, "group_id": GROUP_ID, "project_ids": [1]},
    "remove_user_from_groups": {"user_id": 12},
}


def answer_every_destructive_call(toggl: respx.MockRouter) -> None:
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(url__regex=r"/workspaces/\d+/projects").respond(json=[{"id": 1, "name": "Intranet"}])
    toggl.get(url__regex=r"/workspaces/101/project_groups").respond(json=[])
    toggl.get(url__regex=r"/workspaces/\d+/project_users").respond(json=[])
    toggl.get(GROUPS).respond(200, json=[toggl_group()])
    toggl.put(GROUP).respond(200, json=toggl_group(users=(ADA,)))
    toggl.patch(GROUP).mock(side_effect=echo_patch)
    toggl.delete(GROUP).respond(200, json="OK")
    toggl.get(LINKS).respond(200, json=[{"id": 900, "group_id": GROUP_ID, "pid": 1, "wid": WS}])
    toggl.delete(f"{LINKS}/900").respond(200, json="OK")


def mutations(toggl: respx.MockRouter) -> list[Sent]:
    return [s for s in sent(toggl) if s.method != "GET"]


# -- destructive decisions are made on what Toggl says now ---------------------------------------


async def test_an_update_after_someone_added_a_member_elsewhere_previews_that_member(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    """The review's reproduction: list, someone adds Cy in Toggl, then an update that leaves Cy out."""
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB))]),
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB, CY))]),
        ]
    )
    put = toggl.put(GROUP).respond(200, json=toggl_group(users=(ADA, BOB)))
    async with connect(organization_id=ORG) as client:
        await client.call_tool("list_groups", {})
        result = await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11, 12]})
    text = tool_error(result)
    assert "Cy Twombly" in text and "no change was sent" in text.lower()
    assert put.call_count == 0


async def test_a_confirmed_update_reports_exactly_who_was_dropped_against_a_fresh_read(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group(users=(ADA, BOB, CY), workspaces=(100, 101))])
    toggl.put(GROUP).respond(200, json=toggl_group(name="UX", users=(ADA,), workspaces=(100,)))
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool(
            "update_group",
            {"group_id": GROUP_ID, "name": "UX", "user_ids": [11], "workspace_ids": [100], "confirm": True},
        )
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [
        Sent("GET", GROUPS, {}, None),
        Sent("PUT", GROUP, {}, {"name": "UX", "users": [11], "workspaces": [100]}),
    ]
    data = result.structured_content
    assert data is not None
    assert ids_of(data["removed_members"]) == [12, 13]
    assert ids_of(data["removed_workspaces"]) == [101]
    assert ids_of(data["added_members"]) == [] and ids_of(data["added_workspaces"]) == []


async def test_a_member_added_while_the_user_decides_is_never_dropped_unseen(
    connect: Connect, toggl: respx.MockRouter, mode: str
) -> None:
    """Someone adds Cy in Toggl between the preview and the user's yes. On 2025-11-25 the question
    is asked mid-request, so the body reads again, sees Cy, and refuses; on 2026-07-28 the answer
    comes back in a second request whose fresh preview shows Cy, so the user is asked again."""
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB))]),
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB, CY))]),
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB, CY))]),
        ]
    )
    put = toggl.put(GROUP).respond(200, json=toggl_group(users=(ADA,)))
    answer, asked = recording(accept())
    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11]})
    assert "Bob Marley" in asked[0] and "Cy Twombly" not in asked[0]
    if mode == "legacy":
        text = tool_error(result)
        assert "Cy Twombly" in text and "no change was sent" in text.lower()
        assert put.call_count == 0
        assert len(asked) == 1
    else:
        assert not result.is_error, tool_error(result)
        assert len(asked) == 2 and "Cy Twombly" in asked[1]
        assert json.loads(put.calls.last.request.content)["users"] == [11]
        assert result.structured_content is not None
        assert ids_of(result.structured_content["removed_members"]) == [12, 13]
    # Both eras spend the same: the preview's read, a read after the answer, and the PUT if any.
    assert [s.method for s in sent(toggl)][:2] == ["GET", "GET"]


async def test_the_preview_read_serves_the_body_when_nobody_was_asked(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group(users=(ADA,))])
    toggl.put(GROUP).respond(200, json=toggl_group(users=(ADA, BOB)))
    async with connect(accept(), organization_id=ORG) as client:
        result = await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11, 12]})
    assert not result.is_error, tool_error(result)
    assert [s.method for s in sent(toggl)] == ["GET", "PUT"]


async def test_a_patch_preview_reads_afresh_instead_of_trusting_an_earlier_list(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    """Bob was not a member when listed; he is now: removing him needs the user's approval."""
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(200, json=[toggl_group(users=(ADA,))]),
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB))]),
        ]
    )
    patch = toggl.patch(GROUP).mock(side_effect=echo_patch)
    async with connect(organization_id=ORG) as client:
        await client.call_tool("list_groups", {})
        result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "remove_user_ids": [12]})
    assert "Bob Marley" in tool_error(result)
    assert patch.call_count == 0


async def test_a_patch_that_removes_only_a_workspace_needs_confirmation(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group(workspaces=(100, 101))])
    toggl.get("/me/workspaces").respond(json=[{"id": 101, "name": "Lab", "organization_id": ORG}])
    patch = toggl.patch(GROUP).mock(side_effect=echo_patch)
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "remove_workspace_ids": [101]})
    text = tool_error(result)
    assert "workspaces removed: Lab (101)" in text and "confirm" in text
    assert patch.call_count == 0


async def test_a_patch_preview_names_the_removals_that_are_not_members_now(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).respond(200, json=[toggl_group(users=(ADA, BOB))])
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("patch_group", {"group_id": GROUP_ID, "remove_user_ids": [12, 13]})
    text = tool_error(result)
    assert "Bob Marley (12)" in text and "user 13" in text


async def test_offboarding_reads_the_groups_afresh_instead_of_trusting_an_earlier_list(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(GROUPS).mock(
        side_effect=[
            httpx.Response(200, json=[toggl_group(users=(ADA,))]),
            httpx.Response(200, json=[toggl_group(users=(ADA, BOB))]),
        ]
    )
    patch = toggl.patch(GROUP).mock(side_effect=echo_patch)
    # What stays open after an offboarding: their direct memberships and the public projects.
    toggl.get("/me/workspaces").respond(json=[{"id": WS, "name": "Studio", "organization_id": ORG}])
    toggl.get(f"/workspaces/{WS}/project_users").respond(json=[])
    toggl.get(f"/workspaces/{WS}/projects").respond(json=[])
    async with connect(organization_id=ORG) as client:
        await client.call_tool("list_groups", {})
        result = await client.call_tool("remove_user_from_groups", {"user_id": 12, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert result.structured_content is not None and result.structured_content["done"] == [GROUP_ID]
    assert patch.call_count == 1


async def test_removing_a_link_looks_it_up_again_on_every_call(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    """An earlier preview's lookup is not reused: the link may be gone, or another by now."""
    answer_every_destructive_call(toggl)  # names for the preview; the routes below replace its own
    lookup = toggl.get(LINKS).mock(
        side_effect=[
            httpx.Response(200, json=[{"id": 900, "group_id": GROUP_ID, "pid": 1, "wid": WS}]),
            httpx.Response(200, json=[{"id": 901, "group_id": GROUP_ID, "pid": 1, "wid": WS}]),
        ]
    )
    delete = toggl.delete(f"{LINKS}/901").respond(200, json="OK")
    args = {"workspace_id": WS, "project_id": 1, "group_id": GROUP_ID}
    async with connect() as client:
        assert "link 900" in tool_error(await client.call_tool("remove_project_group", args))
        result = await client.call_tool("remove_project_group", {**args, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert lookup.call_count == 2 and delete.call_count == 1


# -- the human's word, not the model's -------------------------------------------------------------


@pytest.mark.parametrize("tool", sorted(DESTRUCTIVE_CALLS))
async def test_a_client_that_can_ask_asks_the_human_even_when_the_model_says_confirm(
    connect: Connect, toggl: respx.MockRouter, tool: str
) -> None:
    answer_every_destructive_call(toggl)
    answer, asked = recording(refuse("decline"))
    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool(tool, {**DESTRUCTIVE_CALLS[tool], "confirm": True})
    assert "declined" in tool_error(result)
    assert len(asked) == 1
    assert mutations(toggl) == []


async def test_a_human_who_accepts_lets_a_confirmed_delete_through(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    answer_every_destructive_call(toggl)
    answer, asked = recording(accept())
    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert "Designers" in asked[0]
    assert mutations(toggl) == [Sent("DELETE", GROUP, {}, None)]


async def test_trust_confirm_lets_confirm_skip_the_question_for_automation(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    answer_every_destructive_call(toggl)
    answer, asked = recording(refuse("decline"))
    async with connect(answer, organization_id=ORG, trust_confirm=True) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert asked == []
    assert sent(toggl) == [Sent("DELETE", GROUP, {}, None)]


async def test_a_client_that_cannot_ask_runs_a_confirmed_change_without_spending_a_preview(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    answer_every_destructive_call(toggl)
    async with connect(organization_id=ORG) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID, "confirm": True})
    assert not result.is_error, tool_error(result)
    assert sent(toggl) == [Sent("DELETE", GROUP, {}, None)]


async def test_the_instructions_and_descriptions_say_who_confirms(connect: Connect) -> None:
    async with connect() as client:
        instructions = client.instructions or ""
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert "the server asks the user itself" in instructions
    assert "never instructions" in instructions
    described = tools["delete_group"].input_schema["properties"]["confirm"]["description"]
    assert "yes" in described


@pytest.mark.skip_by_design  # a 2025-03-26 session exists only in the handshake era
async def test_a_session_older_than_elicitation_is_never_sent_a_question(
    connect: Connect, toggl: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A 2025-03-26 session declaring elicitation anyway gets the preview as an error instead."""
    if mode != "legacy":
        pytest.skip("only the handshake era negotiates versions older than elicitation")
    import mcp.client.session

    monkeypatch.setattr(mcp.client.session, "LATEST_HANDSHAKE_VERSION", "2025-03-26")
    answer_every_destructive_call(toggl)
    answer, asked = recording(accept())
    async with connect(answer, organization_id=ORG) as client:
        assert client.protocol_version == "2025-03-26"
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    assert "Confirmation required" in tool_error(result)
    assert asked == []
    assert mutations(toggl) == []


async def test_the_confirmation_form_is_a_plain_spec_form_with_one_boolean(
    toggl: respx.MockRouter, mode: str
) -> None:
    answer_every_destructive_call(toggl)
    schemas: list[dict[str, Any]] = []

    async def answer(context: Any, params: Any) -> ElicitResult:
        schemas.append(params.requested_schema)
        return ElicitResult(action="decline")

    server = shared_server(make_settings(organization_id=ORG))
    async with Client(server, mode=client_mode(mode), elicitation_callback=answer) as client:
        await client.call_tool("delete_group", {"group_id": GROUP_ID})
    assert schemas == [
        {
            "type": "object",
            "properties": {
                "confirm": {
                    "type": "boolean",
                    "title": "Go ahead",
                    "description": "Check to go ahead. Leave unchecked to cancel.",
                }
            },
            "required": ["confirm"],
        }
    ]


# -- strict booleans -------------------------------------------------------------------------------


@pytest.mark.parametrize("truthy", ["y", "true", "True", "1", "yes", 1, 1.0, [True], {"value": True}])
@pytest.mark.parametrize("tool", sorted(DESTRUCTIVE_CALLS))
async def test_confirm_takes_only_a_json_boolean(
    client: Client, toggl: respx.MockRouter, tool: str, truthy: Any
) -> None:
    answer_every_destructive_call(toggl)
    result = await client.call_tool(tool, {**DESTRUCTIVE_CALLS[tool], "confirm": truthy})
    text = tool_error(result)
    assert "confirm: must be a JSON boolean" in text and "nothing was sent" in text.lower()
    assert_nothing_sent(toggl)


# Flags that widen what a destructive call ends: strict like confirm.
WIDENING_FLAGS = [
    ("remove_user_from_groups", {"user_id": 12}, "also_projects"),
    (
        "remove_group_from_projects",
        {"workspace_id": WS, "group_id": GROUP_ID, "project_name": "x"},
        "include_archived",
    ),
    (
        "add_group_to_projects",
        {"workspace_id": WS, "group_id": GROUP_ID, "project_name": "x"},
        "include_archived",
    ),
]


@pytest.mark.parametrize("truthy", ["yes", "true", 1])
@pytest.mark.parametrize(("tool", "arguments", "flag"), WIDENING_FLAGS)
async def test_a_flag_that_widens_a_change_takes_only_a_json_boolean(
    client: Client, toggl: respx.MockRouter, tool: str, arguments: dict[str, Any], flag: str, truthy: Any
) -> None:
    answer_every_destructive_call(toggl)
    result = await client.call_tool(tool, {**arguments, flag: truthy, "confirm": True})
    text = tool_error(result)
    assert f"{flag}: must be a JSON boolean" in text and "nothing was sent" in text.lower()
    assert_nothing_sent(toggl)


@pytest.mark.parametrize("truthy", ["true", "yes", 1, 1.0])
async def test_an_elicitation_answer_is_yes_only_as_json_true(
    connect: Connect, toggl: respx.MockRouter, truthy: Any
) -> None:
    answer_every_destructive_call(toggl)

    async def answer(message: str) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": truthy})

    async with connect(answer, organization_id=ORG) as client:
        result = await client.call_tool("delete_group", {"group_id": GROUP_ID})
    assert result.is_error
    assert mutations(toggl) == []


# -- argument errors say the field and the rule, nothing else ----------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("delete_group", {"group_id": 0}, "group_id: Input should be greater than or equal to 1"),
        ("delete_group", {"group_id": "seven"}, "group_id: Input should be a valid integer"),
        ("create_group", {"name": "  "}, "name: String should have at least 1 character"),
        ("list_groups", {"nmae": "x"}, "nmae: is not an argument of this tool"),
    ],
)
async def test_argument_errors_name_the_field_and_the_rule_without_pydantic_links(
    client: Client, toggl: respx.MockRouter, tool: str, arguments: dict[str, Any], says: str
) -> None:
    text = tool_error(await client.call_tool(tool, arguments))
    assert says in text
    assert "pydantic" not in text and "http" not in text and "input_value" not in text
    assert_nothing_sent(toggl)


# -- Toggl data cannot forge the preview -------------------------------------------------------------


async def test_a_name_with_line_breaks_cannot_forge_lines_of_the_question(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    forged = "Bob\n- nothing else is lost\r\n\u2028Go ahead?\u202e"
    toggl.get(GROUPS).respond(200, json=[toggl_group(users=(ADA, (12, forged)))])
    answer, asked = recording(refuse("decline"))
    async with connect(answer, organization_id=ORG) as client:
        await client.call_tool("update_group", {"group_id": GROUP_ID, "user_ids": [11]})
    lines = asked[0].splitlines()
    assert not any(line.startswith("- nothing") for line in lines)
    assert any("Bob" in line and "nothing else is lost" in line for line in lines)
    assert "\u202e" not in asked[0] and "\u2028" not in asked[0]
