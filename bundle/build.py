"""`make bundle`: stage the MCP Bundle in a temporary folder and pack it with the mcpb CLI.

    python bundle/build.py [--mcpb PATH] [--out DIR]  ->  DIR/toggl-groups-mcp-<version>.mcpb

The bundle is of the `uv` server type (manifest 0.4): it carries the package's source and a
pyproject.toml with the project's dependencies, and the host installs them with uv for its own
platform and Python, so one bundle serves macOS, Windows and Linux. Staged, never in the tree:

    manifest.json  icon.png  LICENSE  pyproject.toml  server/main.py  server/toggl_groups_mcp/ (+ _prompts/)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundle"
MCPB = REPO / ".tools" / "node_modules" / ".bin" / "mcpb"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def project() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return data


def bundle_pyproject(meta: dict[str, Any]) -> str:
    """The bundle's own pyproject.toml: the project's runtime dependencies and Python range, no
    build system (`package = false`), so `uv run` installs the dependencies and nothing else."""
    lines = [
        "# Written by bundle/build.py from the project's pyproject.toml: what the host's uv installs.",
        "[project]",
        f'name = "{meta["name"]}-bundle"',
        f'version = "{meta["version"]}"',
        f"requires-python = {json.dumps(meta['requires-python'])}",
        "dependencies = [",
        *(f"  {json.dumps(dep)}," for dep in meta["dependencies"]),
        "]",
        "",
        "[tool.uv]",
        "package = false",
        "",
    ]
    return "\n".join(lines)


def stage(into: Path) -> str:
    """Copy what the bundle carries into `into`; returns the version. The manifest's version must
    be the project's: a bundle never says it is another release than the code inside it."""
    meta = project()
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    if manifest["version"] != meta["version"]:
        raise SystemExit(
            f"bundle/manifest.json says version {manifest['version']}, pyproject.toml {meta['version']}: "
            "make them equal"
        )
    shutil.copy2(BUNDLE / "manifest.json", into / "manifest.json")
    shutil.copy2(BUNDLE / manifest["icon"], into / manifest["icon"])
    shutil.copy2(REPO / "LICENSE", into / "LICENSE")
    (into / "pyproject.toml").write_text(bundle_pyproject(meta))
    server = into / "server"
    server.mkdir()
    shutil.copy2(BUNDLE / "server" / "main.py", server / "main.py")
    package = server / "toggl_groups_mcp"
    shutil.copytree(REPO / "toggl_groups_mcp", package, ignore=IGNORED)
    # Where an installed wheel has them (pyproject's force-include), so the prompts load the same way.
    shutil.copytree(REPO / "prompts", package / "_prompts", ignore=IGNORED)
    return str(meta["version"])


def build(out: Path, mcpb: Path = MCPB) -> Path:
    if not mcpb.exists():
        raise SystemExit(f"the mcpb CLI is missing at {mcpb}: run `make tools`")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="toggl-bundle-") as folder:
        staged = Path(folder) / "toggl-groups-mcp"
        staged.mkdir()
        version = stage(staged)
        target = out / f"toggl-groups-mcp-{version}.mcpb"
        subprocess.run([str(mcpb), "pack", str(staged), str(target)], check=True)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mcpb", type=Path, default=MCPB, help="the mcpb CLI (default: .tools/)")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    print(build(args.out, args.mcpb), file=sys.stderr)


if __name__ == "__main__":
    main()
