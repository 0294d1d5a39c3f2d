"""PynamoDB building blocks shared by every service's models."""

from __future__ import annotations

import base64
import random
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from pynamodb.attributes import Attribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.constants import BINARY
from pynamodb.exceptions import PynamoDBException, TableError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from .errors import WriteContended
from .registry import Setting
from .settings import get_settings
from .wiring import Dependency, botocore_session


class SettingsTable(type):
    """Metaclass for a model's Meta: the table name is read from its setting per call.

    PynamoDB compares Meta.table_name on every request, so the name follows the
    environment (stage, tests) and nothing is read at import time.
    """

    setting: Setting

    @property
    def table_name(cls) -> str:
        return cls.setting.required()


class _SharedSessionConnection(Connection):
    """PynamoDB's connection on the process's one botocore session (core.wiring), instead
    of a session of its own per thread."""

    @property
    def session(self) -> botocore.session.Session:
        session: botocore.session.Session = botocore_session()
        return session


def _connection() -> Connection:
    shared = _SharedSessionConnection()
    shared.client  # noqa: B018 - built here, under wiring's lock: client creation is not thread-safe
    return shared


# The one DynamoDB connection (and botocore client) of the process: every model's and
# every transaction's. PynamoDB would build one per model class, each with its own session.
connection = Dependency("dynamodb.connection", _connection, per_process=True)


class SharedConnectionModel(Model):
    """Base of every Tandem model: its table's requests go through `connection`."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        # PynamoDB builds the model's TableConnection (no I/O: the client is lazy) and
        # rebuilds it when the table name changes; its requests then go through ours.
        table = super()._get_connection()
        shared = connection()
        if table.connection is not shared:
            try:
                shared.get_meta_table(table.table_name)
            except TableError:
                shared.add_meta_table(table.get_meta_table())
            table.connection = shared
        return table


TRANSACTION_ATTEMPTS = 4


def transact_write(
    add: Callable[[TransactWrite], None], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Runs one TransactWriteItems built by `add`. DynamoDB cancels a transaction whose
    item another transaction holds at that moment (`TransactionConflict`), and botocore
    does not retry that; it is transient, so it is run again after a short jittered pause.
    Any other cancellation (a failed condition) is the caller's to interpret. Conflicts
    that outlast the attempts are WriteContended: a 503 with Retry-After, not a 500."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with TransactWrite(connection=connection()) as transaction:
                add(transaction)
            return
        except TransactWriteError as error:
            codes = cancellation_codes(error)
            conflict_only = "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes
            if not conflict_only:
                raise
            if attempt == TRANSACTION_ATTEMPTS:
                # A 503 with Retry-After, not a 500; write_with_retry tries again itself.
                raise WriteContended from error
        sleep(random.uniform(0, 0.025 * 2**attempt))  # noqa: S311 - jitter, not security


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


class CompressedText(Attribute[str]):
    """Text stored zlib-compressed, as Binary. A note body may hold 100,000 four-byte
    characters: 400,000 bytes of UTF-8, DynamoDB's whole item limit. Compressed, the
    worst case (random astral characters) is about 300 KB (docs/decisions.md)."""

    attr_type = BINARY

    def serialize(self, value: str) -> bytes:
        return zlib.compress(value.encode("utf-8"))

    def deserialize(self, value: bytes | str) -> str:
        # botocore hands over bytes; a stream record in a Lambda event has base64 text.
        raw = base64.b64decode(value) if isinstance(value, str) else value
        return zlib.decompress(raw).decode("utf-8")


def condition_failed(error: PynamoDBException) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def cancellation_codes(error: PynamoDBException) -> list[str | None]:
    reasons: list[Any] = list(getattr(error, "cancellation_reasons", None) or [])
    return [reason.code if reason is not None else None for reason in reasons]
