"""The task manager (chalicelib.jobs) and the export, in-process: moto, the real Chalice
test client, the event pump calling the real handlers. Fake workers are registered
through core.wiring ("jobs.workers")."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from chalicelib.core import wiring
from chalicelib.jobs import service as jobs
from chalicelib.jobs.workers import Continue, Done, JobRun, PermanentFailure, Registry, discover
from devstack.lambda_api import InProcessLambda

from .conftest import STAGE


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_PROFILE_GATEKEEPER", "profile_gatekeeper")
    monkeypatch.setenv("TANDEM_JOB_RETRY_BASE_SECONDS", "0")


@pytest.fixture
def gatekeeper(chalice_client: Any) -> None:
    from app import app
    from devstack.pump import lambda_invoker

    wiring.override("aws.lambda", InProcessLambda(app, lambda_invoker(app, STAGE)))


def fake_workers(**workers: Any) -> None:
    real = discover()
    added = {("test", name): worker for name, worker in workers.items()}
    wiring.override("jobs.workers", Registry({**real.workers, **added}, real.presenters))


def dlq_messages(aws: Any, stack: Any) -> list[dict[str, Any]]:
    answer = aws.client("sqs").receive_message(
        QueueUrl=stack.names["JobsDLQ"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    return messages


def test_a_worker_that_fails_twice_then_succeeds(api, alice, pump, aws, stack):
    runs: list[int] = []

    def flaky(run: JobRun) -> Done:
        runs.append(run.attempt)
        if len(runs) <= 2:
            raise ConnectionError("the backend is down")
        return Done({"answer": 42})

    fake_workers(flaky=flaky)
    job = jobs.submit(alice.sub, "test", "test", "flaky", {"x": 1}, "corr-1")
    pump.drain()
    assert runs == [1, 2, 3]
    reply = api.get(f"/jobs/{job.job_id}", alice)
    assert reply.status == 200
    body = reply.json
    assert body["status"] == "succeeded"
    assert body["result"] == {"answer": 42}
    assert body["progress"] == 100
    assert "error" not in body
    assert dlq_messages(aws, stack) == []


def test_a_poison_job_is_failed_and_dead_lettered_with_its_reason(api, alice, pump, aws, stack):
    def poison(run: JobRun) -> Done:
        raise PermanentFailure("the data names nothing that exists")

    fake_workers(poison=poison)
    job = jobs.submit(alice.sub, "test", "test", "poison", {}, "corr-2")
    pump.drain()
    body = api.get(f"/jobs/{job.job_id}", alice).json
    assert body["status"] == "failed"
    assert body["error"]["status"] == 500
    assert body["error"]["type"].endswith("job-failed")
    assert "names nothing" in body["error"]["detail"]
    (message,) = dlq_messages(aws, stack)
    assert json.loads(message["Body"])["jobId"] == job.job_id
    assert "names nothing" in message["MessageAttributes"]["failureReason"]["StringValue"]


def test_a_job_that_always_fails_fails_after_the_bound(api, alice, pump, aws, stack):
    runs: list[int] = []

    def broken(run: JobRun) -> Done:
        runs.append(run.attempt)
        raise RuntimeError("always")

    fake_workers(broken=broken)
    job = jobs.submit(alice.sub, "test", "test", "broken", {}, "corr-3")
    pump.drain()
    assert runs == [1, 2, 3, 4]
    assert api.get(f"/jobs/{job.job_id}", alice).json["status"] == "failed"
    (message,) = dlq_messages(aws, stack)
    assert "attempts exhausted" in message["MessageAttributes"]["failureReason"]["StringValue"]


def test_unknown_workers_and_malformed_messages_are_dead_lettered(api, alice, pump, aws, stack):
    job = jobs.submit(alice.sub, "test", "nobody", "nothing", {}, "corr-4")
    aws.client("sqs").send_message(QueueUrl=stack.names["JobsQueue"], MessageBody="{not json")
    pump.drain()
    assert api.get(f"/jobs/{job.job_id}", alice).json["status"] == "failed"
    reasons = sorted(
        m["MessageAttributes"]["failureReason"]["StringValue"] for m in dlq_messages(aws, stack)
    )
    assert reasons == ["body is not JSON", "no worker for (nobody, nothing)"]


def test_a_duplicate_message_never_runs_a_job_twice(api, alice, pump, aws, stack):
    counted: Counter[str] = Counter()

    def once(run: JobRun) -> Done:
        counted[run.job_id] += 1
        return Done({})

    fake_workers(once=once)
    job = jobs.submit(alice.sub, "test", "test", "once", {}, "corr-5")
    duplicate = json.dumps(jobs.message(job, 0))
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=stack.names["JobsQueue"], MessageBody=duplicate)
    pump.drain()
    sqs.send_message(QueueUrl=stack.names["JobsQueue"], MessageBody=duplicate)
    pump.drain()
    assert counted[job.job_id] == 1
    assert api.get(f"/jobs/{job.job_id}", alice).json["status"] == "succeeded"


def test_continuations_carry_the_checkpoint_and_progress(api, alice, pump):
    seen: list[Any] = []

    def counting(run: JobRun) -> Done | Continue:
        seen.append((run.step, dict(run.checkpoint or {})))
        n = int((run.checkpoint or {}).get("n", 0))
        if n < 3:
            return Continue({"n": n + 1}, progress=25 * (n + 1))
        return Done({"n": n})

    fake_workers(counting=counting)
    job = jobs.submit(alice.sub, "test", "test", "counting", {}, "corr-6")
    pump.drain()
    assert seen == [(0, {}), (1, {"n": 1}), (2, {"n": 2}), (3, {"n": 3})]
    assert api.get(f"/jobs/{job.job_id}", alice).json["result"] == {"n": 3}


def test_another_users_job_is_not_found(api, alice, bob, pump):
    fake_workers(noop=lambda run: Done({}))
    job = jobs.submit(alice.sub, "test", "test", "noop", {}, "corr-7")
    assert api.get(f"/jobs/{job.job_id}", bob).status == 404
    assert api.get("/jobs/not-an-id", alice).status == 404


# ---- the export -----------------------------------------------------------------------


def listed(api: Any, user: Any, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        reply = api.get(path + (f"?cursor={cursor}" if cursor else ""), user)
        assert reply.status == 200, reply.json
        items += reply.json["items"]
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return items


def exported(aws: Any, stack: Any, body: dict[str, Any]) -> dict[str, Any]:
    url = body["result"]["downloadUrl"]
    assert "X-Amz-Expires=900" in url or "Expires=" in url
    bucket = stack.names["ExportsBucket"]
    key = unquote(urlsplit(url).path).lstrip("/").removeprefix(bucket + "/")
    obj = aws.client("s3").get_object(Bucket=stack.names["ExportsBucket"], Key=key)
    document: dict[str, Any] = json.loads(obj["Body"].read())
    return document


@pytest.mark.parametrize("items_per_step", ["4000", "2"])
def test_export_holds_what_the_api_lists(
    api, alice, bob, pump, aws, stack, gatekeeper, monkeypatch, items_per_step
):
    monkeypatch.setenv("TANDEM_EXPORT_ITEMS_PER_STEP", items_per_step)
    api.put("/me", alice, {"displayName": "Alice", "preferences": {"theme": "dark"}})
    home = api.post("/projects", alice, {"name": "Home"}).json
    work = api.post("/projects", alice, {"name": "Work \U0001f4bc"}).json
    for n in range(3):
        api.post("/tasks", alice, {"title": f"T{n}", "projectId": home["projectId"]})
    api.post("/notes", alice, {"title": "N", "body": "b", "projectId": work["projectId"]})
    api.post("/projects", bob, {"name": "Bob's"})
    reply = api.post("/me/export", alice, headers={"Idempotency-Key": "export-1"})
    assert reply.status == 202, reply.json
    job_id = reply.json["jobId"]
    assert reply.header("Location") == f"/jobs/{job_id}"
    assert reply.json["status"] == "queued"
    again = api.post("/me/export", alice, headers={"Idempotency-Key": "export-1"})
    assert again.status == 202
    assert again.json["jobId"] == job_id
    pump.drain()
    body = api.get(f"/jobs/{job_id}", alice).json
    assert body["status"] == "succeeded", body
    assert body["type"] == "export"
    document = exported(aws, stack, body)
    assert document["format"] == "tandem-export"
    assert document["userId"] == alice.sub
    assert document["profile"] == api.get("/me", alice).json
    assert document["projects"] == listed(api, alice, "/projects")
    assert document["tasks"] == listed(api, alice, "/tasks")
    assert document["notes"] == listed(api, alice, "/notes")
    assert len(document["tasks"]) == 3
    assert "Bob's" not in json.dumps(document)
    # Only the export itself is left in the bucket: no tails, no pending uploads.
    listing = aws.client("s3").list_objects_v2(Bucket=stack.names["ExportsBucket"])
    assert [o["Key"] for o in listing["Contents"]] == [f"exports/{alice.sub}/{job_id}.json"]


def test_an_export_over_one_part_is_a_multipart_document(api, alice, pump, aws, stack, gatekeeper):
    # 60 notes of 100,000 characters: 6 MB of JSON, more than one 5 MiB part.
    body = "".join(chr(0x41 + (n % 26)) for n in range(100_000))
    for n in range(60):
        assert api.post("/notes", alice, {"title": f"N{n}", "body": body}).status == 201
    job_id = api.post("/me/export", alice).json["jobId"]
    pump.drain()
    reply = api.get(f"/jobs/{job_id}", alice).json
    assert reply["status"] == "succeeded", reply
    assert reply["result"]["bytes"] > 5 * 1024 * 1024
    document = exported(aws, stack, reply)
    assert document["notes"] == listed(api, alice, "/notes")
    assert len(document["notes"]) == 60
