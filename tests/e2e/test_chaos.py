"""The reliability scenarios under chaos (devstack.chaos): the pump delivers batches
twice, shuffled and late, some invocations fail, some DynamoDB writes and SNS publishes
are throttled. The outcome must not change: the cascade completes, no task outlives its
project, consumers apply each event once (no record goes back to an older version), and
nothing acknowledged is lost. The seed is printed, and named in every failure: replay a
run with TANDEM_CHAOS_SEED=<seed>."""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from tandem_cli import api
from tandem_cli.target import CliError
from tests.e2e.test_local_stack import (
    RunningStack,
    call,
    free_ports,
    sign_up_and_in,
    stack_env,
    start_stack,
)

SETTLE_SECONDS = 90
RATES = (
    "duplicate=0.3,reorder=0.3,delay=0.2,max_delay=1,fail=0.2,throttle_write=0.1,"
    "throttle_publish=0.1"
)


@pytest.fixture(scope="module")
def seed() -> int:
    value = int(os.environ.get("TANDEM_CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))
    print(f"\nchaos seed {value} (replay: TANDEM_CHAOS_SEED={value})")
    return value


@pytest.fixture(scope="module")
def chaotic(seed: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state = tmp_path_factory.mktemp("chaos")
    api_port, ws_port, aws_port = free_ports(3)
    env = stack_env(state, {"api": api_port, "ws": ws_port, "aws": aws_port})
    env["TANDEM_CHAOS"] = f"seed={seed},{RATES}"
    # The cascade's final sweep waits a minute deployed; the test cannot.
    env["TANDEM_CASCADE_SWEEP_DELAY_SECONDS"] = "2"
    stack = start_stack(state, env)
    try:
        yield stack
    finally:
        stack.stop()


def _aws(contract: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _items(contract: dict[str, str], table: str, user: str) -> list[dict[str, Any]]:
    dynamodb = _aws(contract, "dynamodb")
    pages = dynamodb.get_paginator("query").paginate(
        TableName=f"tandem-local-{table}",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def _dead_letters(contract: dict[str, str]) -> dict[str, int]:
    sqs = _aws(contract, "sqs")
    depths = {}
    for url in sqs.list_queues(QueueNamePrefix="tandem-local-").get("QueueUrls", []):
        if url.endswith("-dlq"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            depths[url.rsplit("/", 1)[1]] = int(attributes["ApproximateNumberOfMessages"])
    return depths


def test_the_outcome_is_unchanged_under_chaos(chaotic: RunningStack, seed: int):
    contract = chaotic.contract
    where = f"(chaos seed {seed}; replay: TANDEM_CHAOS_SEED={seed})"
    user = sign_up_and_in(contract, f"chaos-{seed}@example.com")
    url, token = contract["apiUrl"], user.id_token
    rng = random.Random(seed)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = api.call(url, token, "POST", path, body)
        return answer

    projects = [post("/projects", {"name": f"P{n}"}) for n in range(4)]
    acked: dict[str, tuple[str, int]] = {}  # task id -> (project id, acknowledged version)

    def add_task(project: dict[str, Any]) -> None:
        task = post("/tasks", {"title": f"T{rng.random():.6f}", "projectId": project["projectId"]})
        acked[task["taskId"]] = (project["projectId"], task["version"])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(add_task, [p for p in projects for _ in range(6)]))
    # Changes, some of them twice, so that a late duplicate of an older event exists.
    for task_id in rng.sample(sorted(acked), 8):
        for _ in range(2):
            changed = api.call(url, token, "PATCH", f"/tasks/{task_id}", {"title": "changed"})
            acked[task_id] = (acked[task_id][0], changed["version"])
    kept, doomed = projects[:2], projects[2:]
    for project in kept:
        for n in range(3):
            project.update(
                api.call(
                    url, token, "PATCH", f"/projects/{project['projectId']}", {"name": f"R{n}"}
                )
            )

    # Delete two projects while tasks keep being written to them (what the sweep is for).
    def write_into(project: dict[str, Any]) -> None:
        for _ in range(4):
            with contextlib.suppress(CliError):  # 422/404: the deletion came first
                add_task(project)

    with ThreadPoolExecutor(4) as pool:
        racing = [pool.submit(write_into, project) for project in doomed]
        for project in doomed:
            answer = call(contract, "DELETE", f"/projects/{project['projectId']}", token)
            assert answer.status == 204, (answer.status, where)
        for future in racing:
            future.result()

    doomed_ids = {p["projectId"] for p in doomed}
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        tasks = _items(contract, "tasks", user.sub)
        outliving = [t for t in tasks if t["projectId"]["S"] in doomed_ids and "projectKey" in t]
        records = {r["projectId"]["S"]: r for r in _items(contract, "task-projects", user.sub)}
        settled = not outliving and all(
            records.get(p["projectId"], {}).get("version", {}).get("N") == str(p["version"])
            for p in kept
        )
        if settled or time.monotonic() > deadline:
            break
        time.sleep(1)

    # The cascade completed: no task outlives its project.
    assert not outliving, (f"{len(outliving)} tasks outlive their deleted project", where)
    for project in doomed:
        listed = call(contract, "GET", f"/tasks?projectId={project['projectId']}", token)
        assert listed.status == 404 or listed.json["items"] == [], (listed.status, where)
        assert records[project["projectId"]]["state"]["S"] == "deleted", where
    # Consumers applied each event once and in version order: the Tasks service's record
    # of each live project is at the project's last version, not at a late duplicate's.
    for project in kept:
        record = records[project["projectId"]]
        assert record["state"]["S"] != "deleted", where
        assert record["version"]["N"] == str(project["version"]), (record, project, where)
    # Nothing acknowledged is lost: every acknowledged task of a live project reads back
    # at its acknowledged version or later.
    live_ids = {p["projectId"] for p in kept}
    for task_id, (project_id, version) in sorted(acked.items()):
        if project_id not in live_ids:
            continue
        read = call(contract, "GET", f"/tasks/{task_id}", token)
        assert read.status == 200, (task_id, read.status, where)
        assert read.json["version"] >= version, (task_id, read.json["version"], version, where)
    # And nothing was given up on: every fault was absorbed by a retry.
    assert not {q: n for q, n in _dead_letters(contract).items() if n}, where


def test_a_bad_chaos_spec_is_one_line_at_start(tmp_path: Path):
    import subprocess
    import sys

    env = {**os.environ, "TANDEM_CHAOS": "fail=2", "TANDEM_STATE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "run"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "devstack: TANDEM_CHAOS: fail=2 is not a rate between 0 and 1\n"
    )
