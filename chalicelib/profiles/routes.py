"""Profile routes: parse, call one service function (the gatekeeper's invoke), dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.http import json_body, respond, respond_resource
from chalicelib.core.identity import current_user_id

from . import service

bp = Blueprint(__name__)


@bp.route("/me", methods=["GET"], authorizer=AUTHORIZER)
def get_me() -> Response:
    request = bp.current_request
    profile = service.get_profile(current_user_id(request), correlation_id())
    return respond_resource(request, profile, int(profile["version"]))


@bp.route("/me", methods=["PUT"], authorizer=AUTHORIZER)
def put_me() -> Response:
    request = bp.current_request
    profile = service.put_profile(
        current_user_id(request),
        json_body(request),
        request.headers.get("if-match"),
        correlation_id(),
    )
    return respond(profile, version=int(profile["version"]))
