"""Projects service logic. The functions without a leading underscore are its public API;
other services call them and never touch the projects table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.core.conditional import EntityTags
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import is_id, new_id
from chalicelib.core.models import condition_failed, tombstone_expiry, utcnow
from chalicelib.core.pagination import Page, query_page
from chalicelib.core.writes import VersionConflict, write_with_retry

from .models import Project

_NOT_FOUND = "No such project."


def create_project(user_id: str, fields: Mapping[str, Any], request_id: str) -> Project:
    now = utcnow()
    project = Project(
        user_id, new_id(), created_at=now, updated_at=now, request_id=request_id, **fields
    )
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
    return query_page(
        Project.query,
        user_id,
        [Project.deleted_at.does_not_exist()],
        limit=limit,
        cursor=cursor,
        scope=f"projects|{user_id}",
        key_names=("userId", "projectId"),
    )


def _persist(project: Project, request_id: str) -> None:
    project.updated_at = utcnow()
    project.request_id = request_id
    try:
        project.save(condition=Project.deleted_at.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise VersionConflict from error
        raise


def update_project(
    user_id: str,
    project_id: str,
    fields: Mapping[str, Any],
    if_match: EntityTags | None,
    request_id: str,
) -> Project:
    """PUT (all fields, defaults filled by the schema) and PATCH (only the given ones)."""

    def apply(project: Project) -> None:
        for name, value in fields.items():
            setattr(project, name, value)

    return write_with_retry(
        lambda: get_project(user_id, project_id),
        apply,
        lambda project: _persist(project, request_id),
        if_match,
    )


def delete_project(
    user_id: str, project_id: str, if_match: EntityTags | None, request_id: str
) -> Project:
    """Tombstones the project; the stream turns this write into project-deleted."""

    def apply(project: Project) -> None:
        project.deleted_at = utcnow()
        project.expires_at = tombstone_expiry()

    return write_with_retry(
        lambda: get_project(user_id, project_id),
        apply,
        lambda project: _persist(project, request_id),
        if_match,
    )
