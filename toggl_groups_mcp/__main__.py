"""Command line: `toggl-groups-mcp [--sandbox] [--read-only] [--no-journal] [--tools LIST]
[--transport stdio|http [--stateless] [--workers N]]`, and `toggl-groups-mcp oauth list|revoke`
for an OAuth team server's grants."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import anyio
from pydantic import SecretStr

from . import __version__
from .config import ConfigError, Settings, tool_names
from .logs import configure_logging, secrets_of


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="toggl-groups-mcp",
        description="MCP server for Toggl Track groups and project groups (stdio by default).",
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="run against an embedded Toggl sandbox; no token needed"
    )
    parser.add_argument("--read-only", action="store_true", help="register only the tools that read")
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="keep no change journal (and offer no undo); else TOGGL_MCP_JOURNAL or the state folder",
    )
    parser.add_argument(
        "--tools",
        metavar="LIST",
        help="comma list of tools and toolsets to register (default all; overrides TOGGL_MCP_TOOLS)",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP transport: address to bind")
    parser.add_argument("--port", type=int, default=8000, help="HTTP transport: port")
    parser.add_argument(
        "--stateless",
        action="store_true",
        help="HTTP transport: no sessions, so any worker or replica answers any request",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="HTTP transport: N worker processes on one port (N > 1 needs --stateless and TOGGL_MCP_REDIS_URL)",
    )
    parser.add_argument("--log-level", default="WARNING", help="stderr log level (default WARNING)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["oauth"]:
        # `toggl-groups-mcp oauth list|revoke`: an OAuth team server's grants (oauth/admin.py).
        from .oauth.admin import main as oauth_admin

        oauth_admin(argv[1:])
        return
    args = parse_args(argv)
    try:
        # --sandbox needs no token; the sandbox's own token is filled in once it runs.
        settings = Settings.from_env(None, **({"api_token": SecretStr("sandbox")} if args.sandbox else {}))
    except ConfigError as error:
        print(f"toggl-groups-mcp: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    # stdout is the MCP wire on stdio: everything we say goes to stderr, with the secrets read
    # above scrubbed from every record (httpcore logs response headers at DEBUG).
    try:
        configure_logging(args.log_level, secrets_of(settings, api_token=not args.sandbox))
    except ValueError as error:
        print(f"toggl-groups-mcp: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.read_only:
        settings = settings.with_(read_only=True)
    if args.no_journal:
        settings = settings.with_(journal_path=None)
    if args.tools is not None:
        settings = settings.with_(tools=tool_names(args.tools))
    if settings.tools:
        # Checked before serving: a host sees a start-up error, not a server missing its tools.
        from .tools.toolsets import select_tools

        try:
            select_tools(settings.tools, setting="--tools" if args.tools is not None else "TOGGL_MCP_TOOLS")
        except ConfigError as error:
            print(f"toggl-groups-mcp: {error}", file=sys.stderr)
            raise SystemExit(2) from None
    # The journal is checked before serving (a link, a FIFO, another user's file or a folder others
    # can write is refused); the sandbox's own temporary journal needs no check.
    if settings.journal_path is not None and (
        not args.sandbox or os.environ.get("TOGGL_MCP_JOURNAL", "").strip()
    ):
        from .journal import startup_problem

        problem = startup_problem(settings.journal_path)
        if problem:
            print(f"toggl-groups-mcp: {problem}", file=sys.stderr)
            raise SystemExit(2)
    problem = _transport_problem(settings, args)
    if problem:
        print(f"toggl-groups-mcp: {problem}", file=sys.stderr)
        raise SystemExit(2)
    if args.transport == "http":
        from .http import is_loopback, oauth_public_url

        try:
            settings = oauth_public_url(settings, args.host, args.port)
        except ConfigError as error:
            print(f"toggl-groups-mcp: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        if not is_loopback(args.host) and settings.http_token is None and not settings.oauth:
            print(
                f"toggl-groups-mcp: TOGGL_MCP_HTTP_TOKEN is required to bind to {args.host} (not loopback)",
                file=sys.stderr,
            )
            raise SystemExit(2)
    signal.signal(signal.SIGTERM, _stop)
    try:
        if args.workers > 1:
            _run_workers(settings, args)
        else:
            anyio.run(_run, settings, args)
    except KeyboardInterrupt:
        pass


# Folders this process made and removes even when stopped by SIGTERM (the sandbox's, with its journal).
_TEMPORARY: list[str] = []


def _stop(signum: int, frame: object) -> None:
    """A host or a test stops the server with SIGTERM: remove what it made, then end as SIGTERM
    always ended it (at once: a clean shutdown could wait forever on a thread reading stdin)."""
    for folder in _TEMPORARY:
        shutil.rmtree(folder, ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _transport_problem(settings: Settings, args: argparse.Namespace) -> str | None:
    """What the command line asks that cannot work, said before anything starts."""
    http_only = [
        name
        for name, on in (
            ("--stateless", args.stateless),
            ("--workers", args.workers != 1),
            ("TOGGL_MCP_PER_USER_TOKENS", settings.per_user_tokens),
            ("TOGGL_MCP_OAUTH", settings.oauth),
        )
        if on
    ]
    if args.transport != "http" and http_only:
        return f"{' and '.join(http_only)} need --transport http"
    if args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    if args.workers > 1 and not args.stateless:
        return (
            "--workers above 1 needs --stateless: a session lives in one worker, and the next request "
            "may reach another"
        )
    if args.workers > 1 and settings.redis_url is None:
        return (
            "--workers above 1 needs TOGGL_MCP_REDIS_URL: Toggl's rate limit belongs to the token, so the "
            "workers must pace their requests together, through Redis"
        )
    return None


def _run_workers(settings: Settings, args: argparse.Namespace) -> None:
    """N processes on one port; a sandbox, if asked for, runs in this (the parent) process."""
    from .http import serve_workers

    options: dict[str, object] = {"read_only": settings.read_only, "log_level": args.log_level}
    options["journal"] = str(settings.journal_path) if settings.journal_path else None
    if settings.tools:
        options["tools"] = list(settings.tools)
    if not args.sandbox:
        serve_workers(settings, options, host=args.host, port=args.port, workers=args.workers)
        return
    from .sandbox import SandboxConfig, SandboxThread

    named = os.environ.get("TOGGL_MCP_JOURNAL", "").strip()
    with tempfile.TemporaryDirectory(prefix="toggl-sandbox-") as folder:
        _TEMPORARY.append(folder)
        if not args.no_journal and not named:
            options["journal"] = str(Path(folder) / "journal.jsonl")
        sandbox = SandboxThread(SandboxConfig()).start()
        try:
            print(
                f"toggl-groups-mcp: SANDBOX MODE, using the embedded Toggl sandbox at {sandbox.url} "
                "(simulated data, not your Toggl account)",
                file=sys.stderr,
            )
            options["sandbox"] = {"url": sandbox.url, "token": sandbox.token}
            serve_workers(settings, options, host=args.host, port=args.port, workers=args.workers)
        finally:
            sandbox.stop()


async def _run(settings: Settings, args: argparse.Namespace) -> None:
    if not args.sandbox:
        await _serve(settings, args)
        return
    # The sandbox lives as long as this process: so does its journal, unless one is named.
    named = os.environ.get("TOGGL_MCP_JOURNAL", "").strip()
    with tempfile.TemporaryDirectory(prefix="toggl-sandbox-") as folder:
        _TEMPORARY.append(folder)
        if not args.no_journal and not named:
            settings = settings.with_(journal_path=Path(folder) / "journal.jsonl")
        await _run_sandbox(settings, args)


async def _run_sandbox(settings: Settings, args: argparse.Namespace) -> None:
    from .sandbox import SandboxConfig, running_sandbox

    async with running_sandbox(SandboxConfig()) as sandbox:
        print(
            f"toggl-groups-mcp: SANDBOX MODE, using the embedded Toggl sandbox at {sandbox.url} "
            "(simulated data, not your Toggl account)",
            file=sys.stderr,
        )
        sandboxed = settings.with_(
            api_token=SecretStr(sandbox.token), api_url=sandbox.url, sandbox=True, rate_per_sec=None
        )
        await _serve(sandboxed, args)


async def _serve(settings: Settings, args: argparse.Namespace) -> None:
    from .server import build_server

    server = build_server(settings)
    if args.transport == "stdio":
        await server.run_stdio_async()
    else:
        from .http import serve_http

        await serve_http(server, settings, host=args.host, port=args.port, stateless=args.stateless)


if __name__ == "__main__":
    main()
