"""Account routes: parse, call one service function, dump."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.context import correlation_id
from chalicelib.core.http import respond
from chalicelib.core.identity import current_user_id
from chalicelib.core.openapi import operation
from chalicelib.jobs.routes import shown
from chalicelib.jobs.schemas import JobOut

from . import service

bp = Blueprint(__name__)


@bp.route("/me/export", methods=["POST"], authorizer=AUTHORIZER)
@operation(response=JobOut, status=202, headers=("Location",))
def export_me() -> Response:
    """Export everything of the caller as one JSON document.

    Answers 202 with the export job and `Location: /jobs/{jobId}`; the job's result
    has a short-lived download URL. No body is needed. Honours Idempotency-Key: a
    retry with the same key gets the same job."""
    request = bp.current_request
    job = service.start_export(current_user_id(request), correlation_id())
    return respond(shown(job), status=202, location=f"/jobs/{job.job_id}")


@bp.route("/me", methods=["DELETE"], authorizer=AUTHORIZER)
@operation(response=JobOut, status=202, headers=("Location",))
def delete_me() -> Response:
    """Delete the caller's account and everything of it, in every service.

    Answers 202 with the deletion job and `Location: /jobs/{jobId}`. From then on the
    caller's tokens get 401, except for reading that job; once the deletion is done
    (projects, tasks, notes, attachments, exports, the profile, the sign-in) they get
    401 there too."""
    request = bp.current_request
    job = service.start_deletion(current_user_id(request), correlation_id())
    return respond(shown(job), status=202, location=f"/jobs/{job.job_id}")
