"""Optimistic concurrency for read-modify-write of a versioned resource."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

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
