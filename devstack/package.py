"""`make package`: the deployable SAM template and zip, in build/package/.

`chalice package` runs twice. The first, plain run shows what the app declares: its
functions, their roles, their event mappings, the API and its authorizer. From that and
the services' declarations (core.registry) this module writes a merge template, and the
second run merges it in:

- the declared resources, and infra/deploy.yaml (the alerts topic, parameters, outputs);
- per function (the functions are discovered, not listed here): its role's policy from
  its declaration, a log group with retention, errors/throttles alarms, its
  environment variables as Refs to the resources, and for event mappings the options
  Chalice has no setting for (partial batch responses; stream retries, bisect, on-failure
  destination) plus a stream iterator-age alarm;
- a depth alarm per dead-letter queue;
- API Gateway's own error answers (gateway responses) as problem+json.

Values the app reads at import (the user pool ARN of the authorizer, the event-source
ARNs) are set to sentinels for both runs; wherever a sentinel shows up in the plain
template, the merge template puts the matching `Fn::GetAtt` of the template's resource.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from chalice.utils import to_cfn_resource_name

from chalicelib.core import errors, registry
from chalicelib.core.http import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_FILE = ROOT / "infra" / "deploy.yaml"
DECLARATIONS = "the service's infra.py"
DEFAULT_OUT = ROOT / "build" / "package"
DEFAULT_WORK = ROOT / "build" / "package-work"

Template = dict[str, Any]

STAGES = ("dev", "prod")
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}
ALERTS_TOPIC = "AlertsTopic"
# The only actions a role may have on Resource "*": AWS scopes them to no resource.
STAR_ACTIONS = frozenset(
    {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"}
)
# Settings read at import because Chalice needs them when routes and handlers are
# declared: env var -> (logical id, attribute) of the resource they must name.
IMPORT_TIME_ENV: dict[str, tuple[str, str]] = {
    "TANDEM_USER_POOL_ARN": ("UserPool", "Arn"),
    **registry.trigger_env(),
}

OWN_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
QUEUE_TRIGGER_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
# As AWS documents for a Lambda reading a DynamoDB stream, on the stream's ARN.
STREAM_TRIGGER_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
ON_FAILURE_ACTIONS = ("sqs:SendMessage",)
# Stream mappings: a record is retried this often, halving the batch each time, and then
# sent to the on-failure destination, so one bad record cannot block its shard.
STREAM_MAX_RETRIES = 5
# Batches of one shard with the function at once, each for its own partition keys (per
# key the order holds): one shard's publisher keeps up with a burst of writes.
STREAM_PARALLELIZATION = 10
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000
ALARM_PERIOD_SECONDS = 300
# Resource types whose Ref is their ARN; every other type is referred to by GetAtt Arn.
_REF_IS_ARN = frozenset({"AWS::SNS::Topic"})


class PackagingError(Exception):
    """The declarations and the app disagree; the message says what to fix."""


# ---- inputs --------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open() as handle:
        return yaml.safe_load(handle)


@dataclass(frozen=True)
class Function:
    """A Lambda function of the plain `chalice package` template."""

    logical_id: str
    name: str
    role_id: str
    properties: dict[str, Any]

    @property
    def log_group_id(self) -> str:
        return f"{self.logical_id}LogGroup"

    def events(self) -> dict[str, Any]:
        events: dict[str, Any] = self.properties.get("Events") or {}
        return events


def discover_functions(plain: Template, names: Iterable[str]) -> list[Function]:
    """Every function of the template, named by its declaration.

    Chalice names a function's role `<function name>_role` in CamelCase, which is how a
    role (and so its function) is matched to an entry.
    """
    by_role = {to_cfn_resource_name(f"{name}_role"): name for name in names}
    found: list[Function] = []
    missing: list[str] = []
    for logical_id, resource in plain["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        role = props.get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise PackagingError(
                f"{logical_id} has no role of its own; set autogen_policy false in "
                ".chalice/config.json"
            )
        role_id = role["Fn::GetAtt"][0]
        if role_id not in by_role:
            missing.append(f"{logical_id} (role {role_id})")
            continue
        found.append(Function(logical_id, by_role.pop(role_id), role_id, props))
    if missing:
        raise PackagingError(
            f"no entry for: {', '.join(missing)}; declare each function in "
            f"{DECLARATIONS} with the permissions its code needs"
        )
    if by_role:
        stale = sorted(by_role.values())
        raise PackagingError(f"the declarations list functions the app lacks: {stale}")
    return found


# ---- sentinels: import-time settings -> the template's resources -------------------------


def sentinel(logical_id: str, attribute: str) -> str:
    return f"arn:aws:tandem-packaging:us-east-1:000000000000:{logical_id}/{attribute}"


def sentinel_environment() -> dict[str, str]:
    return {env: sentinel(*ref) for env, ref in IMPORT_TIME_ENV.items()}


def sentinel_targets(import_env: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    return {sentinel(*ref): {"Fn::GetAtt": list(ref)} for ref in import_env.values()}


def substitute(node: Any, targets: Mapping[str, Any]) -> Any:
    """`node` with every sentinel string replaced by its target."""
    if isinstance(node, str):
        return targets.get(node, node)
    if isinstance(node, dict):
        return {key: substitute(value, targets) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(value, targets) for value in node]
    return node


def overrides_for(node: Any, targets: Mapping[str, Any]) -> Any:
    """What a deep merge must carry to replace the sentinels in `node`, or None.

    Chalice's merge recurses into dicts and replaces anything else, so a dict override
    holds only the changed keys while a list is replaced whole.
    """
    if isinstance(node, dict):
        changed = {}
        for key, value in node.items():
            override = overrides_for(value, targets)
            if override is not None:
                changed[key] = override
        return changed or None
    replaced = substitute(node, targets)
    return replaced if replaced != node else None


# ---- building blocks ---------------------------------------------------------------------


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Chalice's merge semantics, in place: dicts merge, anything else replaces."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


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


def alarm(
    logical_suffix: str,
    description: str,
    namespace: str,
    metric: str,
    dimension: tuple[str, Any],
    statistic: str,
    threshold: int,
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{logical_suffix}"},
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
            "Statistic": statistic,
            "Period": ALARM_PERIOD_SECONDS,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": ALERTS_TOPIC}],
        },
    }


# ---- gateway responses ------------------------------------------------------------------

_DETAIL_FROM_GATEWAY = "$context.error.messageString"


@dataclass(frozen=True)
class GatewayProblem:
    """The problem+json API Gateway answers with when it rejects a request itself."""

    slug: str
    title: str
    status: int | None  # None: the family's statuses vary, and RFC 9457 makes it optional
    detail: str
    status_code: str | None = None  # to answer with instead of API Gateway's own
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, error: type[errors.DomainError], detail: str, **kw: Any) -> GatewayProblem:
        return cls(error.slug, error.title, error.status, detail, **kw)


_THROTTLED = GatewayProblem.of(
    errors.TooManyRequests,
    "Too many requests; retry later.",
    headers=(("Retry-After", "1"),),
)
_BAD_REQUEST = GatewayProblem.of(errors.BadRequest, _DETAIL_FROM_GATEWAY)
GATEWAY_PROBLEMS: dict[str, GatewayProblem] = {
    "UNAUTHORIZED": GatewayProblem.of(
        errors.Unauthorized,
        "A valid bearer token is required.",
        headers=(("WWW-Authenticate", "Bearer"),),
    ),
    "ACCESS_DENIED": GatewayProblem(
        "forbidden", "Forbidden", 403, "The token does not grant access to this resource."
    ),
    # A REST API answers an unknown path or method with this 403; the API's contract is 404.
    "MISSING_AUTHENTICATION_TOKEN": GatewayProblem.of(
        errors.NotFound, "No such resource.", status_code="404"
    ),
    "REQUEST_TOO_LARGE": GatewayProblem.of(errors.PayloadTooLarge, "The request is too large."),
    "UNSUPPORTED_MEDIA_TYPE": GatewayProblem.of(errors.UnsupportedMediaType, _DETAIL_FROM_GATEWAY),
    "BAD_REQUEST_BODY": _BAD_REQUEST,
    "BAD_REQUEST_PARAMETERS": _BAD_REQUEST,
    "THROTTLED": _THROTTLED,
    "QUOTA_EXCEEDED": _THROTTLED,
    "DEFAULT_4XX": GatewayProblem(
        "request-rejected", "Request rejected", None, _DETAIL_FROM_GATEWAY
    ),
    "DEFAULT_5XX": GatewayProblem(
        errors.DomainError.slug, errors.DomainError.title, None, "An internal error occurred."
    ),
}


# A stage-wide limit on every route: it bounds what a runaway client can cost a
# pay-per-request deployment. API Gateway answers over it with THROTTLED (a 429 problem).
_THROTTLING = [
    {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
    }
]


def _problem_template(problem: GatewayProblem) -> str:
    """The body as a mapping template: JSON, with API Gateway's message (already a quoted
    JSON string) as the detail where the problem has no fixed one."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_PREFIX + problem.slug, "title": problem.title}
    if problem.status is not None:
        body["status"] = int(problem.status_code or problem.status)
    body["detail"] = "@DETAIL@"
    detail = problem.detail
    quoted = detail if detail == _DETAIL_FROM_GATEWAY else json.dumps(detail)
    return json.dumps(body).replace('"@DETAIL@"', quoted)


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses`: every answer API Gateway gives on its own
    is problem+json in the app's shape, and carries API Gateway's request id."""
    responses: dict[str, Any] = {}
    for response_type, problem in GATEWAY_PROBLEMS.items():
        headers = {"Content-Type": PROBLEM_CONTENT_TYPE, **dict(problem.headers)}
        parameters = {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()}
        parameters["gatewayresponse.header.X-Request-Id"] = "context.requestId"
        response: dict[str, Any] = {
            "responseParameters": parameters,
            "responseTemplates": {"application/json": _problem_template(problem)},
        }
        if problem.status_code:
            response["statusCode"] = problem.status_code
        responses[response_type] = response
    return responses


# ---- the merge template ------------------------------------------------------------------


def dead_letter_queues(resources: Mapping[str, Any]) -> list[str]:
    """Queues that are some queue's redrive target."""
    found = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        target = resource.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            found.append(target["Fn::GetAtt"][0])
    return found


def _merge_sections(*templates: Template) -> Template:
    merged: Template = {}
    for template in templates:
        for section in ("Parameters", "Conditions", "Mappings", "Resources", "Outputs"):
            for key, value in (template.get(section) or {}).items():
                target = merged.setdefault(section, {})
                if key in target:
                    raise PackagingError(f"{section}.{key} is defined twice")
                target[key] = value
    return merged


class MergeBuilder:
    """The merge template for one stage, from the plain template and the declarations."""

    def __init__(
        self,
        plain: Template,
        stage: str,
        infra: Template,
        deploy: Template,
        functions_table: Mapping[str, Any],
        resource_env: Mapping[str, str] | None = None,
        import_env: Mapping[str, tuple[str, str]] = IMPORT_TIME_ENV,
        chalice_env: Sequence[registry.Setting] | None = None,
    ) -> None:
        if stage not in STAGES:
            raise PackagingError(f"stage must be one of {STAGES}, not {stage!r}")
        self.plain = plain
        self.stage = stage
        self.resource_env = registry.resource_env() if resource_env is None else resource_env
        self.import_env = import_env
        # Settings whose value is a resource Chalice generates (the websocket API).
        self.chalice_env = [
            setting
            for setting in (registry.settings() if chalice_env is None else chalice_env)
            if setting.chalice_ref or setting.chalice_stage_of
        ]
        self.merge = _merge_sections(infra, deploy)
        self.infra: dict[str, Any] = dict(self.merge["Resources"])
        clash = sorted(set(self.infra) & set(plain["Resources"]))
        if clash:
            raise PackagingError(f"the declarations and Chalice both define {clash}")
        self.known: dict[str, Any] = {**plain["Resources"], **self.infra}
        self.specs: dict[str, dict[str, Any]] = {
            name: spec or {} for name, spec in functions_table.items()
        }
        self.functions = discover_functions(plain, self.specs)
        self.targets = sentinel_targets(import_env)
        self.dead_letter_queues = dead_letter_queues(self.infra)

    def build(self) -> Template:
        self._replace_sentinels()
        for function in self.functions:
            self._function(function)
        for queue in self.dead_letter_queues:
            self._add(f"{queue}DepthAlarm", self._queue_alarm(queue))
        responses = {"x-amazon-apigateway-gateway-responses": gateway_responses()}
        for logical_id, resource in self.plain["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Api":
                self._override(
                    logical_id,
                    {"Properties": {"DefinitionBody": responses, "MethodSettings": _THROTTLING}},
                )
        return self.merge

    def _add(self, logical_id: str, resource: dict[str, Any]) -> None:
        if logical_id in self.known:
            raise PackagingError(f"generated {logical_id} clashes with a resource of that name")
        self.known[logical_id] = resource
        self.merge["Resources"][logical_id] = resource

    def _override(self, logical_id: str, override: Mapping[str, Any]) -> None:
        deep_merge(self.merge["Resources"].setdefault(logical_id, {}), override)

    def _replace_sentinels(self) -> None:
        text = json.dumps(self.plain["Resources"])
        used = {ref[0] for ref in self.import_env.values() if sentinel(*ref) in text}
        unknown = sorted(used - set(self.infra))
        if unknown:
            raise PackagingError(f"the app refers to {unknown} at import, which none declares")
        overrides = overrides_for(self.plain["Resources"], self.targets) or {}
        for logical_id, override in overrides.items():
            self._override(logical_id, override)

    # -- one function --

    def _function(self, function: Function) -> None:
        spec = self.specs[function.name]
        statements = [statement("OwnLogGroup", OWN_LOG_ACTIONS, get_att(function.log_group_id))]
        for ref, actions in (spec.get("allow") or {}).items():
            outside = sorted(set(actions) - STAR_ACTIONS)
            if ref == "*" and outside:
                raise PackagingError(f"{function.name}: {outside} may not have Resource *")
            statements.append(statement(ref, actions, arn_of(ref, self.known)))
        events: dict[str, Any] = {}
        for event_name, event in function.events().items():
            source = substitute(event.get("Properties", {}), self.targets)
            if event.get("Type") == "SQS":
                statements.append(
                    statement(f"{event_name}Queue", QUEUE_TRIGGER_ACTIONS, source["Queue"])
                )
                options = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
            elif event.get("Type") == "DynamoDB":
                statements.append(
                    statement(f"{event_name}Stream", STREAM_TRIGGER_ACTIONS, source["Stream"])
                )
                queue = self._on_failure_queue(function)
                statements.append(
                    statement(f"{event_name}OnFailure", ON_FAILURE_ACTIONS, get_att(queue))
                )
                options = self._stream_options(queue)
            else:
                continue
            events[event_name] = {"Properties": options}
        streams = any(event.get("Type") == "DynamoDB" for event in function.events().values())
        if "on_failure" in spec and not streams:
            raise PackagingError(f"{function.name}: on_failure, but no stream triggers it")

        name = f"${{AWS::StackName}}-{function.name}"
        self._add(function.log_group_id, self._log_group(f"/aws/lambda/{name}"))
        properties: dict[str, Any] = {
            "FunctionName": {"Fn::Sub": name},
            "Environment": {"Variables": self._environment(function)},
        }
        if events:
            properties["Events"] = events
        self._override(function.logical_id, {"Properties": properties})
        sids = [entry["Sid"] for entry in statements]
        if len(set(sids)) != len(sids):
            raise PackagingError(f"{function.name}: statement ids repeat: {sids}")
        document = {"Version": "2012-10-17", "Statement": statements}
        policy = {"PolicyName": f"{function.role_id}Policy", "PolicyDocument": document}
        self._override(function.role_id, {"Properties": {"Policies": [policy]}})
        self._function_alarms(function, streams)

    def _environment(self, function: Function) -> dict[str, Any]:
        """Every resource setting as a Ref; import-time settings, if the stage declares
        them, as the attribute they name."""
        variables: dict[str, Any] = {}
        for env, logical_id in self.resource_env.items():
            if logical_id not in self.infra:
                raise PackagingError(f"{env}: no resource {logical_id} is declared")
            variables[env] = {"Ref": logical_id}
        declared = (function.properties.get("Environment") or {}).get("Variables") or {}
        for env, (logical_id, attribute) in self.import_env.items():
            if env in declared:
                variables[env] = get_att(logical_id, attribute)
        # Resources Chalice generates (the websocket API), when the app has them.
        generated = self.plain["Resources"]
        for setting in self.chalice_env:
            if setting.chalice_ref in generated:
                variables[setting.env] = {"Ref": setting.chalice_ref}
            elif setting.chalice_stage_of and setting.chalice_stage_of in generated:
                variables[setting.env] = websocket_stage(setting.chalice_stage_of, generated)
        return variables

    def _on_failure_queue(self, function: Function) -> str:
        queue = self.specs[function.name].get("on_failure")
        if not isinstance(queue, str) or self.infra.get(queue, {}).get("Type") != "AWS::SQS::Queue":
            raise PackagingError(
                f"{function.name} reads a stream: set its on_failure in {DECLARATIONS} "
                f"to a declared queue (not {queue!r})"
            )
        if queue not in self.dead_letter_queues:
            self.dead_letter_queues.append(queue)
        return queue

    @staticmethod
    def _stream_options(queue: str) -> dict[str, Any]:
        return {
            "MaximumRetryAttempts": STREAM_MAX_RETRIES,
            "BisectBatchOnFunctionError": True,
            "ParallelizationFactor": STREAM_PARALLELIZATION,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": get_att(queue)}},
        }

    def _log_group(self, name: str) -> dict[str, Any]:
        return {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": name},
                "RetentionInDays": LOG_RETENTION_DAYS[self.stage],
            },
        }

    def _function_alarms(self, function: Function, streams: bool) -> None:
        dimension = ("FunctionName", {"Ref": function.logical_id})
        name = function.name
        for metric, what in (("Errors", "failed"), ("Throttles", "was throttled")):
            self._add(
                f"{function.logical_id}{metric}Alarm",
                alarm(
                    f"{name}-{metric.lower()}",
                    f"{name} {what} in the last five minutes.",
                    "AWS/Lambda",
                    metric,
                    dimension,
                    "Sum",
                    1,
                ),
            )
        if streams:
            self._add(
                f"{function.logical_id}IteratorAgeAlarm",
                alarm(
                    f"{name}-iterator-age",
                    f"{name} is five minutes or more behind its stream.",
                    "AWS/Lambda",
                    "IteratorAge",
                    dimension,
                    "Maximum",
                    ITERATOR_AGE_ALARM_MS,
                ),
            )

    @staticmethod
    def _queue_alarm(queue: str) -> dict[str, Any]:
        return alarm(
            f"{queue}-depth",
            f"Messages are waiting in the dead-letter queue {queue}.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            ("QueueName", get_att(queue, "QueueName")),
            "Maximum",
            1,
        )


def build_merge_template(plain: Template, stage: str) -> Template:
    return MergeBuilder(
        plain,
        stage,
        {"Resources": registry.resources()},
        load_yaml(DEPLOY_FILE),
        functions_table(),
    ).build()


def functions_table() -> dict[str, dict[str, Any]]:
    """Each declared function's permissions: {"allow": {ref: [actions]}, "on_failure"}."""
    table: dict[str, dict[str, Any]] = {}
    for name, function in registry.functions().items():
        spec: dict[str, Any] = {"allow": {ref: list(a) for ref, a in function.allow.items()}}
        if function.on_failure is not None:
            spec["on_failure"] = function.on_failure
        table[name] = spec
    return table


# ---- running chalice ---------------------------------------------------------------------


def _chalice() -> str:
    beside = Path(sys.executable).parent / "chalice"
    found = str(beside) if beside.exists() else shutil.which("chalice")
    if not found:
        raise PackagingError("chalice is not installed: run `make venv`")
    return found


def run_chalice_package(stage: str, out: Path, merge_template: Path | None = None) -> None:
    # No credentials are needed, but a region is; the template itself uses AWS::Region.
    env = {**os.environ, **sentinel_environment()}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if out.exists():
        shutil.rmtree(out)
    command = [_chalice(), "package", "--stage", stage]
    if merge_template is not None:
        command += ["--merge-template", str(merge_template)]
    subprocess.run([*command, str(out)], cwd=ROOT, env=env, check=True)


@dataclass(frozen=True)
class Package:
    template_path: Path
    zip_path: Path
    seconds: float

    def template(self) -> Template:
        loaded: Template = json.loads(self.template_path.read_text())
        return loaded


def package(stage: str = "dev", out: Path = DEFAULT_OUT, work: Path = DEFAULT_WORK) -> Package:
    started = time.monotonic()
    plain_dir = work / stage / "plain"
    run_chalice_package(stage, plain_dir)
    plain: Template = json.loads((plain_dir / "sam.json").read_text())
    (plain_dir / "deployment.zip").unlink()  # the same as the second run's
    merge_path = work / stage / "merge.json"
    merge_path.write_text(json.dumps(build_merge_template(plain, stage), indent=2))
    run_chalice_package(stage, out, merge_path)
    return Package(out / "sam.json", out / "deployment.zip", time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default="dev", choices=STAGES)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        result = package(args.stage, args.out)
    except PackagingError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    functions = [
        logical_id
        for logical_id, resource in result.template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    size_mb = result.zip_path.stat().st_size / 1e6
    print(
        f"package: {result.template_path} ({len(functions)} functions: {', '.join(functions)}), "
        f"{result.zip_path.name} {size_mb:.1f} MB, {result.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
