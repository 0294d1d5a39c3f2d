"""Sync triggers: the consumer that feeds the change log (its Lambda function is declared
in infra.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, SQSEvent

from . import subscriptions
from .infra import DECLARATION

bp = Blueprint(__name__)


@bp.on_sqs_message(**DECLARATION.queue_trigger("log_changes"))
def log_changes(event: SQSEvent) -> dict[str, Any]:
    """project-* / task-* / note-* events -> the owner's change log, then the push."""
    return subscriptions.log_changes(event.to_dict())
