"""Argument types shared by the tools: each carries its rule and its description."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

Id = Annotated[int, Field(ge=1)]

OrganizationId = Annotated[
    int | None,
    Field(
        ge=1,
        description=(
            "Toggl organization id. Optional: defaults to TOGGL_ORGANIZATION_ID, else the only "
            "organization the user has (see list_organizations)."
        ),
    ),
]
WorkspaceId = Annotated[
    int | None,
    Field(
        ge=1,
        description=(
            "Toggl workspace id. Optional: defaults to TOGGL_WORKSPACE_ID, else the only workspace "
            "the user has (see list_workspaces)."
        ),
    ),
]
GroupId = Annotated[int, Field(ge=1, description="Group id (see list_groups)")]
ProjectId = Annotated[int, Field(ge=1, description="Project id (see list_projects)")]
# Free text (names, search terms): stripped, so a blank value is refused before any request.
Text = StringConstraints(strip_whitespace=True, min_length=1, max_length=200)

GroupName = Annotated[
    str, Text, Field(description="Group name, 1 to 200 characters, unique in the organization")
]

MAX_IDS = 10_000


def id_list(what: str) -> object:
    return Field(max_length=MAX_IDS, description=what)


def dedupe(ids: list[int] | None) -> list[int] | None:
    """Keep the first of each id, in order."""
    if ids is None:
        return None
    return list(dict.fromkeys(ids))
