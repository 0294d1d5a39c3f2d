"""The API's description of itself: its OpenAPI document, and the page that renders it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.openapi import build_document

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Asset:
    path: Path
    content_type: str


# The page's files, all served by the app itself: no CDN, so /docs works offline. The
# Swagger UI files are swagger-ui-dist's, unchanged (docs/decisions.md).
ASSETS: dict[str, Asset] = {
    "swagger-ui-bundle.js": Asset(
        STATIC / "swagger-ui" / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"
    ),
    "swagger-ui.css": Asset(STATIC / "swagger-ui" / "swagger-ui.css", "text/css; charset=utf-8"),
    "docs.js": Asset(STATIC / "docs" / "docs.js", "text/javascript; charset=utf-8"),
    "docs.css": Asset(STATIC / "docs" / "docs.css", "text/css; charset=utf-8"),
    "favicon.svg": Asset(STATIC / "docs" / "favicon.svg", "image/svg+xml"),
    # Swagger UI's icons, as files (`make openapi` writes them; see docs.css).
    **{
        icon.name: Asset(icon, "image/svg+xml")
        for icon in sorted((STATIC / "docs").glob("swagger-icon-*.svg"))
    },
}
ASSET_TYPES = tuple(sorted({asset.content_type for asset in ASSETS.values()}))
PAGE = Asset(STATIC / "docs" / "index.html", "text/html; charset=utf-8")


TITLE = "Tandem API"
VERSION = "1.1"
DESCRIPTION = (
    "Tasks, projects and notes, each owned by the user of the bearer token: another user's "
    "object is a 404. Errors are RFC 9457 problem+json. HEAD works wherever GET does; "
    "OPTIONS answers CORS preflights. Every answer carries X-Request-Id."
)

_documents: dict[int, dict[str, Any]] = {}


def document(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The app's OpenAPI document, built once per route table (a Lambda container's life)."""
    key = id(routes)
    if key not in _documents:
        _documents[key] = build_document(
            routes, title=TITLE, version=VERSION, description=DESCRIPTION
        )
    return _documents[key]


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def page() -> tuple[str, str]:
    return _read(PAGE.path), PAGE.content_type


def asset(name: str) -> tuple[str, str]:
    found = ASSETS.get(name)
    if found is None:
        raise NotFound("No such file of the docs page.")
    return _read(found.path), found.content_type
