"""The Sync service's subscription to every project, task and note change: append it to
the owner's log, then hand it on to the realtime push. A push is a device's cue to sync,
so it must never overtake the entry it announces (docs/sync.md, Realtime)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.consumer import consume
from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger
from chalicelib.core.wiring import aws

from .infra import CHANGES_DLQ_URL, PUSH_QUEUE_URL
from .log import Appended, append, change_of


def log_changes(event: Mapping[str, Any]) -> dict[str, Any]:
    def handle(envelope: Envelope, record: SQSRecord) -> None:
        change = change_of(envelope)
        if change is None:
            raise PoisonMessage(f"{envelope.type} does not belong on this queue")
        outcome = append(change)
        logger().info(
            "change logged", extra={"eventId": envelope.event_id, "outcome": outcome.value}
        )
        if outcome is not Appended.STALE:
            # Also for a repeat: its first hand-on may be what failed. A newer version's
            # push is on its way already, so a stale one is not sent.
            _hand_on(record.body or "", envelope)

    return consume(event, handle, CHANGES_DLQ_URL.value)


def _hand_on(body: str, envelope: Envelope) -> None:
    """The event as it came (the realtime consumer reads envelopes), to the push queue."""
    aws("sqs").send_message(
        QueueUrl=PUSH_QUEUE_URL.required(),
        MessageBody=body,
        MessageAttributes=envelope.message_attributes(),
    )
