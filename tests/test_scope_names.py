"""A model may name the organization or workspace (exact name, any case) where it would otherwise
look the id up first: the server turns the name into the id once, at the tool boundary, from the
cached /me/organizations and /me/workspaces (no request when cached). No or several matches give
an error naming the field and the choices. A call that changes Toggl resolves only from answers
Toggl gave this process, never from Redis."""

from __future__ import annotations

import json

import pytest
import respx
from mcp import Client

from tests.conftest import Connect, sent, tool_error
from tests.redis_server import RedisServer
from tests.test_shared_limits import redis, redis_server  # noqa: F401  (fixtures)
from tests.test_shared_trust import asking, cache_key, raw_redis, server_on

pytestmark = pytest.mark.anyio

ORG, OTHER_ORG = 1, 2
WS, OTHER_WS = 5, 6
ORGS = [{"id": ORG, "name": "Northwind"}, {"id": OTHER_ORG, "name": "Contoso Ltd"}]
WORKSPACES = [
    {"id": WS, "name": "Main", "organization_id": ORG},
    {"id": OTHER_WS, "name": "Main", "organization_id": OTHER_ORG},
    {"id": 7, "name": "Design Studio", "organization_id": ORG},
]


def me(toggl: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    return (
        toggl.get("/me/organizations").respond(json=ORGS),
        toggl.get("/me/workspaces").respond(json=WORKSPACES),
    )


def paths(toggl: respx.MockRouter) -> list[str]:
    return [request.path for request in sent(toggl)]


async def test_an_organization_named_in_any_case_is_its_id_and_the_second_time_costs_no_lookup(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    me(toggl)
    groups = toggl.get(f"/organizations/{ORG}/groups").respond(json=[])
    async with connect() as client:
        first = await client.call_tool("list_groups", {"organization_id": "Northwind"})
        second = await client.call_tool("list_groups", {"organization_id": "  nORTHWIND "})
    assert not first.is_error and not second.is_error, tool_error(first if first.is_error else second)
    assert groups.call_count == 2
    assert paths(toggl) == [
        "/me/organizations",
        f"/organizations/{ORG}/groups",
        f"/organizations/{ORG}/groups",
    ]
    assert first.structured_content is not None and second.structured_content is not None
    assert (first.structured_content["requests"], second.structured_content["requests"]) == (2, 1)


async def test_an_id_written_as_digits_in_a_string_is_the_id_without_a_lookup(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get(f"/organizations/{OTHER_ORG}/groups").respond(json=[])
    toggl.get(f"/workspaces/{WS}/project_groups").respond(json=[])
    async with connect() as client:
        groups = await client.call_tool("list_groups", {"organization_id": "2"})
        links = await client.call_tool("list_project_groups", {"workspace_id": " 5 ", "project_ids": [3]})
    assert not groups.is_error and not links.is_error
    assert paths(toggl) == [f"/organizations/{OTHER_ORG}/groups", f"/workspaces/{WS}/project_groups"]


async def test_an_unknown_name_names_the_field_and_the_choices_and_sends_nothing_else(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    me(toggl)
    async with connect() as client:
        text = tool_error(await client.call_tool("list_groups", {"organization_id": "Contoso"}))
    assert "organization_id" in text and "'Contoso'" in text
    # The near one first, then the rest, each with its id.
    assert "2 (Contoso Ltd), 1 (Northwind)" in text
    assert paths(toggl) == ["/me/organizations"]


async def test_an_empty_name_is_refused_without_a_request(
    connect: Connect, toggl: respx.MockRouter, unexpected: respx.Route
) -> None:
    async with connect() as client:
        text = tool_error(await client.call_tool("list_groups", {"organization_id": "   "}))
    assert "organization_id" in text
    assert toggl.calls.call_count == 0


async def test_a_workspace_name_held_by_two_organizations_lists_both_with_their_organizations(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    me(toggl)
    async with connect() as client:
        text = tool_error(
            await client.call_tool("list_project_groups", {"workspace_id": "main", "project_ids": [3]})
        )
    assert "workspace_id" in text and "2 workspaces are named 'main'" in text
    assert "5 (organization Northwind)" in text and "6 (organization Contoso Ltd)" in text
    # list_project_groups takes no organization_id: the error does not suggest one.
    assert "Pass the id." in text and "organization_id" not in text
    assert not any(path.endswith("/project_groups") for path in paths(toggl))


async def test_where_the_tool_takes_an_organization_the_error_suggests_it_to_pick_the_workspace(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    me(toggl)
    async with connect() as client:
        text = tool_error(await client.call_tool("list_workspace_groups", {"workspace_id": "Main"}))
    assert "Pass the id, or organization_id" in text


async def test_the_organization_named_in_the_same_call_picks_between_workspaces_of_one_name(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    me(toggl)
    toggl.get(f"/organizations/{OTHER_ORG}/workspaces/{OTHER_WS}/groups").respond(json=[])
    async with connect() as client:
        result = await client.call_tool(
            "list_workspace_groups", {"organization_id": "contoso ltd", "workspace_id": "MAIN"}
        )
    assert not result.is_error, tool_error(result)
    assert paths(toggl)[-1] == f"/organizations/{OTHER_ORG}/workspaces/{OTHER_WS}/groups"


async def test_two_organizations_of_one_name_are_refused_with_both_ids(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    toggl.get("/me/organizations").respond(json=[{"id": 1, "name": "Acme"}, {"id": 9, "name": "ACME"}])
    async with connect() as client:
        text = tool_error(await client.call_tool("get_quota", {"organization_id": "acme"}))
    assert "organization_id" in text and "1 (Acme)" in text and "9 (ACME)" in text


async def test_a_destructive_call_by_workspace_name_previews_the_named_workspace(
    connect: Connect, toggl: respx.MockRouter
) -> None:
    me(toggl)
    toggl.get("/workspaces/7/projects").respond(json=[{"id": 3, "name": "Website", "active": True}])
    toggl.get("/workspaces/7/project_groups").respond(json=[{"id": 901, "group_id": 6, "pid": 3, "wid": 7}])
    toggl.get().respond(json=[])  # whatever else the preview reads, answered empty
    async with connect(organization_id=ORG) as client:
        text = tool_error(
            await client.call_tool(
                "remove_project_group", {"workspace_id": "design studio", "project_id": 3, "group_id": 6}
            )
        )
    assert "Confirmation required" in text
    assert not [c for c in toggl.calls if c.request.method != "GET"]
    assert "/workspaces/7/project_groups" in paths(toggl)


async def test_the_schema_offers_an_id_or_a_name_in_a_form_every_provider_converts(connect: Connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("list_groups", "list_project_groups", "get_quota"):
        props = tools[name].input_schema["properties"]
        for field in ("organization_id", "workspace_id"):
            if field in props:
                assert props[field]["type"] == ["integer", "string", "null"]
                assert "id or name" in props[field]["description"].lower()


async def test_a_change_resolves_a_workspace_name_from_toggl_never_from_a_list_planted_in_redis(
    redis: RedisServer,  # noqa: F811
    toggl: respx.MockRouter,
) -> None:
    me(toggl)
    toggl.get("/workspaces/7/projects").respond(json=[{"id": 3, "name": "Website", "active": True}])
    toggl.get("/workspaces/7/project_groups").respond(json=[{"id": 901, "group_id": 6, "pid": 3, "wid": 7}])
    toggl.get().respond(json=[])
    forged = [{"id": 666, "name": "Design Studio", "organization_id": ORG}]
    async with raw_redis(redis.url) as planted:
        await planted.set(cache_key("me", "workspaces"), json.dumps(forged), px=60_000)
    callback, asked = asking(answer=False)
    async with Client(server_on(redis.url), mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool(
            "remove_project_group", {"workspace_id": "Design Studio", "project_id": 3, "group_id": 6}
        )
    assert result.is_error  # the human said no
    assert "/me/workspaces" in paths(toggl)
    assert not any("/workspaces/666" in path for path in paths(toggl))
    assert asked and "666" not in asked[0]
