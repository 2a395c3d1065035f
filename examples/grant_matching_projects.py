"""Automation: give a group access to every project whose name contains some text.

    python examples/grant_matching_projects.py --group Designers --match Website --sandbox
    TOGGL_API_TOKEN=... python examples/grant_matching_projects.py --group Designers --match Website

It drives toggl-groups-mcp over stdio with the MCP client SDK, as any agent would: three tool
calls (find the group, find the projects, grant in bulk), which cost Toggl 3 requests plus one per
project that still lacks access.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import anyio
from mcp import Client, StdioServerParameters


def server_params(sandbox: bool) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("TOGGL_", "PATH", "HOME", "PYTHON"))}
    args = ["-m", "toggl_groups_mcp", *(["--sandbox"] if sandbox else [])]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise SystemExit(f"{tool} failed: {text}")
    return result.structured_content or {}


async def grant(group: str, match: str, sandbox: bool, workspace_id: int | None) -> dict[str, Any]:
    async with Client(server_params(sandbox), mode="legacy") as client:
        groups = (await call(client, "list_groups", {"name": group}))["groups"]
        exact = [g for g in groups if g["name"].casefold() == group.casefold()]
        if len(exact) != 1:
            raise SystemExit(f"expected one group named {group!r}, found {[g['name'] for g in groups]}")
        where = {"workspace_id": workspace_id} if workspace_id else {}
        projects = (await call(client, "list_projects", {"name": match, "per_page": 200, **where}))[
            "projects"
        ]
        if not projects:
            raise SystemExit(f"no project name contains {match!r}")
        print(
            f"Group {exact[0]['name']} ({exact[0]['group_id']}); projects: "
            + ", ".join(p["name"] for p in projects)
        )
        return await call(
            client,
            "add_group_to_projects",
            {"group_id": exact[0]["group_id"], "project_ids": [p["id"] for p in projects], **where},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", required=True, help="the group's exact name")
    parser.add_argument("--match", required=True, help="text the project names contain")
    parser.add_argument(
        "--workspace-id", type=int, help="the workspace (default: the only one, or TOGGL_WORKSPACE_ID)"
    )
    parser.add_argument("--sandbox", action="store_true", help="use the embedded Toggl sandbox")
    args = parser.parse_args()
    result = anyio.run(grant, args.group, args.match, args.sandbox, args.workspace_id)
    print(f"done: {result['done']}  skipped (already had access): {result['skipped']}")
    for failure in result["failed"]:
        print(f"failed: project {failure['id']}: {failure['reason']}")
    if result["remaining"]:
        print(f"stopped ({result['stopped']}); run again later to do: {result['remaining']}")


if __name__ == "__main__":
    main()
