"""Public housekeeping of the sync table, for the jobs that own the schedule and the
account's erasure (they call these; the Sync service declares no schedule of its own).

Nothing here is needed for correctness: the 410 of an old cursor is decided from the
cursor's own time (cursor.py), never from whether an entry is still stored, and DynamoDB's
TTL removes expired items on its own (typically within days). `purge_expired` only makes
the storage follow the retention exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core.models import utcnow

from .models import Head, LogEntry


@dataclass(frozen=True)
class Round:
    removed: int
    finished: bool  # False: call again, there is more


def purge_expired(user_id: str, max_items: int = 1000) -> Round:
    """Deletes the user's expired items (deletions' log entries and pointers after the
    retention, command answers after a day): one Query of the user's partition, filtered
    on `expiresAt`, and BatchWriteItem deletes, for at most `max_items` items."""
    now = utcnow()
    found = LogEntry.query(
        user_id,
        filter_condition=LogEntry.expires_at < now,
        attributes_to_get=["userId", "entryKey"],
        page_size=min(max_items, 1000),
    )
    return _delete(found, max_items)


def delete_user_log(user_id: str, max_items: int = 1000) -> Round:
    """Deletes everything of the user in the sync table (their log, pointers, counter and
    command ledger), at most `max_items` items per call: for the account's erasure, which
    calls it again until `finished`. A cursor of the deleted log then answers 410."""
    found = Head.query(user_id, attributes_to_get=["userId", "entryKey"], page_size=1000)
    return _delete(found, max_items)


def _delete(found: object, max_items: int) -> Round:
    removed = 0
    with Head.batch_write() as batch:
        for item in found:  # type: ignore[attr-defined]
            if removed == max_items:
                return Round(removed, finished=False)
            batch.delete(Head(item.user_id, item.entry_key))
            removed += 1
    return Round(removed, finished=True)
