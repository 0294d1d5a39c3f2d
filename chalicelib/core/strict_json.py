"""The one JSON parser for request bodies: RFC 8259 strictly, and only it."""

from __future__ import annotations

import json
import math
from typing import Any


class DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON parsers disagree on which of two equal keys wins, so a body with both is
    ambiguous: refused, not silently read as its last one."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError("out of range")
    return number


def parse_json(raw: bytes | str) -> Any:
    """Strict RFC 8259: UTF-8 only (json.loads would also guess UTF-16/32), no NaN or
    Infinity, no number that overflows a float, no duplicate keys."""
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    return json.loads(
        text, object_pairs_hook=_object, parse_constant=_no_constant, parse_float=_finite
    )


def canonical(raw: bytes | str) -> bytes:
    """The body as canonical JSON (sorted keys, no whitespace), so that two bodies that
    are the same JSON compare equal; the raw bytes when it is not JSON at all."""
    try:
        return json.dumps(parse_json(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError, DuplicateKey):
        return raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
