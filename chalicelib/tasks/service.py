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
from chalicelib.core.errors import (
    NotFound,
    PreconditionFailed,
    UnprocessableReference,
    ValidationFailed,
    WriteContended,
)
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

from .models import DELETED, LIVE, ProjectRecord, Task, completion_key, owner_key

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


def _deleted_projects(user_id: str, project_ids: set[str]) -> set[str]:
    if not project_ids:
        return set()
    # Consistent: a deletion's tombstone must be seen from the moment it answered.
    records = ProjectRecord.batch_get([(user_id, pid) for pid in project_ids], consistent_read=True)
    return {record.project_id for record in records if record.state != LIVE}


# ---- tasks ---------------------------------------------------------------------------


def _live_record(user_id: str, project_id: str, version: int) -> ProjectRecord:
    return ProjectRecord(
        user_id, project_id, state=LIVE, version=version, updated_at=utcnow(), last_event_id=None
    )


def _commit(
    task: Task, live_projects: list[str], condition: Condition | None, found: Mapping[str, int]
) -> None:
    """Writes the task if every project in `live_projects` is live here: a ConditionCheck
    of each record, or, for a project in `found` (no record yet, live in the Projects
    service at that version), a Put of its record that holds only while none exists.
    Raises ProjectGone(index) or VersionConflict when a condition fails."""

    def writes(transaction: TransactWrite) -> None:
        for project_id in live_projects:
            if project_id in found:
                record = _live_record(task.user_id, project_id, found[project_id])
                transaction.save(record, condition=ProjectRecord.project_id.does_not_exist())
            else:
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


def _checked_commit(task: Task, live_projects: list[str], condition: Condition | None) -> None:
    """_commit, with the projects' check inside the transaction only: one round trip.
    When a project's check fails, its record is missing (the project is new and its
    event has not arrived) or tombstoned; only then is the Projects service asked, and a
    live project's record is created in the retried transaction."""
    found: dict[str, int] = {}
    for _ in range(3):
        try:
            _commit(task, live_projects, condition, found)
            return
        except ProjectGone as gone:
            project_id = live_projects[gone.index]
            if project_id in found:
                # A record exists after all: appeared meanwhile, or a tombstone.
                if _deleted_projects(task.user_id, {project_id}):
                    raise
                del found[project_id]
                continue
            version = (
                projects.live_project_version(task.user_id, project_id)
                if is_id(project_id)
                else None
            )
            if version is None:
                raise
            found[project_id] = version
    raise WriteContended


class ProjectGone(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def create_task(
    user_id: str, fields: Mapping[str, Any], request_id: str, object_id: str | None = None
) -> Task:
    """`object_id`: the id to create it with (POST /sync derives one per command, so a
    replayed create finds its object); a fresh one by default. One TransactWriteItems: the
    project's check and the task (3 round trips for the first task of a project whose
    event has not arrived yet, see _checked_commit)."""
    attrs = _attrs(fields)
    if not is_id(attrs["project_id"]):
        raise _unusable_project()
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
        _checked_commit(task, [task.project_id], condition=None)
    except ProjectGone:
        raise _unusable_project() from None
    return task


def _find(user_id: str, task_id: str, *, check_project: bool = True) -> Task | None:
    if not is_id(task_id):
        return None
    try:
        task = Task.get(user_id, task_id, consistent_read=True)
    except DoesNotExist:
        return None
    if task.deleted_at is not None:
        return None
    if check_project and _deleted_projects(user_id, {task.project_id}):
        return None
    return task


def get_task(user_id: str, task_id: str) -> Task:
    """A task whose project is deleted is gone at once, before the cascade reaches it:
    a GetItem of the task, then one of its project's record (the record's key is known
    only from the task, so one TransactGetItems cannot hold both)."""
    task = _find(user_id, task_id)
    if task is None:
        raise NotFound(_NOT_FOUND)
    return task


def task_project_id(user_id: str, task_id: str, *, check_project: bool = True) -> str | None:
    """Public: the project of the caller's live task, or None (also when its project is
    deleted). A caller whose write ConditionChecks that project's record in its own
    transaction (guard_links) may skip the check here: check_project=False."""
    task = _find(user_id, task_id, check_project=check_project)
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
    """One Query on the sparse index of the first filter given (project, status,
    completion; the live index without one), so no tombstone is ever read. A second or
    third filter narrows that Query server-side; such a request reads one page at most
    and may answer a short page with a cursor (core.pagination)."""
    filters: list[Condition] = []
    query: Any
    if project_id is not None:
        query, key, index_key = Task.by_project.query, owner_key(user_id, project_id), "projectKey"
        if status is not None:
            filters.append(Task.status == status)
        if is_completed is not None:
            filters.append(Task.is_completed == is_completed)
    elif status is not None:
        query, key, index_key = Task.by_status.query, owner_key(user_id, status), "statusKey"
        if is_completed is not None:
            filters.append(Task.is_completed == is_completed)
    elif is_completed is not None:
        query, key = Task.by_completion.query, completion_key(user_id, is_completed)
        index_key = "completionKey"
    else:
        query, key, index_key = Task.live.query, user_id, "liveOwner"
    page: Page[Task] = query_page(
        query,
        key,
        filters,
        limit=limit,
        cursor=cursor,
        scope=f"tasks|{index_key}|{key}|{status}|{is_completed}",
        key_names=("userId", "taskId", index_key),
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
    """PUT and PATCH: a GetItem of the task, then one transaction that checks its project
    (and the new one when it moves, like a create) and writes it on the version read.
    The task's project must be read before the transaction that checks it, hence 2."""
    attrs = _attrs(fields)
    loaded_project: dict[str, str] = {}
    written: list[bool] = []

    def load() -> Task:
        task = _find(user_id, task_id, check_project=False)  # the transaction checks it
        if task is None:
            raise NotFound(_NOT_FOUND)
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
            projects_to_check.append(task.project_id)
        try:
            _checked_commit(task, projects_to_check, condition=Task.deleted_at.does_not_exist())
        except ProjectGone as gone:
            if gone.index == 0:
                raise NotFound(_NOT_FOUND) from None
            raise _unusable_project() from None
        written.append(True)

    def project_deleted() -> bool:
        return bool(_deleted_projects(user_id, {loaded_project["id"]}))

    try:
        task = write_with_retry(load, apply, persist, if_match)
    except PreconditionFailed:
        # Nothing was written, so no transaction checked the project: a task of a
        # deleted project is a 404 before it is a 412.
        if project_deleted():
            raise NotFound(_NOT_FOUND) from None
        raise
    if not written and project_deleted():
        raise NotFound(_NOT_FOUND)  # a no-op PATCH wrote nothing, so checked nothing
    return task


def delete_task(user_id: str, task_id: str, if_match: EntityTags | None, request_id: str) -> Task:
    """Like an update: a GetItem, then one transaction that checks the task's project and
    writes the tombstone. A task of a deleted project is a 404 here as on a read."""

    def load() -> Task:
        task = _find(user_id, task_id, check_project=False)  # the transaction checks it
        if task is None:
            raise NotFound(_NOT_FOUND)
        return task

    def apply(task: Task) -> None:
        task.deleted_at = utcnow()
        task.expires_at = tombstone_expiry()
        task.refresh_index_keys()

    def persist(task: Task) -> None:
        task.updated_at = utcnow()
        task.request_id = request_id
        try:
            _checked_commit(task, [task.project_id], condition=Task.deleted_at.does_not_exist())
        except ProjectGone:
            raise NotFound(_NOT_FOUND) from None

    try:
        return write_with_retry(load, apply, persist, if_match)
    except PreconditionFailed:
        task = _find(user_id, task_id)  # no transaction ran: a deleted project's task is 404
        if task is None:
            raise NotFound(_NOT_FOUND) from None
        raise


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
