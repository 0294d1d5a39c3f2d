"""Cascade delete of a deleted project's tasks, in bounded rounds.

Each task is tombstoned (a full-item Put: deletedAt, TTL, version + 1, the project
deletion's correlation id, index keys removed), so the tasks stream publishes a
task-deleted for it like for any other delete, and it leaves the project index. A round
therefore needs no cursor: the next round's query starts where tasks remain, and a
redelivered message simply finds less to do.

Writes go out as BatchWriteItem of 25. Items DynamoDB leaves unprocessed go back into
the buffer and ride with the next batch after a backoff, so retries add calls only for
what was actually left over.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.models import tombstone_expiry, utcnow
from chalicelib.core.wiring import aws

from .infra import TABLE
from .models import Task, owner_key

BATCH_SIZE = 25
QUERY_PAGE_SIZE = 500
MAX_BACKOFF_SECONDS = 2.0
MAX_UNPROCESSED_RETRIES = 10


class CascadeStalled(Exception):
    """DynamoDB kept items unprocessed through every retry; SQS redelivers the message."""


@dataclass
class CascadeOutcome:
    tombstoned: int = 0
    write_calls: int = 0
    finished: bool = False


class _BatchWriter:
    def __init__(self, table: str, sleep: Callable[[float], None]) -> None:
        self._table = table
        self._sleep = sleep
        self._pending: deque[dict[str, Any]] = deque()
        self._failed_rounds = 0
        self.calls = 0

    def put(self, item: dict[str, Any]) -> None:
        self._pending.append({"PutRequest": {"Item": item}})
        if len(self._pending) >= BATCH_SIZE:
            self._send()

    def flush(self) -> None:
        while self._pending:
            self._send()

    def _send(self) -> None:
        batch = [self._pending.popleft() for _ in range(min(BATCH_SIZE, len(self._pending)))]
        self.calls += 1
        response = aws("dynamodb").batch_write_item(RequestItems={self._table: batch})
        unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
        if not unprocessed:
            self._failed_rounds = 0
            return
        self._failed_rounds += 1
        if self._failed_rounds > MAX_UNPROCESSED_RETRIES:
            raise CascadeStalled(f"{len(unprocessed)} items stayed unprocessed")
        self._pending.extendleft(reversed(unprocessed))
        ceiling = min(MAX_BACKOFF_SECONDS, 0.05 * 2**self._failed_rounds)
        self._sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not security


def _tombstone(task: Task, correlation_id: str) -> dict[str, Any]:
    now = utcnow()
    task.deleted_at = now
    task.expires_at = tombstone_expiry()
    task.updated_at = now
    task.request_id = correlation_id
    task.version = (task.version or 0) + 1
    task.refresh_index_keys()
    return task.serialize()


def tombstone_project_tasks(
    user_id: str,
    project_id: str,
    correlation_id: str,
    *,
    max_tasks: int,
    seconds_left: Callable[[], float],
    time_margin: float,
    sleep: Callable[[float], None] = time.sleep,
) -> CascadeOutcome:
    """Tombstones up to `max_tasks` live tasks of the project; `finished` once none is left."""
    writer = _BatchWriter(TABLE.value(), sleep)
    outcome = CascadeOutcome()
    remaining = Task.by_project.query(owner_key(user_id, project_id), page_size=QUERY_PAGE_SIZE)
    outcome.finished = True
    for task in remaining:
        if outcome.tombstoned >= max_tasks or seconds_left() < time_margin:
            outcome.finished = False
            break
        writer.put(_tombstone(task, correlation_id))
        outcome.tombstoned += 1
    writer.flush()
    outcome.write_calls = writer.calls
    return outcome
