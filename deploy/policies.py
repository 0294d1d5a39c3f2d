"""Each function's IAM policy: the statements its declaration allows, on the exact ARNs of
the resources named, plus what its wiring implies."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.core import registry

from .template import PackagingError, get_att

# The only actions a role may have on Resource "*": AWS scopes them to no resource.
STAR_ACTIONS = frozenset(
    {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"}
)
OWN_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# Every function is traced (core.observability): sending its segments to X-Ray.
TRACING_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
QUEUE_TRIGGER_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
# As AWS documents for a Lambda reading a DynamoDB stream, on the stream's ARN.
STREAM_TRIGGER_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
ON_FAILURE_ACTIONS = ("sqs:SendMessage",)
# Resource types whose Ref is their ARN; every other type is referred to by GetAtt Arn.
_REF_IS_ARN = frozenset({"AWS::SNS::Topic"})


def arn_of(ref: str, resources: Mapping[str, Any]) -> Any:
    """The ARN expression of a resource reference of a function's `allow`."""
    if ref == "*":
        return "*"
    logical_id, _, rest = ref.partition("/")
    resource = resources.get(logical_id)
    if resource is None:
        raise PackagingError(f"{ref}: no resource {logical_id} is declared")
    rtype = resource["Type"]
    if rtype == "AWS::ApiGatewayV2::Api":  # <Api>/connections: posting to its websockets
        if rest != "connections":
            raise PackagingError(
                f"{ref}: a websocket API is referred to as {logical_id}/connections"
            )
        stage = websocket_stage(logical_id, resources)
        return {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
            f"${{{logical_id}}}/{stage}/POST/@connections/*"
        }
    if not rest:
        return {"Ref": logical_id} if rtype in _REF_IS_ARN else get_att(logical_id)
    if rtype == "AWS::S3::Bucket":  # objects: <Bucket>/* or <Bucket>/<prefix>/*
        return {"Fn::Sub": f"${{{logical_id}.Arn}}/{rest}"}
    if rtype != "AWS::DynamoDB::Table":
        raise PackagingError(f"{ref}: a {rtype} has no sub-resources")
    props = resource.get("Properties", {})
    if rest == "stream":
        if "StreamSpecification" not in props:
            raise PackagingError(f"{ref}: {logical_id} has no stream")
        return get_att(logical_id, "StreamArn")
    kind, _, index = rest.partition("/")
    indexes = [
        gsi["IndexName"]
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        for gsi in props.get(key, [])
    ]
    if kind != "index" or index not in indexes:
        raise PackagingError(f"{ref}: {logical_id} has no index {index!r} ({indexes})")
    return {"Fn::Sub": f"${{{logical_id}.Arn}}/{rest}"}


def websocket_stage(api_id: str, resources: Mapping[str, Any]) -> str:
    """The stage name of the websocket API `api_id` (Chalice makes exactly one)."""
    stages = [
        resource["Properties"]["StageName"]
        for resource in resources.values()
        if resource.get("Type") == "AWS::ApiGatewayV2::Stage"
        and resource.get("Properties", {}).get("ApiId") == {"Ref": api_id}
    ]
    if len(stages) != 1 or not isinstance(stages[0], str):
        raise PackagingError(f"{api_id}: expected one stage with a literal name, not {stages}")
    return stages[0]


def sid(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))


def statement(sid_text: str, actions: Iterable[str], resource: Any) -> dict[str, Any]:
    return {
        "Sid": sid(sid_text),
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": resource,
    }


def functions_table() -> dict[str, dict[str, Any]]:
    """Each declared function's permissions: {"allow": {ref: [actions]}, "on_failure"}."""
    table: dict[str, dict[str, Any]] = {}
    for name, function in registry.functions().items():
        spec: dict[str, Any] = {"allow": {ref: list(a) for ref, a in function.allow.items()}}
        if function.on_failure is not None:
            spec["on_failure"] = function.on_failure
        table[name] = spec
    return table
