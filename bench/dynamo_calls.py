"""Counts the DynamoDB calls the app makes and the items they read, through botocore's
event system on the process's one DynamoDB client (core.models.connection): no patching.
Used by tests/test_dynamodb_calls.py (the stated counts) and bench/flatness.py.

Items read: a Query's or Scan's ScannedCount (what DynamoDB bills, before any filter), a
GetItem's item, the items a BatchGetItem or TransactGetItems returned.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count()


@dataclass
class Recorded:
    calls: list[str] = field(default_factory=list)
    items_read: int = 0

    def __len__(self) -> int:
        return len(self.calls)


class DynamoRecorder:
    """What the app sent to DynamoDB since the last `take()`."""

    def __init__(self) -> None:
        self._current = Recorded()

    def after_call(self, model: Any, parsed: Any, **_: Any) -> None:
        self._current.calls.append(model.name)
        parsed = parsed or {}
        if "ScannedCount" in parsed:
            self._current.items_read += int(parsed["ScannedCount"])
        elif model.name == "GetItem":
            self._current.items_read += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            self._current.items_read += sum(len(v) for v in parsed.get("Responses", {}).values())
        elif model.name == "TransactGetItems":
            self._current.items_read += sum(1 for r in parsed.get("Responses", []) if r.get("Item"))

    def take(self) -> Recorded:
        taken, self._current = self._current, Recorded()
        return taken


@contextmanager
def recording() -> Iterator[DynamoRecorder]:
    from chalicelib.core.models import connection

    recorder = DynamoRecorder()
    events = connection().client.meta.events
    unique_id = f"tandem-dynamo-recorder-{next(_ids)}"
    events.register("after-call.dynamodb", recorder.after_call, unique_id=unique_id)
    try:
        yield recorder
    finally:
        events.unregister("after-call.dynamodb", unique_id=unique_id)
