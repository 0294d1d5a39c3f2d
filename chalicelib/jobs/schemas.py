from __future__ import annotations

from marshmallow import fields

from chalicelib.core.schema import DumpSchema, Timestamp


class JobOut(DumpSchema):
    job_id = fields.String(data_key="jobId")
    type = fields.String()
    status = fields.String()
    progress = fields.Integer()
    # optional: an answer leaves them out until there is one (the OpenAPI document).
    result = fields.Dict(allow_none=True, metadata={"optional": True})
    error = fields.Dict(allow_none=True, metadata={"optional": True})
    version = fields.Integer()
    created_at = Timestamp(data_key="createdAt")
    updated_at = Timestamp(data_key="updatedAt")
