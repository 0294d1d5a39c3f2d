from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)

from chalicelib.core.models import SettingsTable, SharedConnectionModel

from .infra import TABLE

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
FINISHED = frozenset({SUCCEEDED, FAILED})


class Job(SharedConnectionModel):
    """A job, in its owner's partition. Every change is a conditional update that bumps
    `version`: the status only moves queued -> running -> succeeded | failed, and only the
    run that holds the lease (`run_id`) may hand the job on or finish it."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    job_id = UnicodeAttribute(range_key=True, attr_name="jobId")
    type = UnicodeAttribute()  # what the API shows: "export", "account-deletion"
    service = UnicodeAttribute()
    action = UnicodeAttribute()
    data = JSONAttribute(default=dict)
    target = UnicodeAttribute()  # where the result goes: "job" (this record and a push)
    status = UnicodeAttribute()
    progress = NumberAttribute(default=0)  # percent
    result = JSONAttribute(null=True)
    error = JSONAttribute(null=True)  # a problem object (RFC 9457)
    attempts = NumberAttribute(default=0)  # runs of the current step
    step = NumberAttribute(default=0)  # a worker's continuations so far
    checkpoint = JSONAttribute(null=True)  # the worker's state between steps
    lease_until = NumberAttribute(attr_name="leaseUntil", default=0)  # epoch seconds
    next_run_at = NumberAttribute(attr_name="nextRunAt", default=0)  # epoch seconds
    run_id = UnicodeAttribute(attr_name="runId", null=True)
    participants = UnicodeSetAttribute(null=True)  # services that reported their part done
    version = NumberAttribute(default=1)
    correlation_id = UnicodeAttribute(attr_name="correlationId")
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
