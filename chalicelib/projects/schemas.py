from __future__ import annotations

from marshmallow import fields, validate

from chalicelib.core.pagination import PageQuery
from chalicelib.core.schema import DumpSchema, LoadSchema, StrictBoolean, Timestamp, not_blank

READ_ONLY = frozenset({"projectId", "userId", "version", "createdAt", "updatedAt"})


class ProjectIn(LoadSchema):
    """Body of POST and PUT (all fields) and PATCH (partial)."""

    read_only = READ_ONLY

    name = fields.String(required=True, validate=[validate.Length(1, 200), not_blank])
    description = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=10_000)
    )
    # \Z, not $: Regexp matches with re.match, and $ also matches before a final newline.
    color = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"#[0-9A-Fa-f]{6}\Z", error="Must be a #RRGGBB colour."),
    )
    archived = StrictBoolean(load_default=False)


class ProjectOut(DumpSchema):
    project_id = fields.String(data_key="projectId")
    name = fields.String()
    description = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    archived = fields.Boolean()
    version = fields.Integer()
    created_at = Timestamp(data_key="createdAt")
    updated_at = Timestamp(data_key="updatedAt")


class ProjectListQuery(PageQuery):
    pass
