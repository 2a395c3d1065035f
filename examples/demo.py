"""`make demo`: a narrated MCP session against the embedded Toggl sandbox.

Starts `toggl-groups-mcp --sandbox` as a real stdio subprocess through the MCP client SDK, finds
the organization, workspace, people and a project, creates a group with members, gives it access
to the project, shows who can reach the project by every path (a public project, a direct member
with their own rate, groups) and the workspace's whole access grid (the
interactive view of hosts with MCP Apps), tries to delete the group without confirmation
(refused, with a preview), deletes it with confirmation, then undoes the deletion from the change
journal. No Toggl account is needed.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(step: str) -> None:
    print(f"\n{BOLD}▸ {step}{RESET}")


def show(text: str) -> None:
    print(textwrap.indent(text, "    "))


def _column(project: dict[str, Any]) -> str:
    """A column head: the name, marked when everyone can use the project or it is archived."""
    marks = ("public" if project.get("public") else "") + (" archived" if project.get("archived") else "")
    return f"{project['name']} [{marks.strip()}]" if marks else project["name"]


def grid_lines(review: dict[str, Any]) -> list[str]:
    """review_access as a text grid: a row per group and per direct member, a column per project,
    ● where the row has access; a public project's column is open to everyone anyway."""
    projects = review["projects"]
    heads = [_column(p) for p in projects]
    rows = [(g["name"], g["projects"], f"({len(g['members'])} members)") for g in review["groups"]]
    rows += [(f"{d.get('name') or d['user_id']}", d["projects"], "(direct member)") for d in review["direct"]]
    width = max([len(name) for name, _, _ in rows] + [5])
    lines = [f"{'':{width}}  " + "  ".join(heads)]
    for name, reached, what in rows:
        cells = "  ".join(
            ("●" if p["id"] in reached else "·").center(len(h)) for p, h in zip(projects, heads, strict=True)
        )
        lines.append(f"{name:{width}}  {cells}  {what}")
    return lines


def access_lines(project: dict[str, Any]) -> list[str]:
    """get_project_access for one project: every way in, in names."""
    lines = ["public: everyone in the workspace can track time on it"] if project.get("public") else []
    for d in project.get("direct") or []:
        marks = ", ".join(
            m for m, on in (("manager", d.get("manager")), ("own rate", d.get("custom_rate"))) if on
        )
        lines.append(f"direct member: {d.get('name') or d['user_id']}" + (f" ({marks})" if marks else ""))
    for g in project.get("groups") or []:
        names = ", ".join(m.get("name") or str(m["user_id"]) for m in g.get("members") or []) or "nobody"
        lines.append(f"group {g.get('name')} (link {g['project_group_id']}): {names}")
    return lines or ["nobody but the workspace's admins"]


class Session:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls = 0

    async def call(
        self, tool: str, arguments: dict[str, Any], *, expect_error: bool = False
    ) -> dict[str, Any]:
        self.calls += 1
        shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
        print(f"{DIM}    → {tool}({shown}){RESET}")
        result = await self.client.call_tool(tool, arguments)
        if result.is_error != expect_error:
            text = " ".join(getattr(block, "text", "") for block in result.content)
            raise SystemExit(
                f"demo: {tool} {'failed' if result.is_error else 'unexpectedly succeeded'}: {text}"
            )
        if result.is_error:
            return {"error": " ".join(getattr(block, "text", "") for block in result.content)}
        return result.structured_content or {}


async def demo() -> None:
    started = time.monotonic()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "toggl_groups_mcp", "--sandbox"], env=env
    )
    say(
        "Starting toggl-groups-mcp --sandbox over stdio (an embedded Toggl with demo data; no account needed)"
    )
    async with Client(params, mode="legacy") as client:
        tools = await client.list_tools()
        show(f"{len(tools.tools)} tools: " + ", ".join(t.name for t in tools.tools))
        s = Session(client)

        say("Which organization and workspace? (one call: organizations with their workspaces)")
        org = (await s.call("list_organizations", {}))["organizations"][0]
        workspace = org["workspaces"][0]
        show(f"organization {org['id']}: {org['name']}; workspace {workspace['id']}: {workspace['name']}")

        say("Who is in the organization, and which projects are there?")
        users = (await s.call("list_organization_users", {"organization_id": org["id"]}))["users"]
        for user in users:
            show(f"user {user['user_id']}: {user['name']} <{user['email']}>")
        projects = (await s.call("list_projects", {"workspace_id": workspace["id"]}))["projects"]
        for project in projects:
            show(f"project {project['id']}: {project['name']}")
        members, project = users[:2], projects[0]

        say(f"Create the group 'Demo Launch Team' with {members[0]['name']} and {members[1]['name']}")
        group = (
            await s.call(
                "create_group",
                {
                    "organization_id": org["id"],
                    "name": "Demo Launch Team",
                    "user_ids": [m["user_id"] for m in members],
                    "workspace_ids": [workspace["id"]],
                },
            )
        )["group"]
        show(
            f"group {group['group_id']}: {group['name']}, members: "
            + ", ".join(m.get("name") or str(m["user_id"]) for m in group["members"])
        )

        say(f"Give it access to the project {project['name']!r}")
        await s.call(
            "add_project_group",
            {"workspace_id": workspace["id"], "project_id": project["id"], "group_id": group["group_id"]},
        )
        show("done")

        say(
            f"Who can track time on {project['name']!r}? (one call: public?, direct members, groups, in names)"
        )
        access = await s.call(
            "get_project_access",
            {"organization_id": org["id"], "workspace_id": workspace["id"], "project_ids": [project["id"]]},
        )
        for line in access_lines(access["projects"][0]):
            show(line)

        say("And on 'API Platform' and 'Studio Handbook'? (organization and workspace named, no ids)")
        for where, name in (("Acme Engineering", "API Platform"), (workspace["name"], "Studio Handbook")):
            access = await s.call(
                "get_project_access",
                {"organization_id": org["name"], "workspace_id": where, "project_name": name},
            )
            for found in access["projects"]:
                show(f"{found['name']}:")
                for line in access_lines(found):
                    show(f"  {line}")

        say(f"The whole of {workspace['name']!r} at a glance: who reaches which project, and how")
        review = await s.call("review_access", {"workspace_id": workspace["id"]})
        for line in grid_lines(review):
            show(line)
        show(
            "In a host with MCP Apps (Claude, VS Code, Goose...) this result opens as an interactive\n"
            "grid: click a group for its members, toggle cells, and Apply (twice) to change access.\n"
            "`make screenshot` renders it here: docs/access-review-light.png"
        )

        say("Delete the group WITHOUT confirmation (this client cannot ask the human)")
        refused = await s.call(
            "delete_group", {"organization_id": org["id"], "group_id": group["group_id"]}, expect_error=True
        )
        show(refused["error"])

        say("The user agrees: delete it with confirm: true")
        deleted = await s.call(
            "delete_group", {"organization_id": org["id"], "group_id": group["group_id"], "confirm": True}
        )
        show(f"deleted group {deleted['group_id']} ({deleted.get('name') or 'name unknown'})")

        say("Second thoughts: undo that (the change journal kept what the deletion lost)")
        undone = await s.call("undo_change", {"change_id": deleted["change_id"]})
        for line in undone["restored"] + undone["could_not"]:
            show(line)
        changes = (await s.call("list_changes", {}))["changes"]
        for change in changes:
            undone_by = f", undone by {change['undone_by']}" if change.get("undone_by") else ""
            show(
                f"{change['change_id']} {change['tool']}: {change['summary']} [{change['outcome']}{undone_by}]"
            )

        quota = await s.call("get_quota", {"organization_id": org["id"]})
        say(
            f"Done: {s.calls} tool calls in {time.monotonic() - started:.1f} s; "
            f"sandbox quota left this hour: {quota['remaining']}"
        )


def main() -> None:
    anyio.run(demo)


if __name__ == "__main__":
    main()
