"""The realtime functions' packaged roles against the DynamoDB calls they really make.

Each function runs on moto with its recorder on (connect, ping, disconnect, a push that
reaches one connection and finds another gone). Its calls, as IAM actions on the
template's logical resources, must be exactly what its role grants on DynamoDB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.app import WebsocketDisconnectedError
from chalice.test import Client
from moto.moto_api import recorder

from chalicelib.core import wiring
from chalicelib.core.events import Envelope, Subject
from chalicelib.core.models import utcnow
from chalicelib.realtime import service
from devstack.infra import Context
from devstack.pump import lambda_sqs_record
from tests.conftest import REGION, User
from tests.test_realtime import WS_API_ID, WS_STAGE, Websocket
from tests.tokens import moto_public_jwks

from .test_api_calls import dynamodb_calls
from .test_template import functions, granted, role_of, statements_of


@pytest.fixture
def websocket(chalice_client: Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[Websocket]:
    monkeypatch.setenv("TANDEM_WEBSOCKET_API_ID", WS_API_ID)
    monkeypatch.setenv("TANDEM_WEBSOCKET_STAGE", WS_STAGE)
    wiring.override("jwks_fetcher", lambda url: moto_public_jwks())
    yield Websocket(chalice_client)
    wiring.override("jwks_fetcher", None)


def push_event(user: User, stack: Context) -> dict[str, Any]:
    envelope = Envelope(
        event_id="tasks:t1:v1",
        type="task-created",
        occurred_at=utcnow(),
        correlation_id="deploy-test",
        source="tasks",
        subject=Subject(user.sub, "t1", 1),
        data={},
    )
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": json.dumps(envelope.to_json()),
        "MessageAttributes": {
            name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
            for name, value in envelope.message_attributes().items()
        },
    }
    arn = stack.attributes[("RealtimePushQueue", "Arn")]
    return {"Records": [lambda_sqs_record(message, arn, REGION)]}


def test_realtime_calls_are_exactly_what_the_roles_grant(
    websocket: Websocket,
    chalice_client: Client,
    alice: User,
    stack: Context,
    template: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the recorder's file
    tables = {physical: logical for logical, physical in stack.names.items()}
    calls: dict[str, set[tuple[str, str]]] = {}

    def record(function: str, action: Callable[[], Any]) -> None:
        recorder.reset_recording()
        recorder.start_recording()
        try:
            action()
        finally:
            recorder.stop_recording()
        calls[function] = calls.get(function, set()) | dynamodb_calls(
            recorder.download_recording(), tables
        )

    record("WebsocketConnect", lambda: websocket.connect(alice.id_token))
    (live,) = [c.connection_id for c in service.connections_of(alice.sub)]
    record("WebsocketConnect", lambda: websocket.connect(alice.id_token))
    gone = next(
        c.connection_id for c in service.connections_of(alice.sub) if c.connection_id != live
    )
    record("WebsocketMessage", lambda: websocket.message(live, '{"action": "ping"}'))

    def push_with_one_gone() -> None:
        payload = chalice_client.lambda_.invoke("push_changes", push_event(alice, stack)).payload
        assert payload == {"batchItemFailures": []}

        def send(connection_id: str, body: str) -> None:
            if connection_id == gone:
                raise WebsocketDisconnectedError(connection_id)

        # The handler's own path, with a connection API Gateway reports gone (moto never does).
        assert service.push(alice.sub, {"type": "changed"}, send) == (1, 1)

    record("PushChanges", push_with_one_gone)
    record("WebsocketDisconnect", lambda: websocket.disconnect(live))
    assert list(service.connections_of(alice.sub)) == []

    for function, made in calls.items():
        role = statements_of(template, role_of(functions(template)[function]))
        grants = {(a, r) for a, r in granted(role) if a.startswith("dynamodb:")}
        assert made - grants == set(), (function, "calls the role does not allow")
        assert grants - made == set(), (function, "grants no call uses")
