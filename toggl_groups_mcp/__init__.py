"""toggl-groups-mcp: an MCP server for Toggl Track groups and project groups."""

__version__ = "0.1.0"
