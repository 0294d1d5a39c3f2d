"""Meta routes' answers."""

from __future__ import annotations

from marshmallow import fields, validate

from chalicelib.core.schema import DumpSchema


class HealthOut(DumpSchema):
    status = fields.String(validate=validate.OneOf(["ok"]))
