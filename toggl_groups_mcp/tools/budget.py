"""Answers that fit a model's context at any organization size.

Every list a tool answers with is cut to the text budget (`TOGGL_MCP_TEXT_BUDGET`, 20,000 bytes
by default, about 5k tokens), and the answer says how many there are, how many are shown and how
to see the rest: a model that gets 535 KB of groups has lost the conversation, not gained data.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

# Room kept for the answer's own fields around the list (totals, what was cut, ids).
ENVELOPE = 600


def size(item: BaseModel) -> int:
    """Bytes of an item in the compact JSON the model reads (None fields are left out there)."""
    return len(item.model_dump_json(exclude_none=True)) + 1


def fit(items: Sequence[BaseModel], budget: int) -> int:
    """How many of `items`, from the first, fit in `budget` bytes."""
    room = budget - ENVELOPE
    shown = 0
    for item in items:
        room -= size(item)
        if room < 0:
            break
        shown += 1
    return shown
