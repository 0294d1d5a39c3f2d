"""Erasure of everything a user owns in a service's tables, in bounded rounds (the
account deletion's `user-deleted` consumers use it, with the cascade's hand-on).

Every table is keyed owner-first, so a user's items are one partition per table: a
strongly consistent Query of its keys, then BatchWriteItem deletes of 25. These are hard
deletes: the user is gone, so no tombstone is kept, and the REMOVE records they leave in a
stream publish nothing. A round stops at its item budget or when its time runs short and
hands the event on to its own queue; a redelivered event simply finds less. No sweep is
needed: the base table's Query is consistent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .wiring import aws

BATCH_SIZE = 25
MAX_UNPROCESSED_RETRIES = 10


@dataclass(frozen=True)
class Partition:
    """A table of the service and its key attributes (owner first)."""

    table: Callable[[], str]
    hash_key: str
    range_key: str | None


class ErasureStalled(Exception):
    """DynamoDB kept items unprocessed through every retry; SQS redelivers the message."""


def _delete_batch(table: str, keys: list[dict[str, Any]]) -> None:
    pending = [{"DeleteRequest": {"Key": key}} for key in keys]
    for attempt in range(MAX_UNPROCESSED_RETRIES + 1):
        answer = aws("dynamodb").batch_write_item(RequestItems={table: pending})
        pending = answer.get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter
    raise ErasureStalled(f"{len(pending)} deletes stayed unprocessed")


def erase(
    partitions: Sequence[Partition],
    user_id: str,
    *,
    max_items: int,
    seconds_left: Callable[[], float],
    time_margin: float,
) -> tuple[int, bool]:
    """Deletes up to `max_items` of the user's items; (deleted, finished)."""
    deleted = 0
    for partition in partitions:
        table = partition.table()
        names = {"#h": partition.hash_key}
        projection = "#h"
        if partition.range_key:
            names["#r"] = partition.range_key
            projection += ", #r"
        start: dict[str, Any] | None = None
        while True:
            if deleted >= max_items or seconds_left() < time_margin:
                return deleted, False
            query: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": "#h = :user",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":user": {"S": user_id}},
                "ProjectionExpression": projection,
                "ConsistentRead": True,
                "Limit": BATCH_SIZE,
            }
            if start:
                query["ExclusiveStartKey"] = start
            page = aws("dynamodb").query(**query)
            keys = page.get("Items", [])
            if keys:
                _delete_batch(table, keys)
                deleted += len(keys)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return deleted, True
