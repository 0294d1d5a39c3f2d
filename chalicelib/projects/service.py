"""Projects service logic. The functions without a leading underscore are its public API;
other services call them and never touch the projects table.

A service that keeps its own record of projects joins their deletion
(`join_project_deletion`): its write commits in the same transaction as the project's
tombstone, so the deletion is visible everywhere from the moment it answers. Projects
imports none of them; they register with it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import reduce
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.core.conditional import EntityTags, require_match
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import is_id, new_id
from chalicelib.core.models import (
    cancellation_codes,
    tombstone_expiry,
    transact_write,
    utcnow,
)
from chalicelib.core.pagination import Page, query_page
from chalicelib.core.writes import VersionConflict, update_in_place, write_with_retry

from .models import Project

_NOT_FOUND = "No such project."

# (transaction, user id, project id, the project's version after its deletion): adds the
# participant's own writes to the transaction that tombstones the project.
DeletionParticipant = Callable[[TransactWrite, str, str, int], None]
_deletion_participants: list[DeletionParticipant] = []


def join_project_deletion(participant: DeletionParticipant) -> DeletionParticipant:
    """Public: registers `participant` (once) to write in every project deletion's
    transaction. Usable as a decorator."""
    if participant not in _deletion_participants:
        _deletion_participants.append(participant)
    return participant


def deletion_participants() -> tuple[DeletionParticipant, ...]:
    return tuple(_deletion_participants)


def create_project(
    user_id: str, fields: Mapping[str, Any], request_id: str, object_id: str | None = None
) -> Project:
    """`object_id`: the id to create it with (POST /sync derives one per command, so a
    replayed create finds its object); a fresh one by default."""
    now = utcnow()
    project = Project(
        user_id,
        object_id or new_id(),
        created_at=now,
        updated_at=now,
        request_id=request_id,
        **fields,
    )
    project.refresh_index_keys()
    project.save()  # the version attribute makes this a conditional create
    return project


def _find(user_id: str, project_id: str) -> Project | None:
    if not is_id(project_id):
        return None
    try:
        project = Project.get(user_id, project_id, consistent_read=True)
    except DoesNotExist:
        return None
    return None if project.deleted_at is not None else project


def get_project(user_id: str, project_id: str) -> Project:
    project = _find(user_id, project_id)
    if project is None:
        raise NotFound(_NOT_FOUND)
    return project


def live_project_version(user_id: str, project_id: str) -> int | None:
    """Public: the version of the caller's live project, or None if it is unknown,
    deleted or someone else's."""
    project = _find(user_id, project_id)
    return None if project is None else project.version


def list_projects(user_id: str, limit: int, cursor: str | None) -> Page[Project]:
    """The live index: tombstones (kept 30 days) are never read."""
    return query_page(
        Project.live.query,
        user_id,
        [],
        limit=limit,
        cursor=cursor,
        scope=f"projects|live|{user_id}",
        key_names=("userId", "projectId", "liveOwner"),
    )


def update_project(
    user_id: str,
    project_id: str,
    fields: Mapping[str, Any],
    if_match: EntityTags | None,
    request_id: str,
) -> Project:
    """PUT (all fields, defaults filled by the schema) and PATCH (only the given ones):
    one conditional UpdateItem (core.writes.update_in_place); a read only when its
    condition fails, or for a PATCH that names no field."""
    if not is_id(project_id):
        raise NotFound(_NOT_FOUND)
    if not fields:
        project = get_project(user_id, project_id)
        require_match(if_match, project.version or 0)
        return project
    now = utcnow()
    actions: list[Action] = [
        Project.updated_at.set(now),
        Project.request_id.set(request_id),
        Project.version.add(1),
    ]
    same: list[Condition] = []
    for name, value in fields.items():
        attribute = getattr(Project, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
        same.append(attribute.does_not_exist() if value is None else attribute == value)
    project, _ = update_in_place(
        Project,
        (user_id, project_id),
        actions,
        if_match=if_match,
        live=Project.project_id.exists() & Project.deleted_at.does_not_exist(),
        not_found=lambda: NotFound(_NOT_FOUND),
        unchanged=(
            reduce(lambda a, b: a & b, same),
            lambda stored: all(getattr(stored, n) == v for n, v in fields.items()),
        ),
    )
    return project


def delete_project(
    user_id: str, project_id: str, if_match: EntityTags | None, request_id: str
) -> Project:
    """Tombstones the project, in one transaction with every deletion participant's
    writes; the stream turns the tombstone into project-deleted."""

    def apply(project: Project) -> None:
        project.deleted_at = utcnow()
        project.expires_at = tombstone_expiry()
        project.refresh_index_keys()

    def persist(project: Project) -> None:
        project.updated_at = utcnow()
        project.request_id = request_id
        deleted_version = (project.version or 0) + 1

        def writes(transaction: TransactWrite) -> None:
            transaction.save(project, condition=Project.deleted_at.does_not_exist())
            for participant in _deletion_participants:
                participant(transaction, user_id, project_id, deleted_version)

        try:
            transact_write(writes)
        except TransactWriteError as error:
            if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
                raise VersionConflict from error
            raise

    return write_with_retry(lambda: get_project(user_id, project_id), apply, persist, if_match)


def get_projects_by_ids(user_id: str, project_ids: Collection[str]) -> list[Project]:
    """Public: the caller's projects with these ids as stored, tombstones included (their
    `deleted_at` is set); an id with no project is left out. Consistent BatchGetItems
    (100 keys each), for a reader of changes such as GET /sync."""
    wanted = sorted({project_id for project_id in project_ids if is_id(project_id)})
    if not wanted:
        return []
    return list(Project.batch_get([(user_id, pid) for pid in wanted], consistent_read=True))
