"""Helpers for event tests: a probe queue on every topic, and fakes with AWS's interface."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import registry
from devstack.infra import Context


@dataclass
class Probe:
    """An SQS queue subscribed without a filter to every topic: sees everything published."""

    sqs: Any
    url: str

    @classmethod
    def attach(cls, session: Any, ctx: Context) -> Probe:
        sqs, sns = session.client("sqs"), session.client("sns")
        url = sqs.create_queue(QueueName="probe")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        topics = [
            logical_id
            for logical_id, resource in registry.resources().items()
            if resource["Type"] == "AWS::SNS::Topic"
        ]
        for topic in topics:
            sns.subscribe(
                TopicArn=ctx.names[topic],
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": "true"},
            )
        return cls(sqs, url)

    def drain(self) -> list[tuple[dict[str, Any], dict[str, str]]]:
        """Every message so far: (envelope, message attributes as name -> value)."""
        seen: list[tuple[dict[str, Any], dict[str, str]]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                attributes = {
                    k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                }
                seen.append((json.loads(message["Body"]), attributes))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def client_error(operation: str, code: str = "InternalError") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


@dataclass
class FlakySNS:
    """An SNS client whose first `failures` publishes fail, as a throttled SNS would."""

    real: Any
    failures: int
    calls: int = 0

    def publish(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise client_error("Publish", "Throttling")
        return self.real.publish(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@dataclass
class ThrottledDynamoDB:
    """A DynamoDB client that leaves the last `left_over` items of every `every`-th
    BatchWriteItem unprocessed (DynamoDB does that under throttling), and counts calls."""

    real: Any
    every: int
    left_over: int
    batch_write_calls: int = 0
    unprocessed_items: int = 0
    written_items: int = 0
    sizes: list[int] = field(default_factory=list)

    def batch_write_item(self, RequestItems: dict[str, list[Any]], **kwargs: Any) -> Any:
        self.batch_write_calls += 1
        ((table, requests),) = RequestItems.items()
        self.sizes.append(len(requests))
        if self.batch_write_calls % self.every == 0 and len(requests) > self.left_over:
            kept, left = requests[: -self.left_over], requests[-self.left_over :]
            self.real.batch_write_item(RequestItems={table: kept}, **kwargs)
            self.unprocessed_items += len(left)
            self.written_items += len(kept)
            return {"UnprocessedItems": {table: left}}
        self.written_items += len(requests)
        return self.real.batch_write_item(RequestItems=RequestItems, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def live_tasks_of(aws, stack, user, project_id):
    pages = (
        aws.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=stack.names["TasksTable"],
            KeyConditionExpression="userId = :u",
            FilterExpression="projectId = :p AND attribute_not_exists(deletedAt)",
            ExpressionAttributeValues={":u": {"S": user.sub}, ":p": {"S": project_id}},
            ConsistentRead=True,
        )
    )
    return [item for page in pages for item in page["Items"]]


def project_record(aws, stack, user, project_id):
    return (
        aws.client("dynamodb")
        .get_item(
            TableName=stack.names["TaskProjectsTable"],
            Key={"userId": {"S": user.sub}, "projectId": {"S": project_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
