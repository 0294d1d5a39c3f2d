"""Sync service logic: what changed since a cursor (GET /sync), read from the change log.

A read costs what changed: one GetItem (the counter), one strongly consistent Query of
the log after the cursor, and one BatchGetItem per resource that changed (through the
owning services' public functions), whatever the user owns. No secondary index is read,
so nothing committed can be missed for lag (docs/sync.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.core.errors import CursorExpired
from chalicelib.core.models import utcnow
from chalicelib.core.pagination import MAX_PAGE_WEIGHT, answer_weight
from chalicelib.notes import service as notes
from chalicelib.projects import service as projects
from chalicelib.tasks import service as tasks

from . import cursor as cursors
from .infra import PAGE_ENTRIES
from .log import retention
from .models import COUNTER_KEY, Counter, LogEntry, log_key

Fetch = Callable[[str, Collection[str]], Sequence[Any]]
# Each logged resource, the public function that reads its objects, and their id field.
FETCHERS: dict[str, tuple[Fetch, str]] = {
    "project": (projects.get_projects_by_ids, "project_id"),
    "task": (tasks.get_tasks_by_ids, "task_id"),
    "note": (notes.get_notes_by_ids, "note_id"),
}


@dataclass(frozen=True)
class Tombstone:
    resource: str
    object_id: str
    version: int
    deleted_at: datetime


@dataclass
class Changes:
    """One page of changes: objects as the REST API shows them, and deletions."""

    cursor: str
    has_more: bool
    objects: dict[str, list[Any]] = field(default_factory=lambda: {r: [] for r in FETCHERS})
    deleted: list[Tombstone] = field(default_factory=list)

    @property
    def projects(self) -> list[Any]:
        return self.objects["project"]

    @property
    def tasks(self) -> list[Any]:
        return self.objects["task"]

    @property
    def notes(self) -> list[Any]:
        return self.objects["note"]


def _top(user_id: str) -> int:
    try:
        return int(Counter.get(user_id, COUNTER_KEY, consistent_read=True).seq)
    except DoesNotExist:
        return 0


def changes(user_id: str, cursor: str | None) -> Changes:
    """Without a cursor, the user's objects from the start of the log (tombstones left
    out: the client has nothing to delete); with one, every change since, each object
    once at its latest version, deletions as tombstones."""
    now = utcnow()
    after = 0 if cursor is None else cursors.decode(user_id, cursor, now, retention()).seq
    top = _top(user_id)
    if after > top:
        # The log this cursor was made for is gone (the account's data was deleted).
        raise CursorExpired("The cursor belongs to a change log that no longer exists.")
    entries: list[LogEntry] = []
    if after < top:
        limit = PAGE_ENTRIES.number()
        entries = list(
            LogEntry.query(
                user_id,
                LogEntry.entry_key.between(log_key(after + 1), log_key(top)),
                consistent_read=True,
                limit=limit + 1,
                page_size=limit + 1,
            )
        )
    # An entry and the previous entry of its object can both be seen while the
    # transaction that replaces one by the other commits: keep the newest per object.
    newest: dict[tuple[str, str], LogEntry] = {}
    for entry in entries:
        key = (entry.resource, entry.object_id)
        if key not in newest or newest[key].version < entry.version:
            newest[key] = entry
    entries = [e for e in entries if newest[(e.resource, e.object_id)] is e]
    limit = PAGE_ENTRIES.number()
    page, rest = entries[:limit], entries[limit:]
    found = _fetch(user_id, [e for e in page if e.deleted_at is None])
    result = Changes(cursor="", has_more=False)
    weight = 0
    last = after
    for index, entry in enumerate(page):
        if weight >= MAX_PAGE_WEIGHT:
            rest = page[index:] + rest
            break
        weight += _add(result, entry, found.get((entry.resource, entry.object_id)), after == 0)
        last = entry.seq
    if rest:
        # Every entry after `last` was logged at or after rest[0]'s time.
        position = cursors.Position(last, rest[0].logged_at)
        result.has_more = True
    else:
        position = cursors.Position(top, now)
    result.cursor = cursors.encode(user_id, position)
    return result


def _fetch(user_id: str, live: list[LogEntry]) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    for resource, (fetch, id_field) in FETCHERS.items():
        ids = [entry.object_id for entry in live if entry.resource == resource]
        if ids:
            for item in fetch(user_id, ids):
                found[(resource, getattr(item, id_field))] = item
    return found


def _add(result: Changes, entry: LogEntry, item: Any, snapshot: bool) -> int:
    """Adds what `entry` stands for now to the page; the weight it added."""
    if entry.deleted_at is not None:
        if not snapshot:
            result.deleted.append(
                Tombstone(entry.resource, entry.object_id, int(entry.version), entry.deleted_at)
            )
        return 64
    if item is None:
        # Logged live, but gone and purged since, and its deletion never logged: only
        # possible if that event was lost, which the log cannot tell apart. Say deleted.
        if not snapshot:
            result.deleted.append(
                Tombstone(entry.resource, entry.object_id, int(entry.version), entry.logged_at)
            )
        return 64
    if item.deleted_at is not None:
        # Deleted after this entry was logged; its own entry will come too (harmless).
        if not snapshot:
            result.deleted.append(
                Tombstone(entry.resource, entry.object_id, int(item.version), item.deleted_at)
            )
        return 64
    result.objects[entry.resource].append(item)
    return answer_weight(item)
