"""``toggl-groups-sandbox``: run the Toggl sandbox standalone until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from .config import DEFAULT_TOKEN, SandboxConfig, is_loopback
from .runner import running_sandbox
from .store import SandboxStateError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toggl-groups-sandbox",
        description="A local, stateful fake of the Toggl Track API v9 (groups and project groups).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not loopback (the control API has no credentials: anyone who "
        "can reach the port can read and reset the state)",
    )
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--state", metavar="FILE", help="load state from FILE and save every change to it")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="API token to accept (default: %(default)s)")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="seconds added to each request"
    )
    parser.add_argument("--rate", type=float, metavar="R", help="leaky bucket: requests per second, else 429")
    parser.add_argument("--burst", type=int, default=2, help="leaky bucket capacity (default: %(default)s)")
    parser.add_argument(
        "--quota", type=int, metavar="N", help="calls per organization per sliding hour, else 402"
    )
    parser.add_argument(
        "--user-quota", type=int, metavar="N", help="user-level calls (/me*) per sliding hour"
    )
    parser.add_argument(
        "--plan-402", action="store_true", help="group endpoints answer 402 without quota headers"
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, metavar="P", help="share of random 500/502/503"
    )
    parser.add_argument("--seed", type=int, help="seed for the random failures")
    parser.add_argument(
        "--consistency-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds after creation during which a group is unknown to project-group calls",
    )
    parser.add_argument(
        "--ignore-per-page",
        action="store_true",
        help="project and organization-user listings answer every item on page 1, whatever per_page asks",
    )
    parser.add_argument(
        "--large-org",
        action="store_true",
        help="add Megacorp Holdings to the demo data: 3,000 users, 1,500 projects, 300 groups",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default: %(default)s)")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        token=args.token,
        host=args.host,
        port=args.port,
        state_path=args.state,
        latency=args.latency,
        rate_per_sec=args.rate,
        burst=args.burst,
        hourly_quota=args.quota,
        user_hourly_quota=args.user_quota,
        plan_402=args.plan_402,
        error_rate=args.error_rate,
        seed=args.seed,
        consistency_delay=args.consistency_delay,
        ignore_per_page=args.ignore_per_page,
        large_org=args.large_org,
        log_level=args.log_level,
        allow_remote=args.allow_remote,
    )


async def serve(config: SandboxConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with running_sandbox(config) as sb:
        print(f"Toggl sandbox listening on {sb.url} (token: {sb.token})", flush=True)
        for token, user_id in config.other_tokens.items():
            print(f"Another user ({user_id}) has the token {token}", flush=True)
        print(f"Control API: {sb.control_url} (state, requests, reset, faults, stats)", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        if not is_loopback(config.host):
            print(
                f"toggl-groups-sandbox: warning: listening on {config.host or 'every address'}, beyond "
                "this machine; the control API (/__sandbox) has no credentials, so anyone who can reach "
                "it can read and reset the sandbox",
                file=sys.stderr,
                flush=True,
            )
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except (SandboxStateError, ValueError, OSError) as exc:
        print(f"toggl-groups-sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
