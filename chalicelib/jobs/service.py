"""The Jobs service's public API: submit a job, read one, report a part of it done.

Other services call these and never touch the jobs table or queue themselves (except the
grants these functions need in their roles: `participant_done` is one UpdateItem).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.core.errors import NotFound
from chalicelib.core.ids import is_id, new_id
from chalicelib.core.log import logger
from chalicelib.core.models import condition_failed, utcnow
from chalicelib.core.wiring import aws

from .infra import QUEUE_URL
from .models import FAILED, QUEUED, Job

__all__ = ["Job", "delete_jobs_of", "get_job", "participant_done", "submit"]

TARGET_JOB = "job"  # the result goes to the job record and a push to the owner
MESSAGE_VERSION = 1
_NOT_FOUND = "No such job."


def message(job: Job, step: int) -> dict[str, Any]:
    """The job queue's message: the task manager's {service, action, data, target}, and
    which job and step it runs."""
    return {
        "schemaVersion": MESSAGE_VERSION,
        "jobId": job.job_id,
        "userId": job.user_id,
        "service": job.service,
        "action": job.action,
        "data": job.data,
        "target": job.target,
        "step": step,
        "correlationId": job.correlation_id,
    }


def enqueue(job: Job, step: int, delay: int = 0) -> None:
    aws("sqs").send_message(
        QueueUrl=QUEUE_URL.required(),
        MessageBody=json.dumps(message(job, step)),
        DelaySeconds=max(0, min(900, delay)),
    )


def submit(
    user_id: str,
    job_type: str,
    service: str,
    action: str,
    data: Mapping[str, Any],
    correlation_id: str,
) -> Job:
    """Records a queued job and queues its message. If the message cannot be sent, the
    job is failed at once rather than left queued forever, and the error propagates."""
    now = utcnow()
    job = Job(
        user_id,
        new_id(),
        type=job_type,
        service=service,
        action=action,
        data=dict(data),
        target=TARGET_JOB,
        status=QUEUED,
        progress=0,
        attempts=0,
        step=0,
        lease_until=0,
        next_run_at=0,
        version=1,
        correlation_id=correlation_id,
        created_at=now,
        updated_at=now,
    )
    job.save(condition=Job.job_id.does_not_exist())
    try:
        enqueue(job, 0)
    except Exception:
        job.update(
            actions=[
                Job.status.set(FAILED),
                Job.error.set({"title": "The job could not be queued.", "status": 503}),
                Job.version.add(1),
            ]
        )
        raise
    return job


def find_job(user_id: str, job_id: str) -> Job | None:
    if not is_id(job_id):
        return None
    try:
        return Job.get(user_id, job_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_job(user_id: str, job_id: str) -> Job:
    job = find_job(user_id, job_id)
    if job is None:
        raise NotFound(_NOT_FOUND)
    return job


def participant_done(user_id: str, job_id: str, participant: str) -> bool:
    """Public: `participant` (a service's declaration name) reports its part of a job
    done, e.g. its share of an account deletion; False if the job is gone already."""
    try:
        Job(user_id, job_id).update(
            actions=[Job.participants.add({participant}), Job.updated_at.set(utcnow())],
            condition=Job.job_id.exists(),
        )
    except UpdateError as error:
        if condition_failed(error):
            logger().info("job gone; participant report dropped", extra={"jobId": job_id})
            return False
        raise
    return True


def jobs_of(user_id: str) -> Iterator[Job]:
    return Job.query(user_id, consistent_read=True)


def delete_jobs_of(user_id: str, keep: str | None = None) -> int:
    """Deletes the user's job records (but `keep`); how many."""
    removed = 0
    for job in jobs_of(user_id):
        if job.job_id != keep:
            job.delete()
            removed += 1
    return removed


def retention() -> timedelta:
    from .infra import RETENTION_DAYS

    return timedelta(days=RETENTION_DAYS.number())
