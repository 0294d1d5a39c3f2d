"""What the Jobs service owns: the job records, the job queue and its dead-letter queue,
and the manager function that runs the workers (core.registry).

The workers run inside the manager's function (dispatch is a call, not another Lambda), so
its role holds what the registered workers do; each grant below names its worker.
"""

from __future__ import annotations

from chalicelib.core.registry import Declaration, Function, Setting, Trigger
from chalicelib.core.resources import queue, table

TABLE = Setting("TANDEM_JOBS_TABLE", ref="JobsTable")
QUEUE_URL = Setting("TANDEM_JOBS_QUEUE_URL", ref="JobsQueue")
DLQ_URL = Setting("TANDEM_JOBS_DLQ_URL", ref="JobsDLQ")
# A failed run is retried after base * 2^(attempt - 1) seconds (SQS delays at most 900),
# at most MAX_ATTEMPTS runs per step; then the job fails and its message is dead-lettered.
RETRY_BASE_SECONDS = Setting("TANDEM_JOB_RETRY_BASE_SECONDS", default="2")
MAX_ATTEMPTS = Setting("TANDEM_JOB_MAX_ATTEMPTS", default="4")
# A finished job's record stays readable this long, then TTL removes it.
RETENTION_DAYS = Setting("TANDEM_JOB_RETENTION_DAYS", default="7")
# A run stops taking new work when less than this is left of its Lambda's time.
TIME_MARGIN = Setting("TANDEM_JOB_TIME_MARGIN_SECONDS", default="30")

RUNNER_TIMEOUT = 300

_RUNNER_ALLOW = {
    # The manager: claims, hands on and finishes jobs by conditional updates; the account
    # deletion removes the user's job records.
    "JobsTable": (
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ),
    "JobsQueue": ("sqs:SendMessage",),
    "JobsDLQ": ("sqs:SendMessage",),
    # The result's push: the realtime service's public push (its connections, the
    # websocket API's post-to-connection).
    "ConnectionsTable": ("dynamodb:DeleteItem", "dynamodb:Query"),
    "WebsocketAPI/connections": ("execute-api:ManageConnections",),
    # Worker account/export: the profile through the gatekeeper, the user's projects,
    # tasks and notes through those services' list functions, the document to the bucket.
    "ProfileGatekeeper": ("lambda:InvokeFunction",),
    "ProjectsTable": ("dynamodb:Query",),
    # (Notes' list asks Tasks which of the notes' links are deleted: BatchGetItem.)
    "TasksTable": ("dynamodb:BatchGetItem", "dynamodb:Query"),
    "TaskProjectsTable": ("dynamodb:BatchGetItem",),
    "NotesTable": ("dynamodb:Query",),
    "ExportsBucket/exports/*": (
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ),
    # Worker account/delete-user: publishes user-deleted, lists and deletes the user's
    # exports, deletes the Cognito user, and marks the user's tokens revoked.
    "AccountTopic": ("sns:Publish",),
    "ExportsBucket": ("s3:ListBucket", "s3:ListBucketMultipartUploads"),
    "UserPool": ("cognito-idp:AdminDeleteUser",),
    "RevocationsTable": ("dynamodb:PutItem",),
}

DECLARATION = Declaration(
    name="jobs",
    resources={
        # One record per job in its owner's partition; TTL removes finished ones.
        "JobsTable": table("jobs", ("userId", "jobId"), backups=False),
        # Visibility is 6x the runner's timeout. A message the runner cannot take (not a
        # job message) goes to the DLQ at once, with its reason.
        "JobsDLQ": queue("jobs-dlq"),
        "JobsQueue": queue("jobs", visibility=6 * RUNNER_TIMEOUT, dead_letters="JobsDLQ"),
    },
    functions={
        "run_jobs": Function(
            timeout=RUNNER_TIMEOUT,
            memory=512,
            trigger=Trigger("TANDEM_JOBS_QUEUE_ARN", "JobsQueue", "Arn"),
            batch_size=1,
            allow=_RUNNER_ALLOW,
        ),
    },
    router={
        "JobsTable": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        "JobsQueue": ("sqs:SendMessage",),
    },
    settings=(
        TABLE,
        QUEUE_URL,
        DLQ_URL,
        RETRY_BASE_SECONDS,
        MAX_ATTEMPTS,
        RETENTION_DAYS,
        TIME_MARGIN,
    ),
)
