"""Per-invocation context: the request/correlation id of whatever is being handled."""

from __future__ import annotations

import re
from contextvars import ContextVar

from ulid import ULID

_correlation_id: ContextVar[str | None] = ContextVar("tandem_correlation_id", default=None)

# Accept client ids that are safe to echo into headers and logs; anything else is replaced.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def new_correlation_id() -> str:
    return str(ULID())


def accept_correlation_id(candidate: str | None) -> str:
    """The client's id when it is safe to echo, otherwise a fresh one."""
    if candidate and _SAFE_ID.match(candidate):
        return candidate
    return new_correlation_id()


def set_correlation_id(value: str | None) -> None:
    _correlation_id.set(value)


def correlation_id() -> str:
    value = _correlation_id.get()
    if value is None:
        value = new_correlation_id()
        _correlation_id.set(value)
    return value
