"""PynamoDB building blocks shared by every service's models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException

from .settings import get_settings


class SettingsTable(type):
    """Metaclass for a model's Meta: the table name is looked up in settings per call.

    PynamoDB compares Meta.table_name on every request, so the name follows the
    environment (stage, tests) and nothing is read at import time.
    """

    setting: str

    @property
    def table_name(cls) -> str:
        name = getattr(get_settings(), cls.setting)
        if not name:
            raise RuntimeError(f"setting {cls.setting} is not configured")
        return str(name)


@lru_cache(maxsize=1)
def connection() -> Connection:
    """The connection transactions run on, built on first use (region from the environment)."""
    return Connection()


def utcnow() -> datetime:
    return datetime.now(UTC)


def tombstone_expiry() -> datetime:
    return utcnow() + timedelta(days=get_settings().tombstone_days)


class ChangeTracking:
    """Attributes every mutable resource carries. `deleted_at` marks a tombstone: deletes
    are one write that keeps the last snapshot and the request id for the stream, and
    TTL purges it after the retention period."""

    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    request_id = UnicodeAttribute(attr_name="requestId", null=True)
    deleted_at = UTCDateTimeAttribute(attr_name="deletedAt", null=True)
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)


def condition_failed(error: PynamoDBException) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def cancellation_codes(error: PynamoDBException) -> list[str | None]:
    reasons: list[Any] = list(getattr(error, "cancellation_reasons", None) or [])
    return [reason.code if reason is not None else None for reason in reasons]
