"""Realtime triggers: the push of project, task and note changes to their owner's
connections."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Blueprint, SQSEvent

from chalicelib.core.consumer import consume
from chalicelib.core.events import Envelope

from . import service
from .infra import DECLARATION, PUSH_DLQ_URL

bp = Blueprint(__name__)


@bp.on_sqs_message(**DECLARATION.queue_trigger("push_changes"))
def push_changes(event: SQSEvent) -> dict[str, Any]:
    """project-* / task-* / note-* events -> `{"type": "changed"|"deleted", "resource", "id",
    "version"}` to every connection of the event's owner; gone connections are dropped."""

    def send(connection_id: str, body: str) -> None:
        service.websocket_api(bp.current_app).send(connection_id, body)

    def handle(envelope: Envelope, record: SQSRecord) -> None:
        service.push_change(envelope, send)

    return consume(event.to_dict(), handle, PUSH_DLQ_URL.value)
