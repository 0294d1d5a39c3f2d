"""Projects routes: parse, call one service function, dump."""

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
from .schemas import ProjectIn, ProjectListQuery, ProjectOut

bp = Blueprint(__name__)
ITEM = "/projects/{project_id}"


@bp.route("/projects", methods=["POST"], authorizer=AUTHORIZER)
def create_project() -> Response:
    request = bp.current_request
    fields = load(ProjectIn(), json_body(request))
    project = service.create_project(current_user_id(request), fields, correlation_id())
    return respond(
        ProjectOut().dump(project),
        status=201,
        version=project.version,
        location=f"/projects/{project.project_id}",
    )


@bp.route("/projects", methods=["GET"], authorizer=AUTHORIZER)
def list_projects() -> Response:
    request = bp.current_request
    params = query(request, ProjectListQuery())
    page = service.list_projects(current_user_id(request), params["limit"], params["cursor"])
    return respond(list_body(ProjectOut(many=True).dump(page.items), page.next_cursor))


@bp.route(ITEM, methods=["GET"], authorizer=AUTHORIZER)
def get_project(project_id: str) -> Response:
    request = bp.current_request
    project = service.get_project(current_user_id(request), project_id)
    return respond_resource(request, ProjectOut().dump(project), project.version or 0)


@bp.route(ITEM, methods=["PUT", "PATCH"], authorizer=AUTHORIZER)
def update_project(project_id: str) -> Response:
    request = bp.current_request
    fields = load(ProjectIn(), json_body(request), partial=request.method == "PATCH")
    project = service.update_project(
        current_user_id(request), project_id, fields, if_match(request), correlation_id()
    )
    return respond(ProjectOut().dump(project), version=project.version)


@bp.route(ITEM, methods=["DELETE"], authorizer=AUTHORIZER)
def delete_project(project_id: str) -> Response:
    request = bp.current_request
    service.delete_project(
        current_user_id(request), project_id, if_match(request), correlation_id()
    )
    return no_content()
