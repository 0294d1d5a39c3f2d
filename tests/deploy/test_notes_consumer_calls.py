"""The Notes unlink consumer's packaged role against the DynamoDB calls it really makes.

It runs on moto with the recorder on, for a project-deleted and a task-deleted event that
each unlink a note. Its calls, as IAM actions on the template's logical resources, must be
exactly what its role grants on DynamoDB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.moto_api import recorder

from chalicelib.core.events import Envelope, Subject
from chalicelib.core.models import utcnow
from devstack.infra import Context
from devstack.pump import lambda_invoker, lambda_sqs_record
from tests.conftest import REGION, STAGE, User

from .test_api_calls import dynamodb_calls
from .test_template import functions, granted, role_of, statements_of


def deletion_event(user: User, stack: Context, kind: str, target_id: str) -> dict[str, Any]:
    source = kind.partition("-")[0] + "s"
    envelope = Envelope(
        event_id=f"{source}:{target_id}:v2",
        type=kind,
        occurred_at=utcnow(),
        correlation_id="deploy-test",
        source=source,
        subject=Subject(user.sub, target_id, 2),
        data={},
    )
    message = {
        "MessageId": f"m-{kind}",
        "ReceiptHandle": f"r-{kind}",
        "Body": json.dumps(envelope.to_json()),
        "MessageAttributes": {
            name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
            for name, value in envelope.message_attributes().items()
        },
    }
    arn = stack.attributes[("NotesUnlinksQueue", "Arn")]
    return {"Records": [lambda_sqs_record(message, arn, REGION)]}


def test_unlink_calls_are_exactly_what_the_role_grants(
    api: Any,
    alice: User,
    stack: Context,
    template: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import app

    project = api.post("/projects", alice, {"name": "P"}).json
    task = api.post("/tasks", alice, {"title": "T", "projectId": project["projectId"]}).json
    api.post("/notes", alice, {"projectId": project["projectId"], "taskId": task["taskId"]})
    invoke = lambda_invoker(app, STAGE)

    monkeypatch.chdir(tmp_path)  # the recorder's file
    recorder.reset_recording()
    recorder.start_recording()
    try:
        for kind, target in (
            ("project-deleted", project["projectId"]),
            ("task-deleted", task["taskId"]),
        ):
            result = invoke("on_reference_deleted", deletion_event(alice, stack, kind, target))
            assert result == {"batchItemFailures": []}
    finally:
        recorder.stop_recording()
    tables = {physical: logical for logical, physical in stack.names.items()}
    made = dynamodb_calls(recorder.download_recording(), tables)
    assert ("dynamodb:UpdateItem", "NotesTable.Arn") in made  # the unlinks really ran

    role = statements_of(template, role_of(functions(template)["OnReferenceDeleted"]))
    grants = {(a, r) for a, r in granted(role) if a.startswith("dynamodb:")}
    assert made - grants == set(), "calls the role does not allow"
    assert grants - made == set(), "grants no call uses"
