"""The transport conventions of API v1.1 that the router applies: gzip request bodies,
CORS per stage, and the OPTIONS and HEAD routes that bring those requests to the router."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from chalice.app import Chalice, Request, Response

from .errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType
from .settings import get_settings

GZIP_MAGIC = b"\x1f\x8b"
_GZIP = frozenset({"gzip", "x-gzip"})
ALLOWED_REQUEST_HEADERS = (
    "Authorization, Content-Encoding, Content-Type, Idempotency-Key, If-Match, "
    "If-None-Match, X-Request-Id"
)
EXPOSED_HEADERS = "ETag, Idempotent-Replayed, Location, Retry-After, X-Request-Id"
PREFLIGHT_MAX_AGE_SECONDS = 600


# ---- Content-Encoding ------------------------------------------------------------------


def decode_body(request: Request, cap: int) -> None:
    """Replaces a gzip request body by its content, at most `cap` bytes of it: a gzip bomb
    is a 413 after `cap` bytes, not an exhausted Lambda. Any other coding is a 415 naming
    it. A body that says gzip but is not (API Gateway decompresses what it receives, and
    may pass the header on) is taken as it is."""
    header = request.headers.get("content-encoding") or ""
    codings = [part.strip().lower() for part in header.split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings:
        return
    if len(codings) > 1 or codings[0] not in _GZIP:
        raise UnsupportedMediaType(
            f"Content-Encoding {header.strip()!r} is not supported; send gzip or no encoding.",
            headers={"Accept-Encoding": "gzip"},
        )
    raw = request.raw_body or b""
    if isinstance(raw, str) or not raw.startswith(GZIP_MAGIC):
        return
    decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        body = decoder.decompress(raw, cap + 1)
    except zlib.error:
        raise BadRequest("The gzip request body is corrupt.") from None
    if len(body) > cap:
        raise PayloadTooLarge(f"The request body is larger than {cap} bytes once decompressed.")
    if not decoder.eof or decoder.unused_data:
        raise BadRequest("The gzip request body is truncated, or has more than one member.")
    # Chalice's Request has no setter for its body; everything after this reads raw_body.
    request._body = body
    request._raw_body = body
    request._is_base64_encoded = False


# ---- CORS ------------------------------------------------------------------------------


def _allowed_origin(request: Request) -> str | None:
    origin: str | None = request.headers.get("origin")
    allowed = get_settings().cors_allowed_origins
    if origin and (origin in allowed or "*" in allowed):
        return origin
    return None


def preflight(request: Request, methods: Iterable[str]) -> Response:
    """An OPTIONS request: the CORS preflight of a browser, or a plain question about the
    methods. Only the stage's allowed origins get an answer a browser accepts."""
    allow = ", ".join(sorted(set(methods) | {"OPTIONS"}))
    if "origin" not in request.headers:
        return Response(body="", status_code=204, headers={"Allow": allow})
    origin = _allowed_origin(request)
    if origin is None:
        raise Forbidden("This origin may not call the API; see the stage's CORS settings.")
    headers: dict[str, str | list[str]] = {
        "Allow": allow,
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": allow,
        "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        "Vary": "Origin",
    }
    return Response(body="", status_code=204, headers=headers)


def add_cors_headers(request: Request, response: Response) -> None:
    """Every answer to an allowed origin, errors included, is readable by its page."""
    origin = _allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers["Vary"] = "Origin"


# ---- routes ----------------------------------------------------------------------------


def _answered_by_the_router(**_: str) -> Response:
    """The view of every OPTIONS route. The router answers OPTIONS itself; this never runs."""
    return Response(body="", status_code=204)


def add_transport_routes(app: Chalice) -> None:
    """OPTIONS on every path and HEAD wherever GET is, so that API Gateway (which routes
    only declared methods) brings them to the router. HEAD runs the GET view, with its
    authorizer; the router drops the body."""
    for path, entries in list(app.routes.items()):
        get: Any = entries.get("GET")
        if get is not None and "HEAD" not in entries:
            app.route(path, methods=["HEAD"], authorizer=get.authorizer, name=get.view_name)(
                get.view_function
            )
        if "OPTIONS" not in entries:
            app.route(path, methods=["OPTIONS"])(_answered_by_the_router)
