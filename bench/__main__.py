"""`python -m bench [--quick] [--only SECTION,...]`: run the benchmarks, print one Markdown table to
stdout and write it to bench/results/latest.md. Progress goes to stderr. Figures only: nothing
here asserts on a timing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio

from . import (
    answers,
    assistant,
    coldstart,
    context,
    inproc,
    journal,
    oauth,
    overhead,
    pacing,
    report,
    shared,
    wire,
    workflows,
)
from .report import Row, mark, ms

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = (
    "workflows",
    "assistant",
    "overhead",
    "journal",
    "coldstart",
    "context",
    "answers",
    "pacing",
    "shared",
    "oauth",
)
IN_PROCESS = {"assistant", "context", "answers"}
IN_PROCESS_NOTE = (
    "assistant calls, context and answers: in-process servers (in-memory client), no default "
    "organization or workspace"
)

# Targets (see bench/README.md).
LAYER_RATIO_MAX = 1.10  # (ours - direct HTTP) / bare SDK call
LAYER_ONLY_MAX = 0.10  # (ours - control) / bare SDK call: the same 10% without the process hop
COLD_START_MAX = 1.10  # issue 20: start-up as light as a bare server
PACING_MIN_SHARE = 0.90  # bulk pacing, and every row of shared pacing


@dataclass(frozen=True)
class Plan:
    label: str
    workflow_repeats: int
    calls: int
    warmup: int
    spawns: int
    projects: int
    journal_pairs: int
    shared_seconds: float  # per row of shared pacing
    shared_acquires: int  # per series of the acquire latency (the other latency series take `calls`)


FULL = Plan(
    "full",
    workflow_repeats=3,
    calls=200,
    warmup=30,
    spawns=10,
    projects=60,
    journal_pairs=60,
    shared_seconds=20,
    shared_acquires=2000,
)
QUICK = Plan(
    "quick",
    workflow_repeats=1,
    calls=100,
    warmup=20,
    spawns=5,
    projects=20,
    journal_pairs=15,
    shared_seconds=10,
    shared_acquires=500,
)


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


async def run(plan: Plan, only: set[str]) -> list[Row]:
    from toggl_groups_mcp.sandbox import SandboxThread

    rows: list[Row] = []
    with SandboxThread() as sb:
        # Cold start and latency first, while nothing else has run; the minute of pacing last.
        cold = ovh = runs = paced = None
        pooled: shared.SharedResult | None = None
        journaled: journal.JournalResult | None = None
        asked: list[assistant.RequestRun] | None = None
        facing: context.ContextSizes | None = None
        facing_before: context.ContextSizes | None = None
        sized: list[answers.AnswerSize] | None = None
        if "coldstart" in only:
            say(f"cold start: {plan.spawns} spawns each of ours and a bare MCPServer ...")
            cold = await coldstart.measure_cold_start(sb, spawns=plan.spawns)
        if "overhead" in only:
            say(f"per-call overhead: {plan.calls} calls per series after {plan.warmup} warm-up ...")
            ovh = await overhead.measure_overhead(sb, calls=plan.calls, warmup=plan.warmup)
        if "journal" in only:
            say(f"journal latency: {plan.journal_pairs} pairs of mutating calls each, journal on and off ...")
            journaled = await journal.measure_journal(sb, pairs=plan.journal_pairs)
        if "workflows" in only:
            say(
                f"Toggl requests per workflow: {len(workflows.WORKFLOWS)} workflows x {plan.workflow_repeats} ..."
            )
            runs = await workflows.measure_workflows(sb, repeats=plan.workflow_repeats)
        if IN_PROCESS & only and inproc.previous() is None:
            say(
                f"previous release not available ({inproc.previous_problem()}): 'before' runs on this tree only"
            )
        if "assistant" in only:
            say(
                f"assistant calls: {len(assistant.REQUESTS)} requests, before and after, each run checked ..."
            )
            asked = await assistant.measure_assistant(sb)
        if "context" in only:
            say("model-facing bytes per tool ...")
            facing = await context.measure(inproc.current(), sb)
            previous = inproc.previous()
            facing_before = await context.measure(previous, sb) if previous else None
        if "answers" in only:
            say(f"answer sizes: {len(answers.ASKS)} answers on the demo and the large organization ...")
            sized = await answers.measure_answers(sb)
        if "pacing" in only:
            say(f"bulk pacing: {plan.projects} projects at 1 request/s (about {plan.projects} s) ...")
            paced = await pacing.measure_pacing(sb, projects=plan.projects)
        if "shared" in only:
            shared_rows = len(shared.WORKERS) * len(shared.CLIENTS) + 1
            say(
                f"shared pacing: {shared_rows} rows of {plan.shared_seconds:.0f} s through 1 and 2 workers "
                f"(about {shared_rows * (plan.shared_seconds + 4) / 60:.0f} min) ..."
            )
            pooled = await shared.measure_shared(
                seconds=plan.shared_seconds, calls=plan.calls, acquires=plan.shared_acquires, say=say
            )
            say(f"shared pacing: section took {pooled.seconds:.0f} s")

    if "oauth" in only:
        say(
            f"OAuth per request: {plan.calls} calls each through the header mode and OAuth (memory, Redis) ..."
        )
        rows += oauth.rows(await oauth.measure_oauth(plan.calls))
    if runs is not None:
        for run_ in runs:
            w = run_.workflow
            spread = "" if len(set(run_.counts)) == 1 else f" (runs: {', '.join(map(str, run_.counts))})"
            rows.append(
                Row(
                    f"Toggl requests: {w.label} (`{w.tool}`)",
                    f"{run_.count}{spread}",
                    f"minimum {w.minimum}",
                    "= minimum",
                    mark(run_.count <= w.minimum),
                )
            )
    if asked is not None:
        rows += assistant_rows(asked)
    if ovh is not None:
        raw = "bare JSON-RPC client"
        rows += [
            Row(
                "per call: `list_groups` via our stdio server, median / p95",
                f"{ms(ovh.ours.median)} / {ms(ovh.ours.p95)}",
                f"{raw}: {ms(ovh.ours_raw.median)} / {ms(ovh.ours_raw.p95)}",
            ),
            Row(
                "per call: the same GET direct with httpx (keep-alive), median / p95",
                f"{ms(ovh.direct_http.median)} / {ms(ovh.direct_http.p95)}",
            ),
            Row(
                "per call: trivial tool on a bare `MCPServer` over stdio, median / p95",
                f"{ms(ovh.bare.median)} / {ms(ovh.bare.p95)}",
                f"{raw}: {ms(ovh.bare_raw.median)} / {ms(ovh.bare_raw.p95)}",
            ),
            Row(
                "per call: control, a bare `MCPServer` tool making the same GET, median / p95",
                f"{ms(ovh.control.median)} / {ms(ovh.control.p95)}",
                f"{raw}: {ms(ovh.control_raw.median)} / {ms(ovh.control_raw.p95)}",
            ),
            Row(
                "our layer's cost: (ours - direct HTTP) / bare call",
                f"{ovh.ratio:.2f}",
                f"{raw}: {ovh.ratio_raw:.2f}; the control (no layer) scores {ovh.ratio_control:.2f}",
                f"<= {LAYER_RATIO_MAX:.2f}",
                mark(ovh.ratio <= LAYER_RATIO_MAX),
            ),
            Row(
                "our layer alone: (ours - control) / bare call",
                f"{ovh.layer_only:.2f}",
                f"{raw}: {ovh.layer_only_raw:.2f} (server side only)",
                f"<= {LAYER_ONLY_MAX:.2f}",
                mark(ovh.layer_only <= LAYER_ONLY_MAX),
            ),
        ]
    if journaled is not None:
        rows += journal.rows(journaled)
    if cold is not None:
        ctx = coldstart.context_cost(cold.ours)
        bare_ctx = coldstart.context_cost(cold.bare)
        largest = max(ctx.per_tool.items(), key=lambda kv: kv[1])
        smallest = min(ctx.per_tool.items(), key=lambda kv: kv[1])
        rows += [
            Row(
                "cold start: spawn to initialize + tools/list answered, median",
                f"{cold.ours.median:.3f} s ({cold.ratio:.2f}x bare)",
                f"bare `MCPServer`, 1 tool: {cold.bare.median:.3f} s; medians of {len(cold.ours.seconds)} "
                f"spawns each, interleaved; tools listed from {cold.listed_from}",
                f"<= {COLD_START_MAX:.2f}x",
                mark(cold.ratio <= COLD_START_MAX),
            ),
            Row(
                f"whole tools/list entries (title, schemas, annotations too): {ctx.count} tools (compact JSON)",
                f"{ctx.total_bytes:,} B, ~{ctx.total_bytes // 4:,} tokens",
                f"bare, 1 tool: {bare_ctx.total_bytes:,} B; answer on the wire {ctx.wire_bytes:,} B",
            ),
            Row(
                "whole tools/list entry per tool, mean (largest, smallest)",
                f"{ctx.mean:,.0f} B, ~{ctx.mean / 4:,.0f} tokens",
                f"largest `{largest[0]}` {largest[1]:,} B (~{largest[1] // 4:,} tok); "
                f"smallest `{smallest[0]}` {smallest[1]:,} B (~{smallest[1] // 4:,} tok)",
            ),
            Row(
                "memory: VmRSS of the idle server after tools/list, median",
                f"{cold.ours.rss_median_mib:.1f} MiB",
                f"bare `MCPServer`: {cold.bare.rss_median_mib:.1f} MiB",
            ),
        ]
    if facing is not None:
        rows += context_rows(facing, facing_before)
    if sized is not None:
        rows += answer_rows(sized)
    if paced is not None:
        ok = paced.share_of_allowed >= PACING_MIN_SHARE and paced.rate_limited == 0
        rows.append(
            Row(
                f"bulk pacing: `add_group_to_projects`, {paced.projects} projects, sandbox 1 req/s (burst 2)",
                f"{paced.achieved_rate:.3f} req/s ({paced.share_of_allowed:.0%} of allowed), "
                f"{paced.rate_limited} x 429, {paced.requests} requests, {paced.wall:.1f} s; "
                f"{paced.done} linked in {paced.calls} calls (each stops within its 40 s budget)",
                "allowed 1 req/s after a burst of 2",
                f">= {PACING_MIN_SHARE:.0%}, 0 x 429",
                mark(ok),
            )
        )
    if pooled is not None:
        rows += shared.rows(pooled, PACING_MIN_SHARE)
    return rows


def context_rows(facing: context.ContextSizes, before: context.ContextSizes | None) -> list[Row]:
    name, largest = facing.largest
    measured_mean = measured_largest = measured_count = ""
    if before is not None:
        old_name, old_largest = before.largest
        measured_mean = f"; measured on the {before.release}: {before.mean:,.0f} B"
        measured_largest = f"; measured on the {before.release}: {old_largest:,} B (`{old_name}`)"
        measured_count = f"previous release: {before.count} tools"
    small_name, smallest = facing.smallest
    return [
        Row(
            "context: model-facing bytes per tool, mean (name + description + input schema, compact JSON)",
            f"{facing.mean:,.0f} B, ~{facing.mean / 4:,.0f} tokens ({facing.total:,} B in all)",
            f"previous release: {context.PREVIOUS_MEAN:,} B (issue){measured_mean}",
            f"<= {context.MEAN_TARGET} B",
            mark(facing.mean <= context.MEAN_TARGET),
        ),
        Row(
            "context: model-facing bytes, largest tool (smallest)",
            f"{largest:,} B (`{name}`); smallest {smallest:,} B (`{small_name}`)",
            f"previous release: {context.PREVIOUS_LARGEST:,} B (`{context.PREVIOUS_LARGEST_TOOL}`, issue)"
            f"{measured_largest}",
        ),
        Row("context: tools listed", f"{facing.count}", measured_count),
    ]


def answer_rows(sized: list[answers.AnswerSize]) -> list[Row]:
    rows = []
    for item in sized:
        ask, ours = item.ask, item.ours
        cut = " (cut to fit, says how to see the rest)" if ours.shown else ""
        reference = []
        if item.previous is not None:
            old = item.previous
            reference.append(
                f"{inproc.PREVIOUS_SHORT}: {old.text:,} B text / {old.structured:,} B structured"
            )
        elif not ask.previous:
            reference.append("new tool")
        if ask.org == "demo" and ask.tool == "list_groups":
            reference.insert(
                0,
                f"previous release: {answers.PREVIOUS_LIST_GROUPS_TEXT:,} B text for "
                f"{answers.PREVIOUS_LIST_GROUPS_DATA:,} B data (issue)",
            )
        rows.append(
            Row(
                f"answer text: `{ask.tool}` on the {ask.what}",
                f"{ours.text:,} B text / {ours.structured:,} B structured{cut}",
                "; ".join(reference),
                f"text <= structured, <= {answers.TEXT_BUDGET:,} B",
                mark(ours.ok),
            )
        )
    return rows


def assistant_rows(asked: list[assistant.RequestRun]) -> list[Row]:
    rows = []
    for run_ in asked:
        request, after, before, here = run_.request, run_.after, run_.before, run_.before_here
        short = []
        if not run_.calls_ok:
            short.append("too many calls" if request.kind == "question" else f"{after.extra} extra call(s)")
        if not run_.requests_ok:
            short.append("more Toggl requests than before")
        where = f"on the {before.release}"
        if before.partial:
            where += f", and it fell short: {before.partial}"
        if here is not None:
            where += f"; the same calls on this tree: {here.requests} requests"
        else:
            where += f" (previous release not available: {inproc.previous_problem()})"
        goal = (
            f"<= {assistant.QUESTION_MOST} calls"
            if request.kind == "question"
            else "look-ups of named things + the change"
        )
        rows.append(
            Row(
                f"assistant calls: ({request.key}) {request.label}",
                f"{after.calls} calls, {after.requests} Toggl requests"
                + (f" ({'; '.join(short)})" if short else ""),
                f"before: {before.calls} calls, {before.requests} requests {where}",
                f"{goal}; requests <= before",
                mark(run_.ok),
            )
        )
    calls_after = sum(r.after.calls for r in asked)
    calls_before = sum(r.before.calls for r in asked)
    requests_after = sum(r.after.requests for r in asked)
    requests_before = sum(r.before.requests for r in asked)
    passed = sum(1 for r in asked if r.ok)
    rows.append(
        Row(
            f"assistant calls: all {len(asked)} requests",
            f"{calls_after} calls, {requests_after} Toggl requests; {passed} of {len(asked)} rows PASS",
            f"before: {calls_before} calls, {requests_before} requests on the {asked[0].before.release}",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="20 projects for pacing, 10 s rows of shared pacing, fewer repetitions (about 3 minutes)",
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    plan = QUICK if args.quick else FULL

    started = time.monotonic()
    rows = anyio.run(run, plan, only, backend="asyncio")
    elapsed = time.monotonic() - started
    header = (
        f"Machine: {report.machine_line()}\n\n"
        f"Run: {plan.label} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s); "
        f"workflows x{plan.workflow_repeats}, {plan.calls} calls per latency series, "
        f"{plan.spawns} spawns each, pacing {plan.projects} projects, journal {plan.journal_pairs} pairs, "
        f"shared {plan.shared_seconds:.0f} s per row; "
        f"{wire.environment_note()}" + (f"; {IN_PROCESS_NOTE}" if IN_PROCESS & only else "") + ".\n"
    )
    text = header + "\n" + report.render(rows) + "\n"
    print(text, end="")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    say(f"written to {RESULTS / 'latest.md'} in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
