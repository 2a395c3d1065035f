"""An OpenAI Agents SDK agent (`pip install openai-agents`) that manages Toggl groups through
toggl-groups-mcp over stdio.

    python examples/openai-agents/agent.py --sandbox "Who can track time on Website Redesign?"
    python examples/openai-agents/agent.py "Add Designers to every Website project"   # TOGGL_API_TOKEN
    python examples/openai-agents/agent.py --check --sandbox   # no model: connect, list, call one tool

The agent needs OPENAI_API_KEY; `--check` does not. `--uvx` starts the server with
`uvx toggl-groups-mcp` instead of the installed `toggl-groups-mcp`. The server gets your TOGGL_*
settings (an MCP stdio child inherits only PATH, HOME and a few more).

Timeouts. The SDK waits 5 s for each MCP request unless told otherwise
(`client_session_timeout_seconds`), and a bulk call paced at Toggl's rate limit (about one request a
second) takes longer: cut off, the agent sees an error although the server finished the work. So this
waits up to BULK_SECONDS + 20 s. The server stops a bulk call by itself after TOGGL_MCP_BULK_SECONDS
(40 s by default) and says what is left; calling again does the rest and repeats nothing. A client
that cannot wait that long should set TOGGL_MCP_BULK_SECONDS below its own limit (for example 20
for a 30 s client).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from agents import Agent, Runner
from agents.mcp import MCPServerStdio

# What the server allows a bulk call (its default 40 s, or TOGGL_MCP_BULK_SECONDS), plus room for
# the call's last requests and the answer.
BULK_SECONDS = float(os.environ.get("TOGGL_MCP_BULK_SECONDS") or 40)
CLIENT_TIMEOUT_SECONDS = BULK_SECONDS + 20

INSTRUCTIONS = (
    "You manage Toggl Track groups and who can reach which projects. Read before you change, "
    "name what you will change, and report what each tool says it did and skipped."
)


def server(*, sandbox: bool = False, uvx: bool = False) -> MCPServerStdio:
    """The toggl-groups-mcp stdio server, with this process's TOGGL_* settings."""
    command, args = ("uvx", ["toggl-groups-mcp"]) if uvx else ("toggl-groups-mcp", [])
    if sandbox:
        args.append("--sandbox")
    env = {name: value for name, value in os.environ.items() if name.startswith("TOGGL_")}
    return MCPServerStdio(
        name="toggl-groups",
        params={"command": command, "args": args, "env": env},
        client_session_timeout_seconds=CLIENT_TIMEOUT_SECONDS,
        cache_tools_list=True,
    )


async def check(*, sandbox: bool = False, uvx: bool = False) -> dict[str, Any]:
    """Connect, list the tools and call list_organizations, without a model: what `--check` prints."""
    async with server(sandbox=sandbox, uvx=uvx) as toggl:
        tools = [tool.name for tool in await toggl.list_tools()]
        result = await toggl.call_tool("list_organizations", {})
    organizations = (result.structured_content or {}).get("organizations", [])
    return {
        "tools": tools,
        "is_error": bool(result.is_error),
        "organizations": [org["name"] for org in organizations],
    }


async def ask(question: str, *, sandbox: bool = False, uvx: bool = False) -> str:
    async with server(sandbox=sandbox, uvx=uvx) as toggl:
        agent = Agent(
            name="Toggl groups",
            instructions=INSTRUCTIONS,
            mcp_servers=[toggl],
            # The tools' input schemas are written to stay valid in OpenAI's strict mode.
            mcp_config={"convert_schemas_to_strict": True},
        )
        result = await Runner.run(agent, question)
    return str(result.final_output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="?", help="what to ask the agent")
    parser.add_argument("--sandbox", action="store_true", help="the embedded sandbox: no token needed")
    parser.add_argument("--uvx", action="store_true", help="start the server with `uvx toggl-groups-mcp`")
    parser.add_argument("--check", action="store_true", help="no model: list the tools and call one")
    args = parser.parse_args()
    if args.check:
        print(json.dumps(asyncio.run(check(sandbox=args.sandbox, uvx=args.uvx)), indent=2))
    elif args.question:
        print(asyncio.run(ask(args.question, sandbox=args.sandbox, uvx=args.uvx)))
    else:
        parser.error("ask a question, or use --check")


if __name__ == "__main__":
    main()
