"""Sync routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.http import query, respond
from chalicelib.core.identity import current_user_id

from . import service
from .schemas import SyncQuery, dump_changes

bp = Blueprint(__name__)


@bp.route("/sync", methods=["GET"], authorizer=AUTHORIZER)
def get_changes() -> Response:
    """Without `cursor`, everything of the caller in pages; with it, every change since."""
    request = bp.current_request
    params = query(request, SyncQuery())
    changes = service.changes(current_user_id(request), params["cursor"])
    return respond(dump_changes(changes))
