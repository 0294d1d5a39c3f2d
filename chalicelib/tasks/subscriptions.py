"""The Tasks service's subscriptions to project events: project-created/updated keep its
record of projects; project-deleted tombstones the record and cascades to the tasks."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.consumer import consume, string_attribute
from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger
from chalicelib.core.wiring import aws

from . import infra, service
from .cascade import tombstone_project_tasks

UPSERT_TYPES = frozenset({"project-created", "project-updated"})
ROUND_ATTRIBUTE = "cascadeRound"
SWEEP_ATTRIBUTE = "cascadeSweep"


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
        cascade_round = int(string_attribute(record, ROUND_ATTRIBUTE) or "0")
        was_sweep = string_attribute(record, SWEEP_ATTRIBUTE) == "true"
        logger().info(
            "cascade round",
            extra={
                "eventId": envelope.event_id,
                "round": cascade_round,
                "tombstoned": outcome.tombstoned,
                "writeCalls": outcome.write_calls,
                "finished": outcome.finished,
            },
        )
        if not outcome.finished:
            _hand_on(envelope, cascade_round + 1, sweep=False, delay=0)
        elif not was_sweep or outcome.tombstoned:
            # The project index is eventually consistent: a task committed just before the
            # tombstone may not be visible yet. One delayed sweep catches it.
            _hand_on(envelope, cascade_round + 1, sweep=True, delay=sweep_delay)

    return consume(event, cascade, infra.DELETIONS_DLQ_URL.value)


def _hand_on(envelope: Envelope, cascade_round: int, *, sweep: bool, delay: int) -> None:
    attributes = envelope.message_attributes()
    attributes[ROUND_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(cascade_round)}
    if sweep:
        attributes[SWEEP_ATTRIBUTE] = {"DataType": "String", "StringValue": "true"}
    aws("sqs").send_message(
        QueueUrl=infra.DELETIONS_QUEUE_URL.value(),
        MessageBody=json.dumps(envelope.to_json()),
        MessageAttributes=attributes,
        DelaySeconds=delay,
    )
