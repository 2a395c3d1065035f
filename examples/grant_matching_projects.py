"""Automation: give a group access to every project whose name contains some text.

    python examples/grant_matching_projects.py --sandbox --workspace-id 8231045 --group Designers --match Website
    TOGGL_API_TOKEN=... python examples/grant_matching_projects.py --group Designers --match Website

It drives toggl-groups-mcp over stdio with the MCP client SDK, as any agent would: find the
workspace's organization, the group and the projects, then grant in bulk. Toggl is asked once
per step plus once per project that still lacks access. Without --workspace-id the user's only
workspace (or TOGGL_WORKSPACE_ID) is used.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import anyio
from mcp import Client, StdioServerParameters


class Stop(Exception):
    """A reason to stop, said in one line."""


def server_params(sandbox: bool) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("TOGGL_", "PATH", "HOME", "PYTHON"))}
    args = ["-m", "toggl_groups_mcp", *(["--sandbox"] if sandbox else [])]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise Stop(f"{tool} failed: {text}")
    return result.structured_content or {}


async def workspace_scope(client: Client, workspace_id: int | None) -> dict[str, int]:
    """The workspace and its organization: the group lives in the organization, the projects in
    the workspace."""
    workspaces = (await call(client, "list_workspaces", {}))["workspaces"]
    if workspace_id is None and len(workspaces) != 1:
        choices = ", ".join(f"{w['id']} ({w['name']})" for w in workspaces)
        raise Stop(f"several workspaces: pass --workspace-id, one of {choices}")
    chosen = next((w for w in workspaces if workspace_id in (None, w["id"])), None)
    if chosen is None:
        raise Stop(f"workspace {workspace_id} is not one of yours")
    return {"workspace_id": chosen["id"], "organization_id": chosen["organization_id"]}


async def grant(client: Client, group: str, match: str, workspace_id: int | None) -> dict[str, Any]:
    scope = await workspace_scope(client, workspace_id)
    org = {"organization_id": scope["organization_id"]}
    ws = {"workspace_id": scope["workspace_id"]}
    groups = (await call(client, "list_groups", {"name": group, **org}))["groups"]
    exact = [g for g in groups if g["name"].casefold() == group.casefold()]
    if len(exact) != 1:
        raise Stop(f"expected one group named {group!r}, found {[g['name'] for g in groups]}")
    projects = (await call(client, "list_projects", {"name": match, "per_page": 200, **ws}))["projects"]
    if not projects:
        raise Stop(f"no project name contains {match!r}")
    names = ", ".join(p["name"] for p in projects)
    print(f"Group {exact[0]['name']} ({exact[0]['group_id']}); projects: {names}")
    arguments = {"group_id": exact[0]["group_id"], "project_ids": [p["id"] for p in projects], **ws}
    return await call(client, "add_group_to_projects", arguments)


async def run(args: argparse.Namespace) -> dict[str, Any] | str:
    async with Client(server_params(args.sandbox), mode="legacy") as client:
        try:
            return await grant(client, args.group, args.match, args.workspace_id)
        except Stop as stop:  # caught inside the session, so it leaves as one line, not a task-group trace
            return str(stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--group", required=True, help="the group's exact name")
    parser.add_argument("--match", required=True, help="text the project names contain")
    default_ws = os.environ.get("TOGGL_WORKSPACE_ID")
    parser.add_argument(
        "--workspace-id",
        type=int,
        default=int(default_ws) if default_ws else None,
        help="the workspace (default: TOGGL_WORKSPACE_ID, else your only one)",
    )
    parser.add_argument("--sandbox", action="store_true", help="use the embedded Toggl sandbox")
    args = parser.parse_args()
    result = anyio.run(run, args)
    if isinstance(result, str):
        raise SystemExit(f"grant_matching_projects: {result}")
    already = result["skipped"].get("already linked", [])
    print(f"done: {result['done']}  skipped (already had access): {already}")
    for failure in result["failed"]:
        print(f"failed: project {failure['id']}: {failure['reason']}")
    if result["remaining"]:
        print(f"stopped ({result['stopped']}); run again later to do: {result['remaining']}")


if __name__ == "__main__":
    main()
