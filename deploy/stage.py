"""`chalice deploy --stage S`, made the same system as the packaged stack.

    python -m deploy.stage up --stage dev      # the data stack, then .chalice/ for chalice
    chalice deploy --stage dev                 # the functions, roles, APIs, mappings
    python -m deploy.stage finish --stage dev  # what Chalice cannot express
    chalice delete --stage dev && python -m deploy.stage down --stage dev   # teardown

(`python -m deploy.stage deploy --stage dev` runs the last three of the first four.)

Both paths start from the same merge template (deploy/merge.py, built from one plain
`chalice package` and the services' declarations), so every function gets the same
statements, environment and mapping options; only how the intrinsics are resolved
differs:

- `up` puts what the merge template adds besides Chalice's own resources (the declared
  tables, topics, queues, subscriptions, user pool, bucket; the alerts topic; every
  function's log group and alarms; the dead-letter queues' alarms) into the CloudFormation
  stack `tandem-<stage>`, with an output for every Ref and GetAtt that a policy, an
  environment variable or a mapping names. It writes the resolved values to
  .chalice/stages/<stage>.json, each function's policy to .chalice/policy-<stage>-<fn>.json
  and regenerates .chalice/config.json (deploy/chalice_config.py adds the stage's values).
  Functions are named as Chalice names them (`tandem-<stage>-<fn>`, the REST handler
  `tandem-<stage>`), so their log groups and alarms exist before they do.
- `finish`, after `chalice deploy`: the mappings' options (partial batch responses; for
  streams retries, bisect, parallelization and the on-failure queue), then
  TANDEM_BATCH_ITEM_FAILURES on the functions whose mappings now report them (core.batch),
  the values only known once Chalice made its resources (the websocket API's id, which the
  push needs), the REST API's gateway responses (problem+json) and throttling. It writes
  what it learnt to the stage file, so the next `chalice deploy` keeps it: Chalice updates
  a mapping's batch size only, a role's policy from its file, the environment from
  config.json. What a plain `chalice deploy` resets is TANDEM_BATCH_ITEM_FAILURES (not in
  config.json on purpose: a mapping re-created by `chalice delete` + `chalice deploy` has
  no options, and the variable must never claim them); until `finish` runs again, the
  consumers fail whole batches, which is safe.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.core.infra import BATCH_ITEM_FAILURES

from .chalice_cli import data_stack_name
from .chalice_config import APP_NAME
from .functions import discover_functions
from .gateway_responses import gateway_responses
from .merge import build_merge_template
from .package import run_chalice_package
from .policies import functions_table
from .template import ROOT, STAGES, PackagingError, Template

WORK = ROOT / "build" / "stage"
PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix")
DATA_PARAMETERS = ("AlertEmail",)
API_RATE_LIMIT = 25
API_BURST_LIMIT = 50


class StageError(Exception):
    """What went wrong, in one line, and what to do."""


def chalice_function_name(stage: str, name: str) -> str:
    # Chalice names the REST handler <app>-<stage>, every other function <app>-<stage>-<name>.
    return f"{APP_NAME}-{stage}" if name == "api_handler" else f"{APP_NAME}-{stage}-{name}"


def policy_file_name(stage: str, name: str) -> str:
    return f"policy-{stage}-{name}.json"


def stage_file(project: Path, stage: str) -> Path:
    return project / ".chalice" / "stages" / f"{stage}.json"


# ---- intrinsics -------------------------------------------------------------------------


def _sub_names(text: str) -> list[str]:
    return re.findall(r"\$\{([^}!]+)\}", text)


def references(node: Any) -> set[str]:
    """Every value `node` needs: "X" for Ref X, "X.attr" for GetAtt, pseudo parameters."""
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return {node["Ref"]}
        if set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = node["Fn::GetAtt"]
            return {f"{logical_id}.{attribute}"}
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return set(_sub_names(node["Fn::Sub"]))
        for value in node.values():
            found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


class Unresolved(Exception):
    pass


def resolve(node: Any, values: Mapping[str, str]) -> Any:
    """`node` with every Ref, GetAtt and Sub replaced by its value; Unresolved(name) if one
    is not known (yet)."""

    def value(name: str) -> str:
        if name not in values:
            raise Unresolved(name)
        return values[name]

    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return value(node["Ref"])
        if set(node) == {"Fn::GetAtt"}:
            return value(".".join(node["Fn::GetAtt"]))
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: value(m.group(1)), node["Fn::Sub"])
        return {key: resolve(item, values) for key, item in node.items()}
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    return node


def output_name(reference: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", reference.replace(".", "Attr")) or "Value"


# ---- the plan: what both halves (data stack, Chalice) get ------------------------------


@dataclass
class FunctionPlan:
    name: str  # as declared (and in Chalice's config)
    logical_id: str
    role_id: str
    deployed_name: str  # as Chalice names it
    statements: list[dict[str, Any]]
    environment: dict[str, Any]
    # event name -> (trigger env var, the mapping options Chalice cannot set)
    mappings: dict[str, dict[str, Any]]


@dataclass
class Plan:
    stage: str
    data: Template
    functions: list[FunctionPlan]
    chalice_values: dict[str, str]  # Refs and GetAtts of Chalice's functions, by name
    needed: set[str]  # every reference the Chalice half needs


def plan(stage: str, plain: Template, merge: Template | None = None) -> Plan:
    """The stage's two halves from the plain `chalice package` template."""
    merge = merge if merge is not None else build_merge_template(plain, stage)
    chalice_ids = set(plain["Resources"])
    functions = discover_functions(plain, functions_table())
    names = {f.logical_id: chalice_function_name(stage, f.name) for f in functions}
    # Chalice's functions, as the data stack and the policies refer to them.
    chalice_values: dict[str, str] = {}
    for logical_id, deployed in names.items():
        chalice_values[logical_id] = deployed
        chalice_values[f"{logical_id}.Arn"] = (
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + deployed
        )

    data_resources: dict[str, Any] = {}
    for logical_id, resource in merge["Resources"].items():
        if logical_id in chalice_ids:
            continue
        data_resources[logical_id] = _rename_functions(resource, names)
    # The data stack exists before Chalice's resources: it may name a function only as a
    # literal name (an alarm's dimension). A resource that needs one to exist (a log
    # subscription to a function, a permission) belongs in `finish`, which has no such
    # step yet: refuse rather than create a stack AWS would fail.
    waiting = sorted({r.split(".")[0] for r in references(data_resources)} & chalice_ids)
    if waiting:
        raise StageError(
            f"the data stack would need {waiting}, which `chalice deploy` creates later; "
            "deploy/stage.py applies no such resource yet"
        )
    for function in functions:
        log_group = data_resources[function.log_group_id]
        log_group["Properties"]["LogGroupName"] = f"/aws/lambda/{names[function.logical_id]}"

    plans: list[FunctionPlan] = []
    needed: set[str] = set()
    for function in functions:
        override = merge["Resources"].get(function.logical_id, {}).get("Properties", {})
        role = merge["Resources"][function.role_id]["Properties"]["Policies"][0]
        environment = dict((override.get("Environment") or {}).get("Variables") or {})
        environment.pop(BATCH_ITEM_FAILURES.env, None)  # set by `finish`, with the options
        mappings = {
            event: options.get("Properties", {})
            for event, options in (override.get("Events") or {}).items()
        }
        statements = role["PolicyDocument"]["Statement"]
        plans.append(
            FunctionPlan(
                function.name,
                function.logical_id,
                function.role_id,
                names[function.logical_id],
                statements,
                environment,
                mappings,
            )
        )
        needed |= references(statements) | references(environment) | references(mappings)

    parameters = {
        key: value
        for key, value in (merge.get("Parameters") or {}).items()
        if key in DATA_PARAMETERS
    }
    data: Template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Tandem {stage}: what `chalice deploy` needs besides (deploy/stage.py)",
        "Parameters": parameters,
        "Conditions": merge.get("Conditions") or {},
        "Resources": data_resources,
        "Outputs": dict(merge.get("Outputs") or {}),
    }
    for reference in sorted(needed | _import_time_references()):
        logical_id = reference.split(".")[0]
        if logical_id in data_resources:
            expression: Any = (
                {"Fn::GetAtt": reference.split(".", 1)} if "." in reference else {"Ref": reference}
            )
            data["Outputs"][output_name(reference)] = {"Value": expression}
    return Plan(stage, data, plans, chalice_values, needed)


def _import_time_references() -> set[str]:
    from .functions import IMPORT_TIME_ENV

    return {f"{logical_id}.{attribute}" for logical_id, attribute in IMPORT_TIME_ENV.values()}


def _rename_functions(node: Any, names: Mapping[str, str]) -> Any:
    """A data resource's references to Chalice's functions, as the names Chalice gives them
    (an alarm's FunctionName dimension)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in names:
            return names[node["Ref"]]
        return {key: _rename_functions(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_functions(value, names) for value in node]
    return node


# ---- AWS --------------------------------------------------------------------------------


def _client(session: Any, service: str) -> Any:
    return session.client(service)


def template_bucket(session: Any, values: Mapping[str, str]) -> str:
    """The bucket the data template is uploaded to (CloudFormation takes at most 51,200
    bytes in the request itself, and the template outgrew that): private, encrypted, one
    per account and region, created on first use and kept (`down` empties it of the
    stage's templates)."""
    s3 = _client(session, "s3")
    region = values["AWS::Region"]
    name = f"tandem-deploy-{values['AWS::AccountId']}-{region}"
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
        return name
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    arguments: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**arguments)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    return name


def deploy_data_stack(
    session: Any, plan_: Plan, parameters: Mapping[str, str], pseudo: Mapping[str, str]
) -> dict[str, str]:
    """Creates or updates the stack; returns its outputs."""
    cloudformation = _client(session, "cloudformation")
    name = data_stack_name(plan_.stage)
    body = json.dumps(plan_.data, separators=(",", ":")).encode()
    bucket = template_bucket(session, pseudo)
    key = f"{name}/data-{hashlib.sha256(body).hexdigest()[:16]}.json"
    _client(session, "s3").put_object(Bucket=bucket, Key=key, Body=body)
    region = pseudo["AWS::Region"]
    arguments: dict[str, Any] = {
        "StackName": name,
        "TemplateURL": f"https://{bucket}.s3.{region}.{pseudo['AWS::URLSuffix']}/{key}",
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    }
    from botocore.exceptions import ClientError

    try:
        cloudformation.describe_stacks(StackName=name)
        exists = True
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        exists = False
    if exists:
        try:
            cloudformation.update_stack(**arguments)
            cloudformation.get_waiter("stack_update_complete").wait(StackName=name)
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
    else:
        cloudformation.create_stack(**arguments)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=name)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def account_values(session: Any) -> dict[str, str]:
    region = session.region_name
    account = _client(session, "sts").get_caller_identity()["Account"]
    partition = session.get_partition_for_region(region)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::URLSuffix": suffix,
    }


def known_values(
    plan_: Plan, outputs: Mapping[str, str], pseudo: Mapping[str, str]
) -> dict[str, str]:
    values = dict(pseudo)
    values["AWS::StackName"] = data_stack_name(plan_.stage)
    for reference in plan_.needed | _import_time_references():
        if output_name(reference) in outputs:
            values[reference] = outputs[output_name(reference)]
    for reference, template in plan_.chalice_values.items():
        values[reference] = resolve({"Fn::Sub": template}, values)
    return values


# ---- .chalice/ ----------------------------------------------------------------------------


def write_stage(project: Path, plan_: Plan, values: Mapping[str, str]) -> list[str]:
    """The stage file and the policy files from what is known; returns the statements
    left out for now (what only `finish` can resolve)."""
    pending: list[str] = []
    functions: dict[str, Any] = {}
    for function in plan_.functions:
        statements = []
        for statement in function.statements:
            try:
                statements.append(resolve(statement, values))
            except Unresolved:
                pending.append(f"{function.name}:{statement['Sid']}")
        document = {"Version": "2012-10-17", "Statement": statements}
        (project / ".chalice" / policy_file_name(plan_.stage, function.name)).write_text(
            json.dumps(document, indent=2) + "\n"
        )
        environment = {}
        for env, expression in function.environment.items():
            # Unresolved: known after `chalice deploy` (the websocket API's id).
            with contextlib.suppress(Unresolved):
                environment[env] = resolve(expression, values)
        functions[function.name] = {
            "iam_policy_file": policy_file_name(plan_.stage, function.name),
            "environment_variables": environment,
        }
    from .functions import IMPORT_TIME_ENV

    stage_env = {env: values[f"{lid}.{attr}"] for env, (lid, attr) in IMPORT_TIME_ENV.items()}
    path = stage_file(project, plan_.stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "stack": data_stack_name(plan_.stage),
        "region": values["AWS::Region"],
        "environment_variables": stage_env,
        "lambda_functions": functions,
        "pending": pending,
    }
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    from . import chalice_config

    chalice_config.write(project)
    return pending


def read_plan(stage: str, project: Path, work: Path) -> Plan:
    out = work / stage / "plain"
    run_chalice_package(stage, out, project=project)
    plain: Template = json.loads((out / "sam.json").read_text())
    (out / "deployment.zip").unlink(missing_ok=True)
    p = plan(stage, plain)
    (work / stage / "data.json").write_text(json.dumps(p.data, indent=2))
    return p


def up(session: Any, stage: str, project: Path, work: Path, alert_email: str = "") -> Plan:
    p = read_plan(stage, project, work)
    pseudo = account_values(session)
    parameters = {"AlertEmail": alert_email} if alert_email else {}
    outputs = deploy_data_stack(session, p, parameters, pseudo)
    values = known_values(p, outputs, pseudo)
    write_stage(project, p, values)
    (work / stage / "values.json").write_text(json.dumps(values, indent=2))
    return p


# ---- finish -------------------------------------------------------------------------------


def deployed_resources(project: Path, stage: str) -> dict[str, dict[str, Any]]:
    path = project / ".chalice" / "deployed" / f"{stage}.json"
    if not path.exists():
        raise StageError(
            f"nothing deployed for stage {stage}: run `chalice deploy --stage {stage}`"
        )
    return {r["name"]: r for r in json.loads(path.read_text())["resources"]}


def finish(session: Any, stage: str, project: Path, work: Path) -> dict[str, Any]:
    """Applies what Chalice cannot express; returns what it did (for the report)."""
    values_path = work / stage / "values.json"
    if not values_path.exists() or not stage_file(project, stage).exists():
        raise StageError(f"stage {stage} has no data stack here: run `python -m deploy.stage up`")
    p = read_plan(stage, project, work)
    values = json.loads(values_path.read_text())
    deployed = deployed_resources(project, stage)
    websocket = deployed.get("websocket_api")
    if websocket is not None:
        values["WebsocketAPI"] = websocket["websocket_api_id"]
    pending_before = json.loads(stage_file(project, stage).read_text()).get("pending", [])
    pending = write_stage(project, p, values)
    if pending:
        raise StageError(f"still unresolved after chalice deploy: {pending}")
    lambda_ = _client(session, "lambda")
    iam = _client(session, "iam")
    done: dict[str, Any] = {"mappings": {}, "policies": [], "environment": []}
    for function in p.functions:
        if function.name not in deployed:
            raise StageError(
                f"{function.name} is not deployed: run `chalice deploy --stage {stage}`"
            )
        mappings = _mappings_of(deployed, function)
        for event, options in function.mappings.items():
            uuid = mappings.get(event)
            if uuid is None:
                raise StageError(f"{function.name}: Chalice deployed no mapping for {event}")
            lambda_.update_event_source_mapping(UUID=uuid, **resolve(options, values))
            done["mappings"][event] = uuid
        if any(f"{function.name}:" in entry for entry in pending_before):
            # Chalice created the role with the policy known then; this is the whole one.
            document = (project / ".chalice" / policy_file_name(stage, function.name)).read_text()
            role = chalice_function_name(stage, function.name)
            iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=document)
            done["policies"].append(role)
        wanted = {
            env: resolve(expression, values) for env, expression in function.environment.items()
        }
        if function.mappings:
            wanted[BATCH_ITEM_FAILURES.env] = "true"
        current = lambda_.get_function_configuration(FunctionName=function.deployed_name)
        variables = dict((current.get("Environment") or {}).get("Variables") or {})
        if any(variables.get(k) != v for k, v in wanted.items()):
            variables.update(wanted)
            _update_configuration(lambda_, function.deployed_name, {"Variables": variables})
            done["environment"].append(function.deployed_name)
    rest = deployed.get("rest_api")
    if rest is not None:
        _gateway(session, rest["rest_api_id"])
        done["rest_api"] = rest["rest_api_id"]
    return done


def _mappings_of(deployed: Mapping[str, Any], function: FunctionPlan) -> dict[str, str]:
    """Chalice's event-source resources of `function`, by the event name the template gives
    them (`<LogicalId>SqsEventSource`, `<LogicalId>DynamodbEventSource`)."""
    found = {}
    for resource in deployed.values():
        kind = resource.get("resource_type")
        if kind not in ("sqs_event", "dynamodb_event"):
            continue
        if not resource.get("lambda_arn", "").endswith(f":function:{function.deployed_name}"):
            continue
        suffix = "SqsEventSource" if kind == "sqs_event" else "DynamodbEventSource"
        found[f"{function.logical_id}{suffix}"] = resource["event_uuid"]
    return found


def _update_configuration(lambda_: Any, name: str, environment: dict[str, Any]) -> None:
    for attempt in range(30):
        try:
            lambda_.update_function_configuration(FunctionName=name, Environment=environment)
            return
        except lambda_.exceptions.ResourceConflictException:
            time.sleep(min(2.0, 0.2 * (attempt + 1)))  # an update still in progress
    raise StageError(f"{name}: its configuration stayed busy")


def _gateway(session: Any, rest_api_id: str) -> None:
    """The packaged API's gateway responses (problem+json) and stage throttling."""
    apigateway = _client(session, "apigateway")
    for response_type, response in gateway_responses().items():
        apigateway.put_gateway_response(
            restApiId=rest_api_id,
            responseType=response_type,
            **{
                key: value
                for key, value in (
                    ("statusCode", response.get("statusCode")),
                    ("responseParameters", response.get("responseParameters")),
                    ("responseTemplates", response.get("responseTemplates")),
                )
                if value
            },
        )
    apigateway.update_stage(
        restApiId=rest_api_id,
        stageName="api",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(API_RATE_LIMIT)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(API_BURST_LIMIT)},
        ],
    )


def down(session: Any, stage: str, project: Path) -> None:
    cloudformation = _client(session, "cloudformation")
    name = data_stack_name(stage)
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name)
    pseudo = account_values(session)
    bucket = f"tandem-deploy-{pseudo['AWS::AccountId']}-{pseudo['AWS::Region']}"
    s3 = _client(session, "s3")
    from botocore.exceptions import ClientError

    with contextlib.suppress(ClientError):  # no bucket: nothing was uploaded
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{name}/").get("Contents", [])
        for item in listed:
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    stage_file(project, stage).unlink(missing_ok=True)
    for path in (project / ".chalice").glob(policy_file_name(stage, "*")):
        path.unlink()
    from . import chalice_config

    chalice_config.write(project)


# ---- command line ---------------------------------------------------------------------------


def _session(stage: str, profile: str | None) -> Any:
    import boto3

    session = boto3.Session(profile_name=profile)
    if session.get_credentials() is None:
        raise StageError(
            "no AWS credentials (set AWS_PROFILE or pass --profile); nothing was changed"
        )
    if not session.region_name:
        raise StageError("no AWS region (set AWS_DEFAULT_REGION); nothing was changed")
    return session


def _chalice_deploy(stage: str, project: Path, profile: str | None) -> None:
    import subprocess

    from .package import _chalice

    command = [_chalice(), "--project-dir", str(project), "deploy", "--stage", stage]
    if profile:
        command += ["--profile", profile]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise StageError(f"chalice deploy --stage {stage} failed (exit {result.returncode})")


def _deploy_and_finish(
    session: Any, stage: str, project: Path, work: Path, profile: str | None
) -> None:
    _chalice_deploy(stage, project, profile)
    finish(session, stage, project, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("up", "deploy", "finish", "down"))
    parser.add_argument("--stage", default="dev", choices=STAGES)
    parser.add_argument("--profile")
    parser.add_argument("--alert-email", default="")
    parser.add_argument("--project-dir", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    work = args.project_dir / "build" / "stage"
    (work / args.stage).mkdir(parents=True, exist_ok=True)
    steps: dict[str, Callable[[Any], object]] = {
        "up": lambda s: up(s, args.stage, args.project_dir, work, args.alert_email),
        "deploy": lambda s: _deploy_and_finish(s, args.stage, args.project_dir, work, args.profile),
        "finish": lambda s: finish(s, args.stage, args.project_dir, work),
        "down": lambda s: down(s, args.stage, args.project_dir),
    }
    try:
        session = _session(args.stage, args.profile)
        steps[args.command](session)
    except (StageError, PackagingError) as error:
        print(f"deploy.stage {args.command} --stage {args.stage}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # an AWS error: one line, not a trace
        from botocore.exceptions import BotoCoreError, ClientError

        if not isinstance(error, (BotoCoreError, ClientError)):
            raise
        print(f"deploy.stage {args.command} --stage {args.stage}: {error}", file=sys.stderr)
        return 2
    print(f"deploy.stage {args.command} --stage {args.stage}: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
