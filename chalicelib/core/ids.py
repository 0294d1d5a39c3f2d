"""Server-generated ids: ULIDs, sortable by creation time and opaque to clients."""

from __future__ import annotations

import re

from ulid import ULID

_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id() -> str:
    return str(ULID())


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ULID.match(value))
