"""HTTP conditional requests over resource versions: ETag "<version>", If-Match, If-None-Match."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PreconditionFailed


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
        tag = tag.strip('"')
        if tag.isdigit() and len(tag) < 19:
            versions.add(int(tag))
    return EntityTags(any=False, versions=frozenset(versions))


def require_match(if_match: EntityTags | None, version: int) -> None:
    if if_match is not None and not if_match.matches(version):
        raise PreconditionFailed(
            f"If-Match does not match the current version ({version}).",
        )
