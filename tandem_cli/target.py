"""The stack a command works on: the local one (its `.tandem/local.json`) or a deployed
stage, reached with the user's own AWS credentials.

Both answer the same questions: a client for an AWS service, the physical name of a
declared resource (its logical id in the services' declarations), the API's URL, the
user pool, and "run this function now". Deployed, names come from the CloudFormation
stack's own resources and outputs, so a renamed stack or an extra stage needs nothing
but `--stage`/`--stack`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from chalicelib.core import registry
from devstack.schedule import scheduled_event


class CliError(Exception):
    """A problem the user can fix, said in one line."""


LOCAL_STACK = "tandem-local"
LOCAL_ACCOUNT = "123456789012"
ADMIN_TIMEOUT = 300


def declared(type_name: str) -> dict[str, dict[str, Any]]:
    """The declared resources of one CloudFormation type, by logical id."""
    return {
        logical: resource
        for logical, resource in registry.resources().items()
        if resource["Type"] == type_name
    }


def dead_letter_queues() -> dict[str, str | None]:
    """Every declared dead-letter queue -> the queue it takes failures of (its redrive
    source), or None for a stream function's on-failure destination (no source queue)."""
    queues = declared("AWS::SQS::Queue")
    found: dict[str, str | None] = {}
    for logical, resource in queues.items():
        policy = resource["Properties"].get("RedrivePolicy")
        if policy:
            found[policy["deadLetterTargetArn"]["Fn::GetAtt"][0]] = logical
    for function in registry.functions().values():
        if function.on_failure and function.on_failure not in found:
            found[function.on_failure] = None
    return dict(sorted(found.items()))


class Target:
    """What every command needs of a stack."""

    name: str
    region: str
    stack: str
    # SQS's StartMessageMoveTask (redrive); moto has none, so locally the CLI re-sends.
    moves_messages: bool = True

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def physical(self, logical_id: str) -> str:
        """A declared resource's `Ref`: a table's name, a queue's URL, a topic's ARN."""
        raise NotImplementedError

    def queue_arn(self, logical_id: str) -> str:
        url = self.physical(logical_id)
        answer = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(answer["Attributes"]["QueueArn"])

    @property
    def api_url(self) -> str:
        raise NotImplementedError

    @property
    def user_pool(self) -> tuple[str, str]:
        """(pool id, app client id)."""
        raise NotImplementedError

    def invoke(self, function: str, event: dict[str, Any] | None) -> Any:
        """Runs one of the app's functions now; None: a scheduled function's own event."""
        raise NotImplementedError


class LocalTarget(Target):
    """The running `make run` stack, found through its contract file."""

    moves_messages = False

    def __init__(self, state_dir: Path) -> None:
        self.name = "local"
        self.stack = LOCAL_STACK
        path = state_dir / "local.json"
        try:
            self.contract: dict[str, str] = json.loads(path.read_text())
        except FileNotFoundError:
            raise CliError(f"{path} does not exist: start the local stack (make run)") from None
        except ValueError:
            raise CliError(f"{path} is not JSON: restart the local stack") from None
        self.region = self.contract["region"]

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.contract["awsEndpoint"],
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 2}, account_id_endpoint_mode="disabled"),
        )

    def physical(self, logical_id: str) -> str:
        if logical_id == "UserPool":
            return self.contract["userPoolId"]
        resource = registry.resources().get(logical_id)
        if resource is None:
            raise CliError(f"no declared resource {logical_id}")
        kind, properties = resource["Type"], resource["Properties"]
        if kind == "AWS::DynamoDB::Table":
            return registry.stack_name(properties["TableName"], self.stack)
        if kind == "AWS::SNS::Topic":
            topic = registry.stack_name(properties["TopicName"], self.stack)
            return f"arn:aws:sns:{self.region}:{LOCAL_ACCOUNT}:{topic}"
        if kind == "AWS::SQS::Queue":
            name = registry.stack_name(properties["QueueName"], self.stack)
            return str(self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        raise CliError(f"{logical_id} is a {kind}, which has no name the CLI uses")

    @property
    def api_url(self) -> str:
        return self.contract["apiUrl"]

    @property
    def user_pool(self) -> tuple[str, str]:
        return self.contract["userPoolId"], self.contract["userPoolClientId"]

    def invoke(self, function: str, event: dict[str, Any] | None) -> Any:
        url = self.contract.get("adminUrl")
        if not url:
            raise CliError("the local stack has no admin endpoint (adminUrl in local.json)")
        body = None if event is None else json.dumps(event).encode()
        path = f"/invoke/{urllib.parse.quote(function, safe='')}"
        request = urllib.request.Request(url + path, data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT) as response:  # noqa: S310
                return json.loads(response.read() or b"null")["result"]
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read() or b"{}").get("message") or error.reason
            except ValueError:
                detail = error.reason
            raise CliError(f"{function}: {detail}") from None
        except urllib.error.URLError as error:
            raise CliError(f"no local stack answers at {url}: {error.reason}") from None


class StageTarget(Target):
    """A deployed stage: the CloudFormation stack `stack`, with the user's credentials
    (the usual AWS_PROFILE / AWS_REGION / environment chain)."""

    def __init__(self, stage: str, stack: str, region: str | None) -> None:
        import boto3

        self.name = stage
        self.stack = stack
        self._session = boto3.Session(region_name=region)
        if not self._session.region_name:
            raise CliError("no AWS region: set AWS_REGION or pass --region")
        self.region = self._session.region_name

    def client(self, service: str) -> Any:
        return self._session.client(service)

    @cached_property
    def _resources(self) -> dict[str, str]:
        pages = self.client("cloudformation").get_paginator("list_stack_resources")
        return {
            summary["LogicalResourceId"]: summary["PhysicalResourceId"]
            for page in pages.paginate(StackName=self.stack)
            for summary in page["StackResourceSummaries"]
            if "PhysicalResourceId" in summary
        }

    @cached_property
    def _outputs(self) -> dict[str, str]:
        stacks = self.client("cloudformation").describe_stacks(StackName=self.stack)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def physical(self, logical_id: str) -> str:
        try:
            return self._resources[logical_id]
        except KeyError:
            raise CliError(f"the stack {self.stack} has no resource {logical_id}") from None

    @property
    def api_url(self) -> str:
        url = self._outputs.get("EndpointURL")
        if not url:
            raise CliError(f"the stack {self.stack} has no EndpointURL output")
        return url.rstrip("/")

    @property
    def user_pool(self) -> tuple[str, str]:
        return self.physical("UserPool"), self.physical("UserPoolClient")

    def invoke(self, function: str, event: dict[str, Any] | None) -> Any:
        from chalice.utils import to_cfn_resource_name

        name = self.physical(to_cfn_resource_name(function))
        if event is None:
            account = self.client("sts").get_caller_identity()["Account"]
            rule = f"arn:aws:events:{self.region}:{account}:rule/{self.stack}-{function}"
            event = scheduled_event(rule, self.region, account, datetime.now(UTC))
        answer = self.client("lambda").invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            raise CliError(f"{function} failed: {message}")
        return payload


def target(stage: str, stack: str | None, region: str | None, state_dir: Path) -> Target:
    if stage == "local":
        return LocalTarget(state_dir)
    return StageTarget(stage, stack or f"tandem-{stage}", region)
