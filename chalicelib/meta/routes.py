"""Meta routes: liveness, the OpenAPI document, and the page that renders it. All public."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.errors import NotFound
from chalicelib.core.http import respond
from chalicelib.core.openapi import operation

from . import service
from .schemas import HealthOut

bp = Blueprint(__name__)

# The docs page loads only what the app serves: scripts, styles, images and the document.
PAGE_SECURITY = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@bp.route("/health", methods=["GET"])
@operation(response=HealthOut, tags=("meta",))
def health() -> Response:
    """Liveness.

    It touches no dependency, so it stays cheap and unauthenticated."""
    return respond({"status": "ok"})


@bp.route("/openapi.json", methods=["GET"])
@operation(response={"type": "object", "description": "An OpenAPI 3.1 document."}, tags=("meta",))
def openapi_document() -> Response:
    """This API's OpenAPI 3.1 document.

    Generated from the schemas the routes load and dump; docs/openapi.json is its copy."""
    return respond(service.document(bp.current_app.routes))


@bp.route("/docs", methods=["GET"])
@operation(
    response={"type": "string", "description": "An HTML page."},
    content_type="text/html",
    tags=("meta",),
)
def docs_page() -> Response:
    """A page that renders the OpenAPI document (Swagger UI), with no outside assets."""
    body, content_type = service.page()
    return Response(body=body, headers={"Content-Type": content_type, **PAGE_SECURITY})


@bp.route("/docs/{asset}", methods=["GET"])
@operation(
    response={"type": "string", "description": "A script, stylesheet or image."},
    content_type=service.ASSET_TYPES,
    errors=(NotFound,),
    path_params={"asset": {"type": "string", "enum": sorted(service.ASSETS)}},
    tags=("meta",),
)
def docs_asset(asset: str) -> Response:
    """A file of the docs page."""
    body, content_type = service.asset(asset)
    return Response(body=body, headers={"Content-Type": content_type, **PAGE_SECURITY})
