"""The REST function's packaged role against the DynamoDB calls the API really makes.

Every route runs once (with the Idempotency-Key paths) on moto, whose recorder logs each
AWS request. The calls, translated into IAM actions on the template's logical resources,
must be exactly what APIHandler's role grants on DynamoDB: a call outside the role would
fail in AWS (AccessDenied), and a grant no call uses is more than the API needs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from moto.moto_api import recorder

from chalicelib.core import wiring
from chalicelib.sync.log import Change, append
from devstack.infra import Context

from .test_template import functions, granted, role_of, statements_of

# A transaction is authorised per item, under the item operation's own action.
_TRANSACT_ITEM_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}


def dynamodb_calls(recording: str, tables: dict[str, str]) -> set[tuple[str, str]]:
    """(IAM action, resource as test_template names it) of each DynamoDB request."""
    calls = set()
    for line in recording.splitlines():
        entry = json.loads(line)
        headers = {key.lower(): value for key, value in entry["headers"].items()}
        service, _, operation = headers.get("x-amz-target", "").partition(".")
        if not service.startswith("DynamoDB"):
            continue
        raw = entry["body"] or ""
        body = json.loads(base64.b64decode(raw) if entry["body_encoded"] else raw)
        if operation in ("TransactWriteItems", "TransactGetItems"):
            for item in body["TransactItems"]:
                ((kind, request),) = item.items()
                action = _TRANSACT_ITEM_ACTIONS.get(kind, kind)
                calls.add((f"dynamodb:{action}", f"{tables[request['TableName']]}.Arn"))
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for name in body["RequestItems"]:
                calls.add((f"dynamodb:{operation}", f"{tables[name]}.Arn"))
        else:
            resource = f"{tables[body['TableName']]}.Arn"
            if "IndexName" in body:
                resource += f"/index/{body['IndexName']}"
            calls.add((f"dynamodb:{operation}", resource))
    return calls


def exercise_every_route(api: Any, user: Any) -> None:
    def ok(reply: Any, status: int = 200) -> Any:
        assert reply.status == status, reply.json
        return reply.json

    key = {"Idempotency-Key": "deploy-test"}
    project = ok(api.post("/projects", user, {"name": "Deploy"}, headers=key), 201)
    ok(api.post("/projects", user, {"name": "Deploy"}, headers=key), 201)  # replayed
    ok(api.post("/projects", user, {"name": ""}, headers={"Idempotency-Key": "bad"}), 400)
    project_id = project["projectId"]
    ok(api.get("/projects", user))
    ok(api.get(f"/projects/{project_id}", user))
    ok(api.patch(f"/projects/{project_id}", user, {"name": "Deployed"}))

    task = ok(api.post("/tasks", user, {"title": "T", "projectId": project_id}), 201)
    task_id = task["taskId"]
    for query in ("", f"?projectId={project_id}", "?status=Active", "?isCompleted=false"):
        ok(api.get(f"/tasks{query}", user))
    ok(api.get(f"/tasks/{task_id}", user))
    ok(api.patch(f"/tasks/{task_id}", user, {"title": "U"}))

    note = ok(api.post("/notes", user, {"title": "N", "taskId": task_id, "tags": ["a"]}), 201)
    note_id = note["noteId"]
    for query in ("", f"?projectId={project_id}", f"?taskId={task_id}", "?tag=a"):
        ok(api.get(f"/notes{query}", user))
    ok(api.get(f"/notes/{note_id}", user))
    ok(api.patch(f"/notes/{note_id}", user, {"title": "M", "tags": ["b"]}))

    # The change log is the Sync service's consumer's to write, not the API's: it is
    # filled here outside the recording, so that GET /sync reads entries and objects.
    recorder.stop_recording()
    for resource, object_id in (("project", project_id), ("task", task_id), ("note", note_id)):
        append(Change(user.sub, resource, object_id, 1, None))
    recorder.start_recording()
    changes = ok(api.get("/sync", user))
    assert [len(changes[name]) for name in ("projects", "tasks", "notes")] == [1, 1, 1]
    offline = {
        "commands": [
            {
                "commandId": "c1",
                "type": "create",
                "resource": "task",
                "tempId": "t",
                "fields": {"title": "offline", "projectId": project_id},
            },
            {
                "commandId": "c2",
                "type": "update",
                "resource": "task",
                "tempId": "t",
                "fields": {"title": "edited"},
            },
            {"commandId": "c3", "type": "delete", "resource": "task", "tempId": "t"},
        ]
    }
    ok(api.post("/sync", user, offline))
    ok(api.post("/sync", user, offline))  # replayed from the ledger

    ok(api.delete(f"/notes/{note_id}", user), 204)
    ok(api.delete(f"/tasks/{task_id}", user), 204)
    ok(api.delete(f"/projects/{project_id}", user), 204)
    job = ok(api.post("/me/export", user, headers={"Idempotency-Key": "export"}), 202)
    ok(api.get(f"/jobs/{job['jobId']}", user))
    # A job whose message cannot be queued is failed at once (the router's UpdateItem).
    wiring.override("aws.sqs", _UnreachableQueue())
    try:
        ok(api.post("/me/export", user), 500)
    finally:
        wiring.override("aws.sqs", None)
    ok(api.delete("/me", user), 202)


class _UnreachableQueue:
    def send_message(self, **kwargs: Any) -> Any:
        raise ConnectionError("the queue is unreachable")


def test_api_calls_are_exactly_what_the_role_grants(
    api: Any,
    alice: Any,
    stack: Context,
    template: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The recorder appends to ./moto_recording unless MOTO_RECORDER_FILEPATH says otherwise.
    monkeypatch.chdir(tmp_path)
    recorder.reset_recording()
    recorder.start_recording()
    try:
        exercise_every_route(api, alice)
    finally:
        recorder.stop_recording()
    tables = {physical: logical for logical, physical in stack.names.items()}
    calls = dynamodb_calls(recorder.download_recording(), tables)

    role = statements_of(template, role_of(functions(template)["APIHandler"]))
    grants = {(action, res) for action, res in granted(role) if action.startswith("dynamodb:")}
    assert calls - grants == set(), "calls the role does not allow"
    assert grants - calls == set(), "grants no call uses"
