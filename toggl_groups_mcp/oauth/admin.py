"""`toggl-groups-mcp oauth list|revoke`: the grants of an OAuth team server, for its admin.

Run with the server's environment (TOGGL_MCP_OAUTH, TOGGL_MCP_REDIS_URL, TOGGL_MCP_OAUTH_SECRET).
Revoking a grant forgets the Toggl token it holds; the person's access and refresh tokens stop
working on the next request, on every worker. Without Redis the grants live in the server
process only: stopping it ends them all.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import anyio

from ..config import ConfigError, Settings


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="toggl-groups-mcp oauth",
        description="List or revoke the OAuth grants of a team server (TOGGL_MCP_OAUTH with TOGGL_MCP_REDIS_URL).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per grant: the Toggl user, the client, when it was made")
    revoke = commands.add_parser("revoke", help="end grants and forget their Toggl tokens")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", metavar="ID_OR_EMAIL", help="every grant of this Toggl user (id or email)")
    which.add_argument("--client", metavar="CLIENT_ID", help="every grant of this registered client")
    which.add_argument("--all", action="store_true", help="every grant: everyone logs in again")
    return parser.parse_args(argv)


def _line(grant: dict[str, Any]) -> str:
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(grant.get("created") or 0))
    who = f"{grant.get('name') or '?'} <{grant.get('email') or '?'}> (Toggl user {grant.get('user_id')})"
    client = f"{grant.get('client_name') or 'unnamed client'} ({grant.get('client_id')})"
    return f"{who}  via {client}  since {made}"


def _chosen(grant: dict[str, Any], args: argparse.Namespace) -> bool:
    if args.all:
        return True
    if args.client is not None:
        return bool(grant.get("client_id") == args.client)
    wanted = str(args.user).strip().lower()
    return wanted in (str(grant.get("user_id")), str(grant.get("email") or "").lower())


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from . import OAuthServer

    oauth = OAuthServer(settings.with_(public_url=settings.public_url or "http://127.0.0.1"))
    try:
        grants = await oauth.records.all("grant")
        if args.command == "list":
            for grant in sorted(grants, key=lambda g: g.get("created") or 0):
                print(_line(grant))
            print(f"{len(grants)} grant(s)", file=sys.stderr)
            return 0
        ended = 0
        for grant in grants:
            if _chosen(grant, args) and await oauth.provider.revoke_grant(
                str(grant.get("id")), "revoked by an admin"
            ):
                ended += 1
                print(f"revoked: {_line(grant)}")
        print(f"{ended} grant(s) revoked; their Toggl tokens are forgotten", file=sys.stderr)
        return 0
    finally:
        await oauth.records.aclose()


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"toggl-groups-mcp oauth: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if not settings.oauth or settings.redis_url is None:
        print(
            "toggl-groups-mcp oauth: run it with the server's TOGGL_MCP_OAUTH=1, TOGGL_MCP_REDIS_URL and "
            "TOGGL_MCP_OAUTH_SECRET; without Redis the grants live in the server process, and stopping it "
            "ends them all",
            file=sys.stderr,
        )
        raise SystemExit(2)
    raise SystemExit(anyio.run(run, settings, args))
