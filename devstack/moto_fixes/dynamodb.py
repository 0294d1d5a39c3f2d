"""DynamoDB: every request atomic and in one order; a transaction undoes only its own writes.

moto (5.2) serves requests on many threads with no lock on a table, and runs
TransactWriteItems by deep-copying every table it names, then putting the copies in place
of the live tables when it is cancelled. Under concurrent use that undoes other requests'
acknowledged writes, detaches the table from the stream shard its readers hold (no more
records), costs a copy of the whole table per transaction, and fails reads with
"dictionary changed size during iteration". docs/local-stack.md has the upstream report.

Here every DynamoDB and DynamoDB Streams request runs under one lock (DynamoDB is
linearizable per item, and its transactions are serializable: one order is a valid
AWS behaviour), and a transaction keeps a copy of only the items it names, plus the
length of each table's stream, and puts exactly those back when it is cancelled.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# One lock for the tables and their streams. Reentrant: a locked request may call
# another backend method that is itself wrapped.
_lock = threading.RLock()
_in_transaction = threading.local()


@contextmanager
def exclusive() -> Iterator[None]:
    """No DynamoDB request runs meanwhile (e.g. while the state is saved)."""
    with _lock:
        yield


def _serialised(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(call_action)
    def locked(self: Any) -> Any:
        with _lock:
            return call_action(self)

    locked.__tandem_serialised__ = True  # type: ignore[attr-defined]
    return locked


class _CopyKeepingTables:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a deep copy of a
    Table during a transaction is the table itself, so the backend's own "restore the
    copies" puts back the same live objects (a no-op) and _rolled_back does the undo."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_in_transaction, "active", False) and isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> dict[tuple[Any, ...], Any]:
    """(table name, hash key, range key) -> (table, a copy of the item or None), for each
    item the transaction names. An operation whose table or key is unusable writes
    nothing (moto rejects it before writing), so it needs no copy."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    before: dict[tuple[Any, ...], Any] = {}
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            slot = (table.name, hash_key, range_key)
            if slot not in before:
                current = table.get_item(hash_key, range_key)
                before[slot] = (table, copy.deepcopy(current))
    return before


def _roll_back(before: dict[tuple[Any, ...], Any], stream_lengths: dict[Any, int]) -> None:
    for (_, hash_key, range_key), (table, item) in before.items():
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    # The stream records of the undone writes: a cancelled transaction writes nothing,
    # so it must emit nothing either. Nobody read them: the lock is held throughout.
    for shard, length in stream_lengths.items():
        del shard.items[length:]


def _item_scoped(transact: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _lock:
            before = _touched(self, transact_items)
            stream_lengths = {
                table.stream_shard: len(table.stream_shard.items)
                for table, _ in before.values()
                if table.stream_shard is not None
            }
            _in_transaction.active = True
            try:
                return transact(self, transact_items)
            except BaseException:
                _roll_back(before, stream_lengths)
                raise
            finally:
                _in_transaction.active = False

    transact_write_items.__tandem_serialised__ = True  # type: ignore[attr-defined]
    return transact_write_items


# DynamoDB Streams: a shard iterator expires 15 minutes after it is issued. moto keeps
# every iterator it ever issued (one per GetRecords), a leak of ~2 KB per poll.
ITERATOR_LIFETIME_SECONDS = 15 * 60


def _expire_iterators(backend: Any, issued: str) -> None:
    ages: dict[str, float] = backend.__dict__.setdefault("_tandem_issued_at", {})
    now = time.time()
    ages[issued] = now
    for arn in list(ages):
        if now - ages[arn] < ITERATOR_LIFETIME_SECONDS:
            break  # issued in order: the rest are younger
        del ages[arn]
        backend.shard_iterators.pop(arn, None)


def _expiring_iterators(streams_backend: type) -> None:
    from moto.core.exceptions import JsonRESTError

    get_shard_iterator = streams_backend.get_shard_iterator  # type: ignore[attr-defined]
    get_records = streams_backend.get_records  # type: ignore[attr-defined]

    @functools.wraps(get_shard_iterator)
    def issuing(self: Any, *args: Any, **kwargs: Any) -> Any:
        iterator = get_shard_iterator(self, *args, **kwargs)
        _expire_iterators(self, iterator.arn)
        return iterator

    @functools.wraps(get_records)
    def reading(self: Any, iterator_arn: str, limit: int) -> Any:
        if iterator_arn not in self.shard_iterators:
            raise JsonRESTError("ExpiredIteratorException", "Iterator expired or unknown")
        result = get_records(self, iterator_arn, limit)
        _expire_iterators(self, result["NextShardIterator"])
        return result

    issuing.__tandem_serialised__ = True  # type: ignore[attr-defined]
    streams_backend.get_shard_iterator = issuing  # type: ignore[attr-defined]
    streams_backend.get_records = reading  # type: ignore[attr-defined]


def apply() -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    # The transaction fix relies on how moto's backend copies: fail loudly if that moved.
    if getattr(models, "copy", None) is not copy and not isinstance(
        getattr(models, "copy", None), _CopyKeepingTables
    ):
        raise RuntimeError("moto.dynamodb.models no longer uses `copy`: review moto_fixes")
    setattr(models, "copy", _CopyKeepingTables(Table))  # noqa: B010 (not a public name)
    backend = models.DynamoDBBackend
    if not getattr(backend.transact_write_items, "__tandem_serialised__", False):
        backend.transact_write_items = _item_scoped(backend.transact_write_items)  # type: ignore[method-assign]
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    if not getattr(DynamoDBStreamsBackend.get_shard_iterator, "__tandem_serialised__", False):
        _expiring_iterators(DynamoDBStreamsBackend)
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if not getattr(handler.call_action, "__tandem_serialised__", False):
            handler.call_action = _serialised(handler.call_action)  # type: ignore[method-assign]
