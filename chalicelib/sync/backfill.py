"""The backfill of objects written before the change log existed (docs/sync.md, "Data
from before the log"): a bounded job per user, one page of one resource per call.

Each live object is appended at its current version, through the same append as the
events, so it is idempotent and safe next to live events: the pointer's version
condition keeps whichever version is newer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.notes import service as notes
from chalicelib.projects import service as projects
from chalicelib.tasks import service as tasks

from .log import Appended, Change, append

Lister = Callable[[str, int, str | None], Any]
# Each resource, in the order a backfill walks them, with its service's list function and
# its items' id attribute.
LISTERS: dict[str, tuple[Lister, str]] = {
    "project": (projects.list_projects, "project_id"),
    "task": (tasks.list_tasks, "task_id"),
    "note": (notes.list_notes, "note_id"),
}


@dataclass(frozen=True)
class Position:
    """Where the backfill of a user stands: the resource and its list cursor."""

    resource: str = "project"
    cursor: str | None = None


def backfill_page(user_id: str, at: Position, limit: int = 200) -> tuple[int, Position | None]:
    """Appends one page of the user's objects; (entries added, the next position, or None
    when every resource is done)."""
    lister, id_field = LISTERS[at.resource]
    page = lister(user_id, limit, at.cursor)
    added = 0
    for item in page.items:
        change = Change(user_id, at.resource, getattr(item, id_field), int(item.version), None)
        added += append(change) is Appended.NEW
    if page.next_cursor is not None:
        return added, Position(at.resource, page.next_cursor)
    order = list(LISTERS)
    following = order.index(at.resource) + 1
    return added, Position(order[following]) if following < len(order) else None
