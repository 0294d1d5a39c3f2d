"""Sync routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.errors import CursorExpired
from chalicelib.core.http import query, respond
from chalicelib.core.identity import current_user_id
from chalicelib.core.openapi import operation

from . import service
from .schemas import ChangesOut, SyncQuery, dump_changes

bp = Blueprint(__name__)


@bp.route("/sync", methods=["GET"], authorizer=AUTHORIZER)
@operation(query=SyncQuery, response=ChangesOut, errors=(CursorExpired,))
def get_changes() -> Response:
    """Changes since a cursor: everything of the caller without one.

    Without `cursor`, a snapshot of the caller's projects, tasks and notes, in pages. With
    the `cursor` of the previous answer, every change since: each object once, at its
    latest version, and deletions as tombstones in `deleted`. Follow `hasMore` with the
    new `cursor`. A cursor older than the change log's retention (29 days) is a 410
    `sync-cursor-expired`: sync again without a cursor (docs/sync.md)."""
    request = bp.current_request
    params = query(request, SyncQuery())
    changes = service.changes(current_user_id(request), params["cursor"])
    return respond(dump_changes(changes))
