"""The `user-deleted` event (docs/events.md): the account topic's one event type."""

from __future__ import annotations

import json
from datetime import datetime

from chalicelib.core.events import Envelope, Subject, event_id
from chalicelib.core.registry import declarations
from chalicelib.core.schema import Timestamp
from chalicelib.core.wiring import aws

from .infra import DECLARATION, TOPIC_ARN

USER_DELETED = "user-deleted"
TOPIC = "AccountTopic"


def user_deleted(
    user_id: str, job_id: str, requested_at: datetime, correlation_id: str
) -> Envelope:
    """Version 1: a user is deleted once (a new account never has the old `sub`)."""
    return Envelope(
        event_id=event_id(DECLARATION.name, user_id, 1),
        type=USER_DELETED,
        occurred_at=requested_at,
        correlation_id=correlation_id,
        source=DECLARATION.name,
        subject=Subject(user_id, user_id, 1),
        data={
            "jobId": job_id,
            "requestedAt": Timestamp()._serialize(requested_at, None, None),
        },
    )


def publish(envelope: Envelope) -> None:
    aws("sns").publish(
        TopicArn=TOPIC_ARN.required(),
        Message=json.dumps(envelope.to_json()),
        MessageAttributes=envelope.message_attributes(),
    )


def participants() -> frozenset[str]:
    """The services that subscribe to user-deleted: each reports its part done."""
    found: set[str] = set()
    for declaration in declarations():
        for resource in declaration.resources.values():
            props = resource.get("Properties", {})
            if resource.get("Type") != "AWS::SNS::Subscription":
                continue
            if props.get("TopicArn") != {"Ref": TOPIC}:
                continue
            if USER_DELETED in props.get("FilterPolicy", {}).get("eventType", []):
                found.add(declaration.name)
    return frozenset(found)
