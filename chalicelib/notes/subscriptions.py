"""The Notes service's subscription to the deletions of what notes link to
(project-deleted, task-deleted): the unlink cascade, in bounded rounds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.consumer import cascade_round, consume, hand_on_cascade
from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger

from . import infra
from .cascade import Link, unlink_notes

# The deletions notes hear of, and the link each one clears.
UNLINKED_BY: dict[str, Link] = {"project-deleted": "projectId", "task-deleted": "taskId"}
CASCADE = "unlink"  # its rounds' message attributes: unlinkRound, unlinkSweep


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
        logger().info(
            "unlink round",
            extra={
                "eventId": envelope.event_id,
                "round": cascade_round(record, CASCADE),
                "unlinked": outcome.unlinked,
                "finished": outcome.finished,
            },
        )
        hand_on_cascade(
            envelope,
            record,
            infra.UNLINKS_QUEUE_URL.value,
            CASCADE,
            finished=outcome.finished,
            size=outcome.unlinked,
            sweep_delay=sweep_delay,
        )

    return consume(event, unlink, infra.UNLINKS_DLQ_URL.value)
