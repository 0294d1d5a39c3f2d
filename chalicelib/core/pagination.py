"""Limit/cursor pages over PynamoDB queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Generic, TypeVar

from marshmallow import fields, validate
from pynamodb.exceptions import QueryError
from pynamodb.expressions.condition import Condition
from pynamodb.pagination import ResultIterator

from .cursor import DynamoKey, decode_cursor, encode_cursor
from .errors import BadRequest
from .schema import LoadSchema

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(LoadSchema):
    """Query-string parameters every list accepts; list schemas extend it with filters."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(1, 2048))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def paginate(
    run_query: Callable[[DynamoKey | None, int], ResultIterator[T]],
    *,
    limit: int,
    cursor: str | None,
    scope: str,
    key_names: Iterable[str],
) -> Page[T]:
    """One page of at most `limit` items; `next_cursor` is None only when nothing is left.

    It asks for one item more than it returns, so a full last page does not hand out a
    cursor that leads to an empty page.
    """
    start = decode_cursor(cursor, scope, key_names)
    results = run_query(start, limit + 1)
    items: list[T] = []
    try:
        for item in results:
            items.append(item)
            if len(items) == limit:
                break
    except QueryError as error:
        # DynamoDB refuses a start key outside the query's partition or schema
        # (ValidationException); that is the client's bad cursor, a 400 and not a 500.
        if start is not None and error.cause_response_code == "ValidationException":
            raise BadRequest("The cursor is invalid or belongs to another query.") from None
        raise
    resume_after = results.last_evaluated_key
    has_more = len(items) == limit and next(results, None) is not None
    return Page(items, encode_cursor(resume_after, scope) if has_more else None)


def query_page(
    query: Callable[..., ResultIterator[T]],
    hash_key: str,
    filters: Sequence[Condition],
    *,
    limit: int,
    cursor: str | None,
    scope: str,
    key_names: Iterable[str],
) -> Page[T]:
    """A page of a model's or index's `query` on one partition, narrowed by `filters`."""
    condition = reduce(lambda a, b: a & b, filters) if filters else None
    return paginate(
        lambda start, n: query(
            hash_key,
            filter_condition=condition,
            last_evaluated_key=start,
            limit=n,
            page_size=n,
        ),
        limit=limit,
        cursor=cursor,
        scope=scope,
        key_names=key_names,
    )
