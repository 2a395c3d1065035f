"""The tool calls an assistant needs for ten everyday requests (bench/README.md, "Assistant
calls"): each written-out sequence, run against the sandbox through a real client, achieves its
task in the number of calls the README claims.

The counts are written out here, not taken from bench/assistant.py: a claim must not be checked
against itself. A sequence that does not achieve its task (a wrong answer, a change not made or
something else changed) raises inside the run. `make bench` prints Toggl requests beside these.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import inproc
from bench.assistant import EXTRA, REQUESTS, Request, run_sequence, sequences_markdown
from tests.conftest import ALL_TOOLS

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# Today's tools: any access question in one call, scoping included; a complete offboarding in two
# (the preview and the confirmed apply).
AFTER_CALLS = {"a": 1, "b": 1, "c": 1, "d": 6, "e": 2, "f": 3, "g": 3, "h": 3, "i": 1, "j": 2}
# The previous release's tools (e949e50), run on today's server: the old names and arguments still work.
BEFORE_CALLS = {"a": 2, "b": 2, "c": 2, "d": 7, "e": 4, "f": 4, "g": 4, "h": 4, "i": 2, "j": 4}
QUESTIONS = {"a", "b", "c", "i"}
# Requests the previous release could not serve truthfully (its sequence is measured, not checked).
PARTIAL_BEFORE = {"b", "i", "j"}

# What the previous release offered: today's tools less the one it did not have, and without the
# arguments it did not take (names for organization_id and workspace_id among them).
PREVIOUS_TOOLS = ALL_TOOLS - {"remove_user_from_projects"}
NEW_ARGUMENTS = {
    "add_group_to_projects": {"project_name", "include_archived"},
    "remove_group_from_projects": {"project_name", "include_archived"},
    "remove_user_from_groups": {"user", "also_projects"},
}

BY_KEY = {request.key: request for request in REQUESTS}


def test_every_request_has_a_written_count() -> None:
    assert set(BY_KEY) == set(AFTER_CALLS) == set(BEFORE_CALLS)
    assert {r.key for r in REQUESTS if r.kind == "question"} == QUESTIONS
    assert all(AFTER_CALLS[key] == 1 for key in QUESTIONS)
    assert {r.key for r in REQUESTS if r.before.partial} == PARTIAL_BEFORE
    assert not any(r.after.partial for r in REQUESTS)


def test_bench_readme_shows_the_sequences_that_run(repo: Any) -> None:
    """bench/README.md writes the sequences out; `python -m bench.assistant` prints them afresh."""
    assert sequences_markdown() in (repo / "bench" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("key", sorted(AFTER_CALLS))
async def test_after_sequence_achieves_its_task_in_the_claimed_calls(sandbox: Any, key: str) -> None:
    request: Request = BY_KEY[key]
    run = await run_sequence(inproc.current(), sandbox, request, request.after)
    assert run.calls == AFTER_CALLS[key]
    if request.kind == "change":
        # Nothing but looking up the names the request mentions, and making the change.
        assert run.extra == 0, [s.shown for s in request.after.steps if s.role == EXTRA]


@pytest.mark.parametrize("key", sorted(BEFORE_CALLS))
async def test_before_sequence_uses_only_the_previous_tools_and_still_works(sandbox: Any, key: str) -> None:
    request: Request = BY_KEY[key]
    run = await run_sequence(inproc.current(), sandbox, request, request.before)
    assert run.calls == BEFORE_CALLS[key]
    for tool, arguments in run.made:
        assert tool in PREVIOUS_TOOLS, tool
        assert not set(arguments) & NEW_ARGUMENTS.get(tool, set()), (tool, arguments)
        for scope in ("organization_id", "workspace_id"):
            assert not isinstance(arguments.get(scope), str), (tool, arguments)
        assert not isinstance(arguments.get("filter"), list), (tool, arguments)
