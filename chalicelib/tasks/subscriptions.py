"""The Tasks service's subscriptions to project events: project-created/updated keep its
record of projects; project-deleted tombstones the record and cascades to the tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.consumer import cascade_round, consume, hand_on_cascade
from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger

from . import infra, service
from .cascade import tombstone_project_tasks

UPSERT_TYPES = frozenset({"project-created", "project-updated"})
CASCADE = "cascade"  # its rounds' message attributes: cascadeRound, cascadeSweep


def _expect(envelope: Envelope, types: frozenset[str]) -> None:
    if envelope.type not in types:
        raise PoisonMessage(f"{envelope.type} does not belong on this queue")


def on_project_upserted(event: Mapping[str, Any]) -> dict[str, Any]:
    def remember(envelope: Envelope, record: SQSRecord) -> None:
        _expect(envelope, UPSERT_TYPES)
        subject = envelope.subject
        applied = service.remember_project(
            subject.user_id, subject.id, subject.version, envelope.event_id
        )
        logger().info(
            "project record upserted" if applied else "project event already superseded",
            extra={"eventId": envelope.event_id, "projectId": subject.id},
        )

    return consume(event, remember, infra.UPSERTS_DLQ_URL.value)


def on_project_deleted(
    event: Mapping[str, Any], seconds_left: Callable[[], float]
) -> dict[str, Any]:
    max_tasks = infra.CASCADE_MAX_TASKS.number()
    time_margin = infra.CASCADE_TIME_MARGIN.number()
    sweep_delay = infra.CASCADE_SWEEP_DELAY.number()

    def cascade(envelope: Envelope, record: SQSRecord) -> None:
        _expect(envelope, frozenset({"project-deleted"}))
        subject = envelope.subject
        # Tombstone first: from here on no task can be created in or moved into it.
        service.forget_project(subject.user_id, subject.id, subject.version, envelope.event_id)
        outcome = tombstone_project_tasks(
            subject.user_id,
            subject.id,
            envelope.correlation_id,
            max_tasks=max_tasks,
            seconds_left=seconds_left,
            time_margin=time_margin,
        )
        logger().info(
            "cascade round",
            extra={
                "eventId": envelope.event_id,
                "round": cascade_round(record, CASCADE),
                "tombstoned": outcome.tombstoned,
                "writeCalls": outcome.write_calls,
                "finished": outcome.finished,
            },
        )
        hand_on_cascade(
            envelope,
            record,
            infra.DELETIONS_QUEUE_URL.value,
            CASCADE,
            finished=outcome.finished,
            size=outcome.tombstoned,
            sweep_delay=sweep_delay,
        )

    return consume(event, cascade, infra.DELETIONS_DLQ_URL.value)
