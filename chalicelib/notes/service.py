"""Notes service logic. References to projects and tasks are checked through those
services' public functions, never their tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition

from chalicelib.core.conditional import EntityTags
from chalicelib.core.errors import NotFound, UnprocessableReference
from chalicelib.core.ids import is_id, new_id
from chalicelib.core.models import condition_failed, tombstone_expiry, utcnow
from chalicelib.core.pagination import Page, query_page
from chalicelib.core.writes import VersionConflict, write_with_retry
from chalicelib.projects import service as projects
from chalicelib.tasks import service as tasks

from .models import Note, owner_key

_NOT_FOUND = "No such note."


def _check_references(user_id: str, project_id: str | None, task_id: str | None) -> None:
    if project_id is not None and projects.live_project_version(user_id, project_id) is None:
        raise UnprocessableReference("projectId", "The project does not exist or is not yours.")
    if task_id is not None:
        task_project = tasks.task_project_id(user_id, task_id)
        # A task whose project is deleted is gone too, even before the project-deleted
        # event has reached the Tasks service; ask the Projects service, the owner.
        if task_project is None or (
            task_project != project_id
            and projects.live_project_version(user_id, task_project) is None
        ):
            raise UnprocessableReference("taskId", "The task does not exist or is not yours.")
        if project_id is not None and task_project != project_id:
            raise UnprocessableReference("taskId", "The task belongs to another project.")


def create_note(user_id: str, fields: Mapping[str, Any], request_id: str) -> Note:
    _check_references(user_id, fields.get("project_id"), fields.get("task_id"))
    now = utcnow()
    note = Note(user_id, new_id(), created_at=now, updated_at=now, request_id=request_id, **fields)
    note.refresh_index_keys()
    note.save()
    return note


def get_note(user_id: str, note_id: str) -> Note:
    if is_id(note_id):
        try:
            note = Note.get(user_id, note_id, consistent_read=True)
        except DoesNotExist:
            pass
        else:
            if note.deleted_at is None:
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
    """One Query per filter combination: the task index, the project index, or the owner's
    partition. A tag narrows the Query server-side (tags are a list, which no key can hold)."""
    filters: list[Condition] = []
    if tag is not None:
        filters.append(Note.tags.contains(tag))
    query: Any
    if task_id is not None:
        if project_id is not None:
            filters.append(Note.project_id == project_id)
        query, key, index_key = Note.by_task.query, owner_key(user_id, task_id), "taskKey"
    elif project_id is not None:
        query, key, index_key = Note.by_project.query, owner_key(user_id, project_id), "projectKey"
    else:
        filters.insert(0, Note.deleted_at.does_not_exist())
        query, key, index_key = Note.query, user_id, None
    page: Page[Note] = query_page(
        query,
        key,
        filters,
        limit=limit,
        cursor=cursor,
        scope=f"notes|{index_key}|{key}|{project_id}|{tag}",
        key_names=("userId", "noteId", *([index_key] if index_key else [])),
    )
    return page


def _persist(note: Note, request_id: str) -> None:
    note.updated_at = utcnow()
    note.request_id = request_id
    note.refresh_index_keys()
    try:
        note.save(condition=Note.deleted_at.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise VersionConflict from error
        raise


def update_note(
    user_id: str,
    note_id: str,
    fields: Mapping[str, Any],
    if_match: EntityTags | None,
    request_id: str,
) -> Note:
    def apply(note: Note) -> None:
        references = (note.project_id, note.task_id)
        for name, value in fields.items():
            setattr(note, name, value)
        if (note.project_id, note.task_id) != references:
            _check_references(user_id, note.project_id, note.task_id)

    return write_with_retry(
        lambda: get_note(user_id, note_id), apply, lambda n: _persist(n, request_id), if_match
    )


def delete_note(user_id: str, note_id: str, if_match: EntityTags | None, request_id: str) -> Note:
    def apply(note: Note) -> None:
        note.deleted_at = utcnow()
        note.expires_at = tombstone_expiry()

    return write_with_retry(
        lambda: get_note(user_id, note_id), apply, lambda n: _persist(n, request_id), if_match
    )
