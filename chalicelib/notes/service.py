"""Notes service logic. References to projects and tasks are checked through those
services' public functions, never their tables.

Notes are never deleted by a cascade. A link to a deleted project or task reads as null
from the moment of the deletion (`_unlink_deleted` on every read), and the unlink cascade
(cascade.py, on project-deleted and task-deleted) then stores that as a new version."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.core.conditional import EntityTags
from chalicelib.core.cursor import encode_cursor
from chalicelib.core.errors import NotFound, UnprocessableReference
from chalicelib.core.ids import is_id, new_id
from chalicelib.core.models import (
    cancellation_codes,
    condition_failed,
    tombstone_expiry,
    transact_write,
    utcnow,
)
from chalicelib.core.pagination import MAX_PAGE_WEIGHT, Page, answer_weight, query_page
from chalicelib.core.writes import VersionConflict, write_with_retry
from chalicelib.projects import service as projects
from chalicelib.tasks import service as tasks

from .models import Note, NoteTag, owner_key, tag_prefix

_NOT_FOUND = "No such note."
_CHECK_FAILED = "ConditionalCheckFailed"


_UNUSABLE = {
    "projectId": "The project does not exist or is not yours.",
    "taskId": "The task does not exist or is not yours.",
}


@dataclass(frozen=True)
class _Links:
    """Links a write is about to set, as checked: the write commits only if they still
    hold then (tasks.guard_links), so no note is linked to something deleted meanwhile,
    which the unlink cascade might already have passed."""

    project_id: str | None
    task_id: str | None
    task_project_id: str | None


def _check_references(user_id: str, project_id: str | None, task_id: str | None) -> _Links:
    if project_id is not None and projects.live_project_version(user_id, project_id) is None:
        raise UnprocessableReference("projectId", _UNUSABLE["projectId"])
    task_project = None
    if task_id is not None:
        # The project of a live task; whether that project is deleted is checked in the
        # write's own transaction (tasks.guard_links), so not read here.
        task_project = tasks.task_project_id(user_id, task_id, check_project=False)
        if task_project is None:
            raise UnprocessableReference("taskId", _UNUSABLE["taskId"])
        if project_id is not None and task_project != project_id:
            raise UnprocessableReference("taskId", "The task belongs to another project.")
    return _Links(project_id, task_id, task_project)


def _save(
    note: Note, condition: Condition | None, links: _Links | None, tags_before: Collection[str]
) -> None:
    """Puts the note, conditionally; with new links, in one transaction with their guards,
    and with the tag entries it gains or loses (a tombstone loses them all).
    Raises VersionConflict when the note's own condition fails."""
    tags_after: set[str] = set() if note.deleted_at is not None else set(note.tags or ())
    added = sorted(tags_after - set(tags_before))
    removed = sorted(set(tags_before) - tags_after)
    unlinked = links is None or (links.project_id is None and links.task_id is None)
    if unlinked and not added and not removed:
        try:
            note.save(condition=condition)
        except PutError as error:
            if condition_failed(error):
                raise VersionConflict from error
            raise
        return
    guarded: list[str] = []

    def writes(transaction: TransactWrite) -> None:
        if links is not None:
            guarded[:] = tasks.guard_links(
                transaction, note.user_id, links.project_id, links.task_id, links.task_project_id
            )
        transaction.save(note, condition=condition)
        for tag in added:
            transaction.save(NoteTag.of(note.user_id, tag, note.note_id))
        for tag in removed:
            transaction.delete(NoteTag.of(note.user_id, tag, note.note_id))

    try:
        transact_write(writes)
    except TransactWriteError as error:
        codes = cancellation_codes(error)
        for field, code in zip(guarded, codes, strict=False):
            if code == _CHECK_FAILED:
                raise UnprocessableReference(field, _UNUSABLE[field]) from None
        if codes[len(guarded) : len(guarded) + 1] == [_CHECK_FAILED]:
            raise VersionConflict from error
        raise


def create_note(
    user_id: str, fields: Mapping[str, Any], request_id: str, object_id: str | None = None
) -> Note:
    """`object_id`: the id to create it with (POST /sync derives one per command, so a
    replayed create finds its object); a fresh one by default."""
    links = _check_references(user_id, fields.get("project_id"), fields.get("task_id"))
    now = utcnow()
    note = Note(
        user_id,
        object_id or new_id(),
        created_at=now,
        updated_at=now,
        request_id=request_id,
        **fields,
    )
    note.refresh_index_keys()
    _save(note, None, links, tags_before=())
    return note


def _unlink_deleted(user_id: str, notes: list[Note]) -> None:
    """Clears, in the notes as read, each link to a deleted project or task. Only a note
    with a link costs a lookup (one BatchGetItem, two with a task link)."""
    project_ids = {note.project_id for note in notes if note.project_id}
    task_ids = {note.task_id for note in notes if note.task_id}
    if not project_ids and not task_ids:
        return
    dead_projects, dead_tasks = tasks.deleted_references(user_id, project_ids, task_ids)
    for note in notes:
        if note.project_id in dead_projects:
            note.project_id = None
        if note.task_id in dead_tasks:
            note.task_id = None


def get_note(user_id: str, note_id: str) -> Note:
    if is_id(note_id):
        try:
            note = Note.get(user_id, note_id, consistent_read=True)
        except DoesNotExist:
            pass
        else:
            if note.deleted_at is None:
                _unlink_deleted(user_id, [note])
                return note
    raise NotFound(_NOT_FOUND)


def list_notes(
    user_id: str,
    limit: int,
    cursor: str | None,
    project_id: str | None = None,
    task_id: str | None = None,
    tag: str | None = None,
) -> Page[Note]:
    """One Query on the sparse index of the first filter given (task, project, the tag
    entries; the live index without one), so no tombstone is ever read. A second filter
    narrows that Query server-side; such a request reads one page at most and may answer
    a short page with a cursor (core.pagination)."""
    if task_id is None and project_id is None and tag is not None:
        tagged = _tagged(user_id, tag, limit, cursor)
        _unlink_deleted(user_id, tagged.items)
        return tagged
    filters: list[Condition] = []
    if tag is not None:
        filters.append(Note.tags.contains(tag))
    query: Any
    # The link the index serves: when it reads as deleted, so does every note behind it.
    indexed: str | None = None
    if task_id is not None:
        if project_id is not None:
            filters.append(Note.project_id == project_id)
        query, key, index_key = Note.by_task.query, owner_key(user_id, task_id), "taskKey"
        indexed = "task_id"
    elif project_id is not None:
        query, key, index_key = Note.by_project.query, owner_key(user_id, project_id), "projectKey"
        indexed = "project_id"
    else:
        query, key, index_key = Note.live.query, user_id, "liveOwner"
    page: Page[Note] = query_page(
        query,
        key,
        filters,
        limit=limit,
        cursor=cursor,
        scope=f"notes|{index_key}|{key}|{project_id}|{tag}",
        key_names=("userId", "noteId", index_key),
    )
    _unlink_deleted(user_id, page.items)
    if indexed is not None and page.items and getattr(page.items[0], indexed) is None:
        return Page([], None)  # the project or task of the filter is deleted
    matching = [
        note
        for note in page.items
        if (project_id is None or note.project_id == project_id)
        and (task_id is None or note.task_id == task_id)
    ]
    return Page(matching, page.next_cursor)


def _tagged(user_id: str, tag: str, limit: int, cursor: str | None) -> Page[Note]:
    """A page of the tag's entries (one Query), then their notes (one BatchGetItem per
    100). The entries follow the notes' own transactions, so each names a live note."""
    scope = f"notes|tagNote|{user_id}|{tag}"
    entries: Page[NoteTag] = query_page(
        lambda hash_key, **kwargs: NoteTag.query(
            hash_key, NoteTag.tag_note.startswith(tag_prefix(tag)), **kwargs
        ),
        user_id,
        [],
        limit=limit,
        cursor=cursor,
        scope=scope,
        key_names=("userId", "tagNote"),
    )
    if not entries.items:
        return Page([], entries.next_cursor)
    found = {
        note.note_id: note
        for note in Note.batch_get(
            [(user_id, entry.note_id) for entry in entries.items], consistent_read=True
        )
    }
    notes: list[Note] = []
    weight = 0
    for position, entry in enumerate(entries.items):
        note = found.get(entry.note_id)
        if note is None or note.deleted_at is not None:
            continue
        notes.append(note)
        weight += answer_weight(note)
        if weight >= MAX_PAGE_WEIGHT and position + 1 < len(entries.items):
            # The page ends by weight here; the next one starts after this entry.
            last = {"userId": {"S": user_id}, "tagNote": {"S": entry.tag_note}}
            return Page(notes, encode_cursor(last, scope))
    return Page(notes, entries.next_cursor)


def _persist(
    note: Note, request_id: str, tags_before: Collection[str], links: _Links | None = None
) -> None:
    note.updated_at = utcnow()
    note.request_id = request_id
    note.refresh_index_keys()
    _save(note, Note.deleted_at.does_not_exist(), links, tags_before)


def update_note(
    user_id: str,
    note_id: str,
    fields: Mapping[str, Any],
    if_match: EntityTags | None,
    request_id: str,
) -> Note:
    checked: dict[str, _Links | None] = {}
    tags_before: list[str] = []

    def apply(note: Note) -> None:
        tags_before[:] = [str(tag) for tag in note.tags or ()]
        references = (note.project_id, note.task_id)
        for name, value in fields.items():
            setattr(note, name, value)
        checked["links"] = None
        if (note.project_id, note.task_id) != references:
            checked["links"] = _check_references(user_id, note.project_id, note.task_id)

    return write_with_retry(
        lambda: get_note(user_id, note_id),
        apply,
        lambda note: _persist(note, request_id, tags_before, checked["links"]),
        if_match,
    )


def delete_note(user_id: str, note_id: str, if_match: EntityTags | None, request_id: str) -> Note:
    tags_before: list[str] = []

    def apply(note: Note) -> None:
        tags_before[:] = [str(tag) for tag in note.tags or ()]
        note.deleted_at = utcnow()
        note.expires_at = tombstone_expiry()

    return write_with_retry(
        lambda: get_note(user_id, note_id),
        apply,
        lambda n: _persist(n, request_id, tags_before),
        if_match,
    )


def get_notes_by_ids(user_id: str, note_ids: Collection[str]) -> list[Note]:
    """Public: the caller's notes with these ids as they read now, tombstones included
    (their `deleted_at` is set), links to deleted projects and tasks read as null; an id
    with no note is left out. Consistent BatchGetItems, then the link check of every read."""
    wanted = sorted({note_id for note_id in note_ids if is_id(note_id)})
    if not wanted:
        return []
    found = list(Note.batch_get([(user_id, note_id) for note_id in wanted], consistent_read=True))
    _unlink_deleted(user_id, [note for note in found if note.deleted_at is None])
    return found
