from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from chalicelib.core.pagination import PageQuery
from chalicelib.core.schema import (
    DumpSchema,
    LoadSchema,
    StrictBoolean,
    StrictDate,
    StrictInteger,
    Timestamp,
    not_blank,
)

STATUSES = ("Active", "Blocked", "Done", "Archived")
READ_ONLY = frozenset({"taskId", "userId", "version", "createdAt", "updatedAt"})


def check_dates(start: Any, target: Any) -> None:
    if start is not None and target is not None and str(start) > str(target):
        raise ValidationError("Must not be after targetDate.", field_name="startDate")


class TaskIn(LoadSchema):
    """Body of POST and PUT (all fields) and PATCH (partial)."""

    read_only = READ_ONLY

    title = fields.String(required=True, validate=[validate.Length(1, 500), not_blank])
    project_id = fields.String(required=True, data_key="projectId", validate=validate.Length(1, 64))
    status = fields.String(load_default="Active", validate=validate.OneOf(STATUSES))
    target_date = StrictDate(load_default=None, allow_none=True, data_key="targetDate")
    start_date = StrictDate(load_default=None, allow_none=True, data_key="startDate")
    is_completed = StrictBoolean(load_default=False, data_key="isCompleted")
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10_000))
    priority = StrictInteger(load_default=None, allow_none=True, validate=validate.Range(0, 4))

    @validates_schema
    def _dates_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_dates(data.get("start_date"), data.get("target_date"))


class TaskOut(DumpSchema):
    task_id = fields.String(data_key="taskId")
    title = fields.String()
    project_id = fields.String(data_key="projectId")
    status = fields.String()
    target_date = fields.String(data_key="targetDate", allow_none=True)
    start_date = fields.String(data_key="startDate", allow_none=True)
    is_completed = fields.Boolean(data_key="isCompleted")
    notes = fields.String(allow_none=True)
    priority = fields.Integer(allow_none=True)
    version = fields.Integer()
    created_at = Timestamp(data_key="createdAt")
    updated_at = Timestamp(data_key="updatedAt")


class TaskListQuery(PageQuery):
    project_id = fields.String(data_key="projectId", validate=validate.Length(1, 64))
    status = fields.String(validate=validate.OneOf(STATUSES))
    is_completed = fields.Boolean(data_key="isCompleted", truthy={"true"}, falsy={"false"})
