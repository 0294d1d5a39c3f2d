"""The Notes service's subscription to the deletions of what notes link to
(project-deleted, task-deleted): the unlink cascade, in bounded rounds."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.consumer import consume, string_attribute
from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger
from chalicelib.core.wiring import aws

from . import infra
from .cascade import Link, unlink_notes

# The deletions notes hear of, and the link each one clears.
UNLINKED_BY: dict[str, Link] = {"project-deleted": "projectId", "task-deleted": "taskId"}
ROUND_ATTRIBUTE = "unlinkRound"
SWEEP_ATTRIBUTE = "unlinkSweep"


def on_reference_deleted(
    event: Mapping[str, Any], seconds_left: Callable[[], float]
) -> dict[str, Any]:
    max_notes = infra.UNLINK_MAX_NOTES.number()
    time_margin = infra.UNLINK_TIME_MARGIN.number()
    sweep_delay = infra.UNLINK_SWEEP_DELAY.number()

    def unlink(envelope: Envelope, record: SQSRecord) -> None:
        link = UNLINKED_BY.get(envelope.type)
        if link is None:
            raise PoisonMessage(f"{envelope.type} does not belong on this queue")
        subject = envelope.subject
        outcome = unlink_notes(
            subject.user_id,
            link,
            subject.id,
            envelope.correlation_id,
            max_notes=max_notes,
            seconds_left=seconds_left,
            time_margin=time_margin,
        )
        unlink_round = int(string_attribute(record, ROUND_ATTRIBUTE) or "0")
        was_sweep = string_attribute(record, SWEEP_ATTRIBUTE) == "true"
        logger().info(
            "unlink round",
            extra={
                "eventId": envelope.event_id,
                "round": unlink_round,
                "unlinked": outcome.unlinked,
                "finished": outcome.finished,
            },
        )
        if not outcome.finished:
            _hand_on(envelope, unlink_round + 1, sweep=False, delay=0)
        elif not was_sweep or outcome.unlinked:
            # The index is eventually consistent: a note linked just before the deletion
            # may not be visible yet. One delayed sweep catches it.
            _hand_on(envelope, unlink_round + 1, sweep=True, delay=sweep_delay)

    return consume(event, unlink, infra.UNLINKS_DLQ_URL.value)


def _hand_on(envelope: Envelope, unlink_round: int, *, sweep: bool, delay: int) -> None:
    attributes = envelope.message_attributes()
    attributes[ROUND_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(unlink_round)}
    if sweep:
        attributes[SWEEP_ATTRIBUTE] = {"DataType": "String", "StringValue": "true"}
    aws("sqs").send_message(
        QueueUrl=infra.UNLINKS_QUEUE_URL.value(),
        MessageBody=json.dumps(envelope.to_json()),
        MessageAttributes=attributes,
        DelaySeconds=delay,
    )
