"""Notes routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.errors import NotFound, UnprocessableReference
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
from chalicelib.core.openapi import operation
from chalicelib.core.schema import load

from . import service
from .schemas import NoteIn, NoteListQuery, NoteOut

bp = Blueprint(__name__)
ITEM = "/notes/{note_id}"


@bp.route("/notes", methods=["POST"], authorizer=AUTHORIZER)
@operation(
    body=NoteIn,
    response=NoteOut,
    status=201,
    headers=("ETag", "Location"),
    errors=(UnprocessableReference,),
)
def create_note() -> Response:
    """Create a note, optionally linked to a project and a task.

    A link that is unknown, deleted or another user's is a 422. Answers 201 with the
    note, its ETag and Location. Honours Idempotency-Key."""
    request = bp.current_request
    fields = load(NoteIn(), json_body(request))
    note = service.create_note(current_user_id(request), fields, correlation_id())
    return respond(
        NoteOut().dump(note), status=201, version=note.version, location=f"/notes/{note.note_id}"
    )


@bp.route("/notes", methods=["GET"], authorizer=AUTHORIZER)
@operation(query=NoteListQuery, response=NoteOut, page=True)
def list_notes() -> Response:
    """List the caller's notes, a page at a time, optionally filtered."""
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
@operation(
    response=NoteOut, request_headers=("If-None-Match",), headers=("ETag",), errors=(NotFound,)
)
def get_note(note_id: str) -> Response:
    """Read one note.

    Honours If-None-Match with 304."""
    request = bp.current_request
    note = service.get_note(current_user_id(request), note_id)
    return respond_resource(request, NoteOut().dump(note), note.version or 0)


@bp.route(ITEM, methods=["PUT", "PATCH"], authorizer=AUTHORIZER)
@operation(
    body=NoteIn,
    response=NoteOut,
    request_headers=("If-Match",),
    headers=("ETag",),
    errors=(NotFound, UnprocessableReference),
)
def update_note(note_id: str) -> Response:
    """Replace (PUT) or change (PATCH) a note.

    PUT sends every field, PATCH only those it changes; a PATCH that changes nothing
    answers the current note. Honours If-Match with 412."""
    request = bp.current_request
    fields = load(NoteIn(), json_body(request), partial=request.method == "PATCH")
    note = service.update_note(
        current_user_id(request), note_id, fields, if_match(request), correlation_id()
    )
    return respond(NoteOut().dump(note), version=note.version)


@bp.route(ITEM, methods=["DELETE"], authorizer=AUTHORIZER)
@operation(request_headers=("If-Match",), errors=(NotFound,), status=204)
def delete_note(note_id: str) -> Response:
    """Delete a note.

    Honours If-Match with 412."""
    request = bp.current_request
    service.delete_note(current_user_id(request), note_id, if_match(request), correlation_id())
    return no_content()
