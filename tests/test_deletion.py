"""Deletion is immediate for clients (README.md, The API): from the moment DELETE answers, a
deleted project's tasks are gone, nothing can be written into it, and nothing that
answered 2xx is undone later by the cascade."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.projects import service as projects_service
from chalicelib.tasks import service as tasks_service
from tests.events_support import Probe, live_tasks_of, project_record
from tests.problems import problem
from tests.test_realtime import Websocket, cognito_jwks  # noqa: F401 - a fixture


@pytest.fixture
def ws(chalice_client: Any, cognito_jwks: Any) -> Websocket:  # noqa: F811
    return Websocket(chalice_client)


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


# ---- notes: links to a deleted project or task read as null at once ----------------------


def _note(api: Any, user: Any, **links: Any) -> dict[str, Any]:
    reply = api.post("/notes", user, {"title": "n", **links})
    assert reply.status == 201, reply.json
    body: dict[str, Any] = reply.json
    return body


def _listed(api: Any, user: Any, query: str = "") -> dict[str, Any]:
    reply = api.get(f"/notes{query}", user)
    assert reply.status == 200, reply.json
    body: dict[str, Any] = reply.json
    return body


def test_notes_are_unlinked_from_a_deleted_project_at_once(api, alice, project_of):
    doomed, kept = project_of(alice), project_of(alice)
    task = _task(api, alice, doomed)
    other_task = _task(api, alice, kept)
    both = _note(api, alice, projectId=doomed["projectId"], taskId=task["taskId"])
    by_task = _note(api, alice, taskId=task["taskId"])
    elsewhere = _note(api, alice, projectId=kept["projectId"], taskId=other_task["taskId"])

    assert api.delete(f"/projects/{doomed['projectId']}", alice).status == 204

    for note in (both, by_task):
        read = api.get(f"/notes/{note['noteId']}", alice).json
        assert (read["projectId"], read["taskId"]) == (None, None)
        assert read["version"] == note["version"]  # stored by the cascade later, not here
    assert api.get(f"/notes/{elsewhere['noteId']}", alice).json == elsewhere
    for query in (f"?projectId={doomed['projectId']}", f"?taskId={task['taskId']}"):
        assert _listed(api, alice, query) == {"items": [], "nextCursor": None}
    combined = f"?projectId={doomed['projectId']}&taskId={task['taskId']}"
    assert _listed(api, alice, combined)["items"] == []
    listed = {n["noteId"]: n for n in _listed(api, alice)["items"]}
    assert (listed[both["noteId"]]["projectId"], listed[both["noteId"]]["taskId"]) == (None, None)
    assert listed[elsewhere["noteId"]] == elsewhere
    assert [
        n["noteId"] for n in _listed(api, alice, f"?projectId={kept['projectId']}")["items"]
    ] == [elsewhere["noteId"]]


def test_notes_are_unlinked_from_a_deleted_task_at_once(api, alice, project_of):
    project = project_of(alice)
    doomed, kept = _task(api, alice, project), _task(api, alice, project)
    linked = _note(api, alice, projectId=project["projectId"], taskId=doomed["taskId"])
    other = _note(api, alice, taskId=kept["taskId"])

    assert api.delete(f"/tasks/{doomed['taskId']}", alice).status == 204

    read = api.get(f"/notes/{linked['noteId']}", alice).json
    assert (read["projectId"], read["taskId"]) == (project["projectId"], None)
    assert _listed(api, alice, f"?taskId={doomed['taskId']}") == {"items": [], "nextCursor": None}
    by_project = _listed(api, alice, f"?projectId={project['projectId']}")["items"]
    assert [(n["noteId"], n["taskId"]) for n in by_project] == [(linked["noteId"], None)]
    assert api.get(f"/notes/{other['noteId']}", alice).json == other


def test_a_note_cannot_be_linked_to_a_deleted_project_or_its_task(api, alice, project_of):
    project = project_of(alice)
    task = _task(api, alice, project)
    note = _note(api, alice)
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    for links in ({"projectId": project["projectId"]}, {"taskId": task["taskId"]}):
        assert api.post("/notes", alice, {"title": "n", **links}).status == 422
        assert api.patch(f"/notes/{note['noteId']}", alice, links).status == 422


def test_editing_an_unlinked_note_stores_it_unlinked(api, alice, project_of):
    project = project_of(alice)
    note = _note(api, alice, projectId=project["projectId"])
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    edited = api.patch(f"/notes/{note['noteId']}", alice, {"title": "edited"})
    assert edited.status == 200, edited.json
    assert (edited.json["projectId"], edited.json["version"]) == (None, 2)


# ---- notes: the unlink cascade stores what reads showed at once ---------------------------


def _stored_note(aws: Any, stack: Any, user: Any, note_id: str) -> dict[str, Any]:
    item: dict[str, Any] = aws.client("dynamodb").get_item(
        TableName=stack.names["NotesTable"],
        Key={"userId": {"S": user.sub}, "noteId": {"S": note_id}},
        ConsistentRead=True,
    )["Item"]
    return item


def test_the_unlink_cascade_stores_a_new_version_publishes_and_pushes(
    api, alice, pump, aws, stack, project_of, ws
):
    probe = Probe.attach(aws, stack)
    doomed, kept = project_of(alice), project_of(alice)
    task = _task(api, alice, doomed)
    lone_task = _task(api, alice, kept)
    both = _note(api, alice, projectId=doomed["projectId"], taskId=task["taskId"])
    by_lone = _note(api, alice, taskId=lone_task["taskId"])
    untouched = _note(api, alice, projectId=kept["projectId"])
    pump.drain()
    probe.drain()
    phone, _ = ws.connect(alice.id_token)

    assert (
        api.delete(
            f"/projects/{doomed['projectId']}", alice, headers={"X-Request-Id": "del-p"}
        ).status
        == 204
    )
    assert (
        api.delete(f"/tasks/{lone_task['taskId']}", alice, headers={"X-Request-Id": "del-t"}).status
        == 204
    )
    pump.drain()

    stored = _stored_note(aws, stack, alice, both["noteId"])
    # One version for the project's unlink, one for its cascaded task's.
    assert stored["version"] == {"N": "3"}
    assert not {"projectId", "taskId", "projectKey", "taskKey"} & set(stored)
    lone = _stored_note(aws, stack, alice, by_lone["noteId"])
    assert (lone["version"], lone["requestId"]) == ({"N": "2"}, {"S": "del-t"})
    assert not {"taskId", "taskKey"} & set(lone)
    assert api.get(f"/notes/{untouched['noteId']}", alice).json == untouched
    read = api.get(f"/notes/{both['noteId']}", alice).json
    assert (read["projectId"], read["taskId"], read["version"]) == (None, None, 3)

    updates = [e for e, _ in probe.drain() if e["type"] == "note-updated"]
    assert sorted((e["subject"]["id"], e["subject"]["version"]) for e in updates) == sorted(
        [(both["noteId"], 2), (both["noteId"], 3), (by_lone["noteId"], 2)]
    )
    by_id = {(e["subject"]["id"], e["subject"]["version"]): e for e in updates}
    assert by_id[(by_lone["noteId"], 2)]["correlationId"] == "del-t"
    assert by_id[(by_lone["noteId"], 2)]["data"]["taskId"] is None
    assert by_id[(both["noteId"], 3)]["data"]["projectId"] is None
    assert by_id[(both["noteId"], 3)]["data"]["taskId"] is None
    note_pushes = [m for m in ws.posted(phone) if m["resource"] == "note"]
    assert sorted((m["type"], m["id"], m["version"]) for m in note_pushes) == sorted(
        [
            ("changed", both["noteId"], 2),
            ("changed", both["noteId"], 3),
            ("changed", by_lone["noteId"], 2),
        ]
    )
    # Nothing was deleted: every note is still listed.
    listed = {n["noteId"] for n in _listed(api, alice)["items"]}
    assert listed == {both["noteId"], by_lone["noteId"], untouched["noteId"]}
    dead = aws.client("sqs").receive_message(QueueUrl=stack.names["NotesUnlinksDLQ"])
    assert dead.get("Messages", []) == []


def test_an_unlink_keeps_a_concurrent_edit_and_a_repeat_changes_nothing(
    api, alice, pump, aws, stack, project_of
):
    from chalicelib.notes.cascade import unlink_notes

    project = project_of(alice)
    note = _note(api, alice, projectId=project["projectId"], body="draft")
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    # The user edits the note before the cascade reaches it: the edit stores it unlinked.
    assert api.patch(f"/notes/{note['noteId']}", alice, {"body": "final"}).status == 200

    def run() -> Any:
        return unlink_notes(
            alice.sub,
            "projectId",
            project["projectId"],
            "c",
            max_notes=10,
            seconds_left=lambda: 100.0,
            time_margin=1,
        )

    assert (run().unlinked, run().unlinked) == (0, 0)
    read = api.get(f"/notes/{note['noteId']}", alice).json
    assert (read["body"], read["projectId"], read["version"]) == ("final", None, 2)
    assert "projectId" not in _stored_note(aws, stack, alice, note["noteId"])


def test_unlink_rounds_are_bounded_and_resume(api, alice, aws, stack, project_of):
    from chalicelib.notes.cascade import unlink_notes

    project = project_of(alice)
    for _ in range(5):
        _note(api, alice, projectId=project["projectId"])
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204

    def one_round() -> Any:
        outcome = unlink_notes(
            alice.sub,
            "projectId",
            project["projectId"],
            "c",
            max_notes=3,
            seconds_left=lambda: 100.0,
            time_margin=1,
        )
        return (outcome.unlinked, outcome.finished)

    assert [one_round(), one_round(), one_round()] == [(3, False), (2, True), (0, True)]


@pytest.mark.parametrize("target", ["task", "project"])
def test_a_note_linked_while_its_target_is_deleted_is_refused(
    api, alice, pump, aws, stack, project_of, target
):
    """The race: POST /notes has checked its links and is about to commit when the task
    (or its project) is deleted and the unlink cascade runs. The note's transaction
    guards its links, so it is refused rather than stored with a link nothing will clear."""
    from pynamodb.signals import pre_dynamodb_send

    from chalicelib.notes.models import Note

    project = project_of(alice)
    task = _task(api, alice, project)
    pump.drain()
    fired: list[bool] = []

    def delete_now(sender: Any, operation_name: str, table_name: str, req_uuid: str) -> None:
        note_write = operation_name == "TransactWriteItems" or (
            operation_name == "PutItem" and (table_name or "").endswith("-notes")
        )
        if note_write and not fired:
            fired.append(True)
            if target == "task":
                tasks_service.delete_task(alice.sub, task["taskId"], None, "race")
            else:
                projects_service.delete_project(alice.sub, project["projectId"], None, "race")
            pump.drain()

    pre_dynamodb_send.connect(delete_now)
    try:
        reply = api.post("/notes", alice, {"title": "racer", "taskId": task["taskId"]})
    finally:
        pre_dynamodb_send.disconnect(delete_now)
    assert fired
    assert reply.status == 422, reply.json
    assert "taskId" in reply.json["errors"]
    assert [n.note_id for n in Note.query(alice.sub)] == []
