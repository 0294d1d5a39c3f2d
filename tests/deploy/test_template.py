"""The packaged template (`make package`, stage dev): valid, complete and least-privilege.

EXPECTED_STATEMENTS is this test's own copy of every function's permissions. It is kept
apart from the services' declarations (chalicelib/*/infra.py) on purpose: granting a
permission means changing both.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import registry
from deploy.alarms import ALERTS_TOPIC
from deploy.functions import LOG_RETENTION_DAYS
from deploy.package import Package
from deploy.policies import STAR_ACTIONS

from .conftest import STAGE

# function logical id -> "actions... resource" lines. A resource is written as the
# intrinsic names it: X (Ref X), X.Attr (GetAtt), X.Arn/suffix (Sub "${X.Arn}/suffix").
_LOGS = "logs:CreateLogStream logs:PutLogEvents"
# X-Ray has no resource-level permissions for these: the one documented Resource "*".
_TRACING = "xray:PutTelemetryRecords xray:PutTraceSegments *"
_STREAM = (
    "dynamodb:DescribeStream dynamodb:GetRecords dynamodb:GetShardIterator dynamodb:ListStreams"
)
_QUEUE = "sqs:DeleteMessage sqs:GetQueueAttributes sqs:ReceiveMessage"
# API Gateway's post-to-connection on the websocket API's own stage, and nothing else.
_POST_TO_CONNECTIONS = (
    "arn:AWS::Partition:execute-api:AWS::Region:AWS::AccountId:WebsocketAPI/api/POST/@connections/*"
)
_EXPORTS = "ExportsBucket.Arn/exports/*"
EXPECTED_STATEMENTS = {
    "APIHandler": f"""
        {_LOGS} APIHandlerLogGroup.Arn
        {_TRACING}
        dynamodb:BatchGetItem dynamodb:GetItem dynamodb:PutItem ProjectsTable.Arn
        dynamodb:UpdateItem ProjectsTable.Arn
        dynamodb:Query ProjectsTable.Arn/index/live
        dynamodb:BatchGetItem dynamodb:GetItem dynamodb:PutItem TasksTable.Arn
        dynamodb:ConditionCheckItem TasksTable.Arn
        dynamodb:Query TasksTable.Arn/index/live
        dynamodb:Query TasksTable.Arn/index/byProject
        dynamodb:Query TasksTable.Arn/index/byStatus
        dynamodb:Query TasksTable.Arn/index/byCompletion
        dynamodb:BatchGetItem dynamodb:ConditionCheckItem TaskProjectsTable.Arn
        dynamodb:PutItem TaskProjectsTable.Arn
        dynamodb:BatchGetItem dynamodb:GetItem dynamodb:PutItem NotesTable.Arn
        dynamodb:Query NotesTable.Arn/index/live
        dynamodb:Query NotesTable.Arn/index/byProject
        dynamodb:Query NotesTable.Arn/index/byTask
        dynamodb:DeleteItem dynamodb:PutItem dynamodb:Query NoteTagsTable.Arn
        dynamodb:DeleteItem dynamodb:GetItem dynamodb:PutItem IdempotencyTable.Arn
        lambda:InvokeFunction ProfileGatekeeper.Arn
        dynamodb:BatchGetItem dynamodb:GetItem dynamodb:PutItem dynamodb:Query SyncTable.Arn
        dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem JobsTable.Arn
        sqs:SendMessage JobsQueue.Arn
        s3:GetObject ExportsBucket.Arn/exports/*
        dynamodb:GetItem dynamodb:PutItem RevocationsTable.Arn
    """,
    "LogChanges": f"""
        {_LOGS} LogChangesLogGroup.Arn
        {_TRACING}
        {_QUEUE} SyncChangesQueue.Arn
        dynamodb:BatchGetItem dynamodb:DeleteItem dynamodb:PutItem dynamodb:UpdateItem SyncTable.Arn
        sqs:SendMessage RealtimePushQueue.Arn
        sqs:SendMessage SyncChangesDLQ.Arn
    """,
    # The task manager, and the workers it runs: the export and the account deletion.
    "RunJobs": f"""
        {_LOGS} RunJobsLogGroup.Arn
        {_TRACING}
        {_QUEUE} JobsQueue.Arn
        dynamodb:DeleteItem dynamodb:GetItem dynamodb:Query dynamodb:UpdateItem JobsTable.Arn
        sqs:SendMessage JobsQueue.Arn
        sqs:SendMessage JobsDLQ.Arn
        dynamodb:DeleteItem dynamodb:Query ConnectionsTable.Arn
        execute-api:ManageConnections {_POST_TO_CONNECTIONS}
        lambda:InvokeFunction ProfileGatekeeper.Arn
        dynamodb:Query ProjectsTable.Arn
        dynamodb:BatchGetItem dynamodb:Query TasksTable.Arn
        dynamodb:BatchGetItem TaskProjectsTable.Arn
        dynamodb:Query NotesTable.Arn
        s3:AbortMultipartUpload s3:DeleteObject s3:GetObject s3:PutObject {_EXPORTS}
        sns:Publish AccountTopic
        s3:ListBucket s3:ListBucketMultipartUploads ExportsBucket.Arn
        cognito-idp:AdminDeleteUser UserPool.Arn
        dynamodb:PutItem RevocationsTable.Arn
    """,
    # The gatekeeper: the only role on the profile table; it appends to the audit trail.
    "ProfileGatekeeper": f"""
        {_LOGS} ProfileGatekeeperLogGroup.Arn
        {_TRACING}
        dynamodb:DeleteItem dynamodb:GetItem dynamodb:PutItem ProfilesTable.Arn
        dynamodb:PutItem ProfileAuditTable.Arn
    """,
    "PublishProjectChanges": f"""
        {_LOGS} PublishProjectChangesLogGroup.Arn
        {_TRACING}
        {_STREAM} ProjectsTable.StreamArn
        sns:Publish ProjectsTopic
        sqs:SendMessage ProjectsPublisherDLQ.Arn
    """,
    "PublishTaskChanges": f"""
        {_LOGS} PublishTaskChangesLogGroup.Arn
        {_TRACING}
        {_STREAM} TasksTable.StreamArn
        sns:Publish TasksTopic
        sqs:SendMessage TasksPublisherDLQ.Arn
    """,
    "PublishNoteChanges": f"""
        {_LOGS} PublishNoteChangesLogGroup.Arn
        {_TRACING}
        {_STREAM} NotesTable.StreamArn
        sns:Publish NotesTopic
        sqs:SendMessage NotesPublisherDLQ.Arn
    """,
    "OnProjectUpserted": f"""
        {_LOGS} OnProjectUpsertedLogGroup.Arn
        {_TRACING}
        {_QUEUE} TasksProjectUpsertsQueue.Arn
        dynamodb:PutItem TaskProjectsTable.Arn
        sqs:SendMessage TasksProjectUpsertsDLQ.Arn
    """,
    "OnProjectDeleted": f"""
        {_LOGS} OnProjectDeletedLogGroup.Arn
        {_TRACING}
        {_QUEUE} TasksProjectDeletionsQueue.Arn
        dynamodb:PutItem TaskProjectsTable.Arn
        dynamodb:Query TasksTable.Arn/index/byProject
        dynamodb:BatchWriteItem TasksTable.Arn
        sqs:SendMessage TasksProjectDeletionsQueue.Arn
        sqs:SendMessage TasksProjectDeletionsDLQ.Arn
    """,
    "OnReferenceDeleted": f"""
        {_LOGS} OnReferenceDeletedLogGroup.Arn
        {_TRACING}
        {_QUEUE} NotesUnlinksQueue.Arn
        dynamodb:Query NotesTable.Arn/index/byProject
        dynamodb:Query NotesTable.Arn/index/byTask
        dynamodb:UpdateItem NotesTable.Arn
        sqs:SendMessage NotesUnlinksQueue.Arn
        sqs:SendMessage NotesUnlinksDLQ.Arn
    """,
    "WebsocketConnect": f"""
        {_LOGS} WebsocketConnectLogGroup.Arn
        {_TRACING}
        dynamodb:PutItem ConnectionsTable.Arn
        dynamodb:GetItem RevocationsTable.Arn
    """,
    "WebsocketDisconnect": f"""
        {_LOGS} WebsocketDisconnectLogGroup.Arn
        {_TRACING}
        dynamodb:Query ConnectionsTable.Arn/index/byConnection
        dynamodb:DeleteItem ConnectionsTable.Arn
    """,
    "WebsocketMessage": f"""
        {_LOGS} WebsocketMessageLogGroup.Arn
        {_TRACING}
        execute-api:ManageConnections {_POST_TO_CONNECTIONS}
    """,
    "PushChanges": f"""
        {_LOGS} PushChangesLogGroup.Arn
        {_TRACING}
        {_QUEUE} RealtimePushQueue.Arn
        dynamodb:DeleteItem dynamodb:Query ConnectionsTable.Arn
        execute-api:ManageConnections {_POST_TO_CONNECTIONS}
        sqs:SendMessage RealtimePushDLQ.Arn
    """,
    # Each service's share of an account deletion: its user's items, erased.
    "EraseProjectsOfUser": f"""
        {_LOGS} EraseProjectsOfUserLogGroup.Arn
        {_TRACING}
        {_QUEUE} ProjectsUserDeletionsQueue.Arn
        dynamodb:BatchWriteItem dynamodb:Query ProjectsTable.Arn
        sqs:SendMessage ProjectsUserDeletionsQueue.Arn
        sqs:SendMessage ProjectsUserDeletionsDLQ.Arn
        dynamodb:UpdateItem JobsTable.Arn
    """,
    "EraseTasksOfUser": f"""
        {_LOGS} EraseTasksOfUserLogGroup.Arn
        {_TRACING}
        {_QUEUE} TasksUserDeletionsQueue.Arn
        dynamodb:BatchWriteItem dynamodb:Query TasksTable.Arn
        dynamodb:BatchWriteItem dynamodb:Query TaskProjectsTable.Arn
        sqs:SendMessage TasksUserDeletionsQueue.Arn
        sqs:SendMessage TasksUserDeletionsDLQ.Arn
        dynamodb:UpdateItem JobsTable.Arn
    """,
    "EraseNotesOfUser": f"""
        {_LOGS} EraseNotesOfUserLogGroup.Arn
        {_TRACING}
        {_QUEUE} NotesUserDeletionsQueue.Arn
        dynamodb:BatchWriteItem dynamodb:Query NotesTable.Arn
        dynamodb:BatchWriteItem dynamodb:Query NoteTagsTable.Arn
        sqs:SendMessage NotesUserDeletionsQueue.Arn
        sqs:SendMessage NotesUserDeletionsDLQ.Arn
        dynamodb:UpdateItem JobsTable.Arn
    """,
    "EraseSyncOfUser": f"""
        {_LOGS} EraseSyncOfUserLogGroup.Arn
        {_TRACING}
        {_QUEUE} SyncUserDeletionsQueue.Arn
        dynamodb:BatchWriteItem dynamodb:Query SyncTable.Arn
        sqs:SendMessage SyncUserDeletionsQueue.Arn
        sqs:SendMessage SyncUserDeletionsDLQ.Arn
        dynamodb:UpdateItem JobsTable.Arn
    """,
    "EraseRealtimeOfUser": f"""
        {_LOGS} EraseRealtimeOfUserLogGroup.Arn
        {_TRACING}
        {_QUEUE} RealtimeUserDeletionsQueue.Arn
        dynamodb:BatchWriteItem dynamodb:Query ConnectionsTable.Arn
        sqs:SendMessage RealtimeUserDeletionsQueue.Arn
        sqs:SendMessage RealtimeUserDeletionsDLQ.Arn
        dynamodb:UpdateItem JobsTable.Arn
    """,
}

# Data-plane actions only: no Scan, nothing that creates, changes or deletes a table.
_DATA_PLANE = """GetItem PutItem UpdateItem DeleteItem Query BatchGetItem BatchWriteItem
    ConditionCheckItem DescribeStream GetRecords GetShardIterator ListStreams"""
ALLOWED_DYNAMODB = {f"dynamodb:{name}" for name in _DATA_PLANE.split()}


def expected(function: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for line in EXPECTED_STATEMENTS[function].strip().splitlines():
        *actions, resource = line.split()
        pairs.update((action, resource) for action in actions)
    return pairs


# ---- reading the template -------------------------------------------------------------


def resources_of(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of(template, "AWS::Serverless::Function")


def name_of(expression: Any) -> str:
    """The resource an intrinsic names, as written in EXPECTED_STATEMENTS. A literal
    string (an ARN typed into the template) fails here, except "*"."""
    if expression == "*":
        return "*"
    if isinstance(expression, dict) and len(expression) == 1:
        ((kind, arg),) = expression.items()
        if kind == "Ref":
            return str(arg)
        if kind == "Fn::GetAtt":
            return ".".join(arg)
        if kind == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}]+)\}", r"\1", arg)
    raise AssertionError(f"resource is not a reference to the template: {expression!r}")


def role_of(function: dict[str, Any]) -> str:
    role = function["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"}, role
    assert role["Fn::GetAtt"][1] == "Arn", role
    return str(role["Fn::GetAtt"][0])


def statements_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role_id]["Properties"]["Policies"]
    assert len(policies) == 1, f"{role_id} has {len(policies)} inline policies"
    statements: list[dict[str, Any]] = policies[0]["PolicyDocument"]["Statement"]
    return statements


def granted(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for entry in statements:
        assert entry["Effect"] == "Allow"
        assert set(entry) <= {"Sid", "Effect", "Action", "Resource"}
        actions = entry["Action"] if isinstance(entry["Action"], list) else [entry["Action"]]
        targets = entry["Resource"] if isinstance(entry["Resource"], list) else [entry["Resource"]]
        pairs.update((action, name_of(target)) for action in actions for target in targets)
    return pairs


def all_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every role or policy in the template, functions' or not."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            policies = resource["Properties"].get("Policies", [])
            documents = [policy["PolicyDocument"] for policy in policies]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [resource["Properties"]["PolicyDocument"]]
        else:
            continue
        for document in documents:
            for entry in document["Statement"]:
                yield logical_id, entry


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def events_of(function: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    events = function["Properties"].get("Events") or {}
    return [event["Properties"] for event in events.values() if event["Type"] == event_type]


# ---- validity ---------------------------------------------------------------------------


def test_cfn_lint_reports_no_errors(packaged: Package) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(packaged.template_path)], capture_output=True, text=True, check=False
    )
    # Exit status bits: 1 lint failure, 2 errors, 4 warnings, 8 informational.
    assert result.returncode & 0b11 == 0, result.stdout + result.stderr


def test_the_zip_is_built(packaged: Package) -> None:
    assert packaged.zip_path.stat().st_size > 1_000_000
    assert packaged.template()["Resources"]["APIHandler"]["Properties"]["CodeUri"] == (
        "./deployment.zip"
    )


def test_every_data_resource_of_infra_is_in_the_template(template: dict[str, Any]) -> None:
    for logical_id, resource in registry.resources().items():
        assert template["Resources"].get(logical_id) == resource, logical_id


def test_no_literal_account_specific_values(template: dict[str, Any]) -> None:
    for text in strings(template):
        assert not re.search(r"arn:aws[\w-]*:[\w-]*:[\w-]*:\d{12}:", text), text
        assert "123456789012" not in text, text
        assert "tandem-packaging" not in text, text  # an unreplaced sentinel


# ---- IAM --------------------------------------------------------------------------------


def test_the_expected_table_covers_exactly_the_functions(template: dict[str, Any]) -> None:
    assert set(functions(template)) == set(EXPECTED_STATEMENTS)


@pytest.mark.parametrize("function", sorted(EXPECTED_STATEMENTS))
def test_function_statements_are_exactly_the_expected_ones(
    template: dict[str, Any], function: str
) -> None:
    role_id = role_of(functions(template)[function])
    assert granted(statements_of(template, role_id)) == expected(function)


def test_every_function_has_a_role_of_its_own(template: dict[str, Any]) -> None:
    roles = [role_of(function) for function in functions(template).values()]
    assert len(set(roles)) == len(roles)
    for role_id in roles:
        role = template["Resources"][role_id]
        assert role["Type"] == "AWS::IAM::Role"
        assert set(role["Properties"]) == {"AssumeRolePolicyDocument", "Policies"}
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert trust["Action"] == "sts:AssumeRole"
        sids = [entry["Sid"] for entry in statements_of(template, role_id)]
        assert len(set(sids)) == len(sids)
    # No role beyond the functions' (Chalice's shared DefaultRole would be one).
    assert set(resources_of(template, "AWS::IAM::Role")) == set(roles)


def test_no_scan_admin_or_wildcard_actions(template: dict[str, Any]) -> None:
    for logical_id, entry in all_statements(template):
        actions = entry["Action"] if isinstance(entry["Action"], list) else [entry["Action"]]
        for action in actions:
            assert "*" not in action, (logical_id, action)
            assert not action.startswith("iam:"), (logical_id, action)
            if action.startswith("dynamodb:"):
                assert action in ALLOWED_DYNAMODB, (logical_id, action)


def test_resource_star_only_where_aws_scopes_nothing(template: dict[str, Any]) -> None:
    for logical_id, entry in all_statements(template):
        targets = entry["Resource"] if isinstance(entry["Resource"], list) else [entry["Resource"]]
        if "*" in targets:
            actions = entry["Action"] if isinstance(entry["Action"], list) else [entry["Action"]]
            assert set(actions) <= STAR_ACTIONS, (logical_id, actions)


def test_actions_exist_in_iam(template: dict[str, Any]) -> None:
    """Against cfn-lint's copy of the IAM service reference: a misspelt action would be
    silently useless."""
    import cfnlint

    reference = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    services = json.loads(reference.read_text())
    for logical_id, entry in all_statements(template):
        actions = entry["Action"] if isinstance(entry["Action"], list) else [entry["Action"]]
        for action in actions:
            service, _, name = action.partition(":")
            assert name.lower() in services[service]["Actions"], (logical_id, action)


def test_logs_only_on_the_functions_own_log_group(template: dict[str, Any]) -> None:
    for logical_id, function in functions(template).items():
        for action, resource in granted(statements_of(template, role_of(function))):
            if action.startswith("logs:"):
                assert resource == f"{logical_id}LogGroup.Arn", (logical_id, action)


def test_only_stream_publishers_publish_to_topics(template: dict[str, Any]) -> None:
    for logical_id, function in functions(template).items():
        pairs = granted(statements_of(template, role_of(function)))
        topics = {resource for action, resource in pairs if action.startswith("sns:")}
        streams = [event["Stream"] for event in events_of(function, "DynamoDB")]
        if logical_id == "RunJobs":
            # user-deleted is no table's change: the account deletion job publishes it.
            assert topics == {"AccountTopic"}, topics
            continue
        if not streams:
            assert not topics, logical_id
            continue
        # A publisher publishes to its own service's topic only: ProjectsTable -> ProjectsTopic.
        tables = {name_of(stream).removesuffix(".StreamArn") for stream in streams}
        assert topics <= {table.removesuffix("Table") + "Topic" for table in tables}, logical_id


# ---- the gatekeeper -------------------------------------------------------------------

# Actions that change or remove an existing item, or a table (and its items) as a whole.
_REWRITES = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:RestoreTableFromBackup",
    "dynamodb:RestoreTableToPointInTime",
    "dynamodb:ImportTable",
}
_GATEKEEPER_TABLES = ("ProfilesTable", "ProfileAuditTable")


def _touches(statement: dict[str, Any], logical_id: str) -> bool:
    targets = (
        statement["Resource"]
        if isinstance(statement["Resource"], list)
        else [statement["Resource"]]
    )
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    # "*" with only the unscoped actions (X-Ray) reaches no table.
    wildcard = not set(actions) <= STAR_ACTIONS
    return any(
        (wildcard if target == "*" else name_of(target).split(".")[0].split("/")[0] == logical_id)
        for target in targets
    )


def test_the_gatekeepers_tables_are_in_no_other_role(template: dict[str, Any]) -> None:
    gatekeeper_role = role_of(functions(template)["ProfileGatekeeper"])
    for role, entry in all_statements(template):
        for table in _GATEKEEPER_TABLES:
            if _touches(entry, table):
                assert role == gatekeeper_role, (role, table, entry)
    # The router reaches the profile only by invoking the gatekeeper.
    router = granted(statements_of(template, role_of(functions(template)["APIHandler"])))
    assert ("lambda:InvokeFunction", "ProfileGatekeeper.Arn") in router
    variables = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["TANDEM_PROFILE_GATEKEEPER"] == {"Ref": "ProfileGatekeeper"}


@pytest.mark.parametrize("table", _GATEKEEPER_TABLES[1:])
def test_no_role_may_update_or_delete_audit_records(template: dict[str, Any], table: str) -> None:
    roles = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"]
    assert roles
    for role, entry in all_statements(template):
        if not _touches(entry, table):
            continue
        actions = entry["Action"] if isinstance(entry["Action"], list) else [entry["Action"]]
        wildcards = [a for a in actions if "*" in a]
        assert not wildcards, (role, wildcards)
        assert not set(actions) & _REWRITES, (role, actions)
        # PutItem only, which the gatekeeper sends with a does-not-exist condition.
        assert set(actions) <= {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"}
    audit = template["Resources"][table]
    assert audit["DeletionPolicy"] == "Retain"
    assert audit["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


# ---- wiring -----------------------------------------------------------------------------


def test_environment_refers_to_the_templates_resources(template: dict[str, Any]) -> None:
    for logical_id, function in functions(template).items():
        variables = function["Properties"]["Environment"]["Variables"]
        for env, resource in registry.resource_env().items():
            assert variables.get(env) == {"Ref": resource}, (logical_id, env)
        for env, value in variables.items():
            if isinstance(value, str):
                assert not value.startswith("arn:"), (env, value)
                assert "tandem-" not in value, (env, value)
        assert variables["TANDEM_STAGE"] == STAGE


def test_the_websocket_api_is_wired_to_the_realtime_service(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["WebsocketAPI"]["Properties"]["ProtocolType"] == "WEBSOCKET"
    stage = resources["WebsocketAPIStage"]["Properties"]["StageName"]
    routes = {
        props["RouteKey"]: props["Target"]["Fn::Join"][1][1]["Ref"]
        for props in (
            r["Properties"] for r in resources_of(template, "AWS::ApiGatewayV2::Route").values()
        )
    }
    assert routes == {
        "$connect": "WebsocketConnectAPIIntegration",
        "$default": "WebsocketMessageAPIIntegration",
        "$disconnect": "WebsocketDisconnectAPIIntegration",
    }
    # The push is not a websocket handler: it learns where to post from its environment.
    variables = functions(template)["PushChanges"]["Properties"]["Environment"]["Variables"]
    assert variables["TANDEM_WEBSOCKET_API_ID"] == {"Ref": "WebsocketAPI"}
    assert variables["TANDEM_WEBSOCKET_STAGE"] == stage
    # And the $connect checks tokens against the template's own pool and app client.
    variables = functions(template)["WebsocketConnect"]["Properties"]["Environment"]["Variables"]
    assert variables["TANDEM_USER_POOL_ID"] == {"Ref": "UserPool"}
    assert variables["TANDEM_USER_POOL_CLIENT_ID"] == {"Ref": "UserPoolClient"}


def test_the_change_log_hears_every_project_task_and_note_event_and_realtime_none(
    template: dict[str, Any],
) -> None:
    """The push follows the change log (docs/sync.md): the log's queue hears the topics,
    and only the log's consumer sends to the push queue."""

    def subscriptions_of(queue: str) -> dict[str, Any]:
        return {
            name_of(props["TopicArn"]): props["FilterPolicy"]
            for props in (
                r["Properties"] for r in resources_of(template, "AWS::SNS::Subscription").values()
            )
            if props.get("Endpoint") == {"Fn::GetAtt": [queue, "Arn"]}
        }

    assert subscriptions_of("RealtimePushQueue") == {}
    assert subscriptions_of("SyncChangesQueue") == {
        "ProjectsTopic": {"eventType": [{"prefix": "project-"}]},
        "TasksTopic": {"eventType": [{"prefix": "task-"}]},
        "NotesTopic": {"eventType": [{"prefix": "note-"}]},
    }


def test_notes_unlinks_queue_hears_only_project_and_task_deletions(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    subscriptions = {
        name_of(props["TopicArn"]): props["FilterPolicy"]
        for props in (
            r["Properties"] for r in resources_of(template, "AWS::SNS::Subscription").values()
        )
        if props.get("Endpoint") == {"Fn::GetAtt": ["NotesUnlinksQueue", "Arn"]}
    }
    assert subscriptions == {
        "ProjectsTopic": {"eventType": ["project-deleted"]},
        "TasksTopic": {"eventType": ["task-deleted"]},
    }
    (policy,) = [
        r["Properties"]
        for r in resources_of(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "NotesUnlinksQueue"} in r["Properties"]["Queues"]
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(name_of(source) for source in sources) == ["ProjectsTopic", "TasksTopic"]
    queue = resources["NotesUnlinksQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["NotesUnlinksDLQ", "Arn"]
    }
    # Six times the consumer's timeout, as for every consumer's queue.
    timeout = functions(template)["OnReferenceDeleted"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] == 6 * timeout


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any]) -> None:
    log_groups = resources_of(template, "AWS::Logs::LogGroup")
    for logical_id, function in functions(template).items():
        name = function["Properties"]["FunctionName"]["Fn::Sub"]
        assert name.startswith("${AWS::StackName}-")
        log_group = log_groups[f"{logical_id}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
        assert log_group["RetentionInDays"] == LOG_RETENTION_DAYS[STAGE]


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in resources_of(template, "AWS::CloudWatch::Alarm").values():
        props = resource["Properties"]
        assert props["AlarmActions"] == [{"Ref": ALERTS_TOPIC}]
        found.append(props)
    return found


def _alarmed(template: dict[str, Any], metric: str) -> set[str]:
    return {
        name_of(dimension["Value"])
        for props in _alarms(template)
        if props["MetricName"] == metric
        for dimension in props["Dimensions"]
    }


def test_errors_and_throttles_alarm_per_function(template: dict[str, Any]) -> None:
    assert template["Resources"][ALERTS_TOPIC]["Type"] == "AWS::SNS::Topic"
    for metric in ("Errors", "Throttles"):
        assert _alarmed(template, metric) == set(functions(template)), metric


def test_iterator_age_alarm_per_stream_function(template: dict[str, Any]) -> None:
    readers = {k for k, f in functions(template).items() if events_of(f, "DynamoDB")}
    assert _alarmed(template, "IteratorAge") == readers


def test_depth_alarm_per_dead_letter_queue(template: dict[str, Any]) -> None:
    dead_letter = set()
    for queue in resources_of(template, "AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            dead_letter.add(name_of(redrive["deadLetterTargetArn"]).removesuffix(".Arn"))
    for function in functions(template).values():
        for stream in events_of(function, "DynamoDB"):
            destination = stream["DestinationConfig"]["OnFailure"]["Destination"]
            dead_letter.add(name_of(destination).removesuffix(".Arn"))
    alarmed = {
        name.removesuffix(".QueueName")
        for name in _alarmed(template, "ApproximateNumberOfMessagesVisible")
    }
    assert alarmed == dead_letter


def test_queue_mappings_report_partial_batch_failures(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    for function in functions(template).values():
        for mapping in events_of(function, "SQS"):
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert name_of(mapping["Queue"]).removesuffix(".Arn") in queues


def test_stream_mappings_retry_bisect_and_divert(template: dict[str, Any]) -> None:
    tables = resources_of(template, "AWS::DynamoDB::Table")
    queues = resources_of(template, "AWS::SQS::Queue")
    for function in functions(template).values():
        for mapping in events_of(function, "DynamoDB"):
            assert name_of(mapping["Stream"]).removesuffix(".StreamArn") in tables
            assert 0 < mapping["MaximumRetryAttempts"] <= 10
            assert mapping["BisectBatchOnFunctionError"] is True
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
            assert name_of(destination).removesuffix(".Arn") in queues


# ---- API Gateway ------------------------------------------------------------------------


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    (api,) = resources_of(template, "AWS::Serverless::Api").values()
    body: dict[str, Any] = api["Properties"]["DefinitionBody"]
    return body


def test_authorizer_trusts_the_templates_user_pool(template: dict[str, Any]) -> None:
    (pool,) = resources_of(template, "AWS::Cognito::UserPool")
    schemes = _definition(template)["securityDefinitions"].values()
    cognito = [s for s in schemes if s.get("x-amazon-apigateway-authtype") == "cognito_user_pools"]
    assert cognito
    for scheme in cognito:
        authorizer = scheme["x-amazon-apigateway-authorizer"]
        assert authorizer["providerARNs"] == [{"Fn::GetAtt": [pool, "Arn"]}]
    # The authorizer accepts any app client of the pool; the API handler pins its own.
    variables = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["TANDEM_USER_POOL_CLIENT_ID"] == {"Ref": "UserPoolClient"}


def test_gateway_responses_are_problem_json(template: dict[str, Any]) -> None:
    responses = _definition(template)["x-amazon-apigateway-gateway-responses"]
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for response_type, response in responses.items():
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        assert headers["gatewayresponse.header.X-Request-Id"] == "context.requestId"
        (body,) = response["responseTemplates"].values()
        # API Gateway puts its message in as a quoted JSON string.
        problem = json.loads(body.replace("$context.error.messageString", '"message"'))
        assert problem["type"].startswith("urn:problem-type:tandem:"), response_type
        assert problem["title"], response_type
        assert problem["detail"], response_type
    unauthorized = json.loads(responses["UNAUTHORIZED"]["responseTemplates"]["application/json"])
    assert unauthorized["status"] == 401
    assert responses["UNAUTHORIZED"]["responseParameters"][
        "gatewayresponse.header.WWW-Authenticate"
    ] == ("'Bearer'")
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"


def test_the_api_is_throttled_and_says_when_to_retry(template: dict[str, Any]) -> None:
    """Every route shares one rate and burst limit, set by stack parameters; API Gateway's
    429 over it is problem+json with Retry-After."""
    (api,) = resources_of(template, "AWS::Serverless::Api").values()
    assert api["Properties"]["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
        }
    ]
    parameters = template["Parameters"]
    assert parameters["ApiRateLimit"]["Type"] == parameters["ApiBurstLimit"]["Type"] == "Number"
    responses = _definition(template)["x-amazon-apigateway-gateway-responses"]
    for response_type in ("THROTTLED", "QUOTA_EXCEEDED"):
        response = responses[response_type]
        assert response["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"
        problem = json.loads(response["responseTemplates"]["application/json"])
        assert problem["status"] == 429


def test_the_api_describes_itself_in_the_package(template: dict[str, Any], packaged) -> None:
    """GET /openapi.json, /docs and its files are routes of the packaged API, without the
    authorizer; the zip carries apispec and the vendored Swagger UI the page loads."""
    import zipfile

    paths = _definition(template)["paths"]
    for path in ("/openapi.json", "/docs", "/docs/{asset}", "/health"):
        assert "security" not in paths[path]["get"], path
    assert paths["/tasks"]["get"]["security"]
    with zipfile.ZipFile(packaged.zip_path) as archive:
        names = set(archive.namelist())
    assert "chalicelib/meta/static/swagger-ui/swagger-ui-bundle.js" in names
    assert "chalicelib/meta/static/docs/index.html" in names
    assert "apispec/ext/marshmallow/__init__.py" in names or any(
        n.startswith("apispec/ext/marshmallow/") for n in names
    )
