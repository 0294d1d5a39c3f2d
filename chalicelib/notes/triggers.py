"""Notes triggers: the handlers of its stream and queues (their Lambda functions are
declared in infra.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, DynamoDBEvent, SQSEvent

from chalicelib.core.publisher import publish_changes

from . import subscriptions
from .events import NOTE_CHANGES
from .infra import DECLARATION

bp = Blueprint(__name__)


@bp.on_dynamodb_record(**DECLARATION.stream_trigger("publish_note_changes"))
def publish_note_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """Trigger: the notes table's stream -> the notes topic."""
    return publish_changes(event.to_dict()["Records"], NOTE_CHANGES)


@bp.on_sqs_message(**DECLARATION.queue_trigger("on_reference_deleted"))
def on_reference_deleted(event: SQSEvent) -> dict[str, Any]:
    """project-deleted / task-deleted -> unlink the notes linked to it, in bounded rounds."""
    context: Any = event.context
    return subscriptions.on_reference_deleted(
        event.to_dict(), lambda: context.get_remaining_time_in_millis() / 1000
    )
