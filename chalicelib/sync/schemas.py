from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from chalicelib.core.schema import DumpSchema, LoadSchema, StrictInteger, Timestamp
from chalicelib.notes.schemas import NoteOut
from chalicelib.projects.schemas import ProjectOut
from chalicelib.tasks.schemas import TaskOut

from .commands import KINDS, MAX_COMMANDS, BatchResult, Result
from .cursor import MAX_CURSOR_CHARS
from .service import Changes

RESOURCES = tuple(KINDS)


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


# ---- POST /sync -------------------------------------------------------------------------

# Client-made names: safe to store, log and echo (UUIDs and ULIDs fit).
_CLIENT_NAME = validate.Regexp(
    r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}\Z", error="Use 1-100 letters, digits, . _ : or -."
)
COMMAND_TYPES = ("create", "update", "delete")


class CommandIn(LoadSchema):
    """One offline command. A create carries `tempId` and `fields`; an update names its
    object by `id` or by the `tempId` of an earlier create, with `fields`; a delete names
    it the same way. `baseVersion` makes an update or delete conditional."""

    command_id = fields.String(required=True, data_key="commandId", validate=_CLIENT_NAME)
    type = fields.String(required=True, validate=validate.OneOf(COMMAND_TYPES))
    resource = fields.String(required=True, validate=validate.OneOf(RESOURCES))
    id = fields.String(validate=validate.Length(1, 64))
    temp_id = fields.String(data_key="tempId", validate=_CLIENT_NAME)
    base_version = StrictInteger(data_key="baseVersion", validate=validate.Range(1, 10**15))
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String())

    @validates_schema
    def _shape(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data.get("type")
        named = ("id" in data) + ("temp_id" in data)
        if kind == "create":
            if "id" in data:
                raise ValidationError("A create has a tempId, not an id.", "id")
            if "temp_id" not in data:
                raise ValidationError("A create needs a tempId.", "tempId")
            if "base_version" in data:
                raise ValidationError("A create has no baseVersion.", "baseVersion")
            if "fields" not in data:
                raise ValidationError("A create needs fields.", "fields")
        elif kind in ("update", "delete"):
            if named != 1:
                raise ValidationError("Name the object by id or by tempId (one of them).", "id")
            if kind == "update" and "fields" not in data:
                raise ValidationError("An update needs fields.", "fields")
            if kind == "delete" and "fields" in data:
                raise ValidationError("A delete has no fields.", "fields")


class BatchIn(LoadSchema):
    commands = fields.List(
        fields.Nested(CommandIn),
        required=True,
        validate=validate.Length(max=MAX_COMMANDS, error="At most {max} commands per batch."),
    )

    @validates_schema
    def _unique(self, data: dict[str, Any], **kwargs: Any) -> None:
        commands = data.get("commands") or []
        command_ids = [c["command_id"] for c in commands]
        if len(set(command_ids)) != len(command_ids):
            raise ValidationError("Each commandId appears once in a batch.", "commands")
        temp_ids = [c["temp_id"] for c in commands if c["type"] == "create"]
        if len(set(temp_ids)) != len(temp_ids):
            raise ValidationError("Each create's tempId appears once in a batch.", "commands")


class ResultOut(DumpSchema):
    command_id = fields.String(data_key="commandId")
    status = fields.String(validate=validate.OneOf(("ok", "conflict", "error")))
    # optional: an answer may leave them out (the OpenAPI document, core.openapi).
    object = fields.Method("_object", metadata={"optional": True})
    problem = fields.Dict(metadata={"optional": True})
    object_omitted = fields.Boolean(
        data_key="objectOmitted", attribute="omitted", metadata={"optional": True}
    )

    def _object(self, result: Result) -> Any:
        if result.object is None or result.resource is None:
            return None
        if isinstance(result.object, dict):
            return result.object  # a replay's answer, dumped when it was applied
        return KINDS[result.resource].dump().dump(result.object)


class BatchOut(DumpSchema):
    results = fields.List(fields.Nested(ResultOut))
    id_map = fields.Dict(data_key="idMap", keys=fields.String(), values=fields.String())


def dump_batch(batch: BatchResult) -> dict[str, Any]:
    """Leaves out what a result does not carry (no `object` on an error, ...)."""
    dumped: dict[str, Any] = BatchOut().dump(batch)
    for result in dumped["results"]:
        for name in ("object", "problem"):
            if result.get(name) is None:
                result.pop(name, None)
        if not result.get("objectOmitted"):
            result.pop("objectOmitted", None)
    return dumped
