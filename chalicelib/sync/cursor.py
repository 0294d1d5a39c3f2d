"""Sync cursors: a position in the user's log (a seq, never a timestamp) and the time
from which its validity counts.

`{"v": 1, "s": seq, "t": epoch seconds, "u": owner fingerprint}`, base64url. `t` is when
the entries after `s` started to matter to the client: now when it has seen everything,
else the time the first entry it has not seen yet was logged. Entries are logged in seq
order, so every entry after `s` was logged at `t` or later and is kept at least until
`t` + the retention; a cursor is honoured for one day less than that (clock margin), so
the 410 never depends on TTL having run. Like the list cursors (docs/decisions.md) it is
validated, not signed: editing it can only shift what the caller reads of their own log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.core.errors import BadRequest, CursorExpired

MAX_CURSOR_CHARS = 256
CLOCK_MARGIN = timedelta(days=1)
_FUTURE_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Position:
    seq: int
    since: datetime


def _owner(user_id: str) -> str:
    return hashlib.sha256(f"sync\x00{user_id}".encode()).hexdigest()[:16]


def encode(user_id: str, position: Position) -> str:
    raw = json.dumps(
        {"v": 1, "s": position.seq, "t": int(position.since.timestamp()), "u": _owner(user_id)},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(user_id: str, token: str, now: datetime, retention: timedelta) -> Position:
    """The cursor's position; BadRequest if it is not one of this user's cursors,
    CursorExpired if it is older than the retention allows."""
    invalid = BadRequest("The cursor is invalid or belongs to another user.")
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid from None
    if not isinstance(payload, dict) or set(payload) != {"v", "s", "t", "u"}:
        raise invalid
    seq, issued, owner = payload["s"], payload["t"], payload["u"]
    if payload["v"] != 1 or owner != _owner(user_id):
        raise invalid
    if not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 10**12 for n in (seq, issued)
    ):
        raise invalid
    since = datetime.fromtimestamp(issued, UTC)
    if since > now + _FUTURE_MARGIN:
        raise invalid
    if now - since > retention - CLOCK_MARGIN:
        raise CursorExpired(
            "The cursor is older than the change log's retention; sync again without a cursor."
        )
    return Position(seq, since)
