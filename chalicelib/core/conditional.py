"""HTTP conditional requests over resource versions: ETag "<version>", If-Match, If-None-Match."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import PreconditionFailed

# "<version>" as etag() writes it, or the bare version that some clients send.
_VERSION_TAG = re.compile(r'"(0|[1-9][0-9]{0,17})"|(0|[1-9][0-9]{0,17})', re.ASCII)


def etag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True)
class EntityTags:
    """A parsed If-Match / If-None-Match header."""

    any: bool
    versions: frozenset[int]

    def matches(self, version: int) -> bool:
        return self.any or version in self.versions


def parse_entity_tags(header: str | None, *, weak_matches: bool) -> EntityTags | None:
    """None when the header is absent. Weak tags match only where weak comparison applies
    (If-None-Match); unparsable tags never match, so a garbage If-Match fails safe (412)."""
    if header is None:
        return None
    header = header.strip()
    if header == "*":
        return EntityTags(any=True, versions=frozenset())
    versions: set[int] = set()
    for raw_tag in header.split(","):
        tag = raw_tag.strip()
        if tag.startswith("W/"):
            if not weak_matches:
                continue
            tag = tag[2:]
        # strip('"') + isdigit() let the malformed `"1` and `"01"` match version 1, and
        # crashed int() on `"²"` (a Unicode digit) with a 500.
        match = _VERSION_TAG.fullmatch(tag)
        if match:
            versions.add(int(match.group(1) or match.group(2)))
    return EntityTags(any=False, versions=frozenset(versions))


def require_match(if_match: EntityTags | None, version: int) -> None:
    if if_match is not None and not if_match.matches(version):
        raise PreconditionFailed(
            f"If-Match does not match the current version ({version}).",
        )
