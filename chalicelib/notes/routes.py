"""Notes routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.http import (
    if_match,
    json_body,
    list_body,
    no_content,
    query,
    respond,
    respond_resource,
)
from chalicelib.core.identity import current_user_id
from chalicelib.core.schema import load

from . import service
from .schemas import NoteIn, NoteListQuery, NoteOut

bp = Blueprint(__name__)
ITEM = "/notes/{note_id}"


@bp.route("/notes", methods=["POST"], authorizer=AUTHORIZER)
def create_note() -> Response:
    request = bp.current_request
    fields = load(NoteIn(), json_body(request))
    note = service.create_note(current_user_id(request), fields, correlation_id())
    return respond(
        NoteOut().dump(note), status=201, version=note.version, location=f"/notes/{note.note_id}"
    )


@bp.route("/notes", methods=["GET"], authorizer=AUTHORIZER)
def list_notes() -> Response:
    request = bp.current_request
    params = query(request, NoteListQuery())
    page = service.list_notes(
        current_user_id(request),
        params["limit"],
        params["cursor"],
        project_id=params.get("project_id"),
        task_id=params.get("task_id"),
        tag=params.get("tag"),
    )
    return respond(list_body(NoteOut(many=True).dump(page.items), page.next_cursor))


@bp.route(ITEM, methods=["GET"], authorizer=AUTHORIZER)
def get_note(note_id: str) -> Response:
    request = bp.current_request
    note = service.get_note(current_user_id(request), note_id)
    return respond_resource(request, NoteOut().dump(note), note.version or 0)


@bp.route(ITEM, methods=["PUT", "PATCH"], authorizer=AUTHORIZER)
def update_note(note_id: str) -> Response:
    request = bp.current_request
    fields = load(NoteIn(), json_body(request), partial=request.method == "PATCH")
    note = service.update_note(
        current_user_id(request), note_id, fields, if_match(request), correlation_id()
    )
    return respond(NoteOut().dump(note), version=note.version)


@bp.route(ITEM, methods=["DELETE"], authorizer=AUTHORIZER)
def delete_note(note_id: str) -> Response:
    request = bp.current_request
    service.delete_note(current_user_id(request), note_id, if_match(request), correlation_id())
    return no_content()
