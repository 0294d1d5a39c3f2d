from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from chalicelib.core.pagination import PageQuery
from chalicelib.core.schema import DumpSchema, LoadSchema, Timestamp

READ_ONLY = frozenset({"noteId", "userId", "attachments", "version", "createdAt", "updatedAt"})
MAX_TAGS = 20


class NoteIn(LoadSchema):
    read_only = READ_ONLY

    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    body = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100_000))
    project_id = fields.String(
        load_default=None, allow_none=True, data_key="projectId", validate=validate.Length(1, 64)
    )
    task_id = fields.String(
        load_default=None, allow_none=True, data_key="taskId", validate=validate.Length(1, 64)
    )
    # null means "no tags", like the other optional fields. The limit counts distinct
    # tags, so it is checked after duplicates collapse (see _distinct_tags).
    tags = fields.List(
        fields.String(validate=validate.Length(1, 64)),
        load_default=list,
        allow_none=True,
        metadata={"openapi": {"maxItems": MAX_TAGS}},  # in the OpenAPI document
    )

    @post_load
    def _distinct_tags(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "tags" in data:
            tags = list(dict.fromkeys(data["tags"] or ()))
            if len(tags) > MAX_TAGS:
                raise ValidationError(f"At most {MAX_TAGS} distinct tags.", field_name="tags")
            data["tags"] = tags
        return data


class AttachmentOut(DumpSchema):
    attachment_id = fields.String(data_key="attachmentId")
    file_name = fields.String(data_key="fileName", allow_none=True)
    content_type = fields.String(data_key="contentType", allow_none=True)


class NoteOut(DumpSchema):
    note_id = fields.String(data_key="noteId")
    title = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    project_id = fields.String(data_key="projectId", allow_none=True)
    task_id = fields.String(data_key="taskId", allow_none=True)
    tags = fields.List(fields.String())
    attachments = fields.List(fields.Nested(AttachmentOut))
    version = fields.Integer()
    created_at = Timestamp(data_key="createdAt")
    updated_at = Timestamp(data_key="updatedAt")


class NoteListQuery(PageQuery):
    project_id = fields.String(data_key="projectId", validate=validate.Length(1, 64))
    task_id = fields.String(data_key="taskId", validate=validate.Length(1, 64))
    tag = fields.String(validate=validate.Length(1, 64))
