"""The task manager: takes one job message, claims its job by a conditional update (so a
duplicate message never runs a job twice, nor two runs at once), dispatches it to its
worker by (service, action), and sends the outcome to the target: the job record and a
push `{"type": "changed", "resource": "job", "id", "version"}` to the owner.

A run holds a lease (`runId`, `leaseUntil` = the end of its Lambda's time). A message may
claim its job only for its own step, when no lease is held and no retry is pending.
- The worker finishes: succeeded, with its result.
- It hands on (`Continue`): the next step's message, after its delay (bounded work per
  invocation; the export of 10,000 tasks takes several).
- It raises: retried after base * 2^(attempt - 1) s, up to MAX_ATTEMPTS runs of the step;
  then, or at once for a PermanentFailure, the job fails with a problem and its message
  goes to the dead-letter queue with the reason.
- A run that died (timeout, crash) leaves its lease to expire; SQS redelivers the message
  after the visibility timeout (longer than any lease), and that delivery may claim it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.core.batch import batch_response
from chalicelib.core.ids import new_id
from chalicelib.core.log import bind_correlation_id, logger
from chalicelib.core.models import condition_failed, utcnow
from chalicelib.core.observability import count
from chalicelib.core.problems import PROBLEM_TYPE_PREFIX
from chalicelib.core.wiring import aws

from . import service
from .infra import DLQ_URL, MAX_ATTEMPTS, RETRY_BASE_SECONDS
from .models import FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED, Job
from .workers import Continue, Done, JobRun, PermanentFailure, registry

Notify = Callable[[Job], None]
SecondsLeft = Callable[[], float]
MAX_DELAY = 900  # SQS's longest DelaySeconds


class PoisonJob(Exception):
    """A message that is not a job message of a known version."""


def _now() -> float:
    return time.time()


def _parse(body: str) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except ValueError:
        raise PoisonJob("body is not JSON") from None
    if not isinstance(raw, dict) or raw.get("schemaVersion") != service.MESSAGE_VERSION:
        raise PoisonJob(f"not a job message of version {service.MESSAGE_VERSION}")
    fields = {"jobId": str, "userId": str, "service": str, "action": str, "step": int}
    for name, kind in fields.items():
        if not isinstance(raw.get(name), kind) or isinstance(raw.get(name), bool):
            raise PoisonJob(f"{name} is missing or not a {kind.__name__}")
    return raw


def dead_letter(body: str, reason: str) -> None:
    aws("sqs").send_message(
        QueueUrl=DLQ_URL.required(),
        MessageBody=body,
        MessageAttributes={"failureReason": {"DataType": "String", "StringValue": reason[:1000]}},
    )


def _problem(detail: str) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_PREFIX + "job-failed",
        "title": "Job failed",
        "status": 500,
        "detail": detail,
    }


def _update(job: Job, actions: list[Any], condition: Any) -> bool:
    """One conditional update that bumps the version; False if the condition failed."""
    try:
        job.update(
            actions=[*actions, Job.version.add(1), Job.updated_at.set(utcnow())],
            condition=condition,
        )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _claim(job: Job, step: int, seconds_left: SecondsLeft) -> str | None:
    """Takes the job for this run; its run id, or None if this message may not run it."""
    run_id = new_id()
    now = _now()
    claimed = _update(
        job,
        [
            Job.status.set(RUNNING),
            Job.run_id.set(run_id),
            Job.lease_until.set(int(now + seconds_left()) + 5),
            Job.attempts.add(1),
        ],
        (Job.step == step)
        & Job.status.is_in(QUEUED, RUNNING)
        & (Job.lease_until < int(now))
        & (Job.next_run_at <= int(now)),
    )
    return run_id if claimed else None


def _fail(job: Job, run_id: str, detail: str, body: str, reason: str, notify: Notify) -> None:
    if _update(
        job,
        [
            Job.status.set(FAILED),
            Job.error.set(_problem(detail)),
            Job.lease_until.set(0),
            Job.checkpoint.remove(),
            Job.expires_at.set(utcnow() + service.retention()),
        ],
        Job.run_id == run_id,
    ):
        count("JobOutcomes", action=job.action, outcome="failed")
        dead_letter(body, reason)
        _notify(job, notify)


def _notify(job: Job, notify: Notify) -> None:
    try:
        job.refresh(consistent_read=True)
        notify(job)
    except Exception:  # a lost push is a hint the client misses, never a failed job
        logger().exception("job push failed", extra={"jobId": job.job_id})


def _not_claimed(job: Job, raw: Mapping[str, Any], body: str) -> None:
    """Why a message could not claim its job, and what that means."""
    log = logger()
    step = raw["step"]
    extra = {"jobId": job.job_id, "step": step, "status": job.status}
    if job.status in FINISHED or job.step > step:
        log.info("duplicate or stale job message dropped", extra=extra)
        return
    if job.step < step:
        raise RuntimeError("the job's record has not reached this step yet")  # redelivered
    now = _now()
    if job.lease_until >= now:
        log.info("job is running in another run; duplicate dropped", extra=extra)
        return
    # A retry is pending: this is an early duplicate, or the retry's own message was not
    # sent. Re-arm it for the remaining time; claiming lets only one of them run.
    remaining = int(job.next_run_at - now) + 1
    service.enqueue(job, step, min(MAX_DELAY, max(0, remaining)))
    log.info("job retry pending; message re-armed", extra={**extra, "delay": remaining})


def run_message(body: str, seconds_left: SecondsLeft, notify: Notify) -> None:
    log = logger()
    try:
        raw = _parse(body)
    except PoisonJob as poison:
        log.error("poison job message dead-lettered", extra={"reason": str(poison)})
        dead_letter(body, str(poison))
        return
    bind_correlation_id(str(raw.get("correlationId") or new_id()))
    try:
        job = Job.get(raw["userId"], raw["jobId"], consistent_read=True)
    except DoesNotExist:
        log.info("job message for a job that is gone dropped", extra={"jobId": raw["jobId"]})
        return
    step = raw["step"]
    run_id = _claim(job, step, seconds_left)
    if run_id is None:
        job.refresh(consistent_read=True)
        if job.status == RUNNING and job.step == step + 1 and job.lease_until < _now():
            # The previous run handed on but its message was not sent: send it now.
            service.enqueue(job, int(job.step))
            return
        _not_claimed(job, raw, body)
        return
    job.refresh(consistent_read=True)
    _notify(job, notify)
    attempt = int(job.attempts)
    extra = {"jobId": job.job_id, "step": step, "attempt": attempt, "type": job.type}
    max_attempts = MAX_ATTEMPTS.number()
    if attempt > max_attempts:  # runs that died without reporting (timeouts)
        _fail(job, run_id, "The job ran out of attempts.", body, "attempts exhausted", notify)
        return
    worker = registry().workers.get((job.service, job.action))
    if worker is None:
        reason = f"no worker for ({job.service}, {job.action})"
        log.error("job has no worker", extra=extra)
        _fail(job, run_id, "The job cannot be run.", body, reason, notify)
        return
    run = JobRun(
        user_id=job.user_id,
        job_id=job.job_id,
        job_type=job.type,
        data=job.data or {},
        checkpoint=job.checkpoint,
        step=step,
        attempt=attempt,
        correlation_id=job.correlation_id,
        seconds_left=seconds_left,
        participants=frozenset(job.participants or ()),
    )
    try:
        outcome = worker(run)
    except PermanentFailure as failure:
        log.error("job failed permanently", extra={**extra, "reason": str(failure)})
        _fail(job, run_id, str(failure), body, f"permanent failure: {failure}", notify)
        return
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        log.exception("job run failed", extra=extra)
        if attempt >= max_attempts:
            detail = f"The job failed after {attempt} attempts."
            _fail(job, run_id, detail, body, f"attempts exhausted; last: {reason}", notify)
            return
        _retry(job, run_id, step, attempt, reason, notify)
        return
    if isinstance(outcome, Done):
        _finish(job, run_id, outcome, notify)
    else:
        _hand_on(job, run_id, step, outcome, notify)
    log.info("job run", extra={**extra, "outcome": type(outcome).__name__})


def _retry(job: Job, run_id: str, step: int, attempt: int, reason: str, notify: Notify) -> None:
    base = RETRY_BASE_SECONDS.number()
    delay = min(MAX_DELAY, base * 2 ** (attempt - 1) + random.randint(0, base))  # noqa: S311
    if _update(
        job,
        [
            Job.lease_until.set(0),
            Job.next_run_at.set(int(_now()) + delay),
            Job.error.set(_problem(f"Attempt {attempt} failed; retrying.")),
        ],
        Job.run_id == run_id,
    ):
        logger().info("job retry scheduled", extra={"jobId": job.job_id, "delay": delay})
        service.enqueue(job, step, delay)
        _notify(job, notify)
    del reason


def _hand_on(job: Job, run_id: str, step: int, outcome: Continue, notify: Notify) -> None:
    if _update(
        job,
        [
            Job.step.set(step + 1),
            Job.checkpoint.set(dict(outcome.checkpoint)),
            Job.progress.set(max(0, min(99, outcome.progress))),
            Job.attempts.set(0),
            Job.lease_until.set(0),
            Job.next_run_at.set(int(_now()) + outcome.delay),
            Job.error.remove(),
        ],
        Job.run_id == run_id,
    ):
        service.enqueue(job, step + 1, outcome.delay)
        _notify(job, notify)


def _finish(job: Job, run_id: str, outcome: Done, notify: Notify) -> None:
    if outcome.forget:
        count("JobOutcomes", action=job.action, outcome="succeeded")
        return  # the worker removed the record (and everything else of the user)
    if _update(
        job,
        [
            Job.status.set(SUCCEEDED),
            Job.result.set(dict(outcome.result or {})),
            Job.progress.set(100),
            Job.lease_until.set(0),
            Job.checkpoint.remove(),
            Job.error.remove(),
            Job.expires_at.set(utcnow() + service.retention()),
        ],
        Job.run_id == run_id,
    ):
        count("JobOutcomes", action=job.action, outcome="succeeded")
        _notify(job, notify)


def run_jobs(event: Mapping[str, Any], seconds_left: SecondsLeft, notify: Notify) -> dict[str, Any]:
    """The queue's batch (of one): a record whose handling raised is reported failed, so
    SQS redelivers it; everything the manager decided is reported done."""

    def handle(record: SQSRecord) -> None:
        run_message(record.body or "", seconds_left, notify)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=dict(event), record_handler=handle, processor=processor
    )
    # Raises instead where the mapping would ignore batchItemFailures (core.batch).
    failed = [str(entry["itemIdentifier"]) for entry in response.get("batchItemFailures", [])]
    return batch_response(failed, len(event.get("Records") or []))
