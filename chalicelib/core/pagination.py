"""Limit/cursor pages over PynamoDB queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, Generic, TypeVar

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


# Lambda answers at most 6 MB (6,291,456 bytes). 200 items with 10,000 CJK characters of
# text each were a 12 MB list (a 502), so a page also ends by weight: an upper bound of
# the item's share of Lambda's answer. The item that crosses this bound (the largest item
# is at most 1.63 MB by that measure) still fits.
MAX_PAGE_WEIGHT = 3_500_000


def answer_weight(item: object) -> int:
    """At most 4 bytes per byte of UTF-8 text: our answers are UTF-8 JSON (a quote is
    2 bytes, a 4-byte character 4), and Lambda's own JSON escapes them again (4 and 12)."""
    weight = 64
    values: dict[str, Any] = getattr(item, "attribute_values", {})
    for value in values.values():
        if isinstance(value, str):
            weight += 4 * len(value.encode("utf-8")) + 64
        elif isinstance(value, list):
            weight += sum(4 * len(str(v).encode("utf-8")) + 64 for v in value)
        else:
            weight += 64
    return weight


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
    weigh: Callable[[T], int] = lambda item: 0,
    narrowed: bool = False,
) -> Page[T]:
    """One page of at most `limit` items; `next_cursor` is None only when nothing is left.

    It asks for one item more than it returns, so a full last page does not hand out a
    cursor that leads to an empty page. A page also ends after the item that brings its
    weight (see answer_weight) to MAX_PAGE_WEIGHT.

    A `narrowed` query (a FilterExpression drops some of what the key reads) reads at most
    one page of `limit + 1` items per request: what matched there, with a cursor when the
    key holds more. Paging on until `limit` items match would read, for one match among
    10,000 items, all 10,000 in 200 round trips.
    """
    key_names = tuple(key_names)
    start = decode_cursor(cursor, scope, key_names)
    results = run_query(start, limit + 1)
    pages = results.page_iter
    items: list[T] = []
    weight = 0
    resume_after: DynamoKey | None = None
    try:
        while True:
            page = next(pages, None)
            if page is None:
                break
            raw_items = page.get("Items", [])
            for position, raw in enumerate(raw_items):
                item = _from_raw(results, raw)
                items.append(item)
                weight += weigh(item)
                if len(items) == limit or weight >= MAX_PAGE_WEIGHT:
                    more_here = position + 1 < len(raw_items)
                    if more_here or pages.last_evaluated_key is not None:
                        resume_after = {name: raw[name] for name in key_names}
                    break
            else:
                if narrowed:
                    resume_after = pages.last_evaluated_key
                    break
                if pages.last_evaluated_key is None:
                    break
                continue
            break
    except QueryError as error:
        # DynamoDB refuses a start key outside the query's partition or schema
        # (ValidationException); that is the client's bad cursor, a 400 and not a 500.
        if start is not None and error.cause_response_code == "ValidationException":
            raise BadRequest("The cursor is invalid or belongs to another query.") from None
        raise
    return Page(items, encode_cursor(resume_after, scope))


def _from_raw(results: ResultIterator[T], raw: dict[str, Any]) -> T:
    # ResultIterator turns each raw item into a model with its map_fn (Model.from_raw_data).
    map_item: Callable[[dict[str, Any]], T] | None = getattr(results, "_map_fn", None)
    return map_item(raw) if map_item is not None else raw  # type: ignore[return-value]


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
    """A page of a model's or index's `query` on one partition, narrowed by `filters`
    (then one page of reads at most, see paginate)."""
    condition = reduce(lambda a, b: a & b, filters) if filters else None
    return paginate(
        lambda start, n: query(
            hash_key,
            filter_condition=condition,
            last_evaluated_key=start,
            page_size=n,
        ),
        limit=limit,
        cursor=cursor,
        scope=scope,
        key_names=key_names,
        weigh=answer_weight,
        narrowed=condition is not None,
    )
