"""SNS -> SQS -> Lambda consumers: one record at a time, partial batch failures.

A record whose handler raises is reported failed, so SQS redelivers only it (where the
mapping reports batch item failures; elsewhere the batch fails whole, core.batch), and after
maxReceiveCount the queue's redrive policy moves it to the DLQ. A poison message (not a
valid envelope, unknown schemaVersion) can never succeed, so it is sent to the DLQ at
once with the reason as a message attribute, and does not fail its neighbours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .batch import batch_response
from .events import Envelope, PoisonMessage, parse_envelope
from .log import bind_correlation_id, logger
from .observability import count
from .wiring import aws

EnvelopeHandler = Callable[[Envelope, SQSRecord], None]


def _raw_attributes(record: SQSRecord) -> dict[str, dict[str, Any]]:
    """The record's message attributes as Lambda delivers them (name -> stringValue...)."""
    raw = record.raw_event.get("messageAttributes") or {}
    return {name: value for name, value in raw.items() if isinstance(value, dict)}


def string_attribute(record: SQSRecord, name: str) -> str | None:
    value = _raw_attributes(record).get(name, {}).get("stringValue")
    return value if isinstance(value, str) else None


def _dead_letter(record: SQSRecord, reason: str, dead_letter_url: str) -> None:
    attributes = {
        name: {"DataType": value.get("dataType", "String"), "StringValue": value["stringValue"]}
        for name, value in _raw_attributes(record).items()
        if isinstance(value.get("stringValue"), str)
    }
    attributes["failureReason"] = {"DataType": "String", "StringValue": reason[:1000]}
    aws("sqs").send_message(
        QueueUrl=dead_letter_url, MessageBody=record.body or "", MessageAttributes=attributes
    )


def _function_name() -> str:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local"


def consume(
    event: Mapping[str, Any],
    handle: EnvelopeHandler,
    dead_letter_url: Callable[[], str],
) -> dict[str, Any]:
    log = logger()

    def handle_record(record: SQSRecord) -> None:
        try:
            envelope = parse_envelope(record.body or "")
            bind_correlation_id(envelope.correlation_id)
            handle(envelope, record)
        except PoisonMessage as poison:
            log.error(
                "poison message sent to the dead-letter queue",
                extra={"messageId": record.message_id, "reason": str(poison)},
            )
            _dead_letter(record, str(poison), dead_letter_url())
            count("ConsumerFailures", kind="poison", function=_function_name())
        except Exception:
            # Reported as this record's failure: SQS redelivers it, then redrives it.
            log.exception(
                "record failed; it will be retried", extra={"messageId": record.message_id}
            )
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=dict(event), record_handler=handle_record, processor=processor
    )
    failed = [str(entry["itemIdentifier"]) for entry in response.get("batchItemFailures", [])]
    if failed:
        count("ConsumerFailures", len(failed), kind="retried", function=_function_name())
    return batch_response(failed, len(event.get("Records") or []))


def cascade_round(record: SQSRecord, name: str) -> int:
    """Which round of the cascade `name` this message is (0 for the event itself)."""
    return int(string_attribute(record, f"{name}Round") or "0")


def hand_on_cascade(
    envelope: Envelope,
    record: SQSRecord,
    queue_url: Callable[[], str],
    name: str,
    *,
    finished: bool,
    size: int,
    sweep_delay: int,
) -> None:
    """A cascade works on one event in bounded rounds, each a message on its own queue.
    A round that did not finish hands the event on at once. The round that finishes hands
    it on once more, delayed, as a sweep: an index is eventually consistent, so an item
    written just before the event may not have been visible to the query yet. A sweep
    that found nothing ends it. `size` is how many items this round did (the metric
    CascadeSize, core.observability)."""
    count("CascadeSize", size, cascade=name)
    did_work = size > 0
    was_sweep = string_attribute(record, f"{name}Sweep") == "true"
    if finished and was_sweep and not did_work:
        return
    attributes = envelope.message_attributes()
    attributes[f"{name}Round"] = {
        "DataType": "Number",
        "StringValue": str(cascade_round(record, name) + 1),
    }
    if finished:
        attributes[f"{name}Sweep"] = {"DataType": "String", "StringValue": "true"}
    aws("sqs").send_message(
        QueueUrl=queue_url(),
        MessageBody=json.dumps(envelope.to_json()),
        MessageAttributes=attributes,
        DelaySeconds=sweep_delay if finished else 0,
    )
