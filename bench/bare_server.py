"""A bare MCPServer with one trivial tool on stdio: the yardstick for per-call cost, cold start and
memory. Run as ``python -m bench.bare_server``; it imports nothing from the project and leaves
every MCPServer setting at its default.
"""

from mcp.server import MCPServer

mcp = MCPServer("bare")


@mcp.tool()
async def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    mcp.run()
