"""DELETE /me in-process: moto, the real Chalice test client, the pump calling the real
handlers; every table and the exports bucket are checked directly afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from chalicelib.core import wiring
from devstack.lambda_api import InProcessLambda

from .conftest import STAGE

# Kept by design: the audit trail records the deletion (no personal data), and the
# revocation entry refuses the old tokens until they have expired (TTL, 2 h).
KEPT = {"ProfileAuditTable", "RevocationsTable"}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch, chalice_client: Any) -> None:
    from app import app
    from devstack.pump import lambda_invoker

    monkeypatch.setenv("TANDEM_PROFILE_GATEKEEPER", "profile_gatekeeper")
    monkeypatch.setenv("TANDEM_DELETION_GRACE_SECONDS", "0")
    monkeypatch.setenv("TANDEM_DELETION_POLL_SECONDS", "0")
    wiring.override("aws.lambda", InProcessLambda(app, lambda_invoker(app, STAGE)))


def owned_items(aws: Any, stack: Any, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table whose key starts with the user, or that names them."""
    dynamodb = aws.client("dynamodb")
    plain = TypeDeserializer().deserialize
    found: dict[str, list[dict[str, Any]]] = {}
    for logical, name in stack.names.items():
        if not logical.endswith("Table"):
            continue
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                row = {k: plain(v) for k, v in item.items()}
                if user_id in repr(row):
                    items.append(row)
        if items:
            found[logical] = items
    return found


def test_delete_me_deletes_everything_of_the_user_and_nothing_else(
    api, alice, bob, pump, aws, stack, user_pool
):
    from chalicelib.realtime import service as realtime

    assert api.put("/me", alice, {"displayName": "Alice Secretname"}).status == 200
    project = api.post("/projects", alice, {"name": "Home"}).json
    task = api.post("/tasks", alice, {"title": "T", "projectId": project["projectId"]}).json
    api.post("/notes", alice, {"title": "N", "body": "b", "taskId": task["taskId"]})
    export = api.post("/me/export", alice).json
    bobs = api.post("/projects", bob, {"name": "Bob's"}).json
    api.post("/tasks", bob, {"title": "Bob's task", "projectId": bobs["projectId"]})
    pump.drain()
    assert api.get(f"/jobs/{export['jobId']}", alice).json["status"] == "succeeded"
    realtime.remember_connection(alice.sub, "alice-connection")

    reply = api.delete("/me", alice, headers={"X-Request-Id": "delete-alice"})
    assert reply.status == 202, reply.json
    job_id = reply.json["jobId"]
    assert reply.header("Location") == f"/jobs/{job_id}"
    assert reply.json["type"] == "account-deletion"
    # From now on nothing but the deletion's job answers the old token.
    assert api.get("/projects", alice).status == 401
    assert api.post("/projects", alice, {"name": "late"}).status == 401
    assert api.get(f"/jobs/{job_id}", alice).status == 200
    pump.drain()

    for path in ("/me", "/projects", f"/jobs/{job_id}", f"/jobs/{export['jobId']}"):
        assert api.get(path, alice).status == 401, path
    left = owned_items(aws, stack, alice.sub)
    assert set(left) <= KEPT, left
    audit = left["ProfileAuditTable"]
    deletion = [r for r in audit if r["action"] == "delete"]
    assert [(r["actor"], r["outcome"], r["correlationId"]) for r in deletion] == [
        (f"job:{job_id}", "ok", "delete-alice")
    ]
    assert "Secretname" not in repr(left)
    listing = aws.client("s3").list_objects_v2(Bucket=stack.names["ExportsBucket"])
    assert listing.get("KeyCount", 0) == 0
    with pytest.raises(user_pool.client.exceptions.UserNotFoundException):
        user_pool.client.admin_get_user(UserPoolId=user_pool.pool_id, Username=alice.email)
    # Bob is untouched.
    assert [p["name"] for p in api.get("/projects", bob).json["items"]] == ["Bob's"]
    assert [t["title"] for t in api.get("/tasks", bob).json["items"]] == ["Bob's task"]
