"""Optimistic concurrency for read-modify-write of a versioned resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from .conditional import EntityTags, require_match
from .errors import Conflict, PreconditionFailed

ATTEMPTS = 3


class Versioned(Protocol):
    @property
    def version(self) -> int | None: ...


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

    With If-Match a lost race is the client's 412; without it the change is re-applied
    to the fresh item, since the client asked for last-writer-wins.
    """
    for _ in range(ATTEMPTS):
        item = load()
        require_match(if_match, item.version or 0)
        apply(item)
        try:
            persist(item)
        except VersionConflict:
            if if_match is not None:
                raise PreconditionFailed("The resource changed while the request ran.") from None
            continue
        return item
    raise Conflict("The resource is being changed concurrently; retry the request.")
