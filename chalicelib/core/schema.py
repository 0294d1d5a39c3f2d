"""Strict Marshmallow building blocks: load schemas reject what they do not know."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields

from .errors import BadRequest, ValidationFailed

READ_ONLY_MESSAGE = "Read-only field."

# What a JSON string may hold but stored text may not: a lone surrogate (a client cut an
# emoji in half; DynamoDB and UTF-8 refuse it, so it was a 500) and the C0 control
# characters other than tab, line feed and carriage return (U+0000 ends strings in C
# clients, and each would be escaped to 6 bytes, breaking the size budget; see
# docs/decisions.md).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class LoadSchema(Schema):
    """Base of every input schema. Read-only fields get their own message, not 'Unknown'."""

    read_only: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        unknown = RAISE


class DumpSchema(Schema):
    """Base of every output schema: only declared fields leave the service."""


class StrictBoolean(fields.Boolean):
    """JSON true/false only: Marshmallow's Boolean would also take 1, "yes" and "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictInteger(fields.Integer):
    """JSON integers only: no strings, booleans or fractions. 2.0 is the integer 2: JSON
    has one number type, and the OpenAPI document's `integer` (JSON Schema) admits it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return int(super()._deserialize(value, attr, data, **kwargs))


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class StrictDate(fields.Date):
    """Exactly YYYY-MM-DD: date.fromisoformat also takes 20261122 and 2026-W47-1, which
    the contract does not, and which would come back rewritten."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Timestamp(fields.Field[datetime]):
    """RFC 3339 UTC with millisecond precision, e.g. 2026-11-22T10:00:00.000Z."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def load(schema: LoadSchema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validates one JSON object, collecting read-only, unknown and field errors together."""
    if not isinstance(data, Mapping):
        raise BadRequest("The request body must be a JSON object.")
    errors: dict[str, Any] = {key: [READ_ONLY_MESSAGE] for key in data if key in schema.read_only}
    writable = {key: value for key, value in data.items() if key not in schema.read_only}
    loaded: dict[str, Any] = {}
    try:
        loaded = schema.load(writable, partial=partial)
    except ValidationError as error:
        messages = error.messages
        nested = messages if isinstance(messages, dict) else {"_schema": messages}
        errors.update({field: _flat_messages(value) for field, value in nested.items()})
    if errors:
        raise ValidationFailed(errors)
    return loaded


def _flat_messages(value: Any) -> list[str]:
    """The contract's `errors` maps a field to a flat list of messages, but Marshmallow
    nests the errors of list items ({"tags": {0: [...]}}); the item's index moves into
    the message instead: {"tags": ["0: Not a valid string."]}."""
    if isinstance(value, Mapping):
        return [
            f"{key}: {message}" for key, inner in value.items() for message in _flat_messages(inner)
        ]
    if isinstance(value, list | tuple):
        return [message for item in value for message in _flat_messages(item)]
    return [str(value)]


def _text_problem(value: str) -> str | None:
    found = _NOT_TEXT.search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return (
            f"Not valid Unicode: a lone surrogate U+{ord(char):04X} at character "
            f"{found.start()} (half of a character cut in two?)."
        )
    return f"The control character U+{ord(char):04X} (at character {found.start()}) is not allowed."


def printable_key(key: str) -> str:
    """A key safe to echo back in an error: what is not text becomes U+FFFD."""
    return _NOT_TEXT.sub("\ufffd", key)


def _join(path: str, step: str) -> str:
    return f"{path}.{step}" if path else step


def text_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every string in a parsed JSON object or query string that cannot be stored as text,
    as the contract's errors map: top-level field -> messages, with a list item's or a
    nested key's path in front ("0: ..."). Iterative, so nesting depth costs no stack."""
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        field = printable_key(key)
        messages: list[str] = []
        if (problem := _text_problem(key)) is not None:
            messages.append(f"The field name: {problem}")
        stack: list[tuple[str, Any]] = [("", value)]
        while stack:
            path, item = stack.pop()
            if isinstance(item, str):
                if (problem := _text_problem(item)) is not None:
                    messages.append(f"{path}: {problem}" if path else problem)
            elif isinstance(item, Mapping):
                for inner_key, inner in item.items():
                    inner_path = _join(path, printable_key(inner_key))
                    if (problem := _text_problem(inner_key)) is not None:
                        messages.append(f"{inner_path}: the key: {problem}")
                    stack.append((inner_path, inner))
            elif isinstance(item, list):
                stack.extend((_join(path, str(i)), inner) for i, inner in enumerate(item))
        if messages:
            errors[field] = sorted(messages)
    return errors
