"""The confirmation gate in front of every destructive action.

A destructive tool takes `confirm` and a resolver parameter built by `confirmation()`. The resolver
runs before the tool body:

- `confirm: true`: nothing to ask, the body runs (and no preview is fetched: it would cost quota);
- nothing would be lost (the preview says so): the body runs;
- the client can answer form elicitation: the human is asked, with the preview, through a resolver
  (`Elicit`), which works in both protocol eras;
- otherwise: a tool error that carries the preview and tells the model to ask the user, then call
  again with `confirm: true`. No mutating request has been sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
)
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from .registry import toggl_boundary

ConfirmArg = Field(
    default=False,
    description=(
        "Set to true only after the user has explicitly approved this destructive change. "
        "Without it the user is asked (when the client supports it) or the call returns a preview."
    ),
)


class Confirmation(BaseModel):
    confirm: bool = Field(description="Check to go ahead. Leave unchecked to cancel.")


@dataclass
class Preview:
    """What a destructive call would do and what would be lost."""

    action: str
    lost: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [self.action]
        lines += [f"- {item}" for item in self.lost]
        return "\n".join(lines)


def client_can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` predates modes and means form; url-only cannot show a form.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


async def gate(
    ctx: Context, confirm: bool, preview: Callable[[], Awaitable[Preview | None]]
) -> Confirmation | Elicit[Confirmation]:
    if confirm:
        return Confirmation(confirm=True)
    # Resolvers run outside the tool's own boundary: a failed preview request still needs its message.
    with toggl_boundary("confirmation preview"):
        what = await preview()
    if what is None:
        return Confirmation(confirm=True)
    if client_can_elicit(ctx):
        return Elicit(f"{what.text()}\n\nThis cannot be undone. Go ahead?", Confirmation)
    raise ToolError(
        "Confirmation required; no change was sent to Toggl.\n"
        f"{what.text()}\n"
        "Show this to the user and ask whether to go ahead. Only if they agree, call this tool "
        "again with the same arguments and confirm: true."
    )


def require_approval(outcome: ElicitationResult[Confirmation], action: str) -> None:
    """Raise unless the gate let the call through."""
    if isinstance(outcome, AcceptedElicitation) and outcome.data.confirm:
        return
    how = "cancelled the confirmation" if outcome.action == "cancel" else "declined"
    if isinstance(outcome, AcceptedElicitation):
        how = "did not check the confirmation box"
    raise ToolError(
        f"Not done: the user {how}, so no change was sent to Toggl ({action}). "
        "Do not retry unless the user asks again."
    )


Approval = ElicitationResult[Confirmation]
__all__ = ["Approval", "ConfirmArg", "Confirmation", "Preview", "gate", "require_approval"]
