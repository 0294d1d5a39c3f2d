"""The change log: appending a change, in seq order, one entry per object.

An append is one transaction that (1) bumps the user's counter from the value it read
to that value + 1, (2) puts the entry `log#<seq>`, (3) puts the object's pointer,
conditional on the pointer holding an older version (or none), and (4) deletes the
object's previous entry. Because (1) is conditional on the value read, no two appends of
a user can take the same seq, and the append of seq n + 1 can only start after the one of
n has committed: entries become visible strictly in seq order. A reader who has seen
seq n has therefore seen every entry below it, which a cursor made of timestamps cannot
promise (docs/sync.md). Because (3) compares versions, events may arrive late, twice or
out of order: the log keeps the newest version of each object.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.core.errors import WriteContended
from chalicelib.core.events import Envelope
from chalicelib.core.models import cancellation_codes, transact_write, utcnow

from .infra import RETENTION_DAYS
from .models import COUNTER_KEY, Counter, Head, LogEntry, Pointer, log_key, pointer_key

# The resources whose changes are logged, by the event type's prefix.
RESOURCES = ("project", "task", "note")
_APPEND_ATTEMPTS = 20
_CHECK_FAILED = "ConditionalCheckFailed"


@dataclass(frozen=True)
class Change:
    """One object at one version: what an event says about it."""

    user_id: str
    resource: str
    object_id: str
    version: int
    deleted_at: datetime | None


def change_of(envelope: Envelope) -> Change | None:
    """The change an event reports, or None when its resource is not logged."""
    resource, _, action = envelope.type.partition("-")
    if resource not in RESOURCES:
        return None
    subject = envelope.subject
    return Change(
        subject.user_id,
        resource,
        subject.id,
        subject.version,
        envelope.occurred_at if action == "deleted" else None,
    )


class Appended(Enum):
    NEW = "new"  # the change is in the log now
    PRESENT = "present"  # the log already held this version (a repeated event)
    STALE = "stale"  # the log holds a newer version


def retention() -> timedelta:
    return timedelta(days=RETENTION_DAYS.number())


@dataclass(frozen=True)
class _Position:
    seq: int  # of the object's entry
    version: int


def _read(user_id: str, pointer: str) -> tuple[int, _Position | None]:
    """The counter's value and the object's pointer, in one consistent BatchGetItem."""
    seq, found = 0, None
    for item in Head.batch_get([(user_id, COUNTER_KEY), (user_id, pointer)], consistent_read=True):
        if item.entry_key == COUNTER_KEY:
            seq = int(item.seq or 0)
        else:
            found = _Position(int(item.seq or 0), int(item.version or 0))
    return seq, found


def append(change: Change, sleep: Callable[[float], None] = time.sleep) -> Appended:
    """Puts `change` in the log unless the log already holds its version or a newer one."""
    key = pointer_key(change.resource, change.object_id)
    for attempt in range(_APPEND_ATTEMPTS):
        seq, pointer = _read(change.user_id, key)
        if pointer is not None and pointer.version >= change.version:
            return Appended.PRESENT if pointer.version == change.version else Appended.STALE
        try:
            _commit(change, seq, key, pointer)
            return Appended.NEW
        except TransactWriteError as error:
            if _CHECK_FAILED not in cancellation_codes(error):
                raise
        except WriteContended:
            pass
        # Another append of this user took the seq (or this object's pointer) first.
        sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter
    raise WriteContended


def _commit(change: Change, seq: int, key: str, pointer: _Position | None) -> None:
    now = utcnow()
    expires_at = now + retention() if change.deleted_at is not None else None
    new_seq = seq + 1
    entry = LogEntry(
        change.user_id,
        log_key(new_seq),
        resource=change.resource,
        object_id=change.object_id,
        version=change.version,
        deleted_at=change.deleted_at,
        logged_at=now,
        expires_at=expires_at,
    )
    new_pointer = Pointer(
        change.user_id,
        key,
        seq=new_seq,
        version=change.version,
        deleted=change.deleted_at is not None,
        expires_at=expires_at,
    )

    def writes(transaction: TransactWrite) -> None:
        counter = Counter(change.user_id, COUNTER_KEY)
        transaction.update(
            counter,
            actions=[Counter.seq.set(new_seq)],
            condition=(Counter.seq == seq) if seq else Counter.seq.does_not_exist(),
        )
        transaction.save(entry, condition=LogEntry.entry_key.does_not_exist())
        newer = Pointer.entry_key.does_not_exist() | (Pointer.version < change.version)
        transaction.save(new_pointer, condition=newer)
        if pointer is not None:
            transaction.delete(LogEntry(change.user_id, log_key(pointer.seq)))

    transact_write(writes)
