"""The local stack's embedded AWS, end to end over HTTP: no acknowledged write is lost
under concurrent clients, the stream keeps flowing, the state survives a restart (and a
crashed parent), and a second stack leaves the first alone."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.test_local_stack import (
    PUMP_TIMEOUT,
    READY_TIMEOUT,
    ROOT,
    SEED_TASK,
    RunningStack,
    call,
    cognito,
    create_project,
    free_ports,
    pushes_until,
    sign_up_and_in,
    stack_env,
    start_stack,
    websocket,
)

# Bounded: a few hundred requests in all.
PATCHERS, PATCHES_EACH = 4, 12
CREATORS, CREATES_EACH = 2, 8


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("state"))
    try:
        yield stack
    finally:
        stack.stop()


def _concurrently(workers: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def run(worker: Callable[[], None]) -> None:
        try:
            worker()
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_cancelled_transactions_of_one_user_undo_no_write_of_another(running: RunningStack):
    """Alice's PATCHes of one task race each other: each lost race is a cancelled
    transaction in the embedded AWS. Meanwhile Bob creates and PATCHes tasks. Every write
    that was acknowledged is there on recount, and the stream still delivers."""
    contract = running.contract
    alice = sign_up_and_in(contract, "race-alice@example.com")
    bob = sign_up_and_in(contract, "race-bob@example.com")
    alice_project = create_project(contract, alice, "Contended")
    bob_project = create_project(contract, bob, "Busy")
    contended = call(
        contract,
        "POST",
        "/tasks",
        alice.id_token,
        {**SEED_TASK, "projectId": alice_project["projectId"]},
    ).json
    contended_path = f"/tasks/{contended['taskId']}"
    acknowledged_patches: list[int] = []
    statuses: Counter[int] = Counter()
    bobs: dict[str, int] = {}  # Bob's task id -> its acknowledged version

    def alice_patches(n: int) -> Callable[[], None]:
        def work() -> None:
            for i in range(PATCHES_EACH):
                reply = call(
                    contract, "PATCH", contended_path, alice.id_token, {"title": f"{n}-{i}"}
                )
                statuses[reply.status] += 1
                assert reply.status in (200, 409), (reply.status, reply.json)
                if reply.status == 200:
                    acknowledged_patches.append(reply.json["version"])

        return work

    def bob_writes() -> None:
        for i in range(CREATES_EACH):
            body = {**SEED_TASK, "title": f"b{i}", "projectId": bob_project["projectId"]}
            created = call(contract, "POST", "/tasks", bob.id_token, body)
            assert created.status == 201, created.json
            task_id = created.json["taskId"]
            bobs[task_id] = 1
            patched = call(contract, "PATCH", f"/tasks/{task_id}", bob.id_token, {"title": "x"})
            assert patched.status == 200, patched.json
            bobs[task_id] = patched.json["version"]

    _concurrently(
        [alice_patches(n) for n in range(PATCHERS)] + [bob_writes for _ in range(CREATORS)]
    )

    # Every acknowledged PATCH of Alice's counted: version = 1 + the number of 200s.
    final = call(contract, "GET", contended_path, alice.id_token).json
    assert final["version"] == 1 + len(acknowledged_patches), statuses
    assert sorted(acknowledged_patches) == list(range(2, final["version"] + 1))
    # Every acknowledged write of Bob's is there, at the version he was told.
    for task_id, version in bobs.items():
        read = call(contract, "GET", f"/tasks/{task_id}", bob.id_token)
        assert read.status == 200, (task_id, read.json)
        assert read.json["version"] == version, task_id
    listed = call(contract, "GET", f"/tasks?projectId={bob_project['projectId']}", bob.id_token)
    assert {t["taskId"] for t in listed.json["items"]} == set(bobs)

    # The tasks table's stream still reaches the websocket after the cancelled ones.
    with websocket(contract, bob.id_token) as socket_:
        task = call(
            contract,
            "POST",
            "/tasks",
            bob.id_token,
            {**SEED_TASK, "projectId": bob_project["projectId"]},
        ).json
        pushed = pushes_until(socket_, lambda m: m.get("id") == task["taskId"], PUMP_TIMEOUT)
        assert pushed[-1]["type"] == "changed"


# ---- restarts ------------------------------------------------------------------------


def _aws(contract: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def _probe(contract: dict[str, str]) -> str:
    """A queue of the test's own, subscribed to the tasks topic: every task event the
    stack publishes lands there once per publication."""
    sqs, sns = _aws(contract, "sqs"), _aws(contract, "sns")
    url = sqs.create_queue(QueueName="e2e-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    (topic,) = [t for t in topics if t.endswith(":tandem-local-tasks")]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return str(url)


def _published(contract: dict[str, str], url: str, seen: Counter[tuple[str, str, int]]) -> None:
    sqs = _aws(contract, "sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        for message in messages:
            event = json.loads(message["Body"])
            seen[(event["type"], event["subject"]["id"], event["subject"]["version"])] += 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _until(condition: Callable[[], bool], timeout: float = PUMP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


def _slow_pump_env(state_dir: Path) -> dict[str, str]:
    """A pump that polls every 5 s: what is written just before a stop is still pending."""
    api, ws, aws = free_ports(3)
    env = stack_env(state_dir, {"api": api, "ws": ws, "aws": aws})
    env["TANDEM_PUMP_INTERVAL"] = env["TANDEM_PUMP_IDLE_INTERVAL"] = "5"
    return env


def test_a_restart_keeps_data_identities_tokens_and_pending_events(tmp_path: Path):
    first = start_stack(tmp_path, _slow_pump_env(tmp_path))
    try:
        contract = first.contract
        probe = _probe(contract)
        user = sign_up_and_in(contract, "keeper@example.com")
        project = create_project(contract, user, "Kept")
        body = {**SEED_TASK, "projectId": project["projectId"]}
        delivered = call(contract, "POST", "/tasks", user.id_token, body).json
        path = f"/tasks/{delivered['taskId']}"
        assert call(contract, "PATCH", path, user.id_token, {"title": "v2"}).status == 200
        seen: Counter[tuple[str, str, int]] = Counter()
        task_id = delivered["taskId"]

        def both_published() -> bool:
            _published(contract, probe, seen)
            return {("task-created", task_id, 1), ("task-updated", task_id, 2)} <= set(seen)

        _until(both_published)
        # Written right after a pump pass: its event is still in the stream at the stop.
        pending = call(contract, "POST", "/tasks", user.id_token, body).json
    finally:
        assert first.stop(signal.SIGINT) == 0, first.log_tail()

    second = start_stack(tmp_path)
    try:
        again = second.contract
        assert again["userPoolId"] == contract["userPoolId"]
        assert again["userPoolClientId"] == contract["userPoolClientId"]
        # The token from before the restart, and the data.
        read = call(again, "GET", path, user.id_token)
        assert read.status == 200, read.json
        assert (read.json["title"], read.json["version"]) == ("v2", 2)
        assert call(again, "GET", f"/tasks/{pending['taskId']}", user.id_token).status == 200
        # The password still signs in.
        sign_in = cognito(again).initiate_auth(
            ClientId=again["userPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.email, "PASSWORD": "Tandem-e2e-pass-1"},
        )
        assert sign_in["AuthenticationResult"]["IdToken"]

        # The pending event is delivered after the restart; nothing is delivered twice.
        def pending_published() -> bool:
            _published(again, probe, seen)
            return ("task-created", pending["taskId"], 1) in seen

        _until(pending_published)
        time.sleep(1.5)  # more passes of the pump: a replay would show up now
        _published(again, probe, seen)
        assert seen == Counter(
            {
                ("task-created", task_id, 1): 1,
                ("task-updated", task_id, 2): 1,
                ("task-created", pending["taskId"], 1): 1,
            }
        )
    finally:
        second.stop()


def test_fresh_starts_from_scratch(tmp_path: Path):
    first = start_stack(tmp_path)
    contract = first.contract
    try:
        user = sign_up_and_in(contract, "gone@example.com")
    finally:
        first.stop()
    env = stack_env(tmp_path, dict(zip(["api", "ws", "aws"], free_ports(3), strict=True)))
    fresh = _start_with(tmp_path, env, ["--fresh"])
    try:
        assert fresh.contract["userPoolId"] != contract["userPoolId"]
        assert call(fresh.contract, "GET", "/projects", user.id_token).status == 401
    finally:
        fresh.stop()


def _start_with(state_dir: Path, env: dict[str, str], args: list[str]) -> RunningStack:
    """start_stack, with arguments to `python -m devstack run`."""
    log = state_dir / "stack.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    stack = RunningStack(process, state_dir, log, 0.0)
    while "is ready" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() - started > READY_TIMEOUT:
            stack.stop()
            pytest.fail(f"the stack did not start:\n{stack.log_tail()}")
        time.sleep(0.05)
    return stack


def _answers(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_killed_stack_takes_its_embedded_aws_along_and_keeps_its_writes(tmp_path: Path):
    first = start_stack(tmp_path)
    contract = first.contract
    user = sign_up_and_in(contract, "crash@example.com")
    project = create_project(contract, user, "Survives a crash")
    first.stop(signal.SIGKILL)  # no clean stop: only the child can save the state
    _until(lambda: not _answers(contract["awsEndpoint"]), timeout=30)

    second = start_stack(tmp_path)
    try:
        read = call(second.contract, "GET", f"/projects/{project['projectId']}", user.id_token)
        assert read.status == 200, read.json
    finally:
        second.stop()


def test_a_second_stack_leaves_the_first_alone(running: RunningStack, tmp_path: Path):
    contract = running.contract
    local_json = running.state_dir / "local.json"
    ports = {
        name: int(contract[key].rsplit(":", 1)[1])
        for name, key in (("api", "apiUrl"), ("ws", "wsUrl"), ("aws", "awsEndpoint"))
    }
    for state_dir in (running.state_dir, tmp_path):  # the same state dir, or only the ports
        result = subprocess.run(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=stack_env(state_dir, ports),
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert json.loads(local_json.read_text()) == contract
        assert call(contract, "GET", "/health").status == 200
    assert (
        "another local stack"
        in subprocess.run(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=stack_env(
                running.state_dir, dict(zip(["api", "ws", "aws"], free_ports(3), strict=True))
            ),
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT,
            check=False,
        ).stderr
    )
