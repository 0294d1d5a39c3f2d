"""The event backbone: stream publishers, SNS filter policies, SQS consumers, cascade."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core.events import event_types, parse_envelope
from tests.events_support import Probe, live_tasks_of, project_record


@pytest.fixture
def probe(aws, stack):
    return Probe.attach(aws, stack)


@pytest.fixture(autouse=True)
def _no_dead_letters(request, aws, stack):
    """Nothing a test did not mean to fail may end up in a dead-letter queue."""
    yield
    if request.node.get_closest_marker("dead_letters_expected"):
        return
    sqs = aws.client("sqs")
    for name in stack.names:
        if name.endswith("DLQ"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=stack.names[name], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            assert attributes["ApproximateNumberOfMessages"] == "0", name


def test_every_change_is_published_as_a_versioned_envelope(api, alice, pump, probe):
    created = api.post("/projects", alice, {"name": "Home"}, headers={"X-Request-Id": "req-1"})
    project = created.json
    path = f"/projects/{project['projectId']}"
    api.patch(path, alice, {"name": "House"}, headers={"X-Request-Id": "req-2"})
    task = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]}).json
    note = api.post("/notes", alice, {"title": "n"}).json
    api.delete(path, alice, headers={"X-Request-Id": "req-3"})
    pump.drain()
    events = probe.drain()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for envelope, attributes in events:
        assert attributes["eventType"] == envelope["type"]
        assert attributes["correlationId"] == envelope["correlationId"]
        parse_envelope(envelope)  # valid against the envelope schema
        by_type.setdefault(envelope["type"], []).append(envelope)

    assert sorted(by_type) == [
        "note-created",
        "project-created",
        "project-deleted",
        "project-updated",
        "task-created",
        "task-deleted",
    ]
    created_event = by_type["project-created"][0]
    assert created_event["correlationId"] == "req-1"
    assert created_event["eventId"] == f"projects:{project['projectId']}:v1"
    assert created_event["subject"] == {
        "userId": alice.sub,
        "id": project["projectId"],
        "version": 1,
    }
    assert created_event["data"] == project
    assert created_event["source"] == "projects"
    assert created_event["schemaVersion"] == 1
    assert by_type["project-updated"][0]["correlationId"] == "req-2"
    assert by_type["project-updated"][0]["data"]["name"] == "House"
    deleted = by_type["project-deleted"][0]
    assert deleted["correlationId"] == "req-3"
    assert deleted["subject"]["version"] == 3
    assert by_type["task-created"][0]["data"] == task
    assert by_type["note-created"][0]["data"] == note
    # The cascade's task deletion carries the project deletion's correlation id.
    cascade = by_type["task-deleted"][0]
    assert cascade["subject"]["id"] == task["taskId"]
    assert cascade["correlationId"] == "req-3"


def test_failed_writes_publish_nothing(api, alice, pump, probe, project_of):
    project = project_of(alice)
    pump.drain()
    probe.drain()
    path = f"/projects/{project['projectId']}"
    assert api.patch(path, alice, {"name": ""}).status == 400
    assert api.patch(path, alice, {"name": "x"}, headers={"If-Match": '"9"'}).status == 412
    assert api.post("/tasks", alice, {"title": "t", "projectId": "nope"}).status == 422
    pump.drain()
    assert probe.drain() == []


def test_subscriptions_filter_on_event_type(api, alice, pump, aws, stack, project_of):
    """The Tasks service's queues get only the project events they subscribe to."""
    project = project_of(alice)
    api.post("/notes", alice, {"title": "n"})
    sqs = aws.client("sqs")
    for stream in pump.streams:
        pump._pump_stream(stream)
    upserts = sqs.receive_message(
        QueueUrl=stack.names["TasksProjectUpsertsQueue"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    deletions = sqs.receive_message(
        QueueUrl=stack.names["TasksProjectDeletionsQueue"], MaxNumberOfMessages=10
    ).get("Messages", [])
    assert [json.loads(m["Body"])["type"] for m in upserts] == ["project-created"]
    assert json.loads(upserts[0]["Body"])["subject"]["id"] == project["projectId"]
    assert deletions == []


def test_project_created_event_fills_the_tasks_record(api, alice, pump, aws, stack, project_of):
    project = project_of(alice)
    api.patch(f"/projects/{project['projectId']}", alice, {"name": "v2"})
    pump.drain()
    record = project_record(aws, stack, alice, project["projectId"])
    assert record["state"] == {"S": "live"}
    assert record["version"] == {"N": "2"}
    assert record["lastEventId"] == {"S": f"projects:{project['projectId']}:v2"}


def test_project_deleted_tombstones_and_cascades(api, alice, bob, pump, aws, stack, project_of):
    project, other = project_of(alice), project_of(alice)
    doomed = [
        api.post("/tasks", alice, {"title": f"t{i}", "projectId": project["projectId"]}).json
        for i in range(30)
    ]
    survivor = api.post("/tasks", alice, {"title": "s", "projectId": other["projectId"]}).json
    bobs = api.post("/tasks", bob, {"title": "b", "projectId": project_of(bob)["projectId"]}).json
    pump.drain()
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    pump.drain()
    assert project_record(aws, stack, alice, project["projectId"])["state"] == {"S": "deleted"}
    assert live_tasks_of(aws, stack, alice, project["projectId"]) == []
    for task in doomed[:3]:
        assert api.get(f"/tasks/{task['taskId']}", alice).status == 404
    assert [t["taskId"] for t in api.get("/tasks", alice).json["items"]] == [survivor["taskId"]]
    assert api.get(f"/tasks/{bobs['taskId']}", bob).status == 200
    reply = api.post("/tasks", alice, {"title": "late", "projectId": project["projectId"]})
    assert reply.status == 422


def test_every_event_delivered_three_times_gives_the_same_state(
    api, alice, pump, aws, stack, project_of
):
    real_invoke = pump.invoke

    def three_times(name, event):
        for _ in range(3):
            result = real_invoke(name, event)
        return result

    pump.invoke = three_times
    kept, deleted = project_of(alice), project_of(alice)
    api.patch(f"/projects/{kept['projectId']}", alice, {"name": "v2"})
    for i in range(5):
        api.post("/tasks", alice, {"title": f"t{i}", "projectId": deleted["projectId"]})
    api.post("/tasks", alice, {"title": "k", "projectId": kept["projectId"]})
    api.delete(f"/projects/{deleted['projectId']}", alice)
    pump.drain()
    assert project_record(aws, stack, alice, kept["projectId"])["version"] == {"N": "2"}
    assert project_record(aws, stack, alice, kept["projectId"])["state"] == {"S": "live"}
    assert project_record(aws, stack, alice, deleted["projectId"])["state"] == {"S": "deleted"}
    assert live_tasks_of(aws, stack, alice, deleted["projectId"]) == []
    assert len(live_tasks_of(aws, stack, alice, kept["projectId"])) == 1
    assert len(api.get("/tasks", alice).json["items"]) == 1


def test_event_types_are_known():
    assert set(event_types()) == {
        f"{r}-{a}" for r in ("project", "task", "note") for a in ("created", "updated", "deleted")
    } | {"user-deleted"}


def publish_raw(aws, stack, envelope):
    """Publishes an envelope on the projects topic, as the projects publisher would."""
    aws.client("sns").publish(
        TopicArn=stack.names["ProjectsTopic"],
        Message=json.dumps(envelope),
        MessageAttributes={
            "eventType": {"DataType": "String", "StringValue": envelope["type"]},
            "correlationId": {"DataType": "String", "StringValue": envelope["correlationId"]},
        },
    )


def project_event(user, project_id, event_type, version):
    return {
        "eventId": f"projects:{project_id}:v{version}",
        "type": event_type,
        "schemaVersion": 1,
        "occurredAt": "2026-11-22T10:00:00.000Z",
        "correlationId": f"corr-{version}",
        "source": "projects",
        "subject": {"userId": user.sub, "id": project_id, "version": version},
        "data": {"projectId": project_id, "name": f"v{version}"},
    }


PID = "01JPR0JECT0000000000000000"


def test_deleted_before_created_stays_deleted(aws, stack, pump, alice):
    publish_raw(aws, stack, project_event(alice, PID, "project-deleted", 3))
    pump.drain()
    publish_raw(aws, stack, project_event(alice, PID, "project-created", 1))
    publish_raw(aws, stack, project_event(alice, PID, "project-updated", 2))
    pump.drain()
    record = project_record(aws, stack, alice, PID)
    assert record["state"] == {"S": "deleted"}
    assert record["version"] == {"N": "3"}


def test_the_highest_version_wins_whatever_the_order(aws, stack, pump, alice):
    publish_raw(aws, stack, project_event(alice, PID, "project-updated", 2))
    pump.drain()
    publish_raw(aws, stack, project_event(alice, PID, "project-created", 1))
    pump.drain()
    record = project_record(aws, stack, alice, PID)
    assert record["state"] == {"S": "live"}
    assert record["version"] == {"N": "2"}
    assert record["lastEventId"] == {"S": f"projects:{PID}:v2"}


def test_post_task_right_after_post_project_never_waits_for_events(api, alice, pump, aws, stack):
    project = api.post("/projects", alice, {"name": "fresh"}).json
    reply = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
    assert reply.status == 201
    pump.drain()  # the late project-created agrees with the record filled on the miss
    record = project_record(aws, stack, alice, project["projectId"])
    assert record["state"] == {"S": "live"}
    assert record["version"] == {"N": "1"}


def test_a_publish_that_fails_is_retried_until_delivered(api, alice, pump, probe, aws):
    from chalicelib.core import wiring
    from tests.events_support import FlakySNS

    flaky = FlakySNS(aws.client("sns"), failures=3)
    wiring.override("aws.sns", flaky)
    pump.max_stream_attempts = 10
    project = api.post("/projects", alice, {"name": "retry me"}).json
    pump.drain()
    events = [e for e, _ in probe.drain() if e["type"] == "project-created"]
    assert [e["subject"]["id"] for e in events] == [project["projectId"]]
    assert flaky.calls == 4


@pytest.mark.dead_letters_expected
def test_a_publish_that_keeps_failing_goes_to_the_on_failure_queue(
    api, alice, pump, probe, aws, stack
):
    from chalicelib.core import wiring
    from tests.events_support import FlakySNS

    wiring.override("aws.sns", FlakySNS(aws.client("sns"), failures=1_000))
    api.post("/projects", alice, {"name": "doomed"})
    pump.drain()
    assert probe.drain() == []
    messages = (
        aws.client("sqs")
        .receive_message(QueueUrl=stack.names["ProjectsPublisherDLQ"])
        .get("Messages", [])
    )
    assert len(messages) == 1
    info = json.loads(messages[0]["Body"])
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1


@pytest.mark.dead_letters_expected
def test_poison_messages_go_to_the_dlq_and_spare_their_neighbours(aws, stack, pump, alice, bob):
    sqs = aws.client("sqs")
    queue = stack.names["TasksProjectUpsertsQueue"]
    good_a = project_event(alice, "01JPR0JECT0000000000000001", "project-created", 1)
    good_b = project_event(bob, "01JPR0JECT0000000000000002", "project-created", 1)
    future = {**good_a, "schemaVersion": 2}
    no_subject = {k: v for k, v in good_a.items() if k != "subject"}
    bodies = [
        json.dumps(good_a),
        "{not json",
        json.dumps(future),
        json.dumps(no_subject),
        json.dumps(good_b),
        json.dumps([1, 2]),
    ]
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
    )
    pump.drain()
    assert project_record(aws, stack, alice, good_a["subject"]["id"])["state"] == {"S": "live"}
    assert project_record(aws, stack, bob, good_b["subject"]["id"])["state"] == {"S": "live"}
    dead = sqs.receive_message(
        QueueUrl=stack.names["TasksProjectUpsertsDLQ"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    reasons = sorted(m["MessageAttributes"]["failureReason"]["StringValue"] for m in dead)
    assert len(reasons) == 4
    assert any("schemaVersion 2" in r for r in reasons)
    assert any("not JSON" in r for r in reasons)
    assert any("subject" in r for r in reasons)
    assert (
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "0"
    )


@pytest.mark.dead_letters_expected
def test_a_message_that_keeps_failing_is_redriven_after_five_receives(aws, stack, pump, alice):
    """A transient-looking failure (not poison) is retried by SQS, then redriven."""
    from chalicelib.core import wiring

    sqs = aws.client("sqs")
    # The deletions consumer needs SQS to hand on; a broken SQS client makes every
    # attempt fail after its tombstone, which must be harmless to repeat.
    wiring.override("aws.sqs", _BrokenSend(sqs))
    publish_raw(aws, stack, project_event(alice, PID, "project-deleted", 2))
    pump.drain()
    dead = sqs.receive_message(
        QueueUrl=stack.names["TasksProjectDeletionsDLQ"], AttributeNames=["All"]
    )["Messages"]
    assert len(dead) == 1
    assert json.loads(dead[0]["Body"])["eventId"] == f"projects:{PID}:v2"
    assert project_record(aws, stack, alice, PID)["state"] == {"S": "deleted"}


class _BrokenSend:
    def __init__(self, real):
        self.real = real

    def send_message(self, **kwargs):
        from tests.events_support import client_error

        raise client_error("SendMessage")

    def __getattr__(self, name):
        return getattr(self.real, name)
