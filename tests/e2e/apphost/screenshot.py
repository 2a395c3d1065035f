"""`make screenshot`: docs/access-review-light.png and docs/access-review-dark.png, the access-review
view (review_access) on the embedded sandbox's demo data, rendered by the browser tests' host.

    python -m tests.e2e.apphost.screenshot [--out docs] [--scale 1]

The view is shown as a person would have it mid-review: a group's members open, two changes staged
and the confirmation asked for (nothing is applied). Each PNG is 1000 px wide and as tall as the view asks its host to be.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio
from playwright.async_api import expect
from pydantic import SecretStr

from toggl_groups_mcp.config import Settings
from toggl_groups_mcp.sandbox import SandboxThread
from toggl_groups_mcp.sandbox.demo import WS_ACME_DESIGN
from toggl_groups_mcp.server import build_server

from .host import REPO, AppHost, NotInstalled, launch_browser, open_view

WIDTH = 1000
THEMES = ("light", "dark")
SETTLE_SECONDS = 5.0


async def settle(host: AppHost) -> None:
    """Wait until the iframe is as tall as the view's content (it reports its size, the host
    resizes the frame), so the picture holds the whole view and nothing below it."""
    with anyio.fail_after(SETTLE_SECONDS):
        while True:
            content = await host.view.locator("html").evaluate("html => html.scrollHeight")
            frame = await host.page.locator("#app").evaluate("f => f.getBoundingClientRect().height")
            if abs(content - frame) < 1:
                return
            await anyio.sleep(0.05)


async def stage_a_review(host: AppHost) -> None:
    """A group's members open, one addition and one removal staged, and the confirmation asked
    for (nothing is sent before its button, which is not clicked)."""
    view = host.view
    data = host.tool_result["structuredContent"]
    groups = data["groups"]
    await view.locator(f'th[data-group-id="{groups[0]["id"]}"] button.group').click()
    await expect(view.locator("#members h2")).to_be_visible()
    links = [(g["id"], p) for g in groups for p in g["projects"]]
    gaps = [(g["id"], p["id"]) for g in groups for p in data["projects"] if p["id"] not in g["projects"]]
    for group_id, project_id in [*links[-1:], *gaps[:1]]:
        cell = view.locator(f'td[data-group-id="{group_id}"][data-project-id="{project_id}"]')
        await cell.locator("button").click()
        await expect(cell).to_have_attribute(
            "data-state", "remove" if (group_id, project_id) in links else "add"
        )
    await view.locator("#apply").click()
    await expect(view.locator("#confirm")).to_be_visible()


async def shoot(out: Path, scale: float) -> list[Path]:
    written = []
    with SandboxThread() as sandbox:
        settings = Settings(
            api_token=SecretStr(sandbox.token), api_url=sandbox.url, rate_per_sec=None, sandbox=True
        )
        async with launch_browser() as chromium:
            for theme in THEMES:
                async with open_view(
                    chromium,
                    build_server(settings),
                    "review_access",
                    {"workspace_id": WS_ACME_DESIGN},
                    theme=theme,
                    width=WIDTH,
                    height=800,
                    device_scale_factor=scale,
                ) as host:
                    await expect(host.view.locator("html")).to_have_attribute("data-ready", "true")
                    await expect(host.view.locator("html")).to_have_attribute("data-theme", theme)
                    await stage_a_review(host)
                    await host.view.locator("#filter").blur()
                    await host.page.mouse.move(0, 0)  # no hover highlight in the picture
                    await settle(host)
                    path = out / f"access-review-{theme}.png"
                    await host.page.locator("#app").screenshot(path=str(path), animations="disabled")
                    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (docs/)")
    parser.add_argument("--scale", type=float, default=1, help="device scale factor (1 or 2)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        written = anyio.run(shoot, args.out, args.scale)
    except NotInstalled as error:
        print(f"screenshot: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(
            f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {path.stat().st_size // 1024} KB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
