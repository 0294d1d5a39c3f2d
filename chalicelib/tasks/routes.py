"""Tasks routes: parse, call one service function, dump."""

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
from .schemas import TaskIn, TaskListQuery, TaskOut

bp = Blueprint(__name__)
ITEM = "/tasks/{task_id}"


@bp.route("/tasks", methods=["POST"], authorizer=AUTHORIZER)
def create_task() -> Response:
    request = bp.current_request
    fields = load(TaskIn(), json_body(request))
    task = service.create_task(current_user_id(request), fields, correlation_id())
    return respond(
        TaskOut().dump(task), status=201, version=task.version, location=f"/tasks/{task.task_id}"
    )


@bp.route("/tasks", methods=["GET"], authorizer=AUTHORIZER)
def list_tasks() -> Response:
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
def get_task(task_id: str) -> Response:
    request = bp.current_request
    task = service.get_task(current_user_id(request), task_id)
    return respond_resource(request, TaskOut().dump(task), task.version or 0)


@bp.route(ITEM, methods=["PUT", "PATCH"], authorizer=AUTHORIZER)
def update_task(task_id: str) -> Response:
    request = bp.current_request
    fields = load(TaskIn(), json_body(request), partial=request.method == "PATCH")
    task = service.update_task(
        current_user_id(request), task_id, fields, if_match(request), correlation_id()
    )
    return respond(TaskOut().dump(task), version=task.version)


@bp.route(ITEM, methods=["DELETE"], authorizer=AUTHORIZER)
def delete_task(task_id: str) -> Response:
    request = bp.current_request
    service.delete_task(current_user_id(request), task_id, if_match(request), correlation_id())
    return no_content()
