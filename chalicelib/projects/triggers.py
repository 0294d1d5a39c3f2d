"""Projects triggers: the handlers of its stream and queues (their Lambda functions are
declared in infra.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, DynamoDBEvent

from chalicelib.core.publisher import publish_changes

from .events import PROJECT_CHANGES
from .infra import DECLARATION

bp = Blueprint(__name__)


@bp.on_dynamodb_record(**DECLARATION.stream_trigger("publish_project_changes"))
def publish_project_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """Trigger: the projects table's stream -> the projects topic."""
    return publish_changes(event.to_dict()["Records"], PROJECT_CHANGES)
