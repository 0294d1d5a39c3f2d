from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from chalicelib.core.schema import DumpSchema, LoadSchema, Timestamp
from chalicelib.notes.schemas import NoteOut
from chalicelib.projects.schemas import ProjectOut
from chalicelib.tasks.schemas import TaskOut

from .cursor import MAX_CURSOR_CHARS
from .service import Changes


class SyncQuery(LoadSchema):
    cursor = fields.String(load_default=None, validate=validate.Length(1, MAX_CURSOR_CHARS))


class TombstoneOut(DumpSchema):
    type = fields.String(attribute="resource")
    id = fields.String(attribute="object_id")
    version = fields.Integer()
    deleted_at = Timestamp(data_key="deletedAt")


class ChangesOut(DumpSchema):
    """GET /sync's answer: objects as the REST API shows them, and tombstones."""

    projects = fields.List(fields.Nested(ProjectOut))
    tasks = fields.List(fields.Nested(TaskOut))
    notes = fields.List(fields.Nested(NoteOut))
    deleted = fields.List(fields.Nested(TombstoneOut))
    cursor = fields.String()
    has_more = fields.Boolean(data_key="hasMore")


def dump_changes(changes: Changes) -> dict[str, Any]:
    dumped: dict[str, Any] = ChangesOut().dump(changes)
    return dumped
