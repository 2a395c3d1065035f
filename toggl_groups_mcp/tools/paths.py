"""The three paths to a project, read together: public, direct members, linked groups.

A person can track time on a project when the project is public (everyone in the workspace), when
they are a direct member (a project user row), or when a group that holds them is linked to it. An
answer about access that leaves a path out is a wrong answer, and a removal that leaves another
path open must say so: every tool that shows or changes access reads all three here.

Requests: the workspace's project list (cached for a minute in a read tool, read in the call when
the call decides: `fresh`), one project_groups and one project_users query per 200 projects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mcp.server.mcpserver import Context

from ..state import app_state
from ..toggl.models import TogglGroup, TogglProjectGroup, TogglProjectUser
from . import lookup
from .lookup import Project

PUBLIC = "public"
DIRECT = "direct member"


@dataclass
class Paths:
    """Every way into one project, as Toggl answered in this call."""

    project_id: int
    project: Project | None = None  # None: not in the workspace's list (deleted, or another workspace)
    direct: list[TogglProjectUser] = field(default_factory=list)
    links: list[TogglProjectGroup] = field(default_factory=list)

    @property
    def public(self) -> bool:
        return self.project is not None and self.project.public

    @property
    def archived(self) -> bool:
        return self.project is not None and not self.project.active

    def ways(
        self,
        user_id: int,
        groups: Mapping[int, TogglGroup],
        *,
        except_groups: Iterable[int] = (),
        except_direct: bool = False,
    ) -> list[str]:
        """How `user_id` reaches the project, leaving out the paths a change removes: `public`,
        `direct member`, or a linked group's name. A group not in `groups` is not counted."""
        skip = set(except_groups)
        found: list[str] = []
        if self.public:
            found.append(PUBLIC)
        if not except_direct and any(row.user_id == user_id for row in self.direct):
            found.append(DIRECT)
        for link in self.links:
            group = groups.get(link.group_id)
            if link.group_id not in skip and group is not None and user_id in group.user_ids:
                found.append(f"group {group.name or link.group_id}")
        return list(dict.fromkeys(found))


async def paths_of(
    ctx: Context,
    ws: int,
    project_ids: list[int],
    *,
    fresh: bool,
    known: Iterable[Project] = (),
) -> dict[int, Paths]:
    """The three paths into each of these projects of one workspace. `known`: projects already read
    in this call (a search), so their privacy is not read again; the others come from the
    workspace's project list (`fresh`: read in this call, as a deciding call must)."""
    state = app_state(ctx)
    ids = list(dict.fromkeys(project_ids))
    projects = {p.id: p for p in known if p.workspace_id == ws}
    if any(pid not in projects for pid in ids):
        listed = {p.id: p for p in await lookup.all_projects(state, ws, fresh=fresh)}
        projects = {**listed, **projects}
    found = {pid: Paths(pid, projects.get(pid)) for pid in ids}
    if not ids:
        return found
    for link in await lookup.links_of(ctx, ws, ids):
        if link.pid in found:
            found[link.pid].links.append(link)
    for row in await lookup.project_users_of(ctx, ws, ids):
        if row.project_id in found:
            found[row.project_id].direct.append(row)
    return found


def keeps_access(
    paths: Paths,
    people: Iterable[int],
    groups: Mapping[int, TogglGroup],
    *,
    except_groups: Iterable[int] = (),
    except_direct_of: int | None = None,
) -> dict[int, list[str]]:
    """Of `people` (who a removal would seem to cut off), those who still reach the project by
    another path, with those paths. `except_direct_of`: the person whose direct membership the
    change removes."""
    skip = list(except_groups)
    kept: dict[int, list[str]] = {}
    for user_id in dict.fromkeys(people):
        ways = paths.ways(user_id, groups, except_groups=skip, except_direct=user_id == except_direct_of)
        if ways:
            kept[user_id] = ways
    return kept
