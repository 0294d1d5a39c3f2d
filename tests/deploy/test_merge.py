"""The merge-template builder on small hand-made inputs: what it refuses, and how it
derives what it derives. The packaged app is tested in test_template.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deploy.functions import overrides_for, sentinel
from deploy.merge import MergeBuilder
from deploy.policies import arn_of
from deploy.template import PackagingError

INFRA: dict[str, Any] = {
    "Resources": {
        "ThingsTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "GlobalSecondaryIndexes": [{"IndexName": "byOwner"}],
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            },
        },
        "ThingsTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "ThingsDLQ": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "UserPool": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
    }
}
DEPLOY: dict[str, Any] = {"Resources": {"AlertsTopic": {"Type": "AWS::SNS::Topic"}}}
STREAM_SENTINEL = sentinel("ThingsTable", "StreamArn")
RESOURCE_ENV = {"THINGS_TABLE": "ThingsTable"}
IMPORT_ENV = {"THINGS_STREAM_ARN": ("ThingsTable", "StreamArn"), "POOL_ARN": ("UserPool", "Arn")}


def plain_template(*, with_stream: bool = True) -> dict[str, Any]:
    """What `chalice package` emits for an API and one stream handler, the handler's
    stream being the sentinel the app read from its environment."""
    resources: dict[str, Any] = {
        "ApiHandlerRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": []}},
        "APIHandler": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Role": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]},
                "Environment": {"Variables": {"TANDEM_STAGE": "dev"}},
            },
        },
        "RestAPI": {
            "Type": "AWS::Serverless::Api",
            "Properties": {
                "DefinitionBody": {
                    "securityDefinitions": {
                        "Pool": {
                            "x-amazon-apigateway-authorizer": {
                                "providerARNs": ["arn:aws:x::1:y", sentinel("UserPool", "Arn")]
                            }
                        }
                    }
                }
            },
        },
    }
    if with_stream:
        resources["PublishRole"] = {"Type": "AWS::IAM::Role", "Properties": {"Policies": []}}
        resources["Publish"] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Role": {"Fn::GetAtt": ["PublishRole", "Arn"]},
                "Events": {
                    "PublishDynamodbEventSource": {
                        "Type": "DynamoDB",
                        "Properties": {"Stream": STREAM_SENTINEL, "BatchSize": 100},
                    }
                },
            },
        }
    return {"Resources": resources}


TABLE: dict[str, Any] = {
    "api_handler": {"allow": {"ThingsTable/index/byOwner": ["dynamodb:Query"]}},
    "publish": {"on_failure": "ThingsDLQ", "allow": {"ThingsTopic": ["sns:Publish"]}},
}


def build(table: dict[str, Any], plain: dict[str, Any] | None = None) -> dict[str, Any]:
    plain = plain or plain_template()
    infra = copy.deepcopy(INFRA)
    return MergeBuilder(plain, "prod", infra, DEPLOY, table, RESOURCE_ENV, IMPORT_ENV).build()


def test_a_stream_handler_gets_its_source_options_alarm_and_permissions() -> None:
    merge = build(TABLE)["Resources"]
    stream = merge["Publish"]["Properties"]["Events"]["PublishDynamodbEventSource"]["Properties"]
    assert stream == {
        "Stream": {"Fn::GetAtt": ["ThingsTable", "StreamArn"]},
        "MaximumRetryAttempts": 5,
        "BisectBatchOnFunctionError": True,
        "ParallelizationFactor": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["ThingsDLQ", "Arn"]}}},
    }
    statements = merge["PublishRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [(s["Sid"], s["Action"], s["Resource"]) for s in statements] == [
        (
            "OwnLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            {"Fn::GetAtt": ["PublishLogGroup", "Arn"]},
        ),
        ("Tracing", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
        ("ThingsTopic", ["sns:Publish"], {"Ref": "ThingsTopic"}),
        (
            "PublishDynamodbEventSourceStream",
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            {"Fn::GetAtt": ["ThingsTable", "StreamArn"]},
        ),
        (
            "PublishDynamodbEventSourceOnFailure",
            ["sqs:SendMessage"],
            {"Fn::GetAtt": ["ThingsDLQ", "Arn"]},
        ),
    ]
    assert {"PublishIteratorAgeAlarm", "ThingsDLQDepthAlarm"} <= set(merge)
    assert "APIHandlerIteratorAgeAlarm" not in merge
    assert merge["PublishLogGroup"]["Properties"]["RetentionInDays"] == 90  # prod


def test_sentinels_in_lists_replace_the_whole_list() -> None:
    merge = build(TABLE)["Resources"]
    body = merge["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["Pool"]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == ["arn:aws:x::1:y", {"Fn::GetAtt": ["UserPool", "Arn"]}]
    assert "UNAUTHORIZED" in body["x-amazon-apigateway-gateway-responses"]


def test_overrides_carry_only_what_changed() -> None:
    node = {"a": {"b": "keep", "c": STREAM_SENTINEL}, "d": ["x"], "e": 1}
    target = {"Fn::GetAtt": ["ThingsTable", "StreamArn"]}
    assert overrides_for(node, {STREAM_SENTINEL: target}) == {"a": {"c": target}}


def test_environment_is_refs() -> None:
    merge = build(TABLE)["Resources"]
    variables = merge["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables == {"THINGS_TABLE": {"Ref": "ThingsTable"}}


def test_a_function_without_an_entry_is_refused() -> None:
    with pytest.raises(PackagingError, match=r"no entry .* Publish \(role PublishRole\)"):
        build({"api_handler": {}})


def test_an_entry_without_a_function_is_refused() -> None:
    with pytest.raises(PackagingError, match="lacks"):
        build({**TABLE, "gone": {}})


def test_a_stream_handler_without_on_failure_is_refused() -> None:
    with pytest.raises(PackagingError, match="on_failure"):
        build({**TABLE, "publish": {"allow": {"ThingsTopic": ["sns:Publish"]}}})


def test_on_failure_without_a_stream_is_refused() -> None:
    with pytest.raises(PackagingError, match="no stream"):
        build({"api_handler": {"on_failure": "ThingsDLQ"}}, plain_template(with_stream=False))


def test_resource_star_is_refused_for_scoped_actions() -> None:
    table = {**TABLE, "api_handler": {"allow": {"*": ["dynamodb:GetItem"]}}}
    with pytest.raises(PackagingError, match="Resource"):
        build(table)
    allowed = {**TABLE, "api_handler": {"allow": {"*": ["xray:PutTraceSegments"]}}}
    statements = build(allowed)["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]
    assert statements["PolicyDocument"]["Statement"][1]["Resource"] == "*"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("NoSuchTable", "no resource"),
        ("ThingsTable/index/byNothing", "no index"),
        ("ThingsTopic/stream", "no sub-resources"),
        ("ThingsTable/byOwner", "no index"),
    ],
)
def test_references_must_name_real_resources(ref: str, message: str) -> None:
    with pytest.raises(PackagingError, match=message):
        arn_of(ref, INFRA["Resources"])


def test_reference_forms() -> None:
    resources = INFRA["Resources"]
    assert arn_of("ThingsTable", resources) == {"Fn::GetAtt": ["ThingsTable", "Arn"]}
    assert arn_of("ThingsTopic", resources) == {"Ref": "ThingsTopic"}
    assert arn_of("ThingsTable/stream", resources) == {"Fn::GetAtt": ["ThingsTable", "StreamArn"]}
    assert arn_of("ThingsTable/index/byOwner", resources) == {
        "Fn::Sub": "${ThingsTable.Arn}/index/byOwner"
    }


def test_only_deployable_stages() -> None:
    with pytest.raises(PackagingError, match="stage"):
        MergeBuilder(plain_template(), "local", INFRA, DEPLOY, TABLE, RESOURCE_ENV, IMPORT_ENV)


WEBSOCKET: dict[str, Any] = {
    "WebsocketAPI": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {}},
    "WebsocketAPIStage": {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {"ApiId": {"Ref": "WebsocketAPI"}, "StageName": "ws"},
    },
}


def test_websocket_connections_are_its_own_stages_post_only() -> None:
    resources = {**INFRA["Resources"], **WEBSOCKET}
    assert arn_of("WebsocketAPI/connections", resources) == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        "${WebsocketAPI}/ws/POST/@connections/*"
    }
    for ref in ("WebsocketAPI", "WebsocketAPI/stages", "WebsocketAPI/connections/x"):
        with pytest.raises(PackagingError, match="connections"):
            arn_of(ref, resources)
    without_stage = {**INFRA["Resources"], "WebsocketAPI": WEBSOCKET["WebsocketAPI"]}
    with pytest.raises(PackagingError, match="one stage"):
        arn_of("WebsocketAPI/connections", without_stage)


def test_functions_learn_the_websocket_api_and_its_stage() -> None:
    plain = plain_template()
    plain["Resources"].update(copy.deepcopy(WEBSOCKET))
    merged = build(TABLE, plain)
    variables = merged["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["TANDEM_WEBSOCKET_API_ID"] == {"Ref": "WebsocketAPI"}
    assert variables["TANDEM_WEBSOCKET_STAGE"] == "ws"
    # Without a websocket API there is nothing to name.
    variables = build(TABLE)["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "TANDEM_WEBSOCKET_API_ID" not in variables
