"""`chalice deploy --stage dev` against an embedded AWS (moto's server, started here on
127.0.0.1): the data stack, Chalice's deploy, the finishing step; what was created; a
redeploy that keeps it; `chalice delete` and the data stack's teardown.

One test, in steps, because each step needs the one before (about 30 s here). The project
is a copy in a temporary directory, so .chalice/ of the checkout is never touched.
moto stands in for AWS except where docs/deploy.md says ("What the moto test cannot
show"): it never invokes the functions, and it does not enforce IAM.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploy.chalice_cli import import_time_envs
from deploy.functions import STREAM_MAX_RETRIES, STREAM_PARALLELIZATION
from deploy.stage import chalice_function_name, plan

ROOT = Path(__file__).resolve().parents[2]
CHALICE = str(Path(sys.executable).parent / "chalice")
STAGE = "dev"
REGION = "us-east-1"
STEP_TIMEOUT = 240


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "devstack.moto_server", "--fd", str(listener.fileno())],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(listener.fileno(),),
    )
    listener.close()
    try:
        assert child.stdout is not None
        ready = json.loads(child.stdout.readline())
        assert ready.get("ready"), ready
        yield f"http://127.0.0.1:{port}"
    finally:
        child.kill()  # its state is not needed
        child.wait()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app as a Chalice project of its own; Chalice's cached dependency zips reused."""
    copy = tmp_path_factory.mktemp("project")
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(
        ROOT / "chalicelib", copy / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    (copy / ".chalice").mkdir()
    for path in (ROOT / ".chalice").glob("*.json"):
        shutil.copy(path, copy / ".chalice" / path.name)
    if (ROOT / ".chalice" / "deployments").is_dir():
        shutil.copytree(ROOT / ".chalice" / "deployments", copy / ".chalice" / "deployments")
    return copy


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TANDEM_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),  # deploy/ and devstack/ are not part of the copy
    )
    return env


def _run(command: list[str], endpoint: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=_env(endpoint),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _stage(command: str, endpoint: str, project: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "deploy.stage", command, "--stage", STAGE]
    return _run([*args, "--project-dir", str(project)], endpoint, project)


def _chalice(command: str, endpoint: str, project: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        [CHALICE, "--project-dir", str(project), command, "--stage", STAGE], endpoint, project
    )


def _session(endpoint: str) -> boto3.Session:
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def _client(endpoint: str, service: str) -> Any:
    return _session(endpoint).client(service, endpoint_url=endpoint)


def _plan(project: Path) -> Any:
    plain = json.loads((project / "build" / "stage" / STAGE / "plain" / "sam.json").read_text())
    return plan(STAGE, plain)


def test_chalice_deploy_gives_the_packaged_system_and_delete_removes_it(endpoint, project):
    # Without the data stack, `chalice deploy` refuses before creating anything.
    refused = _chalice("deploy", endpoint, project)
    assert refused.returncode == 2
    assert "no real ARN" in refused.stderr
    assert "Traceback" not in refused.stderr
    lambda_ = _client(endpoint, "lambda")
    assert lambda_.list_functions()["Functions"] == []

    _ok(_stage("up", endpoint, project))
    config = json.loads((project / ".chalice" / "config.json").read_text())
    stage_env = config["stages"][STAGE]["environment_variables"]
    for env in import_time_envs():
        assert stage_env[env].startswith("arn:aws:"), env

    _ok(_chalice("deploy", endpoint, project))
    _ok(_stage("finish", endpoint, project))
    stage_plan = _plan(project)
    values = json.loads((project / "build" / "stage" / STAGE / "values.json").read_text())
    _check_deployed(endpoint, project, stage_plan)

    # A redeploy keeps the mappings' options and the roles' policies (Chalice updates
    # only a mapping's batch size, a role from its file).
    _ok(_chalice("deploy", endpoint, project))
    _check_mappings(endpoint, stage_plan, values)
    _check_roles(endpoint, project, stage_plan)

    # Teardown: Chalice's resources, then the data stack (the tables it retains stay).
    _ok(_chalice("delete", endpoint, project))
    assert lambda_.list_functions()["Functions"] == []
    assert lambda_.list_event_source_mappings()["EventSourceMappings"] == []
    iam = _client(endpoint, "iam")
    assert [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("tandem-")] == []
    assert _client(endpoint, "apigateway").get_rest_apis()["items"] == []
    assert _client(endpoint, "apigatewayv2").get_apis()["Items"] == []
    _ok(_stage("down", endpoint, project))
    cloudformation = _client(endpoint, "cloudformation")
    live = [
        s
        for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert live == []
    assert not (project / ".chalice" / "stages" / f"{STAGE}.json").exists()
    topics = _client(endpoint, "sns").list_topics()["Topics"]
    assert topics == []
    s3 = _client(endpoint, "s3")
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    # The template bucket, emptied of the stage's templates; the attachments, retained.
    template_bucket, attachments = buckets
    assert template_bucket.startswith("tandem-deploy-")
    assert s3.list_objects_v2(Bucket=template_bucket).get("Contents") is None
    assert attachments.startswith("tandem-dev-attachments-")


def _check_deployed(endpoint: str, project: Path, stage_plan: Any) -> None:
    lambda_ = _client(endpoint, "lambda")
    deployed = {f["FunctionName"]: f for f in lambda_.list_functions()["Functions"]}
    assert sorted(deployed) == sorted(f.deployed_name for f in stage_plan.functions)
    values = json.loads((project / "build" / "stage" / STAGE / "values.json").read_text())
    for function in stage_plan.functions:
        configuration = deployed[function.deployed_name]
        variables = configuration["Environment"]["Variables"]
        assert configuration["TracingConfig"] == {"Mode": "Active"}
        assert configuration["Role"].endswith(f":role/tandem-{STAGE}-{function.name}")
        assert function.deployed_name == chalice_function_name(STAGE, function.name)
        if function.mappings:
            assert variables["TANDEM_BATCH_ITEM_FAILURES"] == "true"
        else:
            assert "TANDEM_BATCH_ITEM_FAILURES" not in variables
        for env in function.environment:
            assert variables[env], env
    _check_roles(endpoint, project, stage_plan)
    _check_mappings(endpoint, stage_plan, values)
    # The REST API with its routes and gateway responses, the websocket API.
    apigateway = _client(endpoint, "apigateway")
    (api,) = apigateway.get_rest_apis()["items"]
    paths = {r["path"] for r in apigateway.get_resources(restApiId=api["id"], limit=500)["items"]}
    assert {"/projects", "/tasks", "/notes"} <= paths
    responses = apigateway.get_gateway_responses(restApiId=api["id"])["items"]
    unauthorized = next(r for r in responses if r["responseType"] == "UNAUTHORIZED")
    assert "application/problem+json" in json.dumps(unauthorized)
    assert _client(endpoint, "apigatewayv2").get_apis()["Items"]


def _check_roles(endpoint: str, project: Path, stage_plan: Any) -> None:
    """Each function's role holds exactly its statements of the packaged stack, resolved."""
    iam = _client(endpoint, "iam")
    from deploy.stage import resolve

    values = json.loads((project / "build" / "stage" / STAGE / "values.json").read_text())
    websocket = json.loads((project / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
    for resource in websocket["resources"]:
        if resource["name"] == "websocket_api":
            values["WebsocketAPI"] = resource["websocket_api_id"]
    for function in stage_plan.functions:
        role = f"tandem-{STAGE}-{function.name}"
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [role]
        document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        assert document["Statement"] == resolve(function.statements, values), function.name
        text = json.dumps(document)
        assert "123456789012:userpool/us-east-1_tandem" not in text


def _check_mappings(endpoint: str, stage_plan: Any, values: dict[str, str]) -> None:
    lambda_ = _client(endpoint, "lambda")
    mappings = lambda_.list_event_source_mappings()["EventSourceMappings"]
    by_function: dict[str, list[dict[str, Any]]] = {}
    for mapping in mappings:
        by_function.setdefault(mapping["FunctionArn"].rsplit(":", 1)[-1], []).append(mapping)
    expected = {f.deployed_name for f in stage_plan.functions if f.mappings}
    assert set(by_function) == expected
    for function in stage_plan.functions:
        for mapping in by_function.get(function.deployed_name, []):
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            if ":dynamodb:" in mapping["EventSourceArn"]:
                assert mapping["MaximumRetryAttempts"] == STREAM_MAX_RETRIES
                assert mapping["BisectBatchOnFunctionError"] is True
                assert mapping["ParallelizationFactor"] == STREAM_PARALLELIZATION
                destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
                assert destination.startswith("arn:aws:sqs:")
