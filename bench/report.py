"""The machine line and the one Markdown table."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    cores = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    core_text = f"{cores} cores" if usable == cores else f"{cores} cores ({usable} usable)"
    return (
        f"{cpu_model()}, {core_text}, Python {platform.python_version()}, mcp {version('mcp')}, "
        f"httpx {version('httpx')}, {platform.system()} {platform.release()}"
    )


@dataclass
class Row:
    measure: str
    ours: str
    reference: str = ""
    target: str = ""
    status: str = ""  # PASS, SHORT or empty (no target)


def mark(ok: bool) -> str:
    return "PASS" if ok else "SHORT"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def render(rows: list[Row]) -> str:
    lines = [
        "| measure | ours | reference | target | status |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.measure, row.ours, row.reference, row.target, row.status]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def python_command() -> str:
    return f"{Path(sys.executable).name} -m bench"
