"""Realtime service logic: who is connected, and what a change sends them.

Sending goes through Chalice's `app.websocket_api` (API Gateway's post-to-connection), in
every stage; the local stack serves that API on loopback (docs/local-stack.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from chalice.app import Chalice, WebsocketAPI, WebsocketDisconnectedError

from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger
from chalicelib.core.models import utcnow
from chalicelib.core.wiring import boto3_session

from .infra import CONNECTION_TTL, WEBSOCKET_API_ID, WEBSOCKET_STAGE
from .models import Connection

# The resources whose changes are pushed; a delete is "deleted", anything else "changed".
PUSHED_RESOURCES = frozenset({"project", "task", "note"})
PING = "ping"

Send = Callable[[str, str], None]


# ---- the websocket API ---------------------------------------------------------------


def websocket_api(app: Chalice) -> WebsocketAPI:
    """The app's websocket API, ready to send: its boto3 session is made on first use
    (never at import), and a handler that is not a websocket handler (the push) configures
    the endpoint from the stage's websocket API id. A websocket handler's own event has
    configured it already, and configuring again changes nothing."""
    api = app.websocket_api
    if api.session is None:
        api.session = boto3_session()  # the process's one session (core.wiring)
    api_id = WEBSOCKET_API_ID.value()
    if api_id:
        api.configure_from_api_id(api_id, WEBSOCKET_STAGE.value() or "api")
    return api


# ---- connections ---------------------------------------------------------------------


def remember_connection(user_id: str, connection_id: str) -> Connection:
    now = utcnow()
    connection = Connection(
        user_id,
        connection_id,
        connected_at=now,
        expires_at=now + timedelta(seconds=CONNECTION_TTL.number()),
    )
    connection.save()
    return connection


def forget_connection(connection_id: str) -> int:
    """Removes a connection known only by its id; the number of items removed.

    The index is eventually consistent: a connection that closes right after it opened
    may not be found, and then its first push finds it gone (or TTL removes it)."""
    removed = 0
    for key in Connection.by_connection.query(connection_id):
        _delete(key.user_id, connection_id)
        removed += 1
    return removed


def _delete(user_id: str, connection_id: str) -> None:
    Connection(user_id, connection_id).delete()  # deleting what is gone already is fine


def connections_of(user_id: str) -> Iterator[Connection]:
    """The user's open connections (TTL deletes lazily, so expired ones are skipped)."""
    now = utcnow()
    for connection in Connection.query(user_id):
        if connection.expires_at is None or connection.expires_at > now:
            yield connection


# ---- messages ------------------------------------------------------------------------


def change_message(envelope: Envelope) -> dict[str, Any] | None:
    """What a change tells its owner's devices, or None if it is not pushed."""
    resource, _, action = envelope.type.partition("-")
    if resource not in PUSHED_RESOURCES:
        return None
    return {
        "type": "deleted" if action == "deleted" else "changed",
        "resource": resource,
        "id": envelope.subject.id,
        "version": envelope.subject.version,
    }


def push(user_id: str, message: dict[str, Any], send: Send) -> tuple[int, int]:
    """Sends `message` to every connection of `user_id`; (sent, dropped). A connection
    that API Gateway reports gone is forgotten. Any other failure propagates, so the
    event is retried (a device may then get the same message twice; messages carry the
    version, so a repeat changes nothing for it)."""
    body = json.dumps(message, separators=(",", ":"))
    sent = dropped = 0
    for connection in connections_of(user_id):
        try:
            send(connection.connection_id, body)
            sent += 1
        except WebsocketDisconnectedError:
            _delete(user_id, connection.connection_id)
            dropped += 1
    return sent, dropped


def push_change(envelope: Envelope, send: Send) -> None:
    message = change_message(envelope)
    if message is None:
        raise PoisonMessage(f"{envelope.type} does not belong on this queue")
    sent, dropped = push(envelope.subject.user_id, message, send)
    logger().info(
        "change pushed",
        extra={"eventId": envelope.event_id, "sent": sent, "droppedConnections": dropped},
    )


def answer(body: str | None) -> dict[str, Any]:
    """The reply to a client's message: `{"action": "ping"}` gets `{"type": "pong"}`."""
    try:
        request = json.loads(body or "")
    except ValueError:
        request = None
    action = request.get("action") if isinstance(request, dict) else None
    if action == PING:
        return {"type": "pong"}
    return {"type": "error", "detail": 'Send {"action": "ping"}; nothing else is understood.'}
