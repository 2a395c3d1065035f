"""A test host for MCP Apps: a real Chromium page that renders a server's `ui://` view with the
official host bridge (`AppBridge` from @modelcontextprotocol/ext-apps), and a real MCP client
session on the Python side that the bridge forwards the view's calls to.

    async with launch_browser() as chromium:
        async with open_view(chromium, build_server(settings), "review_access", {...}) as host:
            await expect(host.view.locator("html")).to_have_attribute("data-ready", "true")
            record = await host.record()        # what the view sent the host (host.js: __host)

The host page comes from a loopback HTTP server that is also the browser's proxy, so every
request the view makes, to the host page's origin or anywhere else, lands there and is recorded
(`AppHost.stray_requests`): Playwright's own routing does not see requests from the view, which
Chromium runs in a process of its own (a sandboxed iframe is isolated by default).

What needs installing (`make test` and `make screenshot` do it): Debian's /usr/bin/chromium, the
`playwright` Python package (the `test` extras; its own browser download is never used), and
the npm packages under .tools/ (ext-apps 2.0.4 with its peers, esbuild). The page script,
host.js, is bundled by esbuild on first use and cached under .tools/apphost/, keyed by a hash of
its source and of the package versions it is built from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.extension import advertise
from playwright.async_api import Browser, FrameLocator, Page, async_playwright

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
TOOLS = REPO / ".tools"
NODE_MODULES = TOOLS / "node_modules"
ESBUILD = NODE_MODULES / ".bin" / "esbuild"
BUNDLE_CACHE = TOOLS / "apphost"
# What the bundle is built from: a different version of any of them is a different bundle.
BUNDLED_PACKAGES = (
    "@modelcontextprotocol/ext-apps",
    "@modelcontextprotocol/client",
    "@modelcontextprotocol/core",
    "zod",
    "esbuild",
)
CHROMIUM = os.environ.get("APPHOST_CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that reaches for the network: this machine's network is closed and
# Chromium's background services would otherwise retry against it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter",
]
# Chromium's own services, which may still call out despite the flags above: their requests are
# not the view's. (fonts.googleapis.com and the like are not here: a view must not load them.)
BROWSER_SERVICES = {
    "accounts.google.com",
    "clients2.google.com",
    "content-autofill.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "safebrowsing.googleapis.com",
    "update.googleapis.com",
    "www.google.com",
}
INSTALL_HINT = "run `make test` (it installs Debian's chromium and the npm tools under .tools/)"

APP_MIME_TYPE = "text/html;profile=mcp-app"
APPS_EXTENSION = "io.modelcontextprotocol/ui"
HOST_INFO = {"name": "test-host", "version": "1"}

# What a full-featured chat host offers a view, and a host that can only post chat messages.
FULL_CAPABILITIES: dict[str, Any] = {
    "openLinks": {},
    "serverTools": {},
    "serverResources": {},
    "logging": {},
    "updateModelContext": {"text": {}, "structuredContent": {}},
    "message": {"text": {}},
}
MESSAGE_ONLY_CAPABILITIES: dict[str, Any] = {"serverTools": {}, "message": {"text": {}}}


class NotInstalled(RuntimeError):
    """Something the browser host needs is missing; the message says what and how to get it."""


def missing() -> str | None:
    """What is not installed, or None when the browser host can run."""
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM}; {INSTALL_HINT}"
    if not ESBUILD.exists() or not (NODE_MODULES / "@modelcontextprotocol" / "ext-apps").exists():
        return f"the npm tools (ext-apps, esbuild) are not installed under {TOOLS}; {INSTALL_HINT}"
    if shutil.which("node") is None:
        return "node is not on PATH; esbuild and Playwright's driver need it"
    return None


def _version(package: str) -> str:
    manifest = NODE_MODULES / package / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        raise NotInstalled(f"{package} is not installed under {NODE_MODULES}; {INSTALL_HINT}") from None


def bundle() -> Path:
    """host.js bundled for the browser (IIFE): built on first use, then taken from the cache."""
    problem = missing()
    if problem is not None:
        raise NotInstalled(problem)
    entry = HERE / "host.js"
    key = hashlib.sha256(entry.read_bytes())
    for package in BUNDLED_PACKAGES:
        key.update(f"\0{package}@{_version(package)}".encode())
    cached = BUNDLE_CACHE / key.hexdigest()[:20] / "host.js"
    if cached.exists():
        return cached
    BUNDLE_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUNDLE_CACHE, prefix="build-") as build:
        out = Path(build) / "host.js"
        completed = subprocess.run(
            [
                str(ESBUILD),
                str(entry),
                "--bundle",
                "--format=iife",
                "--platform=browser",
                "--target=chrome110",
                "--legal-comments=none",
                "--log-level=warning",
                f"--outfile={out}",
            ],
            cwd=REPO,
            # The entry lies outside .tools/: its bare imports resolve through NODE_PATH.
            env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0 or not out.exists():
            raise RuntimeError(f"esbuild failed ({completed.returncode}):\n{completed.stderr}")
        cached.parent.mkdir(exist_ok=True)
        os.replace(out, cached)  # atomic: a parallel run sees the whole file or none
    return cached


class _Handler(BaseHTTPRequestHandler):
    """The host page and its script; anything else, direct or proxied, is recorded and refused."""

    server: _HostServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, content_type: str = "text/plain", body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/":
            self._reply(200, "text/html; charset=utf-8", self.server.page)
        elif self.path == "/favicon.ico":  # the host page's, asked for by the browser
            self._reply(204)
        elif self.path == "/host.js":
            self._reply(200, "text/javascript; charset=utf-8", self.server.script)
        else:
            self._stray()

    def _stray(self) -> None:
        # A proxied request names its whole URL (or host:port for CONNECT); a direct one its path.
        url = self.path if not self.path.startswith("/") else f"{self.server.origin}{self.path}"
        host = url.split("://")[-1].split("/")[0].rsplit(":", 1)[0]
        if host not in BROWSER_SERVICES:
            self.server.strays.append(f"{self.command} {url}")
        self.close_connection = True
        self._reply(404)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_CONNECT = _stray


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.page = (HERE / "host.html").read_bytes()
        self.script = script
        self.strays: list[str] = []
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def _serving(script: bytes) -> Iterator[_HostServer]:
    server = _HostServer(script)
    thread = threading.Thread(target=server.serve_forever, name="apphost-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Chromium:
    """The launched browser and the loopback server that serves its host pages."""

    browser: Browser
    server: _HostServer


@asynccontextmanager
async def launch_browser() -> AsyncIterator[Chromium]:
    """Debian's Chromium, headless, with every request it makes through the host page's server.
    Playwright gives it a fresh temporary profile (--user-data-dir) and deletes it on close."""
    script = bundle().read_bytes()
    with _serving(script) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                # Loopback goes direct (Chromium never proxies it), the rest to the recorder.
                args=[*CHROMIUM_ARGS, f"--proxy-server={server.origin}"],
            )
            try:
                yield Chromium(browser, server)
            finally:
                await browser.close()


def apps_client(server: Any) -> Client:
    """An in-memory MCP client that advertises MCP Apps (so the server knows it can show views)."""
    return Client(server, extensions=[advertise(APPS_EXTENSION, {"mimeTypes": [APP_MIME_TYPE]})])


def dump(model: Any) -> Any:
    """A protocol object as it travels on the wire (camelCase, `_meta`, no nulls)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass
class AppHost:
    """A view rendered in the test host, and what happened around it."""

    page: Page
    client: Client
    tool: dict[str, Any]
    tools: list[dict[str, Any]]
    resource: dict[str, Any]
    tool_result: dict[str, Any]
    server: _HostServer
    strays_before: int = 0
    # Calls the host page forwarded to the server (after its visibility check), as Python saw them.
    forwarded: list[dict[str, Any]] = field(default_factory=list)
    # A call to the Python binding from any frame but the host page's (the view must not reach it).
    foreign_calls: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def view(self) -> FrameLocator:
        return self.page.frame_locator("#app")

    @property
    def stray_requests(self) -> list[str]:
        """Requests beyond the host page and its script since this view opened (an <img src> the
        view rendered, a fetch): "METHOD URL", or "CONNECT host:port" for https."""
        return self.server.strays[self.strays_before :]

    async def record(self) -> dict[str, Any]:
        """window.__host: what the view sent the host (see host.js)."""
        record: dict[str, Any] = await self.page.evaluate("() => window.__host")
        return record

    async def set_host_context(self, **changes: Any) -> None:
        """Change the host context; the bridge notifies the view of what changed."""
        await self.page.evaluate("changes => window.__apphost.setHostContext(changes)", changes)

    def csp_violations(self) -> list[str]:
        return [text for kind, text in self.console if "Content Security Policy" in text]


def _ui(item: dict[str, Any]) -> dict[str, Any]:
    ui = (item.get("_meta") or {}).get("ui") or {}
    return ui if isinstance(ui, dict) else {}


@asynccontextmanager
async def open_view(
    chromium: Chromium,
    server: Any,
    tool_name: str,
    arguments: dict[str, Any],
    *,
    theme: str = "light",
    capabilities: dict[str, Any] | None = None,
    width: int = 1000,
    height: int = 700,
    device_scale_factor: float = 1,
    frame_height: int | None = None,
) -> AsyncIterator[AppHost]:
    """Call `tool_name` on `server` through a real MCP client, read the view its definition names
    (`_meta.ui.resourceUri`), and render it in a new browser context with the tool's input and
    result. `frame_height` fixes the iframe's height; else it follows the view's size-changed.
    One view at a time per browser: stray requests are told apart by time only."""
    async with apps_client(server) as client:
        tools = [dump(t) for t in (await client.list_tools()).tools]
        tool = next((t for t in tools if t["name"] == tool_name), None)
        assert tool is not None, f"the server has no tool {tool_name}"
        uri = _ui(tool).get("resourceUri")
        assert isinstance(uri, str) and uri.startswith("ui://"), f"{tool_name} names no ui:// view: {tool}"
        contents = dump(await client.read_resource(uri))["contents"]
        assert len(contents) == 1, contents
        resource = contents[0]
        assert resource.get("mimeType") == APP_MIME_TYPE, resource.get("mimeType")
        result = dump(await client.call_tool(tool_name, arguments))

        context = await chromium.browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=device_scale_factor,
            color_scheme="dark" if theme == "dark" else "light",
        )
        try:
            context.set_default_timeout(10_000)
            page = await context.new_page()
            host = AppHost(
                page=page,
                client=client,
                tool=tool,
                tools=tools,
                resource=resource,
                tool_result=result,
                server=chromium.server,
                strays_before=len(chromium.server.strays),
            )
            page.on("console", lambda message: host.console.append((message.type, message.text)))
            page.on("pageerror", lambda error: host.page_errors.append(str(error)))

            async def to_python(source: dict[str, Any], method: str, params: dict[str, Any]) -> Any:
                if source.get("frame") is not page.main_frame:
                    host.foreign_calls.append(method)
                    raise PermissionError("only the host page may call the host")
                if method == "tools/call":
                    host.forwarded.append({"name": params["name"], "arguments": params.get("arguments")})
                    return dump(await client.call_tool(params["name"], params.get("arguments") or {}))
                if method == "resources/read":
                    return dump(await client.read_resource(params["uri"]))
                raise ValueError(f"the host forwards no {method}")

            await page.expose_binding("__apphostPython", to_python)
            await page.goto(f"{chromium.server.origin}/")
            await page.evaluate(
                "config => window.__apphost.start(config)",
                {
                    "html": resource["text"],
                    "csp": _ui(resource).get("csp"),
                    "tools": tools,
                    "toolInput": arguments,
                    "toolResult": result,
                    "hostCapabilities": capabilities if capabilities is not None else FULL_CAPABILITIES,
                    "hostContext": {
                        "theme": theme,
                        "displayMode": "inline",
                        "availableDisplayModes": ["inline"],
                        "containerDimensions": {"width": width, "maxHeight": height},
                        "locale": "en-US",
                        "timeZone": "UTC",
                        "platform": "web",
                        "deviceCapabilities": {"touch": False, "hover": True},
                        "toolInfo": {"tool": tool},
                    },
                    "height": frame_height,
                },
            )
            yield host
        finally:
            await context.close()
