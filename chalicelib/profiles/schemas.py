from __future__ import annotations

import math
import re
import zoneinfo
from typing import Any

from marshmallow import ValidationError, fields, validate

from chalicelib.core.openapi import TEXT_PATTERN
from chalicelib.core.schema import DumpSchema, LoadSchema, Timestamp

READ_ONLY = frozenset({"userId", "version", "createdAt", "updatedAt"})
MAX_PREFERENCES = 50
MAX_PREFERENCE_KEY = 64
MAX_PREFERENCE_TEXT = 1000
DEFAULT_TIME_ZONE = "UTC"
DEFAULT_LOCALE = "en"

# An IANA name (Area/Location): letters, digits, _ + - and /; never a path of its own.
_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}\Z")
# A BCP 47 language tag, as clients send them (en, en-GB, zh-Hant-TW, es-419).
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}\Z")


def _time_zone(value: str) -> None:
    if len(value) > 64 or not _TIME_ZONE.match(value):
        raise ValidationError("Must be an IANA time zone name, e.g. Europe/Berlin.")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Unknown time zone.") from None


def _preferences(value: dict[str, Any]) -> None:
    if len(value) > MAX_PREFERENCES:
        raise ValidationError(f"At most {MAX_PREFERENCES} preferences.")
    for key, item in value.items():
        if not 0 < len(key) <= MAX_PREFERENCE_KEY:
            raise ValidationError(f"{key[:64]}: a key is 1 to {MAX_PREFERENCE_KEY} characters.")
        if isinstance(item, str):
            if len(item) > MAX_PREFERENCE_TEXT:
                raise ValidationError(f"{key}: at most {MAX_PREFERENCE_TEXT} characters.")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(f"{key}: must be a finite number.")
        elif item is not None and not isinstance(item, bool | int):
            raise ValidationError(f"{key}: must be a string, number, boolean or null.")


class ProfileIn(LoadSchema):
    """Body of PUT /me: the whole profile; what is left out gets its default."""

    read_only = READ_ONLY

    display_name = fields.String(
        data_key="displayName",
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=100),
    )
    time_zone = fields.String(
        data_key="timeZone",
        load_default=DEFAULT_TIME_ZONE,
        validate=_time_zone,
        # Its form; the name must also be in the IANA database (tzdata) to be accepted.
        metadata={
            "openapi": {
                "pattern": "^" + _TIME_ZONE.pattern.replace("\\Z", "$"),
                "maxLength": 64,
                "description": "An IANA time zone name, e.g. Europe/Berlin.",
            }
        },
    )
    locale = fields.String(
        load_default=DEFAULT_LOCALE,
        validate=validate.Regexp(_LOCALE, error="Must be a BCP 47 language tag, e.g. en-GB."),
    )
    # metadata["openapi"]: _preferences' rules, in the OpenAPI document (core.openapi).
    preferences = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        validate=_preferences,
        metadata={
            "openapi": {
                "maxProperties": MAX_PREFERENCES,
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": MAX_PREFERENCE_KEY,
                    "pattern": TEXT_PATTERN,
                },
                "additionalProperties": {
                    "type": ["string", "number", "boolean", "null"],
                    "maxLength": MAX_PREFERENCE_TEXT,
                    "pattern": TEXT_PATTERN,
                },
            }
        },
    )


class ProfileOut(DumpSchema):
    display_name = fields.String(data_key="displayName", allow_none=True)
    time_zone = fields.String(data_key="timeZone")
    locale = fields.String()
    preferences = fields.Dict()
    version = fields.Integer()
    created_at = Timestamp(data_key="createdAt")
    updated_at = Timestamp(data_key="updatedAt")
