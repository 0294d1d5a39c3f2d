"""Tasks routes: parse, call one service function, dump."""

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
from .schemas import TaskIn, TaskListQuery, TaskOut

bp = Blueprint(__name__)
ITEM = "/tasks/{task_id}"


@bp.route("/tasks", methods=["POST"], authorizer=AUTHORIZER)
@operation(
    body=TaskIn,
    response=TaskOut,
    status=201,
    headers=("ETag", "Location"),
    errors=(UnprocessableReference,),
)
def create_task() -> Response:
    """Create a task in one of the caller's projects.

    A project that is unknown, deleted or another user's is a 422. Answers 201 with
    the task, its ETag and Location. Honours Idempotency-Key."""
    request = bp.current_request
    fields = load(TaskIn(), json_body(request))
    task = service.create_task(current_user_id(request), fields, correlation_id())
    return respond(
        TaskOut().dump(task), status=201, version=task.version, location=f"/tasks/{task.task_id}"
    )


@bp.route("/tasks", methods=["GET"], authorizer=AUTHORIZER)
@operation(query=TaskListQuery, response=TaskOut, page=True)
def list_tasks() -> Response:
    """List the caller's tasks, a page at a time, optionally filtered."""
    request = bp.current_request
    params = query(request, TaskListQuery())
    page = service.list_tasks(
        current_user_id(request),
        params["limit"],
        params["cursor"],
        project_id=params.get("project_id"),
        status=params.get("status"),
        is_completed=params.get("is_completed"),
    )
    return respond(list_body(TaskOut(many=True).dump(page.items), page.next_cursor))


@bp.route(ITEM, methods=["GET"], authorizer=AUTHORIZER)
@operation(
    response=TaskOut, request_headers=("If-None-Match",), headers=("ETag",), errors=(NotFound,)
)
def get_task(task_id: str) -> Response:
    """Read one task.

    Honours If-None-Match with 304."""
    request = bp.current_request
    task = service.get_task(current_user_id(request), task_id)
    return respond_resource(request, TaskOut().dump(task), task.version or 0)


@bp.route(ITEM, methods=["PUT", "PATCH"], authorizer=AUTHORIZER)
@operation(
    body=TaskIn,
    response=TaskOut,
    request_headers=("If-Match",),
    headers=("ETag",),
    errors=(NotFound, UnprocessableReference),
)
def update_task(task_id: str) -> Response:
    """Replace (PUT) or change (PATCH) a task.

    PUT sends every field, PATCH only those it changes; a PATCH that changes nothing
    answers the current task. Honours If-Match with 412."""
    request = bp.current_request
    fields = load(TaskIn(), json_body(request), partial=request.method == "PATCH")
    task = service.update_task(
        current_user_id(request), task_id, fields, if_match(request), correlation_id()
    )
    return respond(TaskOut().dump(task), version=task.version)


@bp.route(ITEM, methods=["DELETE"], authorizer=AUTHORIZER)
@operation(request_headers=("If-Match",), errors=(NotFound,), status=204)
def delete_task(task_id: str) -> Response:
    """Delete a task.

    Honours If-Match with 412."""
    request = bp.current_request
    service.delete_task(current_user_id(request), task_id, if_match(request), correlation_id())
    return no_content()
