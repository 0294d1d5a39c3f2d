from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.http import respond

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    """Liveness only: it touches no dependency, so it stays cheap and unauthenticated."""
    return respond({"status": "ok"})
