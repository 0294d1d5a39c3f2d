"""Deletion is immediate for clients (README.md, The API): from the moment DELETE answers, a
deleted project's tasks are gone, nothing can be written into it, and nothing that
answered 2xx is undone later by the cascade."""

from __future__ import annotations

from typing import Any

from chalicelib.projects import service as projects_service
from chalicelib.tasks import service as tasks_service
from tests.events_support import live_tasks_of, project_record
from tests.problems import problem


def _task(api: Any, user: Any, project: dict[str, Any], title: str = "t") -> dict[str, Any]:
    reply = api.post("/tasks", user, {"title": title, "projectId": project["projectId"]})
    assert reply.status == 201, reply.json
    body: dict[str, Any] = reply.json
    return body


def test_a_deleted_projects_tasks_are_gone_before_any_event_runs(
    api, alice, pump, aws, stack, project_of
):
    doomed, safe = project_of(alice), project_of(alice)
    inside = _task(api, alice, doomed)
    outside = _task(api, alice, safe)
    pump.drain()  # the Tasks service knows both projects as live

    assert api.delete(f"/projects/{doomed['projectId']}", alice).status == 204
    # No event has run: the pump has not been drained since the delete.
    assert project_record(aws, stack, alice, doomed["projectId"])["state"] == {"S": "deleted"}

    created = api.post("/tasks", alice, {"title": "late", "projectId": doomed["projectId"]})
    assert created.status == 422, created.json
    moved = api.patch(f"/tasks/{outside['taskId']}", alice, {"projectId": doomed["projectId"]})
    assert moved.status == 422, moved.json
    path = f"/tasks/{inside['taskId']}"
    assert api.get(path, alice).status == 404
    assert api.patch(path, alice, {"title": "edited"}).status == 404
    assert api.put(path, alice, {"title": "x", "projectId": safe["projectId"]}).status == 404
    assert api.delete(path, alice).status == 404
    assert api.get(f"/tasks?projectId={doomed['projectId']}", alice).json["items"] == []
    assert [t["taskId"] for t in api.get("/tasks", alice).json["items"]] == [outside["taskId"]]

    pump.drain()
    assert live_tasks_of(aws, stack, alice, doomed["projectId"]) == []
    kept = api.get(f"/tasks/{outside['taskId']}", alice)
    assert kept.status == 200
    assert kept.json["projectId"] == safe["projectId"]


def test_a_project_never_known_to_the_tasks_service_is_refused_at_once(
    api, alice, aws, stack, project_of
):
    """No event has filled the record yet: the deletion writes the record's tombstone
    itself, so the miss path cannot find the project live anywhere."""
    project = project_of(alice)
    assert project_record(aws, stack, alice, project["projectId"]) is None
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    reply = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
    assert reply.status == 422


def test_the_deletion_event_keeps_the_tombstone(api, alice, pump, aws, stack, project_of):
    project = project_of(alice)
    _task(api, alice, project)
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    record = project_record(aws, stack, alice, project["projectId"])
    assert (record["state"], record["version"]) == ({"S": "deleted"}, {"N": "2"})
    pump.drain()
    record = project_record(aws, stack, alice, project["projectId"])
    assert (record["state"], record["version"]) == ({"S": "deleted"}, {"N": "2"})
    assert record["lastEventId"] == {"S": f"projects:{project['projectId']}:v2"}


def test_a_project_whose_deletion_fails_keeps_its_record_live(
    api, alice, pump, aws, stack, project_of
):
    """The record's tombstone is in the project's transaction: a lost If-Match race
    leaves both as they were."""
    project = project_of(alice)
    _task(api, alice, project)
    pump.drain()
    reply = api.delete(f"/projects/{project['projectId']}", alice, headers={"If-Match": '"7"'})
    assert reply.status == 412
    assert project_record(aws, stack, alice, project["projectId"])["state"] == {"S": "live"}
    assert api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]}).status == (
        201
    )


def test_the_tasks_service_joins_every_project_deletion():
    import app  # noqa: F401 - what a Lambda imports

    assert tasks_service._forget_in_deletion in projects_service.deletion_participants()


class _Conflicts:
    """A botocore before-call handler, registered on PynamoDB's client: the first `times`
    TransactWriteItems are answered as DynamoDB answers a transaction that met another
    one on the same item, and are never sent."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.answered = 0

    def __call__(self, params: dict[str, Any], **_: Any) -> Any:
        import json

        from botocore.awsrequest import AWSResponse

        if self.left == 0:
            return None
        self.left -= 1
        self.answered += 1
        items = json.loads(params["body"])["TransactItems"]
        reasons = [{"Code": "None"}] * (len(items) - 1) + [{"Code": "TransactionConflict"}]
        parsed = {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": reasons,
        }
        return AWSResponse(params["url"], 400, {}, None), parsed


def _inject_conflicts(times: int) -> Any:
    from chalicelib.core.models import connection

    conflicts = _Conflicts(times)
    events = connection().client.meta.events
    events.register("before-call.dynamodb.TransactWriteItems", conflicts)
    return conflicts, lambda: events.unregister(
        "before-call.dynamodb.TransactWriteItems", conflicts
    )


def test_a_transaction_conflict_is_retried_not_a_500(api, alice, project_of):
    """Concurrent task writes and the deletion meet on the project's record; DynamoDB
    cancels one transaction with TransactionConflict, which botocore does not retry."""
    project = project_of(alice)
    conflicts, remove = _inject_conflicts(2)
    try:
        created = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
        assert created.status == 201, created.json
        conflicts.left = 2
        assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    finally:
        remove()
    assert conflicts.answered == 4
    assert api.get(f"/tasks/{created.json['taskId']}", alice).status == 404


def test_a_transaction_that_keeps_conflicting_fails(api, alice, project_of):
    project = project_of(alice)
    conflicts, remove = _inject_conflicts(100)
    try:
        reply = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
    finally:
        remove()
    # Transient, so a 503 the client may retry, not a 500.
    assert problem(reply, 503)["detail"]
    assert reply.header("Retry-After") == "1"
    assert conflicts.answered == 4
