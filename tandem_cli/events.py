"""`events tail`: the live event stream, through a queue of the tail's own subscribed to
every declared topic (raw delivery, as the services' queues), removed when it stops."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .target import Target, declared

LONG_POLL = 5


@contextmanager
def tail_queue(target: Target, type_prefix: str | None) -> Iterator[tuple[str, list[str]]]:
    """A fresh queue subscribed to every topic (only `type_prefix`'s event types if given);
    yields (queue URL, topic logical ids) and removes queue and subscriptions after."""
    sqs, sns = target.client("sqs"), target.client("sns")
    topics = {logical: target.physical(logical) for logical in declared("AWS::SNS::Topic")}
    name = f"{target.stack}-tail-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "3600"})[
        "QueueUrl"
    ]
    subscriptions: list[str] = []
    try:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": sorted(topics.values())}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        attributes = {"RawMessageDelivery": "true"}
        if type_prefix:
            attributes["FilterPolicy"] = json.dumps({"eventType": [{"prefix": type_prefix}]})
        for topic_arn in topics.values():
            answer = sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=arn,
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )
            subscriptions.append(answer["SubscriptionArn"])
        yield url, sorted(topics)
    finally:
        for subscription in subscriptions:
            sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)


def tail(
    target: Target,
    on_event: Callable[[dict[str, Any]], None],
    type_prefix: str | None = None,
    count: int | None = None,
    seconds: float | None = None,
    on_ready: Callable[[list[str]], None] | None = None,
) -> int:
    """Calls `on_event` with each envelope until `count` arrived or `seconds` passed
    (neither: until interrupted); the number seen."""
    seen = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    with tail_queue(target, type_prefix) as (url, topics):
        if on_ready:
            on_ready(topics)
        sqs = target.client("sqs")
        while count is None or seen < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            wait = LONG_POLL if left is None else max(0, min(LONG_POLL, int(left)))
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            if not messages and wait == 0:
                time.sleep(0.2)
            for message in messages:
                try:
                    envelope = json.loads(message["Body"])
                except ValueError:
                    envelope = {"type": "(not JSON)", "body": message["Body"]}
                on_event(envelope)
                seen += 1
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
    return seen


def line(envelope: dict[str, Any]) -> str:
    """One event on one line: when, what, about which object, in which request."""
    subject = envelope.get("subject") or {}
    return " ".join(
        str(part)
        for part in (
            envelope.get("occurredAt", "-"),
            envelope.get("type", "?"),
            f"{subject.get('id', '-')}@v{subject.get('version', '?')}",
            f"user={subject.get('userId', '-')}",
            f"correlation={envelope.get('correlationId', '-')}",
        )
    )
