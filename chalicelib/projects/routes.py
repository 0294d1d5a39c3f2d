"""Projects routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.errors import NotFound
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
from .schemas import ProjectIn, ProjectListQuery, ProjectOut

bp = Blueprint(__name__)
ITEM = "/projects/{project_id}"


@bp.route("/projects", methods=["POST"], authorizer=AUTHORIZER)
@operation(body=ProjectIn, response=ProjectOut, status=201, headers=("ETag", "Location"))
def create_project() -> Response:
    """Create a project.

    Answers 201 with the project, its ETag and Location. Honours Idempotency-Key."""
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
@operation(query=ProjectListQuery, response=ProjectOut, page=True)
def list_projects() -> Response:
    """List the caller's projects, a page at a time."""
    request = bp.current_request
    params = query(request, ProjectListQuery())
    page = service.list_projects(current_user_id(request), params["limit"], params["cursor"])
    return respond(list_body(ProjectOut(many=True).dump(page.items), page.next_cursor))


@bp.route(ITEM, methods=["GET"], authorizer=AUTHORIZER)
@operation(
    response=ProjectOut, request_headers=("If-None-Match",), headers=("ETag",), errors=(NotFound,)
)
def get_project(project_id: str) -> Response:
    """Read one project.

    Honours If-None-Match with 304."""
    request = bp.current_request
    project = service.get_project(current_user_id(request), project_id)
    return respond_resource(request, ProjectOut().dump(project), project.version or 0)


@bp.route(ITEM, methods=["PUT", "PATCH"], authorizer=AUTHORIZER)
@operation(
    body=ProjectIn,
    response=ProjectOut,
    request_headers=("If-Match",),
    headers=("ETag",),
    errors=(NotFound,),
)
def update_project(project_id: str) -> Response:
    """Replace (PUT) or change (PATCH) a project.

    PUT sends every field, PATCH only those it changes; a PATCH that changes nothing
    answers the current project. Honours If-Match with 412."""
    request = bp.current_request
    fields = load(ProjectIn(), json_body(request), partial=request.method == "PATCH")
    project = service.update_project(
        current_user_id(request), project_id, fields, if_match(request), correlation_id()
    )
    return respond(ProjectOut().dump(project), version=project.version)


@bp.route(ITEM, methods=["DELETE"], authorizer=AUTHORIZER)
@operation(request_headers=("If-Match",), errors=(NotFound,), status=204)
def delete_project(project_id: str) -> Response:
    """Delete a project and, asynchronously, its tasks.

    Its tasks read as 404 at once. Honours If-Match with 412."""
    request = bp.current_request
    service.delete_project(
        current_user_id(request), project_id, if_match(request), correlation_id()
    )
    return no_content()
