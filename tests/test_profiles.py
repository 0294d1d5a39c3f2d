"""GET/PUT /me through the gatekeeper's function (a synchronous invoke, in-process through
devstack.lambda_api's boundary), with the audit trail checked in the audit table."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core import wiring
from devstack.lambda_api import InProcessLambda

from .conftest import STAGE


@pytest.fixture
def gatekeeper(chalice_client: Any) -> InProcessLambda:
    from app import app
    from devstack.pump import lambda_invoker

    fake = InProcessLambda(app, lambda_invoker(app, STAGE))
    wiring.override("aws.lambda", fake)
    return fake


@pytest.fixture(autouse=True)
def _gatekeeper_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_PROFILE_GATEKEEPER", "profile_gatekeeper")


def audit(aws: Any, stack: Any, user_id: str) -> list[dict[str, Any]]:
    table = stack.names["ProfileAuditTable"]
    items = aws.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    )["Items"]
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer().deserialize
    return [{k: plain(v) for k, v in item.items()} for item in items]


def test_first_read_is_the_default_profile_and_is_audited(api, alice, gatekeeper, aws, stack):
    reply = api.get("/me", alice, headers={"X-Request-Id": "req-1"})
    assert reply.status == 200, reply.json
    body = reply.json
    assert body["displayName"] is None
    assert body["timeZone"] == "UTC"
    assert body["locale"] == "en"
    assert body["preferences"] == {}
    assert body["version"] == 1
    assert reply.header("ETag") == '"1"'
    # Through the function boundary: the router called the gatekeeper, not the table.
    assert [name for name, _ in gatekeeper.calls] == ["profile_gatekeeper"]
    records = audit(aws, stack, alice.sub)
    assert len(records) == 1
    assert records[0]["action"] == "read"
    assert records[0]["outcome"] == "ok"
    assert records[0]["actor"] == alice.sub
    assert records[0]["correlationId"] == "req-1"
    assert "at" in records[0]


def test_put_replaces_the_profile_with_if_match(api, alice, gatekeeper, aws, stack):
    first = api.get("/me", alice).json
    profile = {
        "displayName": "Alice Liddell",
        "timeZone": "Europe/Berlin",
        "locale": "de-DE",
        "preferences": {"theme": "dark", "weekStart": 1, "compact": True},
    }
    reply = api.put("/me", alice, profile, headers={"If-Match": '"1"'})
    assert reply.status == 200, reply.json
    assert reply.json["version"] == first["version"] + 1
    assert reply.header("ETag") == '"2"'
    assert {k: reply.json[k] for k in profile} == profile
    assert api.get("/me", alice).json == reply.json
    stale = api.put("/me", alice, {"displayName": "x"}, headers={"If-Match": '"1"'})
    assert stale.status == 412
    assert api.get("/me", alice, headers={"If-None-Match": '"2"'}).status == 304
    records = sorted(audit(aws, stack, alice.sub), key=lambda r: r["auditId"])
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("read", "ok"),
        ("write", "ok"),
        ("read", "ok"),
        ("write", "precondition-failed"),
        ("read", "ok"),
    ]
    # The write names the fields it set, never their values: no personal data.
    assert sorted(records[1]["fields"]) == ["displayName", "locale", "preferences", "timeZone"]
    text = repr(records)
    for value in ("Alice Liddell", "Europe/Berlin", "dark"):
        assert value not in text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"timeZone": "../../etc/passwd"}, "timeZone"),
        ({"locale": "english please"}, "locale"),
        ({"displayName": "x" * 101}, "displayName"),
        ({"preferences": {"a": {"nested": 1}}}, "preferences"),
        ({"preferences": {str(i): i for i in range(51)}}, "preferences"),
        ({"email": "a@b.c"}, "email"),
        ({"version": 3}, "version"),
    ],
)
def test_invalid_profiles_are_400_naming_the_field(api, alice, gatekeeper, body, field):
    reply = api.put("/me", alice, body)
    assert reply.status == 400, reply.json
    assert field in reply.json["errors"]


def test_another_users_profile_is_their_own(api, alice, bob, gatekeeper):
    assert api.put("/me", alice, {"displayName": "Alice"}).status == 200
    assert api.get("/me", bob).json["displayName"] is None


def test_the_logs_never_hold_profile_data(api, alice, gatekeeper, capsys):
    assert api.put("/me", alice, {"displayName": "Zyxwvut Secretname"}).status == 200
    assert api.get("/me", alice).status == 200
    out = capsys.readouterr()
    assert "gatekeeper" in out.out
    assert "Zyxwvut" not in out.out + out.err


def test_a_failing_gatekeeper_is_a_500_and_leaks_nothing(api, alice, monkeypatch):
    monkeypatch.setenv("TANDEM_PROFILE_GATEKEEPER", "no-such-function")
    from app import app
    from devstack.pump import lambda_invoker

    wiring.override("aws.lambda", InProcessLambda(app, lambda_invoker(app, STAGE)))
    reply = api.get("/me", alice)
    assert reply.status == 500
    assert "no-such-function" not in reply.raw.decode()
