"""The `tandem` CLI against a running local stack (started by the module's fixture)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tandem_cli.main import main
from tandem_cli.target import declared
from tests.e2e.test_local_stack import RunningStack, call, free_ports, stack_env, start_stack


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The module's own stack: an account deletion's grace and polls shortened."""
    state = tmp_path_factory.mktemp("cli")
    api_port, ws_port, aws_port = free_ports(3)
    env = stack_env(state, {"api": api_port, "ws": ws_port, "aws": aws_port})
    env.update(TANDEM_DELETION_GRACE_SECONDS="1", TANDEM_DELETION_POLL_SECONDS="1")
    stack = start_stack(state, env)
    try:
        yield stack
    finally:
        stack.stop()


def tandem(capsys: pytest.CaptureFixture[str], state_dir: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["--state-dir", str(state_dir), *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def ok(capsys: pytest.CaptureFixture[str], running: RunningStack, *args: str) -> str:
    status, out, err = tandem(capsys, running.state_dir, *args)
    assert status == 0, err
    return out


def client(contract: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def one_line_error(status: int, out: str, err: str) -> str:
    assert status == 1
    assert "Traceback" not in err + out
    assert err.startswith("tandem: ")
    assert err.count("\n") == 1, err
    return err


def test_users_lifecycle(capsys, running: RunningStack):
    assert "created cli@example.com" in ok(capsys, running, "users", "create", "cli@example.com")
    listed = json.loads(ok(capsys, running, "users", "list", "--json"))
    (mine,) = [u for u in listed if u["email"] == "cli@example.com"]
    assert mine["status"] == "CONFIRMED"
    assert mine["enabled"] is True

    token = ok(capsys, running, "users", "token", "cli@example.com").strip()
    assert claims(token)["sub"] == mine["sub"]
    answer = call(running.contract, "GET", "/projects", token=token)
    assert answer.status == 200

    ok(capsys, running, "users", "disable", "cli@example.com")
    err = one_line_error(*tandem(capsys, running.state_dir, "users", "token", "cli@example.com"))
    assert "disabled" in err
    ok(capsys, running, "users", "enable", "cli@example.com")
    assert ok(capsys, running, "users", "token", "cli@example.com").count(".") == 2

    again = tandem(capsys, running.state_dir, "users", "create", "cli@example.com")
    assert "exists already" in one_line_error(*again)

    token = ok(capsys, running, "users", "token", "cli@example.com").strip()
    assert call(running.contract, "POST", "/projects", token, {"name": "Mine"}).status == 201
    ok(capsys, running, "users", "disable", "cli@example.com")  # a disabled user too
    out = ok(capsys, running, "users", "delete", "cli@example.com", "--yes", "--wait")
    assert f"deleting cli@example.com (sub={mine['sub']}): job " in out
    assert out.rstrip().endswith("deleted cli@example.com")
    assert call(running.contract, "GET", "/projects", token).status == 401
    listed = json.loads(ok(capsys, running, "users", "list", "--json"))
    assert "cli@example.com" not in {u["email"] for u in listed}
    projects = client(running.contract, "dynamodb").query(
        TableName="tandem-local-projects",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": mine["sub"]}},
    )
    assert projects["Items"] == []


def test_seed_writes_through_the_api_and_tail_sees_every_event(capsys, running: RunningStack):
    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def tail() -> None:
        from tandem_cli import events
        from tandem_cli.target import LocalTarget

        events.tail(
            LocalTarget(running.state_dir),
            seen.append,
            type_prefix=None,
            count=12,
            seconds=60,
            on_ready=lambda topics: ready.set(),
        )

    tailer = threading.Thread(target=tail, daemon=True)
    tailer.start()
    assert ready.wait(30)
    out = ok(
        capsys,
        running,
        "seed",
        "--user",
        "seed@example.com",
        "--projects",
        "2",
        "--tasks",
        "3",
        "--notes",
        "2",
    )
    assert "2 projects, 6 tasks, 4 notes" in out
    tailer.join(60)
    assert not tailer.is_alive()

    token = ok(capsys, running, "users", "token", "seed@example.com").strip()
    projects = call(running.contract, "GET", "/projects", token=token).json["items"]
    assert len(projects) == 2
    for project in projects:
        tasks = call(
            running.contract, "GET", f"/tasks?projectId={project['projectId']}", token=token
        ).json["items"]
        assert len(tasks) == 3
    types = sorted(e["type"] for e in seen)
    assert types == ["note-created"] * 4 + ["project-created"] * 2 + ["task-created"] * 6
    assert {e["subject"]["userId"] for e in seen} == {claims(token)["sub"]}
    # The tail's queue and subscriptions are gone with it.
    sqs = client(running.contract, "sqs")
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if "-tail-" in u]


def test_events_tail_command_prints_one_line_per_event(capsys, running: RunningStack):
    status, out, err = tandem(capsys, running.state_dir, "events", "tail", "--seconds", "1")
    assert status == 0, err
    topics = ", ".join(sorted(declared("AWS::SNS::Topic")))  # every declared topic
    assert f"tailing {topics} (Ctrl-C stops)" in err
    assert out == ""


def _depth(capsys, running: RunningStack, dlq: str) -> int:
    rows = json.loads(ok(capsys, running, "dlq", "list", "--json"))
    return int(next(r["visible"] for r in rows if r["dlq"] == dlq))


def _wait(predicate: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.dead_letters_expected
def test_dlq_peek_and_redrive_a_poison_message(capsys, running: RunningStack):
    sqs = client(running.contract, "sqs")
    queue = sqs.get_queue_url(QueueName="tandem-local-tasks-project-upserts")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody='{"not": "an envelope"}')
    _wait(lambda: _depth(capsys, running, "TasksProjectUpsertsDLQ") == 1)

    (peeked,) = json.loads(
        ok(capsys, running, "dlq", "peek", "tasks-project-upserts-dlq", "--json")
    )
    assert peeked["reason"].startswith("poison: invalid envelope")
    assert peeked["body"] == '{"not": "an envelope"}'
    assert _depth(capsys, running, "TasksProjectUpsertsDLQ") == 1  # a peek leaves it there

    out = ok(capsys, running, "dlq", "redrive", "TasksProjectUpsertsDLQ")
    assert "moved 1 message(s): TasksProjectUpsertsDLQ -> TasksProjectUpsertsQueue" in out
    # Still poison: the consumer sends it back, with its reason, once.
    _wait(lambda: _depth(capsys, running, "TasksProjectUpsertsDLQ") == 1)
    (again,) = json.loads(ok(capsys, running, "dlq", "peek", "TasksProjectUpsertsDLQ", "--json"))
    assert again["messageId"] != peeked["messageId"]
    assert again["reason"] == peeked["reason"]


@pytest.mark.dead_letters_expected
def test_dlq_redrive_of_a_stream_failure_republishes_its_records(capsys, running: RunningStack):
    ok(capsys, running, "users", "create", "streams@example.com")
    token = ok(capsys, running, "users", "token", "streams@example.com").strip()
    project = call(running.contract, "POST", "/projects", token, {"name": "Redrive"}).json
    # The publisher gave up on the project's creation (as Lambda records it).
    dynamodb, streams = (
        client(running.contract, "dynamodb"),
        client(running.contract, "dynamodbstreams"),
    )
    arn = dynamodb.describe_table(TableName="tandem-local-projects")["Table"]["LatestStreamArn"]
    wanted = None
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            if record["dynamodb"]["Keys"].get("projectId", {}).get("S") == project["projectId"]:
                wanted = record["dynamodb"]["SequenceNumber"]
    assert wanted is not None
    sqs = client(running.contract, "sqs")
    dlq = sqs.get_queue_url(QueueName="tandem-local-projects-publisher-dlq")["QueueUrl"]
    failure = {
        "requestContext": {
            "functionName": "publish_project_changes",
            "condition": "RetryAttemptsExhausted",
        },
        "DDBStreamBatchInfo": {
            "streamArn": arn,
            "startSequenceNumber": wanted,
            "endSequenceNumber": wanted,
            "batchSize": 1,
        },
    }
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(failure))
    (peeked,) = json.loads(ok(capsys, running, "dlq", "peek", "projects-publisher-dlq", "--json"))
    assert (
        "publish_project_changes gave up (RetryAttemptsExhausted) on 1 record(s)"
        in (peeked["reason"])
    )

    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def tail() -> None:
        from tandem_cli import events
        from tandem_cli.target import LocalTarget

        events.tail(
            LocalTarget(running.state_dir),
            seen.append,
            type_prefix="project-",
            count=1,
            seconds=30,
            on_ready=lambda topics: ready.set(),
        )

    tailer = threading.Thread(target=tail, daemon=True)
    tailer.start()
    assert ready.wait(30)
    out = ok(capsys, running, "dlq", "redrive", "ProjectsPublisherDLQ")
    assert "re-published 1 failed batch(es) through publish_project_changes" in out
    tailer.join(30)
    assert [(e["type"], e["subject"]["id"]) for e in seen] == [
        ("project-created", project["projectId"])
    ]
    assert _depth(capsys, running, "ProjectsPublisherDLQ") == 0


def test_schedules_list_and_run(capsys, running: RunningStack):
    from tandem_cli.main import _schedules

    listed = json.loads(ok(capsys, running, "schedules", "list", "--json"))
    assert {row["function"] for row in listed} == set(_schedules())
    for row in listed:  # every schedule runs on demand, with EventBridge's event
        ok(capsys, running, "schedules", "run", row["function"])
    err = one_line_error(*tandem(capsys, running.state_dir, "schedules", "run", "no_such"))
    assert "no scheduled function 'no_such'" in err


def test_errors_are_one_line(capsys, running: RunningStack, tmp_path: Path):
    err = one_line_error(*tandem(capsys, tmp_path, "dlq", "list"))
    assert "local.json does not exist: start the local stack (make run)" in err
    err = one_line_error(*tandem(capsys, running.state_dir, "dlq", "peek", "nope"))
    assert "no dead-letter queue 'nope'; known: " in err
    err = one_line_error(*tandem(capsys, running.state_dir, "users", "token", "ghost@example.com"))
    assert "wrong email or password" in err
    status, _, err = tandem(capsys, running.state_dir, "seed")
    assert status == 2
    assert "Missing option '--user'" in err
