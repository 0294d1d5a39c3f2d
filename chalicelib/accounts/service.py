"""Account service logic: start an export or the account's deletion, as jobs."""

from __future__ import annotations

from chalicelib.core import revocation
from chalicelib.core.models import utcnow
from chalicelib.core.schema import Timestamp
from chalicelib.jobs import service as jobs
from chalicelib.jobs.service import Job

from .workers import DELETE_USER, DELETION_TYPE, EXPORT, EXPORT_TYPE, SERVICE


def start_export(user_id: str, correlation_id: str) -> Job:
    return jobs.submit(user_id, EXPORT_TYPE, SERVICE, EXPORT, {}, correlation_id)


def start_deletion(user_id: str, correlation_id: str) -> Job:
    """From here on the user's tokens are refused (but for reading this job); the job
    deletes everything of the user, and the Cognito user last."""
    requested = Timestamp()._serialize(utcnow(), None, None)
    job = jobs.submit(
        user_id, DELETION_TYPE, SERVICE, DELETE_USER, {"requestedAt": requested}, correlation_id
    )
    revocation.revoke(user_id, revocation.DELETING, readable=progress_path(job.job_id))
    return job


def progress_path(job_id: str) -> str:
    return f"/jobs/{job_id}"
