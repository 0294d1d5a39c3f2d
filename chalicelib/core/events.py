"""The versioned event envelope every topic and queue carries (docs/events.md).

Readers ignore unknown fields; an unknown major schemaVersion or an envelope that fails
validation is a PoisonMessage, which consumers send to their dead-letter queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from . import registry

SCHEMA_VERSION = 1
ACTIONS = ("created", "updated", "deleted")


def resource_of_source() -> dict[str, str]:
    """Each publishing service (the envelope's source) -> the resource its events are
    about, from the services' declarations."""
    return registry.publishers()


@cache
def change_event_types() -> tuple[str, ...]:
    """The events of table changes, which the stream publishers emit."""
    return tuple(
        f"{resource}-{action}" for resource in registry.publishers().values() for action in ACTIONS
    )


@cache
def types_of_source() -> dict[str, frozenset[str]]:
    """Each source -> the event types it may emit: its table's changes and its own."""
    types: dict[str, set[str]] = {}
    for source, resource in registry.publishers().items():
        types.setdefault(source, set()).update(f"{resource}-{action}" for action in ACTIONS)
    for source, emitted in registry.emitters().items():
        types.setdefault(source, set()).update(emitted)
    return {source: frozenset(found) for source, found in types.items()}


@cache
def event_types() -> tuple[str, ...]:
    own = tuple(t for emitted in registry.emitters().values() for t in emitted)
    return change_event_types() + own


def _sources() -> tuple[str, ...]:
    return tuple(types_of_source())


def _one_of(choices: Any) -> Any:
    """validate.OneOf over choices known only once the declarations are read."""

    def check(value: str) -> None:
        validate.OneOf(choices())(value)

    return check


class PoisonMessage(Exception):
    """A message that no retry can make valid: it belongs in the dead-letter queue."""


class _Subject(Schema):
    class Meta:
        unknown = EXCLUDE

    user_id = fields.String(required=True, data_key="userId", validate=validate.Length(1, 128))
    id = fields.String(required=True, validate=validate.Length(1, 128))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    event_id = fields.String(required=True, data_key="eventId", validate=validate.Length(1, 256))
    type = fields.String(required=True, validate=_one_of(event_types))
    schema_version = fields.Integer(required=True, strict=True, data_key="schemaVersion")
    occurred_at = fields.AwareDateTime(required=True, data_key="occurredAt")
    correlation_id = fields.String(
        required=True, data_key="correlationId", validate=validate.Length(1, 256)
    )
    source = fields.String(required=True, validate=_one_of(_sources))
    subject = fields.Nested(_Subject, required=True)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Subject:
    user_id: str
    id: str
    version: int


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    occurred_at: datetime
    correlation_id: str
    source: str
    subject: Subject
    data: dict[str, Any]
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "type": self.type,
            "schemaVersion": self.schema_version,
            "occurredAt": self.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{self.occurred_at.microsecond // 1000:03d}Z",
            "correlationId": self.correlation_id,
            "source": self.source,
            "subject": {
                "userId": self.subject.user_id,
                "id": self.subject.id,
                "version": self.subject.version,
            },
            "data": self.data,
        }

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS/SQS message attributes: subscriptions filter on eventType."""
        return {
            "eventType": {"DataType": "String", "StringValue": self.type},
            "correlationId": {"DataType": "String", "StringValue": self.correlation_id},
        }


def event_id(source: str, resource_id: str, version: int) -> str:
    """Stable across re-publishes of the same change: every change bumps the version."""
    return f"{source}:{resource_id}:v{version}"


def parse_envelope(body: str | bytes | dict[str, Any]) -> Envelope:
    try:
        raw = json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError as error:
        raise PoisonMessage(f"body is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise PoisonMessage("body is not a JSON object")
    version = raw.get("schemaVersion")
    if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
        raise PoisonMessage(f"unsupported schemaVersion {version}")
    try:
        loaded = EnvelopeSchema().load(raw)
    except ValidationError as error:
        raise PoisonMessage(f"invalid envelope: {error.messages}") from None
    subject = loaded["subject"]
    if loaded["type"] not in types_of_source()[loaded["source"]]:
        raise PoisonMessage(f"type {loaded['type']} does not belong to source {loaded['source']}")
    return Envelope(
        event_id=loaded["event_id"],
        type=loaded["type"],
        occurred_at=loaded["occurred_at"],
        correlation_id=loaded["correlation_id"],
        source=loaded["source"],
        subject=Subject(subject["user_id"], subject["id"], subject["version"]),
        data=loaded["data"],
        schema_version=loaded["schema_version"],
    )
