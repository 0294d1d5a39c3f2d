"""The trigger pattern: a table's DynamoDB stream -> envelopes -> the service's topic.

Request handlers only write their own table; this turns each committed change into its
event, so a committed write is always published (at least once) and a failed one never.
Records are published in stream order. On the first failure the handler reports that
record as the batch's failure, so Lambda retries from it (bounded, bisecting, with an
on-failure destination) and never skips past it; where the mapping does not read that
answer, it fails the whole batch instead (core.batch).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pynamodb.models import Model

from .batch import batch_response
from .events import Envelope, Subject, event_id, resource_of_source
from .log import bind_correlation_id, logger
from .models import ChangeTracking
from .observability import count
from .wiring import aws

Image = Mapping[str, Any]


@dataclass(frozen=True)
class ChangeSource:
    """How one service's table items become events."""

    source: str  # the publishing service, by its declaration's name
    model: type[Model]
    id_attribute: str  # e.g. "projectId"
    dump: Callable[[Any], dict[str, Any]]
    topic_arn: Callable[[], str]


def _action(record: Mapping[str, Any]) -> str | None:
    """created/updated/deleted, or None for changes that are not domain events: the TTL
    purge of a tombstone, and writes that leave the version as it was."""
    name = record.get("eventName")
    change = record.get("dynamodb", {})
    new, old = change.get("NewImage"), change.get("OldImage")
    if name == "INSERT" and new is not None:
        return "deleted" if "deletedAt" in new else "created"
    if name == "MODIFY" and new is not None and old is not None:
        if new.get("version") == old.get("version"):
            return None
        if "deletedAt" in new:
            return None if "deletedAt" in old else "deleted"
        return "updated"
    return None  # REMOVE: only the TTL purge of a tombstone already published as deleted


def envelope_of(record: Mapping[str, Any], change_source: ChangeSource) -> Envelope | None:
    action = _action(record)
    if action is None:
        return None
    image = record["dynamodb"]["NewImage"]
    item = change_source.model.from_raw_data(dict(image))
    version = int(image["version"]["N"])
    resource_id = image[change_source.id_attribute]["S"]
    # Every published model carries ChangeTracking: the change happened at its updatedAt.
    occurred = cast(ChangeTracking, item).updated_at
    return Envelope(
        event_id=event_id(change_source.source, resource_id, version),
        type=f"{resource_of_source()[change_source.source]}-{action}",
        occurred_at=occurred,
        correlation_id=image.get("requestId", {}).get("S") or "unknown",
        source=change_source.source,
        subject=Subject(image["userId"]["S"], resource_id, version),
        data=change_source.dump(item),
    )


# SNS takes at most 256 KiB per message, its attributes included.
MAX_MESSAGE_BYTES = 256 * 1024 - 4 * 1024


def message_of(envelope: Envelope) -> str:
    """The envelope as JSON of at most MAX_MESSAGE_BYTES. A note may hold 400 KB of text,
    more than SNS carries: then its largest text fields leave `data`, named in
    `dataOmitted`, and a consumer that needs them reads the resource (docs/events.md)."""
    body = envelope.to_json()
    message = json.dumps(body, ensure_ascii=False)
    data = dict(body["data"])
    texts = sorted(
        (name for name, value in data.items() if isinstance(value, str)),
        key=lambda name: len(data[name].encode()),
    )
    omitted: list[str] = []
    while len(message.encode()) > MAX_MESSAGE_BYTES and texts:
        omitted.append(texts.pop())
        del data[omitted[-1]]
        message = json.dumps({**body, "data": data, "dataOmitted": omitted}, ensure_ascii=False)
    return message


def publish(envelope: Envelope, topic_arn: str) -> None:
    aws("sns").publish(
        TopicArn=topic_arn,
        Message=message_of(envelope),
        MessageAttributes=envelope.message_attributes(),
    )


def publish_changes(
    records: Sequence[Mapping[str, Any]], change_source: ChangeSource
) -> dict[str, Any]:
    """Publishes in order; returns Lambda's partial batch response (core.batch: raises
    where the mapping would not read it)."""
    topic_arn = change_source.topic_arn()
    published: Counter[str] = Counter()
    try:
        return _publish_in_order(records, change_source, topic_arn, published)
    finally:
        for event_type, number in published.items():
            count("EventsPublished", number, type=event_type)


def _publish_in_order(
    records: Sequence[Mapping[str, Any]],
    change_source: ChangeSource,
    topic_arn: str,
    published: Counter[str],
) -> dict[str, Any]:
    log = logger()
    for record in records:
        sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
        try:
            envelope = envelope_of(record, change_source)
            if envelope is None:
                continue
            bind_correlation_id(envelope.correlation_id)
            publish(envelope, topic_arn)
            published[envelope.type] += 1
            log.info("published", extra={"eventId": envelope.event_id, "type": envelope.type})
        except Exception:
            log.exception(
                "publish failed; the stream retries from this record",
                extra={"sequenceNumber": sequence},
            )
            return batch_response([sequence], len(records))
    return batch_response([], len(records))
