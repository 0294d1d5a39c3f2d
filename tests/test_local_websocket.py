"""The local websocket API and admin endpoint (devstack.websocket, devstack.admin) on a
tiny app, in-process, over real sockets on 127.0.0.1: the upgrade goes through the app's
$connect, messages through $default, the close through $disconnect, and
`app.websocket_api.send` (boto3's apigatewaymanagementapi client, unchanged) reaches the
socket through the local post-to-connection endpoint, or raises GoneException."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import Chalice, Response, WebsocketAPI, WebsocketDisconnectedError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from devstack.admin import AdminServer
from devstack.schedule import Scheduler
from devstack.stack import Ports, Stack
from devstack.websocket import LOCAL_API_ID, LocalWebsocket, LoopbackSession
from tests.e2e.test_local_stack import free_ports
from tests.test_schedule import lambda_invoke

WAIT = 5.0


class Seen:
    def __init__(self) -> None:
        self.connected: list[dict[str, Any]] = []
        self.disconnected: list[dict[str, Any]] = []
        self.scheduled: list[dict[str, Any]] = []

    def wait_for_disconnect(self, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT
        while len(self.disconnected) < count:
            assert time.monotonic() < deadline, "no $disconnect"
            time.sleep(0.01)


def tiny_websocket_app(seen: Seen) -> Chalice:
    app = Chalice(app_name="tinyws")

    @app.on_ws_connect()
    def connect(event: Any) -> Response | None:
        query = event.to_dict().get("queryStringParameters") or {}
        if query.get("token") != "good":
            return Response(body=json.dumps({"status": 401}), status_code=401)
        seen.connected.append(event.to_dict())
        return None

    @app.on_ws_message()
    def message(event: Any) -> None:
        if event.body == "boom":
            raise RuntimeError("a handler's bug")
        app.websocket_api.send(event.connection_id, f"echo:{event.body}")

    @app.on_ws_disconnect()
    def disconnect(event: Any) -> None:
        seen.disconnected.append(event.to_dict())

    @app.schedule("rate(1 hour)")
    def hourly(event: Any) -> dict[str, Any]:
        seen.scheduled.append(event.to_dict())
        return {"fired": True}

    @app.lambda_function()
    def plain(event: Any, context: Any) -> dict[str, Any]:
        return {"got": event}

    return app


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def stack(seen: Seen, tmp_path: Path) -> Iterator[Stack]:
    api, ws, aws = free_ports(3)
    stack = Stack(ports=Ports(api=api, ws=ws, aws=aws), state_dir=tmp_path)
    stack.app = tiny_websocket_app(seen)
    stack.invoke = lambda_invoke(stack.app)
    stack.scheduler = Scheduler(stack.app, stack.invoke)
    components: list[Any] = [LocalWebsocket(), AdminServer()]
    started = []
    try:
        for component in components:
            component.start(stack)
            started.append(component)
        yield stack
    finally:
        for component in reversed(started):
            component.stop()


def management_client(stack: Stack) -> Any:
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"{stack.admin_url}/api", region_name="us-east-1"
    )


def admin(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(stack.admin_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# ---- the upgrade: $connect decides ------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?token=bad", "?token="])
def test_a_refused_connect_refuses_the_upgrade_with_its_status(
    stack: Stack, seen: Seen, query: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.ws_url}/{query}", open_timeout=WAIT)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body) == {"status": 401}
    assert seen.connected == []
    assert seen.disconnected == []


def test_connect_event_is_api_gateways_shape(stack: Stack, seen: Seen) -> None:
    with connect(f"{stack.ws_url}/?token=good&x=1", open_timeout=WAIT):
        pass
    (event,) = seen.connected
    context = event["requestContext"]
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["apiId"] == LOCAL_API_ID
    assert context["stage"] == "api"
    assert context["domainName"] == f"127.0.0.1:{stack.ports.ws}"
    assert len(context["connectionId"]) == 16
    assert event["queryStringParameters"] == {"token": "good", "x": "1"}
    seen.wait_for_disconnect()
    (gone,) = seen.disconnected
    assert gone["requestContext"]["eventType"] == "DISCONNECT"
    assert gone["requestContext"]["connectionId"] == context["connectionId"]


# ---- messages and post-to-connection ------------------------------------------------------


def test_send_from_a_handler_reaches_the_socket(stack: Stack) -> None:
    with connect(f"{stack.ws_url}/?token=good", open_timeout=WAIT) as ws:
        ws.send("hello")
        assert ws.recv(timeout=WAIT) == "echo:hello"
        ws.send("again")
        assert ws.recv(timeout=WAIT) == "echo:again"


def test_a_failing_handler_gets_api_gateways_error_frame_and_the_socket_stays(
    stack: Stack,
) -> None:
    with connect(f"{stack.ws_url}/?token=good", open_timeout=WAIT) as ws:
        ws.send("boom")
        error = json.loads(ws.recv(timeout=WAIT))
        assert error["message"] == "Internal server error"
        ws.send("still here")
        assert ws.recv(timeout=WAIT) == "echo:still here"


def test_post_to_a_closed_or_unknown_connection_is_gone(stack: Stack, seen: Seen) -> None:
    # A WebsocketAPI of its own, set up as the stack sets up the app's.
    api = WebsocketAPI()
    api.session = LoopbackSession(boto3.Session(region_name="us-east-1"), stack.admin_url)
    api.configure_from_api_id(LOCAL_API_ID, "api")
    with pytest.raises(WebsocketDisconnectedError):
        api.send("NoSuchConnId0=", "hello")
    with connect(f"{stack.ws_url}/?token=good", open_timeout=WAIT) as ws:
        connection_id = seen.connected[-1]["requestContext"]["connectionId"]
        api.send(connection_id, '{"type":"changed"}')
        assert ws.recv(timeout=WAIT) == '{"type":"changed"}'
    seen.wait_for_disconnect()
    with pytest.raises(WebsocketDisconnectedError):
        api.send(connection_id, "too late")


def test_get_and_delete_connection(stack: Stack, seen: Seen) -> None:
    client = management_client(stack)
    with connect(f"{stack.ws_url}/?token=good", open_timeout=WAIT) as ws:
        connection_id = seen.connected[-1]["requestContext"]["connectionId"]
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    seen.wait_for_disconnect()
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=connection_id)
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId=connection_id)


# ---- invoke on demand ---------------------------------------------------------------------


def test_invoke_a_scheduled_function_on_demand(stack: Stack, seen: Seen) -> None:
    status, answer = admin(stack, "POST", "/invoke/hourly")
    assert (status, answer) == (200, {"function": "hourly", "result": {"fired": True}})
    assert seen.scheduled[-1]["detail-type"] == "Scheduled Event"
    status, schedules = admin(stack, "GET", "/schedules")
    assert [(s["function"], s["expression"]) for s in schedules] == [("hourly", "rate(1 hour)")]


def test_invoke_other_functions_with_an_event(stack: Stack, seen: Seen) -> None:
    assert admin(stack, "POST", "/invoke/plain", {"a": 1}) == (
        200,
        {"function": "plain", "result": {"got": {"a": 1}}},
    )
    assert admin(stack, "POST", "/invoke/plain")[1]["result"] == {"got": {}}
    # Websocket functions go by the names Lambda knows them by.
    status, answer = admin(
        stack,
        "POST",
        "/invoke/websocket_disconnect",
        {"requestContext": {"connectionId": "x", "apiId": "a", "stage": "api", "domainName": "d"}},
    )
    assert status == 200, answer
    assert seen.disconnected[-1]["requestContext"]["connectionId"] == "x"
    status, answer = admin(stack, "POST", "/invoke/websocket_message")
    assert status == 400
    status, answer = admin(stack, "POST", "/invoke/no_such_function")
    assert status == 404
    assert "hourly" in answer["message"]


def test_connection_ids_are_one_path_segment() -> None:
    """post-to-connection puts the id in the URL path: never a "/" (nor "+")."""
    from devstack.websocket import connection_id

    ids = {connection_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 16 and "/" not in i and "+" not in i for i in ids)
