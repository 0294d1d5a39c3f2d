"""The realtime service on moto in-process: websocket connect (token checked), ping,
disconnect, and the push of task and note changes to their owner's connections only.

The handlers run through the Chalice test client with API-Gateway-shaped websocket events.
moto plays API Gateway's post-to-connection and keeps what was posted per connection id.
In dev/prod the $connect fetches the pool's JWKS from Cognito; tests cannot reach it,
so they hand core.local_auth the document Cognito would serve (moto's key set) and check
that it was asked for the right URL.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from chalice.app import WebsocketDisconnectedError, WebsocketEventSourceHandler
from chalice.local import LambdaContext
from chalice.test import Client
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from chalicelib.core import local_auth, wiring
from chalicelib.core.events import Envelope, Subject
from chalicelib.core.models import utcnow
from chalicelib.realtime import service
from chalicelib.realtime.auth import token_config
from chalicelib.realtime.models import Connection
from devstack.infra import Context
from tests.conftest import REGION, Api, User
from tests.tokens import BAD_KINDS, bad_authorizations, claims_of, moto_public_jwks, sign

WS_API_ID = "testws"
WS_STAGE = "api"


@pytest.fixture
def cognito_jwks(monkeypatch: pytest.MonkeyPatch, stack: Context) -> Iterator[list[str]]:
    """What Cognito serves at the pool's JWKS URL; the list records each URL fetched."""
    fetched: list[str] = []

    def fetch(url: str) -> Any:
        fetched.append(url)
        return moto_public_jwks()

    monkeypatch.setenv("TANDEM_WEBSOCKET_API_ID", WS_API_ID)
    monkeypatch.setenv("TANDEM_WEBSOCKET_STAGE", WS_STAGE)
    wiring.override("jwks_fetcher", fetch)
    yield fetched
    wiring.override("jwks_fetcher", None)


@pytest.fixture
def ws(chalice_client: Client, cognito_jwks: list[str]) -> Websocket:
    return Websocket(chalice_client)


class Websocket:
    """Calls the websocket handlers as API Gateway would, and reads what was posted."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._count = 0

    def event(self, route: str, connection_id: str, **extra: Any) -> dict[str, Any]:
        kinds = {"$connect": "CONNECT", "$disconnect": "DISCONNECT", "$default": "MESSAGE"}
        return {
            "requestContext": {
                "routeKey": route,
                "eventType": kinds[route],
                "connectionId": connection_id,
                "apiId": WS_API_ID,
                "stage": WS_STAGE,
                "domainName": f"{WS_API_ID}.execute-api.{REGION}.amazonaws.com",
                "requestId": f"req-{connection_id}",
                "connectedAt": int(time.time() * 1000),
            },
            "isBase64Encoded": False,
            **extra,
        }

    def connect(self, token: str | None) -> tuple[str, dict[str, Any]]:
        self._count += 1
        connection_id = f"conn{self._count}="
        query = None if token is None else {"token": token}
        event = self.event("$connect", connection_id, queryStringParameters=query)
        reply = self._client.lambda_.invoke("connect", event).payload
        return connection_id, reply

    def message(self, connection_id: str, body: str) -> None:
        self._client.lambda_.invoke("message", self.event("$default", connection_id, body=body))

    def disconnect(self, connection_id: str) -> None:
        self._client.lambda_.invoke("disconnect", self.event("$disconnect", connection_id))

    @staticmethod
    def posted(connection_id: str) -> list[dict[str, Any]]:
        """Every message posted to the connection, in order (moto concatenates them)."""
        backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
        # moto keys them by the path as sent, where botocore quoted the id ("=" -> %3D).
        connection = backend.connections.get(quote(connection_id, safe=""))
        data = connection.data.decode() if connection is not None else ""
        messages, decoder, at = [], json.JSONDecoder(), 0
        while at < len(data):
            message, at = decoder.raw_decode(data, at)
            messages.append(message)
        return messages


def stored_connections(user: User) -> set[str]:
    return {c.connection_id for c in Connection.query(user.sub)}


# ---- connect -------------------------------------------------------------------------


def test_connect_with_a_valid_token_stores_the_connection(
    ws: Websocket, alice: User, stack: Context, cognito_jwks: list[str]
) -> None:
    connection_id, reply = ws.connect(alice.id_token)
    assert reply == {"statusCode": 200}
    assert stored_connections(alice) == {connection_id}
    (stored,) = Connection.query(alice.sub)
    assert stored.expires_at.timestamp() > time.time() + 2 * 3600  # outlives API Gateway's 2 h
    # In dev/prod the keys come from the stage's own pool at Cognito.
    pool_id = stack.names["UserPool"]
    assert cognito_jwks == [
        f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}/.well-known/jwks.json"
    ]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_bad_or_missing_token_is_refused(ws: Websocket, alice: User, kind: str) -> None:
    authorization = bad_authorizations(alice.id_token, alice.access_token)[kind]
    token = None if authorization is None else authorization.removeprefix("Bearer ")
    _, reply = ws.connect(token)
    assert reply["statusCode"] == 401, (kind, reply)
    problem = json.loads(reply["body"])
    assert problem["status"] == 401
    assert problem["type"] == "urn:problem-type:tandem:unauthorized"
    assert stored_connections(alice) == set()


def test_an_expired_token_is_refused_as_expired(ws: Websocket, alice: User) -> None:
    now = int(time.time())
    expired = sign({**claims_of(alice.id_token), "iat": now - 7200, "exp": now - 60})
    _, reply = ws.connect(expired)
    assert reply["statusCode"] == 401
    assert "expired" in json.loads(reply["body"])["detail"]
    assert stored_connections(alice) == set()


@pytest.mark.parametrize(
    ("setting", "value"),
    [("TANDEM_USER_POOL_ID", f"{REGION}_someoneelse"), ("TANDEM_USER_POOL_CLIENT_ID", "another")],
)
def test_a_token_of_another_pool_or_client_is_refused(
    ws: Websocket, alice: User, monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    """Signed by the same key (moto's), but the stage expects another pool (`iss`) or
    another app client (`aud`)."""
    monkeypatch.setenv(setting, value)
    assert ws.connect(alice.id_token)[1]["statusCode"] == 401
    assert stored_connections(alice) == set()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TANDEM_USER_POOL_ID", ""),
        ("TANDEM_USER_POOL_ID", "evil.example.com/x"),
        ("TANDEM_USER_POOL_CLIENT_ID", ""),
        ("AWS_DEFAULT_REGION", "example.com#"),
    ],
)
def test_misconfiguration_fails_closed(
    ws: Websocket, alice: User, monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv(setting, value)
    _, reply = ws.connect(alice.id_token)
    assert reply["statusCode"] == 500
    assert stored_connections(alice) == set()


def test_the_local_stage_uses_the_local_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the local stage the keys come from the embedded AWS (loopback only), and not
    inside a Lambda runtime: the REST check's configuration and refusals."""
    monkeypatch.setenv("TANDEM_STAGE", "local")
    monkeypatch.setenv(local_auth.JWKS_URL_ENV, "http://127.0.0.1:4566/p/.well-known/jwks.json")
    monkeypatch.setenv(local_auth.ISSUER_ENV, "https://cognito-idp.us-east-1.amazonaws.com/p")
    monkeypatch.setenv(local_auth.CLIENT_ID_ENV, "client")
    assert token_config().jwks_url.startswith("http://127.0.0.1:4566/")
    monkeypatch.setenv(local_auth.JWKS_URL_ENV, "https://attacker.example.com/jwks.json")
    with pytest.raises(local_auth.LocalAuthRefused, match="loopback"):
        token_config()
    monkeypatch.setenv(local_auth.JWKS_URL_ENV, "http://127.0.0.1:4566/p/.well-known/jwks.json")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "tandem-dev-websocket_connect")
    with pytest.raises(local_auth.LocalAuthRefused, match="Lambda"):
        token_config()


def test_lambda_runs_the_wrapped_handlers(ws: Websocket) -> None:
    """Lambda imports each function's handler string (chalicelib.realtime.routes.connect)
    and calls it with (event, context): it must be Chalice's websocket wrapper, bound to
    the app's websocket API (a plain Blueprint would leave the bare function there)."""
    from app import app

    for config in app.websocket_handlers.values():
        module, _, attribute = config.handler_string.rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        assert isinstance(handler, WebsocketEventSourceHandler), config.handler_string
        assert handler is app.handler_map[config.name]
        assert handler.websocket_api is app.websocket_api
    connect = importlib.import_module("chalicelib.realtime.routes").connect
    reply = connect(ws.event("$connect", "direct="), LambdaContext("websocket_connect", 128))
    assert reply["statusCode"] == 401


# ---- message and disconnect ------------------------------------------------------------


def test_ping_gets_pong_on_the_same_connection(ws: Websocket, alice: User, bob: User) -> None:
    mine, _ = ws.connect(alice.id_token)
    other, _ = ws.connect(bob.id_token)
    ws.message(mine, json.dumps({"action": "ping"}))
    ws.message(mine, "not json")
    assert ws.posted(mine) == [
        {"type": "pong"},
        {"type": "error", "detail": 'Send {"action": "ping"}; nothing else is understood.'},
    ]
    assert ws.posted(other) == []


def test_disconnect_removes_only_that_connection(ws: Websocket, alice: User) -> None:
    first, _ = ws.connect(alice.id_token)
    second, _ = ws.connect(alice.id_token)
    ws.disconnect(first)
    assert stored_connections(alice) == {second}
    ws.disconnect(first)  # API Gateway may deliver it twice: nothing breaks
    assert stored_connections(alice) == {second}


# ---- push ----------------------------------------------------------------------------


def test_a_task_change_reaches_its_owners_connections_and_nobody_elses(
    ws: Websocket, api: Api, pump: Any, alice: User, bob: User, project_of: Any
) -> None:
    project = project_of(alice)
    bobs_project = project_of(bob)
    pump.drain()  # before connecting: only task changes are under test here
    phone, _ = ws.connect(alice.id_token)
    laptop, _ = ws.connect(alice.id_token)
    bobs, _ = ws.connect(bob.id_token)

    task = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]}).json
    pump.drain()
    changed = {"type": "changed", "resource": "task", "id": task["taskId"], "version": 1}
    assert ws.posted(phone) == [changed]
    assert ws.posted(laptop) == [changed]
    assert ws.posted(bobs) == []

    api.patch(f"/tasks/{task['taskId']}", alice, {"title": "u"})
    api.delete(f"/tasks/{task['taskId']}", alice)
    # Bob's own change reaches Bob only.
    api.post("/tasks", bob, {"title": "b", "projectId": bobs_project["projectId"]})
    pump.drain()
    assert ws.posted(phone) == [
        changed,
        {**changed, "version": 2},
        {"type": "deleted", "resource": "task", "id": task["taskId"], "version": 3},
    ]
    assert [m["resource"] for m in ws.posted(bobs)] == ["task"]
    assert all(m["id"] != task["taskId"] for m in ws.posted(bobs))


def test_a_note_change_is_pushed_too(
    ws: Websocket, api: Api, pump: Any, alice: User, bob: User
) -> None:
    mine, _ = ws.connect(alice.id_token)
    bobs, _ = ws.connect(bob.id_token)
    note = api.post("/notes", alice, {"title": "n", "body": "text"})
    assert note.status == 201, note.json
    pump.drain()
    assert ws.posted(mine) == [
        {"type": "changed", "resource": "note", "id": note.json["noteId"], "version": 1}
    ]
    assert ws.posted(bobs) == []


def test_project_changes_are_pushed(
    ws: Websocket,
    api: Api,
    pump: Any,
    alice: User,
    bob: User,
    project_of: Any,
    aws: boto3.Session,
    stack: Context,
) -> None:
    mine, _ = ws.connect(alice.id_token)
    bobs, _ = ws.connect(bob.id_token)
    project = project_of(alice)
    path = f"/projects/{project['projectId']}"
    assert api.patch(path, alice, {"name": "renamed"}).status == 200
    assert api.delete(path, alice).status == 204
    pump.drain()
    pid = project["projectId"]
    assert ws.posted(mine) == [
        {"type": "changed", "resource": "project", "id": pid, "version": 1},
        {"type": "changed", "resource": "project", "id": pid, "version": 2},
        {"type": "deleted", "resource": "project", "id": pid, "version": 3},
    ]
    assert ws.posted(bobs) == []
    dead = aws.client("sqs").receive_message(QueueUrl=stack.names["RealtimePushDLQ"])
    assert dead.get("Messages", []) == []


def test_a_gone_connection_is_dropped_and_the_others_still_get_the_push(
    ws: Websocket, alice: User
) -> None:
    gone, _ = ws.connect(alice.id_token)
    live, _ = ws.connect(alice.id_token)
    sent: list[tuple[str, str]] = []

    def send(connection_id: str, body: str) -> None:
        if connection_id == gone:
            raise WebsocketDisconnectedError(connection_id)
        sent.append((connection_id, body))

    envelope = Envelope(
        event_id="tasks:t1:v4",
        type="task-updated",
        occurred_at=utcnow(),
        correlation_id="c",
        source="tasks",
        subject=Subject(alice.sub, "t1", 4),
        data={},
    )
    service.push_change(envelope, send)
    message = {"type": "changed", "resource": "task", "id": "t1", "version": 4}
    assert [(c, json.loads(b)) for c, b in sent] == [(live, message)]
    assert stored_connections(alice) == {live}


def test_an_expired_connection_gets_no_push(
    ws: Websocket, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TTL deletes lazily (up to days later); until then the push skips the item."""
    monkeypatch.setenv("TANDEM_CONNECTION_TTL_SECONDS", "-1")
    ws.connect(alice.id_token)
    sent: list[str] = []
    assert service.push(alice.sub, {"type": "changed"}, lambda c, b: sent.append(c)) == (0, 0)
    assert sent == []


def test_a_failed_send_is_retried_not_lost(alice: User, ws: Websocket) -> None:
    ws.connect(alice.id_token)

    def broken(connection_id: str, body: str) -> None:
        raise RuntimeError("API Gateway answered 500")

    with pytest.raises(RuntimeError):
        service.push(alice.sub, {"type": "changed"}, broken)
    assert len(stored_connections(alice)) == 1  # not mistaken for a gone connection


def test_a_deleted_users_token_is_refused(ws: Websocket, alice: User, bob: User) -> None:
    from chalicelib.core import revocation

    revocation.revoke(alice.sub, revocation.DELETING, readable="/jobs/x")
    _, reply = ws.connect(alice.id_token)
    assert reply["statusCode"] == 401
    assert "deleted" in json.loads(reply["body"])["detail"]
    assert stored_connections(alice) == set()
    _, reply = ws.connect(bob.id_token)
    assert reply == {"statusCode": 200}
