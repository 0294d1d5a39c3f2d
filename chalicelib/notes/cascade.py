"""The unlink cascade: notes linked to a deleted project or task lose that link, in
bounded rounds. Notes are never deleted by a cascade.

Each note is one UpdateItem: remove the link and its index key, bump the version, stamp
the deletion's correlation id, on the condition that the note still has that link and is
live. An update, not a Put, so a user's concurrent edit of the note's other fields is
kept; the condition makes a repeat, or a note the user relinked meanwhile, a no-op. The
notes stream publishes each as note-updated, and the realtime service pushes it.

The link's index key goes with the link, so the note leaves the sparse index: a round
needs no cursor, and a redelivered message finds less to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pynamodb.exceptions import UpdateError

from chalicelib.core.models import condition_failed, utcnow

from .models import Note, owner_key

QUERY_PAGE_SIZE = 200

Link = Literal["projectId", "taskId"]


@dataclass
class UnlinkOutcome:
    unlinked: int = 0
    finished: bool = False


def _unlink(note: Note, link: Link, target_id: str, correlation_id: str) -> bool:
    if link == "projectId":
        attribute, index_key = Note.project_id, Note.project_key
    else:
        attribute, index_key = Note.task_id, Note.task_key
    try:
        note.update(
            actions=[
                attribute.remove(),
                index_key.remove(),
                Note.updated_at.set(utcnow()),
                Note.request_id.set(correlation_id),
            ],
            condition=(attribute == target_id) & Note.deleted_at.does_not_exist(),
            # The version is bumped, but any version will do: the condition is the link.
            add_version_condition=False,
        )
    except UpdateError as error:
        if condition_failed(error):
            return False  # unlinked, relinked or deleted since the index was read
        raise
    return True


def unlink_notes(
    user_id: str,
    link: Link,
    target_id: str,
    correlation_id: str,
    *,
    max_notes: int,
    seconds_left: Callable[[], float],
    time_margin: float,
) -> UnlinkOutcome:
    """Unlinks up to `max_notes` notes from the deleted project or task; `finished` once
    none is left in the index."""
    index = Note.by_project if link == "projectId" else Note.by_task
    outcome = UnlinkOutcome(finished=True)
    for note in index.query(owner_key(user_id, target_id), page_size=QUERY_PAGE_SIZE):
        if outcome.unlinked >= max_notes or seconds_left() < time_margin:
            outcome.finished = False
            break
        if _unlink(note, link, target_id, correlation_id):
            outcome.unlinked += 1
    return outcome
