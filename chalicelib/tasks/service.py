"""Tasks service logic.

Every task write that can place a task in a project is one DynamoDB transaction: a
ConditionCheck that the Tasks service's record of the project is live, plus the task
write. The project's deletion tombstones that record in its own transaction (this module
joins it), so from the moment DELETE answers no task can land in or move into the
project, and its tasks read as gone; the project-deleted event's cascade then tombstones
the tasks themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.core.conditional import EntityTags
from chalicelib.core.errors import NotFound, UnprocessableReference, ValidationFailed
from chalicelib.core.ids import is_id, new_id
from chalicelib.core.models import (
    cancellation_codes,
    condition_failed,
    tombstone_expiry,
    transact_write,
    utcnow,
)
from chalicelib.core.pagination import Page, query_page
from chalicelib.core.writes import VersionConflict, write_with_retry
from chalicelib.projects import service as projects

from .models import DELETED, LIVE, ProjectRecord, Task, owner_key

_NOT_FOUND = "No such task."
_CHECK_FAILED = "ConditionalCheckFailed"


def _unusable_project() -> UnprocessableReference:
    return UnprocessableReference("projectId", "The project does not exist or is not yours.")


def _attrs(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in fields.items()
    }


# ---- the Tasks service's record of projects ------------------------------------------


def _record(user_id: str, project_id: str) -> ProjectRecord | None:
    try:
        return ProjectRecord.get(user_id, project_id, consistent_read=True)
    except DoesNotExist:
        return None


def remember_project(user_id: str, project_id: str, version: int, event_id: str | None) -> bool:
    """Records a live project at `version` unless a newer version or a tombstone is already
    there. Idempotent and order-tolerant; False when the record was left as it was."""
    record = ProjectRecord(
        user_id,
        project_id,
        state=LIVE,
        version=version,
        last_event_id=event_id,
        updated_at=utcnow(),
    )
    newer = (ProjectRecord.state == LIVE) & (ProjectRecord.version < version)
    try:
        record.save(condition=ProjectRecord.project_id.does_not_exist() | newer)
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _tombstone_record(
    user_id: str, project_id: str, version: int, event_id: str | None
) -> ProjectRecord:
    return ProjectRecord(
        user_id,
        project_id,
        state=DELETED,
        version=version,
        last_event_id=event_id,
        updated_at=utcnow(),
        expires_at=tombstone_expiry(),
    )


def forget_project(user_id: str, project_id: str, version: int, event_id: str | None) -> None:
    """Tombstones the record. Unconditional: a deletion wins over any version. The
    deletion's own transaction did this already; the event repeats it harmlessly."""
    _tombstone_record(user_id, project_id, version, event_id).save()


@projects.join_project_deletion
def _forget_in_deletion(
    transaction: TransactWrite, user_id: str, project_id: str, version: int
) -> None:
    """The record's tombstone commits with the project's own: deletion is immediate."""
    transaction.save(_tombstone_record(user_id, project_id, version, event_id=None))


def _ensure_project_record(user_id: str, project_id: str) -> None:
    """Raises 422 unless the caller's project is live. On a miss (its event has not
    arrived yet) the record is filled from the Projects service's public API."""
    if not is_id(project_id):
        raise _unusable_project()
    record = _record(user_id, project_id)
    if record is None:
        version = projects.live_project_version(user_id, project_id)
        if version is None:
            raise _unusable_project()
        remember_project(user_id, project_id, version, event_id=None)
    elif record.state != LIVE:
        raise _unusable_project()


def _deleted_projects(user_id: str, project_ids: set[str]) -> set[str]:
    if not project_ids:
        return set()
    # Consistent: a deletion's tombstone must be seen from the moment it answered.
    records = ProjectRecord.batch_get([(user_id, pid) for pid in project_ids], consistent_read=True)
    return {record.project_id for record in records if record.state != LIVE}


# ---- tasks ---------------------------------------------------------------------------


def _commit(task: Task, live_projects: list[str], condition: Condition | None) -> None:
    """Writes the task if every project in `live_projects` is live. Raises
    ProjectGone(index) or VersionConflict when a condition fails."""

    def writes(transaction: TransactWrite) -> None:
        for project_id in live_projects:
            transaction.condition_check(
                ProjectRecord, task.user_id, project_id, condition=ProjectRecord.state == LIVE
            )
        transaction.save(task, condition=condition)

    try:
        transact_write(writes)
    except TransactWriteError as error:
        codes = cancellation_codes(error)
        for index, code in enumerate(codes[: len(live_projects)]):
            if code == _CHECK_FAILED:
                raise ProjectGone(index) from error
        if len(codes) > len(live_projects) and codes[len(live_projects)] == _CHECK_FAILED:
            raise VersionConflict from error
        raise


class ProjectGone(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def create_task(
    user_id: str, fields: Mapping[str, Any], request_id: str, object_id: str | None = None
) -> Task:
    """`object_id`: the id to create it with (POST /sync derives one per command, so a
    replayed create finds its object); a fresh one by default."""
    attrs = _attrs(fields)
    _ensure_project_record(user_id, attrs["project_id"])
    now = utcnow()
    task = Task(
        user_id,
        object_id or new_id(),
        created_at=now,
        updated_at=now,
        request_id=request_id,
        **attrs,
    )
    task.refresh_index_keys()
    try:
        _commit(task, [task.project_id], condition=None)
    except ProjectGone:
        raise _unusable_project() from None
    return task


def _find(user_id: str, task_id: str) -> Task | None:
    if not is_id(task_id):
        return None
    try:
        task = Task.get(user_id, task_id, consistent_read=True)
    except DoesNotExist:
        return None
    if task.deleted_at is not None or _deleted_projects(user_id, {task.project_id}):
        return None
    return task


def get_task(user_id: str, task_id: str) -> Task:
    """A task whose project is deleted is gone at once, before the cascade reaches it."""
    task = _find(user_id, task_id)
    if task is None:
        raise NotFound(_NOT_FOUND)
    return task


def task_project_id(user_id: str, task_id: str) -> str | None:
    """Public: the project of the caller's live task, or None."""
    task = _find(user_id, task_id)
    return None if task is None else task.project_id


def deleted_references(
    user_id: str, project_ids: Collection[str], task_ids: Collection[str]
) -> tuple[set[str], set[str]]:
    """Public: which of these projects and tasks of the caller are deleted, as
    (projects, tasks), for a service that links to them. A project is deleted from the
    moment its deletion committed (its record here is tombstoned in that transaction); a
    task when it is tombstoned, purged, or its project is deleted. A project without a
    record here has never been deleted. At most two BatchGetItems: the tasks, then the
    records of their projects and of `project_ids`."""
    live_task_projects: dict[str, str] = {}
    dead_tasks: set[str] = set()
    wanted = set(task_ids)
    if wanted:
        found = {
            task.task_id: task
            for task in Task.batch_get(
                [(user_id, task_id) for task_id in wanted],
                consistent_read=True,
                attributes_to_get=["taskId", "projectId", "deletedAt"],
            )
        }
        for task_id in wanted:
            task = found.get(task_id)
            if task is None or task.deleted_at is not None:
                dead_tasks.add(task_id)
            else:
                live_task_projects[task_id] = task.project_id
    dead_projects = _deleted_projects(user_id, set(project_ids) | set(live_task_projects.values()))
    dead_tasks |= {t for t, project in live_task_projects.items() if project in dead_projects}
    return dead_projects & set(project_ids), dead_tasks


def guard_links(
    transaction: TransactWrite,
    user_id: str,
    project_id: str | None,
    task_id: str | None,
    task_project_id: str | None,
) -> list[str]:
    """Public: adds to another service's transaction the checks that a link it is about to
    write still holds when it commits: the project is not deleted, and the task is live in
    `task_project_id` (its project as the caller read it), which is not deleted either.
    Returns, per check in order, the field it guards ("projectId" or "taskId"). A project
    without a record here has never been deleted: its deletion writes the record."""
    checks: list[str] = []
    not_deleted = ProjectRecord.project_id.does_not_exist() | (ProjectRecord.state == LIVE)
    for guarded, field in ((project_id, "projectId"), (task_project_id, "taskId")):
        if guarded is not None and (field == "projectId" or guarded != project_id):
            transaction.condition_check(ProjectRecord, user_id, guarded, condition=not_deleted)
            checks.append(field)
    if task_id is not None:
        live_there = Task.deleted_at.does_not_exist() & (Task.project_id == task_project_id)
        transaction.condition_check(Task, user_id, task_id, condition=live_there)
        checks.append("taskId")
    return checks


def list_tasks(
    user_id: str,
    limit: int,
    cursor: str | None,
    project_id: str | None = None,
    status: str | None = None,
    is_completed: bool | None = None,
) -> Page[Task]:
    """Each filter combination is one Query: on the project index, the status index or the
    owner's partition; the remaining filters narrow it server-side."""
    filters: list[Condition] = []
    if is_completed is not None:
        filters.append(Task.is_completed == is_completed)
    query: Any
    if project_id is not None:
        if status is not None:
            filters.append(Task.status == status)
        query, key, index_key = Task.by_project.query, owner_key(user_id, project_id), "projectKey"
    elif status is not None:
        query, key, index_key = Task.by_status.query, owner_key(user_id, status), "statusKey"
    else:
        filters.insert(0, Task.deleted_at.does_not_exist())
        query, key, index_key = Task.query, user_id, None
    page: Page[Task] = query_page(
        query,
        key,
        filters,
        limit=limit,
        cursor=cursor,
        scope=f"tasks|{index_key}|{key}|{status}|{is_completed}",
        key_names=("userId", "taskId", *([index_key] if index_key else [])),
    )
    gone = _deleted_projects(user_id, {task.project_id for task in page.items})
    return Page([task for task in page.items if task.project_id not in gone], page.next_cursor)


def update_task(
    user_id: str,
    task_id: str,
    fields: Mapping[str, Any],
    if_match: EntityTags | None,
    request_id: str,
) -> Task:
    """PUT and PATCH. Moving a task checks its new project like a create does."""
    attrs = _attrs(fields)
    loaded_project: dict[str, str] = {}

    def load() -> Task:
        task = get_task(user_id, task_id)
        loaded_project["id"] = task.project_id
        return task

    def apply(task: Task) -> None:
        for name, value in attrs.items():
            setattr(task, name, value)
        if task.start_date and task.target_date and task.start_date > task.target_date:
            raise ValidationFailed({"startDate": ["Must not be after targetDate."]})
        task.refresh_index_keys()

    def persist(task: Task) -> None:
        task.updated_at = utcnow()
        task.request_id = request_id
        projects_to_check = [loaded_project["id"]]
        if task.project_id != loaded_project["id"]:
            _ensure_project_record(user_id, task.project_id)
            projects_to_check.append(task.project_id)
        try:
            _commit(task, projects_to_check, condition=Task.deleted_at.does_not_exist())
        except ProjectGone as gone:
            if gone.index == 0:
                raise NotFound(_NOT_FOUND) from None
            raise _unusable_project() from None

    return write_with_retry(load, apply, persist, if_match)


def delete_task(user_id: str, task_id: str, if_match: EntityTags | None, request_id: str) -> Task:
    def apply(task: Task) -> None:
        task.deleted_at = utcnow()
        task.expires_at = tombstone_expiry()
        task.refresh_index_keys()

    def persist(task: Task) -> None:
        task.updated_at = utcnow()
        task.request_id = request_id
        try:
            task.save(condition=Task.deleted_at.does_not_exist())
        except PutError as error:
            if condition_failed(error):
                raise VersionConflict from error
            raise

    return write_with_retry(lambda: get_task(user_id, task_id), apply, persist, if_match)


def get_tasks_by_ids(user_id: str, task_ids: Collection[str]) -> list[Task]:
    """Public: the caller's tasks with these ids as they read now, tombstones included
    (their `deleted_at` is set); an id with no task is left out. A task whose project is
    deleted reads as deleted from the deletion on (before the cascade tombstones it), so
    its `deleted_at` is set here to the deletion's time. Two consistent BatchGetItems:
    the tasks, then the records of their projects."""
    wanted = sorted({task_id for task_id in task_ids if is_id(task_id)})
    if not wanted:
        return []
    found = list(Task.batch_get([(user_id, task_id) for task_id in wanted], consistent_read=True))
    live_projects = {task.project_id for task in found if task.deleted_at is None}
    if live_projects:
        records = ProjectRecord.batch_get(
            [(user_id, pid) for pid in live_projects], consistent_read=True
        )
        deleted_at = {r.project_id: r.updated_at for r in records if r.state != LIVE}
        for task in found:
            if task.deleted_at is None and task.project_id in deleted_at:
                task.deleted_at = deleted_at[task.project_id]
    return found
