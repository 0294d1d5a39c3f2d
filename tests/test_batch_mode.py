"""Consumers and publishers without ReportBatchItemFailures on their mapping (core.batch):
a failed record fails the whole batch, so Lambda cannot delete or skip it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core import wiring
from chalicelib.core.batch import BatchFailed
from chalicelib.core.consumer import consume
from chalicelib.core.infra import BATCH_ITEM_FAILURES
from tests.events_support import FlakySNS, Probe

ENVELOPE = {
    "eventId": "projects:01JPR0JECT0000000000000001:v1",
    "type": "project-created",
    "schemaVersion": 1,
    "occurredAt": "2026-11-22T10:00:00.000Z",
    "correlationId": "corr-1",
    "source": "projects",
    "subject": {"userId": "u1", "id": "01JPR0JECT0000000000000001", "version": 1},
    "data": {"projectId": "01JPR0JECT0000000000000001", "name": "x"},
}


def _event(*message_ids: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}",
                "body": json.dumps(ENVELOPE),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for message_id in message_ids
        ]
    }


def _fail_second(envelope: Any, record: Any) -> None:
    if record.message_id == "m2":
        raise RuntimeError("transient")


def _no_dead_letters() -> str:
    raise AssertionError("nothing here is poison")


def test_a_failed_record_fails_the_batch_without_the_option(monkeypatch):
    monkeypatch.delenv(BATCH_ITEM_FAILURES.env, raising=False)
    with pytest.raises(BatchFailed, match="1 of 3 records failed"):
        consume(_event("m1", "m2", "m3"), _fail_second, _no_dead_letters)


def test_a_failed_record_is_reported_alone_with_the_option(monkeypatch):
    monkeypatch.setenv(BATCH_ITEM_FAILURES.env, "true")
    answer = consume(_event("m1", "m2", "m3"), _fail_second, _no_dead_letters)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}]}


def test_a_clean_batch_answers_alike_either_way(monkeypatch):
    monkeypatch.delenv(BATCH_ITEM_FAILURES.env, raising=False)
    assert consume(_event("m1", "m3"), _fail_second, _no_dead_letters) == {"batchItemFailures": []}


def test_a_failed_publish_is_retried_not_skipped_without_the_option(
    api, alice, pump, aws, stack, monkeypatch
):
    """The pump treats a raised batch as Lambda does: nothing of it is done, so the
    record comes again and is published once SNS recovers."""
    probe = Probe.attach(aws, stack)
    monkeypatch.delenv(BATCH_ITEM_FAILURES.env, raising=False)
    flaky = FlakySNS(aws.client("sns"), failures=2)
    wiring.override("aws.sns", flaky)
    pump.max_stream_attempts = 10
    project = api.post("/projects", alice, {"name": "kept"}).json
    pump.drain()
    events = [e for e, _ in probe.drain() if e["type"] == "project-created"]
    assert [e["subject"]["id"] for e in events] == [project["projectId"]]
    assert flaky.calls == 3
