"""Text bytes of answers, against their structured content and the text budget.

Three reads, each on the demo organization (Acme Studio) and on the sandbox's large one
(Megacorp Holdings: 3,000 users, 1,500 projects, 300 groups of 15): ``list_groups``,
``list_organization_users`` (default page) and ``get_group``. For each answer: the UTF-8 bytes
of its text content (what a host that shows text puts in the model's context) and the compact
JSON of its structured content (``separators=(",", ":")``, ``ensure_ascii=False``). The target:
text no bigger than that compact JSON, and within the text budget (20,000 bytes by default).

The previous release answers the same ``list_groups`` and ``list_organization_users`` calls as a
reference (it had no ``get_group``), measured live when git history has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toggl_groups_mcp.sandbox import demo

from . import inproc

TEXT_BUDGET = 20_000
# The figures for the previous release's list_groups on the demo organization.
PREVIOUS_LIST_GROUPS_TEXT = 1408
PREVIOUS_LIST_GROUPS_DATA = 790


@dataclass(frozen=True)
class Ask:
    org: str  # "demo" or "large"
    tool: str
    args: dict[str, Any]
    what: str  # for the row: which organization and what it holds
    previous: bool  # the previous release had this tool


ASKS = [
    Ask("demo", "list_groups", {"organization_id": demo.ORG_ACME}, "demo (Acme Studio, 3 groups)", True),
    Ask(
        "demo",
        "list_organization_users",
        {"organization_id": demo.ORG_ACME},
        "demo (Acme Studio, 6 users)",
        True,
    ),
    Ask(
        "demo",
        "get_group",
        {"organization_id": demo.ORG_ACME, "name": "Designers"},
        "demo (Designers: 2 members, 2 projects)",
        False,
    ),
    Ask(
        "large",
        "list_groups",
        {"organization_id": demo.ORG_MEGACORP},
        "large org (Megacorp, 300 groups of 15)",
        True,
    ),
    Ask(
        "large",
        "list_organization_users",
        {"organization_id": demo.ORG_MEGACORP},
        "large org (Megacorp, 3,000 users; default page)",
        True,
    ),
    Ask(
        "large",
        "get_group",
        {"organization_id": demo.ORG_MEGACORP, "name": demo.megacorp_group_name(0)},
        f"large org ({demo.megacorp_group_name(0)}: 15 members, in a workspace of 1,200 projects)",
        False,
    ),
]


@dataclass
class Size:
    text: int
    structured: int
    shown: str | None = None  # what the answer says it left out, if anything

    @property
    def ok(self) -> bool:
        return self.text <= self.structured and self.text <= TEXT_BUDGET


@dataclass
class AnswerSize:
    ask: Ask
    ours: Size
    previous: Size | None = None


async def _size(client: Any, ask: Ask) -> Size:
    result = await client.call_tool(ask.tool, ask.args)
    if result.is_error:
        raise RuntimeError(
            f"answers: {ask.tool}({ask.args}) answered an error: {inproc.text_of(result)[:300]}"
        )
    structured = result.structured_content or {}
    shown = structured.get("shown") if isinstance(structured, dict) else None
    return Size(
        len(inproc.text_of(result).encode()),
        len(inproc.compact(structured)),
        shown if isinstance(shown, str) else None,
    )


async def _sizes(release: inproc.Release, sandbox_thread: Any, asks: list[Ask]) -> list[Size]:
    sandbox_thread.sandbox.reset()
    async with inproc.connect(release, sandbox_thread) as client:
        return [await _size(client, ask) for ask in asks]


async def measure_answers(demo_sandbox: Any) -> list[AnswerSize]:
    """Sizes of every answer in ``ASKS``: the demo ones on ``demo_sandbox`` (reset before and
    after), the large ones on a sandbox of its own with ``large_org``."""
    from toggl_groups_mcp.sandbox import SandboxConfig, SandboxThread

    sized: list[AnswerSize] = []
    previous = inproc.previous()
    with SandboxThread(SandboxConfig(large_org=True)) as large_sandbox:
        for org, sandbox_thread in (("demo", demo_sandbox), ("large", large_sandbox)):
            asks = [a for a in ASKS if a.org == org]
            ours = await _sizes(inproc.current(), sandbox_thread, asks)
            before: list[Size | None] = [None] * len(asks)
            if previous is not None:
                old = [a for a in asks if a.previous]
                old_sizes = iter(await _sizes(previous, sandbox_thread, old))
                before = [next(old_sizes) if a.previous else None for a in asks]
            sized += [AnswerSize(a, o, b) for a, o, b in zip(asks, ours, before, strict=True)]
    demo_sandbox.sandbox.reset()
    return sized
