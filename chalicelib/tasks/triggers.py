"""Tasks triggers: the handlers of its stream and queues (their Lambda functions are
declared in infra.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, DynamoDBEvent, SQSEvent

from chalicelib.core.publisher import publish_changes

from . import subscriptions
from .events import TASK_CHANGES
from .infra import DECLARATION

bp = Blueprint(__name__)


@bp.on_dynamodb_record(**DECLARATION.stream_trigger("publish_task_changes"))
def publish_task_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """Trigger: the tasks table's stream -> the tasks topic."""
    return publish_changes(event.to_dict()["Records"], TASK_CHANGES)


@bp.on_sqs_message(**DECLARATION.queue_trigger("on_project_upserted"))
def on_project_upserted(event: SQSEvent) -> dict[str, Any]:
    """project-created / project-updated -> the Tasks service's record of the project."""
    return subscriptions.on_project_upserted(event.to_dict())


@bp.on_sqs_message(**DECLARATION.queue_trigger("on_project_deleted"))
def on_project_deleted(event: SQSEvent) -> dict[str, Any]:
    """project-deleted -> tombstone the record, then cascade in bounded rounds."""
    context: Any = event.context
    return subscriptions.on_project_deleted(
        event.to_dict(), lambda: context.get_remaining_time_in_millis() / 1000
    )
