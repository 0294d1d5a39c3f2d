"""The account deletion worker, in phases (each a step of the job; chalicelib.jobs):

1. grace: the route has revoked the user's tokens (`deleting`: every request but reading
   this job is a 401). Wait longer than a request may run, so that nothing admitted
   before lands after a service's deletion passed.
2. publish `user-deleted`. Every subscribed service deletes its own data in bounded
   rounds and reports its part done on this job (jobs.service.participant_done).
3. wait until every subscribed service has reported (polling, bounded; then the job
   fails and is dead-lettered for an operator).
4. finish: the user's exports, the profile (through the gatekeeper; the audit trail keeps
   the deletion, without personal data), the tokens revoked for good, the Cognito user,
   and last the user's job records, this one included.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import revocation
from chalicelib.core.infra import USER_POOL_ID
from chalicelib.core.log import logger
from chalicelib.core.models import utcnow
from chalicelib.core.wiring import aws
from chalicelib.jobs import service as jobs
from chalicelib.jobs.workers import Continue, Done, JobRun, PermanentFailure
from chalicelib.profiles import service as profiles

from . import events
from .export import user_prefix
from .infra import (
    DELETION_GRACE_SECONDS,
    DELETION_MAX_POLLS,
    DELETION_POLL_SECONDS,
    EXPORTS_BUCKET,
)

GRACE, PUBLISH, WAIT = "grace", "publish", "wait"


def delete_user_step(run: JobRun) -> Done | Continue:
    phase = (run.checkpoint or {}).get("phase", GRACE)
    if phase == GRACE:
        # The route did this; again in case it died between the job and the entry.
        revocation.revoke(run.user_id, revocation.DELETING, readable=f"/jobs/{run.job_id}")
        return Continue({"phase": PUBLISH}, 5, delay=DELETION_GRACE_SECONDS.number())
    if phase == PUBLISH:
        requested = run.data.get("requestedAt")
        envelope = events.user_deleted(
            run.user_id,
            run.job_id,
            utcnow() if not isinstance(requested, str) else _parse_time(requested),
            run.correlation_id,
        )
        events.publish(envelope)
        return Continue({"phase": WAIT, "polls": 0}, 10, delay=DELETION_POLL_SECONDS.number())
    expected = events.participants()
    missing = sorted(expected - run.participants)
    if missing:
        polls = int((run.checkpoint or {}).get("polls", 0)) + 1
        if polls > DELETION_MAX_POLLS.number():
            raise PermanentFailure(f"services did not report their deletion: {missing}")
        done = len(expected) - len(missing)
        progress = 10 + int(80 * done / max(1, len(expected)))
        return Continue(
            {"phase": WAIT, "polls": polls}, progress, delay=DELETION_POLL_SECONDS.number()
        )
    _finish(run)
    return Done(forget=True)


def _parse_time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def delete_exports(user_id: str) -> int:
    s3 = aws("s3")
    bucket = EXPORTS_BUCKET.required()
    removed = 0
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=user_prefix(user_id))
    for page in pages:
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            removed += len(keys)
    # An export still uploading leaves parts, which only its abort removes.
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=user_prefix(user_id))
    for upload in uploads.get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return removed


def _finish(run: JobRun) -> None:
    log = logger()
    exports = delete_exports(run.user_id)
    profiles.delete_profile(run.user_id, run.correlation_id, actor=f"job:{run.job_id}")
    revocation.revoke(run.user_id, revocation.DELETED)
    try:
        aws("cognito-idp").admin_delete_user(
            UserPoolId=USER_POOL_ID.required(), Username=run.user_id
        )
    except aws("cognito-idp").exceptions.UserNotFoundException:
        pass  # a retried finish: deleted already
    jobs_removed = jobs.delete_jobs_of(run.user_id)
    log.info(
        "account deleted",
        extra={"jobId": run.job_id, "exportsRemoved": exports, "jobsRemoved": jobs_removed},
    )
