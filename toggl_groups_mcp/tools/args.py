"""Argument types shared by the tools: each carries its rule and its description."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

Id = Annotated[int, Field(ge=1)]

# The default rules are said once, in the server instructions, not in every schema.
OrganizationId = Annotated[int | None, Field(ge=1, description="Organization")]
WorkspaceId = Annotated[int | None, Field(ge=1, description="Workspace")]
GroupId = Annotated[int, Field(ge=1, description="Group id")]
ProjectId = Annotated[int, Field(ge=1, description="Project id")]
# Free text: stripped, so a blank value is refused before any request. A name is at most 200
# characters in Toggl; a search term has no limit of its own.
Text = StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
Search = StringConstraints(strip_whitespace=True, min_length=1)

GroupName = Annotated[str, Text, Field(description="Group name")]


def id_list(what: str) -> object:
    """Any number of ids: patch_group sends them in batches of Toggl's limits."""
    return Field(description=what)


def dedupe(ids: list[int] | None) -> list[int] | None:
    """Keep the first of each id, in order."""
    if ids is None:
        return None
    return list(dict.fromkeys(ids))
