"""The `tandem` CLI's deployed-stage target (against moto's CloudFormation) and its place
outside the Lambda package."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest

from chalicelib.core import registry
from tandem_cli.main import main
from tandem_cli.target import dead_letter_queues

ROOT = Path(__file__).resolve().parent.parent


def test_the_lambda_package_never_imports_the_cli():
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.split(".")[0] == "tandem_cli"], path


def test_every_dead_letter_queue_is_known_with_what_it_takes_failures_of():
    queues = dead_letter_queues()
    resources = registry.resources()
    for logical, source in queues.items():
        assert resources[logical]["Type"] == "AWS::SQS::Queue"
        if source is not None:
            policy = resources[source]["Properties"]["RedrivePolicy"]
            assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": [logical, "Arn"]}
    on_failure = {f.on_failure for f in registry.functions().values() if f.on_failure}
    assert on_failure <= set(queues)


@pytest.fixture
def deployed(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> str:
    """The stage's queues as a CloudFormation stack `tandem-dev` (moto creates queues;
    the CLI finds them through the stack's resources, as it does in AWS)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    queues = {
        logical: resource
        for logical, resource in registry.resources().items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": queues}
    aws.client("cloudformation").create_stack(
        StackName="tandem-dev", TemplateBody=json.dumps(template)
    )
    return "tandem-dev"


def test_a_deployed_stage_is_found_through_its_stack(capsys, deployed: str, aws: boto3.Session):
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName="tandem-dev-tasks-project-deletions-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody="{}",
        MessageAttributes={"failureReason": {"DataType": "String", "StringValue": "bad"}},
    )
    assert main(["--stage", "dev", "--region", "us-east-1", "dlq", "list", "--json"]) == 0
    rows = {row["dlq"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(dead_letter_queues())
    assert rows["TasksProjectDeletionsDLQ"]["visible"] == 1
    assert rows["TasksProjectDeletionsDLQ"]["failuresOf"] == "TasksProjectDeletionsQueue"

    args = ["--stage", "dev", "--region", "us-east-1", "dlq", "peek", "TasksProjectDeletionsDLQ"]
    assert main([*args, "--json"]) == 0
    (peeked,) = json.loads(capsys.readouterr().out)
    assert peeked["reason"] == "poison: bad"


def test_a_missing_stack_is_one_line(capsys, aws: boto3.Session):
    assert main(["--stage", "dev", "--region", "us-east-1", "--stack", "nope", "dlq", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tandem: ListStackResources: ValidationError: ")
    assert err.count("\n") == 1
