"""Items stored before the sparse indexes of issue 11 are listed after the backfill."""

from __future__ import annotations

from typing import Any

from deploy.backfill_indexes import backfill

OLD_KEYS = ("liveOwner", "completionKey")  # what items written before issue 11 lack


def _strip_new_keys(client: Any, table: str, key: dict[str, Any]) -> None:
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="REMOVE liveOwner, completionKey",
    )


def test_old_items_are_listed_after_the_backfill(api: Any, alice: Any, aws: Any, stack: Any):
    client = aws.client("dynamodb")
    names = stack.names
    project = api.post("/projects", alice, {"name": "old"}).json
    task = api.post(
        "/tasks", alice, {"title": "old", "projectId": project["projectId"], "isCompleted": True}
    ).json
    note = api.post("/notes", alice, {"title": "old", "tags": ["t"]}).json
    user = {"userId": {"S": alice.sub}}
    _strip_new_keys(
        client, names["ProjectsTable"], {**user, "projectId": {"S": project["projectId"]}}
    )
    _strip_new_keys(client, names["TasksTable"], {**user, "taskId": {"S": task["taskId"]}})
    _strip_new_keys(client, names["NotesTable"], {**user, "noteId": {"S": note["noteId"]}})
    client.delete_item(
        TableName=names["NoteTagsTable"],
        Key={"userId": {"S": alice.sub}, "tagNote": {"S": "t\x1f" + note["noteId"]}},
    )
    before = [
        api.get(path, alice).json["items"]
        for path in ("/projects", "/tasks", "/tasks?isCompleted=true", "/notes", "/notes?tag=t")
    ]
    assert before == [[], [], [], [], []]

    assert backfill(client, "projects", names["ProjectsTable"]) == 1
    assert backfill(client, "tasks", names["TasksTable"]) == 1
    assert backfill(client, "notes", names["NotesTable"], names["NoteTagsTable"]) == 1
    assert backfill(client, "tasks", names["TasksTable"]) == 0  # idempotent

    assert [p["projectId"] for p in api.get("/projects", alice).json["items"]] == [
        project["projectId"]
    ]
    for path in ("/tasks", "/tasks?isCompleted=true"):
        assert [t["taskId"] for t in api.get(path, alice).json["items"]] == [task["taskId"]]
    for path in ("/notes", "/notes?tag=t"):
        assert [n["noteId"] for n in api.get(path, alice).json["items"]] == [note["noteId"]]
    # The versions are untouched: the backfill is not a change of the resource.
    assert api.get(f"/tasks/{task['taskId']}", alice).json["version"] == task["version"]
