"""Builders of the CloudFormation resources services declare (in their `infra.py`).

Each returns the resource as the template has it (long-form intrinsics), with Tandem's
defaults: pay-per-request tables with owner-first keys and TTL on `expiresAt`, queues that
keep messages 14 days, raw delivery with filter policies on the `eventType` attribute.
Names are `<stack>-<suffix>`, so each stage's resources are its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Resource = dict[str, Any]
Key = tuple[str, str | None]  # (hash key, range key or None)

FOURTEEN_DAYS = 14 * 24 * 3600  # SQS's longest retention


def stack_sub(suffix: str) -> dict[str, str]:
    return {"Fn::Sub": "${AWS::StackName}-" + suffix}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _key_schema(key: Key) -> list[dict[str, str]]:
    hash_key, range_key = key
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def table(
    suffix: str,
    key: Key,
    *,
    indexes: Mapping[str, tuple[Key, str]] | None = None,
    stream: bool = False,
    backups: bool = True,
    retain: bool = True,
) -> Resource:
    """A table; `indexes` are global, name -> (key, projection type). `retain` keeps the
    table when the stack goes; `backups` turns on point-in-time recovery; `stream` gives
    the NEW_AND_OLD_IMAGES stream a publisher reads."""
    indexes = indexes or {}
    names: list[str] = []
    for hash_key, range_key in [key, *(k for k, _ in indexes.values())]:
        for name in (hash_key, range_key):
            if name and name not in names:
                names.append(name)
    properties: Resource = {
        "TableName": stack_sub(suffix),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in names],
        "KeySchema": _key_schema(key),
    }
    if indexes:
        properties["GlobalSecondaryIndexes"] = [
            {
                "IndexName": name,
                "KeySchema": _key_schema(index_key),
                "Projection": {"ProjectionType": projection},
            }
            for name, (index_key, projection) in indexes.items()
        ]
    if stream:
        properties["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    if backups:
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    properties["TimeToLiveSpecification"] = {"AttributeName": "expiresAt", "Enabled": True}
    policy = "Retain" if retain else "Delete"
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": policy,
        "UpdateReplacePolicy": policy,
        "Properties": properties,
    }


def bucket(suffix: str, lifecycle_rules: Sequence[Resource], *, retain: bool = True) -> Resource:
    """A private, encrypted bucket, owner-enforced (no ACLs). Bucket names are global, so
    the account id joins the stack's name. `retain` keeps it when the stack goes."""
    policy = "Retain" if retain else "Delete"
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": policy,
        "UpdateReplacePolicy": policy,
        "Properties": {
            "BucketName": {"Fn::Sub": "${AWS::StackName}-" + suffix + "-${AWS::AccountId}"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LifecycleConfiguration": {"Rules": list(lifecycle_rules)},
        },
    }


def topic(suffix: str) -> Resource:
    return {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": stack_sub(suffix)}}


def queue(
    suffix: str,
    *,
    visibility: int | None = None,
    retention: int = FOURTEEN_DAYS,
    dead_letters: str | None = None,
    max_receives: int = 5,
) -> Resource:
    """A queue; `dead_letters` is the queue a message goes to after `max_receives`."""
    properties: Resource = {"QueueName": stack_sub(suffix)}
    if visibility is not None:
        properties["VisibilityTimeout"] = visibility
    properties["MessageRetentionPeriod"] = retention
    if dead_letters:
        properties["RedrivePolicy"] = {
            "deadLetterTargetArn": arn(dead_letters),
            "maxReceiveCount": max_receives,
        }
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def subscription(topic_id: str, queue_id: str, event_types: Sequence[Any]) -> Resource:
    """`queue_id` subscribed to `topic_id`, raw, for the event types given (an SNS filter
    policy's values: names, or {"prefix": ...})."""
    return {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": ref(topic_id),
            "Protocol": "sqs",
            "Endpoint": arn(queue_id),
            "RawMessageDelivery": True,
            "FilterPolicyScope": "MessageAttributes",
            "FilterPolicy": {"eventType": list(event_types)},
        },
    }


def queue_policy(queue_ids: Sequence[str], topic_ids: Sequence[str]) -> Resource:
    """Only these topics may deliver to these queues."""
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(q) for q in queue_ids],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": _one_or_list([arn(q) for q in queue_ids]),
                        "Condition": {
                            "ArnEquals": {
                                "aws:SourceArn": _one_or_list([ref(t) for t in topic_ids])
                            }
                        },
                    }
                ],
            },
        },
    }
