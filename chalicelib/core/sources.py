"""Event-source ARNs for handler declarations.

Chalice needs them when the handlers are declared, so they are the only settings read at
import besides the user pool's. `chalice package` output is pointed at the template's own
resources by the merge template; tests and the local pump map each declared ARN back to
its env var (ARNS) and so to the resource provisioned for it.
"""

from __future__ import annotations

import os

_PLACEHOLDER = "arn:aws:{service}:us-east-1:123456789012:{resource}"
_STREAM = "table/tandem-{table}/stream/1970-01-01T00:00:00.000"

_DEFAULTS = {
    "TANDEM_PROJECTS_STREAM_ARN": ("dynamodb", _STREAM.format(table="projects")),
    "TANDEM_TASKS_STREAM_ARN": ("dynamodb", _STREAM.format(table="tasks")),
    "TANDEM_NOTES_STREAM_ARN": ("dynamodb", _STREAM.format(table="notes")),
    "TANDEM_PROJECT_UPSERTS_QUEUE_ARN": ("sqs", "tandem-tasks-project-upserts"),
    "TANDEM_PROJECT_DELETIONS_QUEUE_ARN": ("sqs", "tandem-tasks-project-deletions"),
    "TANDEM_REALTIME_QUEUE_ARN": ("sqs", "tandem-realtime-push"),
}

# env var -> the ARN the handler is declared with.
ARNS = {
    env: os.environ.get(env) or _PLACEHOLDER.format(service=service, resource=resource)
    for env, (service, resource) in _DEFAULTS.items()
}

PROJECTS_STREAM_ARN = ARNS["TANDEM_PROJECTS_STREAM_ARN"]
TASKS_STREAM_ARN = ARNS["TANDEM_TASKS_STREAM_ARN"]
NOTES_STREAM_ARN = ARNS["TANDEM_NOTES_STREAM_ARN"]
PROJECT_UPSERTS_QUEUE_ARN = ARNS["TANDEM_PROJECT_UPSERTS_QUEUE_ARN"]
PROJECT_DELETIONS_QUEUE_ARN = ARNS["TANDEM_PROJECT_DELETIONS_QUEUE_ARN"]
REALTIME_QUEUE_ARN = ARNS["TANDEM_REALTIME_QUEUE_ARN"]
