"""Toggl requests per assistant workflow equal the written minimum (bench/README.md says why).

Counts are deterministic, so unlike timings they are asserted here; `make bench` prints them
beside the other figures."""

from __future__ import annotations

import pytest

from bench.workflows import MINIMUMS, run_workflows_async

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_every_workflow_spends_exactly_the_minimum_number_of_toggl_requests(sandbox: object) -> None:
    counts = await run_workflows_async(sandbox)
    assert set(counts) == set(MINIMUMS)
    over = {name: count for name, (count, minimum) in counts.items() if count != minimum}
    assert over == {}, f"workflows off their minimum (count, minimum): { {n: counts[n] for n in over} }"
