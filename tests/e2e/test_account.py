"""End to end over HTTP against `python -m devstack`: the profile through the gatekeeper's
function (the router invokes it through the local Lambda Invoke API), with its audit
records read directly from the local AWS."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.e2e.test_local_stack import Account, Reply, call, sign_up_and_in


def client(contract: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def table_name(suffix: str) -> str:
    return f"tandem-local-{suffix}"


def items_of(contract: dict[str, str], table: str, user_id: str) -> list[dict[str, Any]]:
    plain = TypeDeserializer().deserialize
    found = client(contract, "dynamodb").query(
        TableName=table,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ConsistentRead=True,
    )["Items"]
    return [{k: plain(v) for k, v in item.items()} for item in found]


def put(contract: dict[str, str], path: str, token: str, body: Any, if_match: str) -> Reply:
    request = urllib.request.Request(
        contract["apiUrl"] + path,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "If-Match": if_match,
            "X-Request-Id": "e2e-profile-write",
        },
        method="PUT",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@pytest.fixture(scope="module")
def dora(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "dora@example.com")


def test_profile_read_and_write_are_audited(contract: dict[str, str], dora: Account) -> None:
    first = call(contract, "GET", "/me", dora.id_token)
    assert first.status == 200, first.json
    assert first.json["version"] == 1
    profile = {
        "displayName": "Dora Secretname",
        "timeZone": "America/Sao_Paulo",
        "locale": "pt-BR",
        "preferences": {"theme": "dark"},
    }
    written = put(contract, "/me", dora.id_token, profile, '"1"')
    assert written.status == 200, written.json
    assert written.headers["ETag"] == '"2"'
    assert call(contract, "GET", "/me", dora.id_token).json == written.json
    assert put(contract, "/me", dora.id_token, profile, '"1"').status == 412
    records = sorted(
        items_of(contract, table_name("profile-audit"), dora.sub), key=lambda r: r["auditId"]
    )
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("read", "ok"),
        ("write", "ok"),
        ("read", "ok"),
        ("write", "precondition-failed"),
    ]
    assert {r["actor"] for r in records} == {dora.sub}
    assert records[1]["correlationId"] == "e2e-profile-write"
    assert "Secretname" not in repr(records)
    # The profile itself is in the gatekeeper's table.
    (stored,) = items_of(contract, table_name("profiles"), dora.sub)
    assert stored["displayName"] == "Dora Secretname"
