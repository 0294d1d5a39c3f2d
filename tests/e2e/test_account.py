"""End to end over HTTP against `python -m devstack`: the profile through the gatekeeper's
function (the router invokes it through the local Lambda Invoke API), with its audit
records read directly from the local AWS; the task manager with fake workers registered
in the stack's process (tests/e2e/fake_workers.py); the export, downloaded; and an
account's deletion, after which nothing of the user is left in any table or bucket."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.e2e.test_local_stack import (
    Account,
    Reply,
    RunningStack,
    call,
    create_project,
    free_ports,
    sign_up_and_in,
    stack_env,
    start_stack,
)

SETTLE_TIMEOUT = 90.0
# Kept by design: the audit trail records the deletion (without personal data), and the
# revocation entry refuses the old tokens until they have expired.
KEPT = {"ProfileAuditTable", "RevocationsTable"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """This module's stack: fake workers registered in its process, short waits."""
    state_dir: Path = tmp_path_factory.mktemp("account")
    api, ws, aws = free_ports(3)
    env = stack_env(state_dir, {"api": api, "ws": ws, "aws": aws})
    env.update(
        TANDEM_DEVSTACK_IMPORTS="tests.e2e.fake_workers",
        TANDEM_JOB_RETRY_BASE_SECONDS="1",
        TANDEM_DELETION_GRACE_SECONDS="1",
        TANDEM_DELETION_POLL_SECONDS="1",
    )
    stack = start_stack(state_dir, env)
    try:
        yield stack
    finally:
        stack.stop()


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen in {SETTLE_TIMEOUT} s"
        time.sleep(0.25)


def finished_job(contract: dict[str, str], user: Account, job_id: str) -> dict[str, Any]:
    def done() -> Any:
        reply = call(contract, "GET", f"/jobs/{job_id}", user.id_token)
        assert reply.status == 200, reply.json
        return reply.json if reply.json["status"] in ("succeeded", "failed") else None

    result: dict[str, Any] = wait_for(done, f"job {job_id}")
    return result


def client(contract: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def table_name(suffix: str) -> str:
    return f"tandem-local-{suffix}"


def items_of(contract: dict[str, str], table: str, user_id: str) -> list[dict[str, Any]]:
    plain = TypeDeserializer().deserialize
    found = client(contract, "dynamodb").query(
        TableName=table,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ConsistentRead=True,
    )["Items"]
    return [{k: plain(v) for k, v in item.items()} for item in found]


def put(contract: dict[str, str], path: str, token: str, body: Any, if_match: str) -> Reply:
    request = urllib.request.Request(
        contract["apiUrl"] + path,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "If-Match": if_match,
            "X-Request-Id": "e2e-profile-write",
        },
        method="PUT",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@pytest.fixture(scope="module")
def dora(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "dora@example.com")


def test_profile_read_and_write_are_audited(contract: dict[str, str], dora: Account) -> None:
    first = call(contract, "GET", "/me", dora.id_token)
    assert first.status == 200, first.json
    assert first.json["version"] == 1
    profile = {
        "displayName": "Dora Secretname",
        "timeZone": "America/Sao_Paulo",
        "locale": "pt-BR",
        "preferences": {"theme": "dark"},
    }
    written = put(contract, "/me", dora.id_token, profile, '"1"')
    assert written.status == 200, written.json
    assert written.headers["ETag"] == '"2"'
    assert call(contract, "GET", "/me", dora.id_token).json == written.json
    assert put(contract, "/me", dora.id_token, profile, '"1"').status == 412
    records = sorted(
        items_of(contract, table_name("profile-audit"), dora.sub), key=lambda r: r["auditId"]
    )
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("read", "ok"),
        ("write", "ok"),
        ("read", "ok"),
        ("write", "precondition-failed"),
    ]
    assert {r["actor"] for r in records} == {dora.sub}
    assert records[1]["correlationId"] == "e2e-profile-write"
    assert "Secretname" not in repr(records)
    # The profile itself is in the gatekeeper's table.
    (stored,) = items_of(contract, table_name("profiles"), dora.sub)
    assert stored["displayName"] == "Dora Secretname"


# ---- the task manager ---------------------------------------------------------------------


def submit_on_stack(contract: dict[str, str], user_id: str, action: str) -> str:
    """Records a queued job of the fake worker `action` and queues its message, with
    clients of the stack's AWS (what jobs.service.submit does in the stack), built here:
    this process's own shared clients may point elsewhere."""
    from chalicelib.core.ids import new_id
    from chalicelib.core.models import utcnow
    from chalicelib.jobs.models import QUEUED, Job
    from chalicelib.jobs.service import TARGET_JOB, message

    now = utcnow()
    job = Job(
        user_id,
        new_id(),
        type="e2e",
        service="e2e",
        action=action,
        data={},
        target=TARGET_JOB,
        status=QUEUED,
        progress=0,
        attempts=0,
        step=0,
        lease_until=0,
        next_run_at=0,
        version=1,
        correlation_id=f"e2e-{action}",
        created_at=now,
        updated_at=now,
    )
    client(contract, "dynamodb").put_item(TableName=table_name("jobs"), Item=job.serialize())
    sqs = client(contract, "sqs")
    queue = sqs.get_queue_url(QueueName="tandem-local-jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(message(job, 0)))
    return job.job_id


def test_a_worker_that_fails_twice_then_succeeds(contract: dict[str, str], dora: Account) -> None:
    job_id = submit_on_stack(contract, dora.sub, "flaky")
    body = finished_job(contract, dora, job_id)
    assert body["status"] == "succeeded", body
    assert body["result"] == {"runs": 3, "attempt": 3}


def test_a_poison_job_is_failed_and_dead_lettered(contract: dict[str, str], dora: Account) -> None:
    job_id = submit_on_stack(contract, dora.sub, "poison")
    body = finished_job(contract, dora, job_id)
    assert body["status"] == "failed"
    assert body["error"]["detail"] == "this job can never succeed"
    sqs = client(contract, "sqs")
    dlq = sqs.get_queue_url(QueueName="tandem-local-jobs-dlq")["QueueUrl"]

    def dead_lettered() -> Any:
        answer = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return [
            m for m in answer.get("Messages", []) if json.loads(m["Body"]).get("jobId") == job_id
        ]

    (message,) = wait_for(dead_lettered, "the poison job's dead letter")
    reason = message["MessageAttributes"]["failureReason"]["StringValue"]
    assert "can never succeed" in reason


# ---- export and deletion ------------------------------------------------------------------


def listed(contract: dict[str, str], user: Account, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        reply = call(contract, "GET", path + (f"?cursor={cursor}" if cursor else ""), user.id_token)
        assert reply.status == 200, reply.json
        items += reply.json["items"]
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return items


def fill(contract: dict[str, str], user: Account, name: str) -> None:
    project = create_project(contract, user, f"{name}'s project")
    for n in range(3):
        task = call(
            contract,
            "POST",
            "/tasks",
            user.id_token,
            {"title": f"{name} {n}", "projectId": project["projectId"]},
        )
        assert task.status == 201, task.json
    note = call(
        contract,
        "POST",
        "/notes",
        user.id_token,
        {"title": f"{name}'s note", "body": "**b**", "taskId": task.json["taskId"]},
    )
    assert note.status == 201, note.json


def export_of(contract: dict[str, str], user: Account) -> tuple[str, dict[str, Any]]:
    started = call(contract, "POST", "/me/export", user.id_token)
    assert started.status == 202, started.json
    job_id = started.json["jobId"]
    assert started.headers["Location"] == f"/jobs/{job_id}"
    body = finished_job(contract, user, job_id)
    assert body["status"] == "succeeded", body
    with urllib.request.urlopen(body["result"]["downloadUrl"], timeout=10) as response:
        document: dict[str, Any] = json.loads(response.read())
    return job_id, document


def test_export_is_what_the_api_lists(contract: dict[str, str], dora: Account) -> None:
    fill(contract, dora, "Dora")
    _, document = export_of(contract, dora)
    assert document["userId"] == dora.sub
    assert document["profile"] == call(contract, "GET", "/me", dora.id_token).json
    assert document["projects"] == listed(contract, dora, "/projects")
    assert document["tasks"] == listed(contract, dora, "/tasks")
    assert document["notes"] == listed(contract, dora, "/notes")
    assert len(document["tasks"]) == 3


def everything_of(contract: dict[str, str], user_id: str) -> dict[str, list[Any]]:
    """Every item of every table of the stack that names the user (a test may Scan)."""
    dynamodb = client(contract, "dynamodb")
    found: dict[str, list[Any]] = {}
    for name in dynamodb.list_tables()["TableNames"]:
        if not name.startswith("tandem-local-"):
            continue
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            hits = [item for item in page["Items"] if user_id in json.dumps(item, default=str)]
            if hits:
                found.setdefault(name, []).extend(hits)
    return found


def test_account_deletion_leaves_nothing_of_the_user(
    contract: dict[str, str], running: RunningStack
) -> None:
    erin = sign_up_and_in(contract, "erin@example.com")
    frank = sign_up_and_in(contract, "frank@example.com")
    assert call(contract, "GET", "/me", erin.id_token).status == 200
    fill(contract, erin, "Erin")
    fill(contract, frank, "Frank")
    export_of(contract, erin)
    franks_before = [listed(contract, frank, p) for p in ("/projects", "/tasks", "/notes")]

    deleted = call(contract, "DELETE", "/me", erin.id_token)
    assert deleted.status == 202, deleted.json
    job_id = deleted.json["jobId"]
    assert deleted.headers["Location"] == f"/jobs/{job_id}"
    assert call(contract, "GET", "/projects", erin.id_token).status == 401
    assert call(contract, "POST", "/projects", erin.id_token, {"name": "late"}).status == 401
    wait_for(
        lambda: call(contract, "GET", f"/jobs/{job_id}", erin.id_token).status == 401,
        "the deletion",
    )
    for path in ("/me", "/projects", "/tasks", "/notes"):
        assert call(contract, "GET", path, erin.id_token).status == 401, path
    left = everything_of(contract, erin.sub)
    assert {name.removeprefix("tandem-local-") for name in left} <= {
        "profile-audit",
        "revocations",
    }, left
    s3 = client(contract, "s3")
    for bucket in s3.list_buckets()["Buckets"]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])]
        assert not [key for key in keys if erin.sub in key], (bucket["Name"], keys)
    cognito = client(contract, "cognito-idp")
    users = cognito.list_users(UserPoolId=contract["userPoolId"])["Users"]
    assert erin.email not in json.dumps(users, default=str)
    assert frank.email in json.dumps(users, default=str)
    franks_after = [listed(contract, frank, p) for p in ("/projects", "/tasks", "/notes")]
    assert franks_after == franks_before
