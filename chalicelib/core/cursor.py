"""Opaque, validated pagination cursors.

A cursor wraps DynamoDB's LastEvaluatedKey with a fingerprint of the query it belongs
to. Decoding checks the fingerprint (so a cursor cannot be replayed against another
user's or another filter's query) and the exact key attributes (so DynamoDB never sees
a malformed ExclusiveStartKey): a bad cursor is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from .errors import BadRequest

DynamoKey = dict[str, dict[str, Any]]

_MAX_CURSOR_CHARS = 2048
_MAX_VALUE_CHARS = 1024


def _fingerprint(scope: str, key: dict[str, Any]) -> str:
    # The key is part of the fingerprint: an edited key (another user's or another
    # filter's partition, which DynamoDB would refuse with a 500 or moto would silently
    # restart from) no longer matches, and is a 400 like any other bad cursor.
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{scope}\x00{canonical}".encode()).hexdigest()[:24]


def encode_cursor(last_key: DynamoKey | None, scope: str) -> str | None:
    if not last_key:
        return None
    key = {name: value["S"] for name, value in sorted(last_key.items())}
    raw = json.dumps({"v": 1, "q": _fingerprint(scope, key), "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str | None, scope: str, key_names: Iterable[str]) -> DynamoKey | None:
    if token is None:
        return None
    invalid = BadRequest("The cursor is invalid or belongs to another query.")
    if not token or len(token) > _MAX_CURSOR_CHARS:
        raise invalid
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise invalid
    key = payload.get("k")
    if not isinstance(key, dict) or set(key) != set(key_names):
        raise invalid
    if not all(isinstance(v, str) and 0 < len(v) <= _MAX_VALUE_CHARS for v in key.values()):
        raise invalid
    if payload.get("q") != _fingerprint(scope, key):
        raise invalid
    return {name: {"S": value} for name, value in key.items()}
