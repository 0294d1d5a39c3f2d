"""Optimistic concurrency for versioned resources: read-modify-write with retries, and
conditional updates in place that need no read."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pynamodb.constants import ALL_NEW
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from .conditional import EntityTags, require_match
from .errors import PreconditionFailed, ServiceUnavailable, WriteContended

# Without If-Match a lost race is retried on the fresh item until this much time has
# passed (the API function's timeout is 29 s). Every round has a winner, so only a
# resource written faster than it can be written ever gets here.
RETRY_SECONDS = 10.0
_BACKOFF_SECONDS = 0.005
_MAX_BACKOFF_SECONDS = 0.2


class Versioned(Protocol):
    @property
    def version(self) -> int | None: ...

    def serialize(self, null_check: bool = True) -> dict[str, Any]: ...


V = TypeVar("V", bound=Versioned)


class VersionConflict(Exception):
    """The conditional write lost a race: the item changed since it was read."""


def write_with_retry(
    load: Callable[[], V],
    apply: Callable[[V], None],
    persist: Callable[[V], None],
    if_match: EntityTags | None,
) -> V:
    """Load, check If-Match, change, write conditionally on the version read.

    With If-Match a lost race is the client's 412. Without it the client asked for
    last-writer-wins, so the change is re-applied to the fresh item until it lands:
    every caller gets its own version, none a 409. A change that changes nothing is not
    written at all: no new version, no event.
    """
    deadline = time.monotonic() + RETRY_SECONDS
    attempt = 0
    while True:
        item = load()
        require_match(if_match, item.version or 0)
        before = item.serialize(null_check=False)
        apply(item)
        if item.serialize(null_check=False) == before:
            return item
        try:
            persist(item)
        except (VersionConflict, WriteContended) as lost:
            # A transaction that only met others (WriteContended) says nothing changed:
            # it is retried with or without If-Match, which the reload checks again.
            if if_match is not None and isinstance(lost, VersionConflict):
                raise PreconditionFailed("The resource changed while the request ran.") from None
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    "The resource is being changed too often to apply this change; retry.",
                    retry_after_seconds=1,
                ) from None
            # Full jitter, so that the losers of one round do not collide again.
            backoff = min(_MAX_BACKOFF_SECONDS, _BACKOFF_SECONDS * 2**attempt)
            time.sleep(random.uniform(0, backoff))  # noqa: S311 (jitter, not a secret)
            attempt += 1
            continue
        return item


M = TypeVar("M", bound=Model)


def update_in_place(
    model: type[M],
    key: tuple[str, str],
    actions: list[Action],
    *,
    if_match: EntityTags | None,
    live: Condition,
    not_found: Callable[[], Exception],
    unchanged: tuple[Condition, Callable[[M], bool]] | None = None,
) -> tuple[M, bool]:
    """One conditional UpdateItem, no read before it: the item must be `live`, match
    If-Match, and (with `unchanged`, the condition and its local twin) differ from what
    the update writes. When the condition fails, one consistent GetItem says why: gone
    (`not_found`), 412, or nothing to change (the stored item, written False). The update
    only SETs and REMOVEs what it changes and bumps the version, so without If-Match
    concurrent writers all land, each on its own version, none reverting another's field.
    """
    condition = live
    if if_match is not None and if_match.versions:
        version = getattr(model, model._version_attribute_name or "version")
        condition &= version.is_in(*sorted(if_match.versions))
    if unchanged is not None:
        condition &= ~unchanged[0]
    deadline = time.monotonic() + RETRY_SECONDS
    hash_key, range_key = key
    while True:
        if if_match is None or if_match.any or if_match.versions:
            try:
                data = model._get_connection().update_item(
                    hash_key,
                    range_key=range_key,
                    actions=actions,
                    condition=condition,
                    return_values=ALL_NEW,
                )
            except UpdateError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
            else:
                return model.from_raw_data(data["Attributes"]), True
        try:
            current = model.get(hash_key, range_key, consistent_read=True)
        except model.DoesNotExist:
            raise not_found() from None
        if getattr(current, "deleted_at", None) is not None:
            raise not_found()
        require_match(if_match, getattr(current, "version", None) or 0)
        if unchanged is not None and unchanged[1](current):
            return current, False
        # It changed between the update and the read: the update runs again.
        if time.monotonic() > deadline:
            raise ServiceUnavailable(
                "The resource is being changed too often to apply this change; retry.",
                retry_after_seconds=1,
            )
