"""The MCP Bundle's entry point (manifest.json `server.entry_point`).

The host runs `uv run --directory <bundle> server/main.py`: uv installs the dependencies that the
bundle's pyproject.toml lists (written by bundle/build.py from the project's own) and runs this
file, next to which the package is staged, so `toggl_groups_mcp` imports from here.

Every setting arrives in the environment (manifest `mcp_config.env`, filled from the user's
`user_config`). The one the command line takes and the environment does not is the sandbox: the
host sends the `sandbox` checkbox as TOGGL_MCP_SANDBOX=true or false, and true becomes `--sandbox`. The
sandbox then keeps its own temporary journal: the "Change journal" field is for real changes, and a
journal named in TOGGL_MCP_JOURNAL would be the sandbox's too, where undo_change in a real run
would find simulated changes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def command_line(env: Mapping[str, str]) -> list[str]:
    """The server's arguments for this environment; a value that is neither true nor false stops
    the start with a message (as the server does for its own flags), never a silent real run."""
    from toggl_groups_mcp.config import FALSE_WORDS, TRUE_WORDS

    raw = env.get("TOGGL_MCP_SANDBOX", "")
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return ["--sandbox"]
    if not word or word in FALSE_WORDS:
        return []
    print(f"toggl-groups-mcp: TOGGL_MCP_SANDBOX must be true or false, got {raw!r}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    from toggl_groups_mcp.__main__ import main

    arguments = command_line(os.environ)
    if "--sandbox" in arguments:
        os.environ.pop("TOGGL_MCP_JOURNAL", None)
    main([*arguments, *sys.argv[1:]])
