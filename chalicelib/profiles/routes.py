"""Profile routes: parse, call one service function (the gatekeeper's invoke), dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.errors import NotFound, ServiceUnavailable
from chalicelib.core.http import json_body, respond, respond_resource
from chalicelib.core.identity import current_user_id
from chalicelib.core.openapi import operation

from . import service
from .schemas import ProfileIn, ProfileOut

bp = Blueprint(__name__)


@bp.route("/me", methods=["GET"], authorizer=AUTHORIZER)
@operation(
    response=ProfileOut,
    request_headers=("If-None-Match",),
    headers=("ETag",),
    errors=(NotFound, ServiceUnavailable),
    tags=("account",),
)
def get_me() -> Response:
    """Read the caller's profile.

    A user who never saved one gets the defaults. Honours If-None-Match with 304."""
    request = bp.current_request
    profile = service.get_profile(current_user_id(request), correlation_id())
    return respond_resource(request, profile, int(profile["version"]))


@bp.route("/me", methods=["PUT"], authorizer=AUTHORIZER)
@operation(
    body=ProfileIn,
    response=ProfileOut,
    request_headers=("If-Match",),
    headers=("ETag",),
    errors=(NotFound,),
    tags=("account",),
)
def put_me() -> Response:
    """Replace the caller's profile.

    What the body leaves out gets its default. Honours If-Match with 412."""
    request = bp.current_request
    profile = service.put_profile(
        current_user_id(request),
        json_body(request),
        request.headers.get("if-match"),
        correlation_id(),
    )
    return respond(profile, version=int(profile["version"]))
