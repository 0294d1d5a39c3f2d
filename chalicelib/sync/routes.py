"""Sync routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.errors import CursorExpired
from chalicelib.core.http import json_body, query, respond
from chalicelib.core.identity import current_user_id
from chalicelib.core.openapi import operation
from chalicelib.core.schema import load

from . import commands, service
from .schemas import BatchIn, BatchOut, ChangesOut, SyncQuery, dump_batch, dump_changes

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


@bp.route("/sync", methods=["POST"], authorizer=AUTHORIZER)
@operation(body=BatchIn, response=BatchOut)
def apply_commands() -> Response:
    """Apply a batch of offline commands, in order.

    Up to 100 commands, each `{"commandId", "type": "create"|"update"|"delete",
    "resource": "project"|"task"|"note", "id" | "tempId", "baseVersion"?, "fields"?}`.
    Answers one result per command (`ok` with the object, `conflict` with the server's
    object when `baseVersion` is stale, `error` with a problem) and the `tempId -> id`
    map. A replay of the batch, or of any suffix of it, changes nothing twice and
    answers the same. A body that is not a batch is a 400 with nothing applied."""
    request = bp.current_request
    body = json_body(request)
    batch = load(BatchIn(), body)
    raw = body["commands"]
    result = commands.apply_batch(
        current_user_id(request), batch["commands"], raw, correlation_id()
    )
    return respond(dump_batch(result))
