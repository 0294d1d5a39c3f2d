"""Job routes: parse, call one service function, dump."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.auth import AUTHORIZER
from chalicelib.core.errors import NotFound
from chalicelib.core.http import respond_resource
from chalicelib.core.identity import current_user_id
from chalicelib.core.openapi import operation

from . import service
from .models import SUCCEEDED, Job
from .schemas import JobOut
from .workers import registry

bp = Blueprint(__name__)


def shown(job: Job) -> dict[str, Any]:
    body: dict[str, Any] = JobOut().dump(job)
    presenter = registry().presenters.get(job.type)
    if job.status == SUCCEEDED and job.result is not None and presenter is not None:
        body["result"] = presenter(job.user_id, job.result)
    if job.status == SUCCEEDED:
        body.pop("error", None)
    for name in ("result", "error"):
        if body.get(name) is None:
            body.pop(name, None)
    return body


@bp.route("/jobs/{job_id}", methods=["GET"], authorizer=AUTHORIZER)
@operation(
    response=JobOut,
    headers=("ETag",),
    request_headers=("If-None-Match",),
    errors=(NotFound,),
)
def get_job(job_id: str) -> Response:
    """Read one of the caller's jobs (an export, the account's deletion).

    `status` moves queued -> running -> succeeded | failed; `progress` is a percentage;
    a failed job has `error` (a problem object). A succeeded export's `result` has a
    `downloadUrl` that works for a short while (`expiresAt`); each read makes a fresh
    one. Job changes are pushed over the websocket as
    `{"type": "changed", "resource": "job", "id", "version"}`."""
    request = bp.current_request
    job = service.get_job(current_user_id(request), job_id)
    return respond_resource(request, shown(job), int(job.version))
