"""Notes triggers: the handlers of its stream and queues (their Lambda functions are
declared in infra.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, DynamoDBEvent

from chalicelib.core.publisher import publish_changes

from .events import NOTE_CHANGES
from .infra import DECLARATION

bp = Blueprint(__name__)


@bp.on_dynamodb_record(**DECLARATION.stream_trigger("publish_note_changes"))
def publish_note_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """Trigger: the notes table's stream -> the notes topic."""
    return publish_changes(event.to_dict()["Records"], NOTE_CHANGES)
