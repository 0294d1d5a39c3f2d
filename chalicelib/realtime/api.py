"""Realtime: the websocket's connect, message and disconnect handlers, and the push of
task and note changes to their owner's connections (README.md, The API)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Response, SQSEvent, WebsocketDisconnectedError, WebsocketEvent

from chalicelib.core.consumer import consume
from chalicelib.core.errors import DomainError, Unauthorized
from chalicelib.core.events import Envelope
from chalicelib.core.http import problem_response
from chalicelib.core.log import logger

from . import auth, service
from .blueprint import WebsocketBlueprint
from .infra import DECLARATION, PUSH_DLQ_URL

bp = WebsocketBlueprint(__name__)


@bp.on_ws_connect()
def connect(event: WebsocketEvent) -> Response | None:
    """`?token=<ID token>`: a verified token's user gets the connection; anything else is
    refused with 401 (API Gateway then refuses the websocket upgrade)."""
    raw: Mapping[str, Any] = event.to_dict()
    token = (raw.get("queryStringParameters") or {}).get("token")
    try:
        user_id = auth.user_of_token(token if isinstance(token, str) else None)
    except Unauthorized as refusal:
        logger().info("websocket refused", extra={"reason": refusal.detail})
        return problem_response(refusal)
    except Exception:
        # Misconfiguration or an unreachable key set: fail closed, never a pass.
        logger().exception("websocket token check failed")
        return problem_response(DomainError("The token could not be checked."))
    service.remember_connection(user_id, event.connection_id)
    logger().info("websocket connected", extra={"userId": user_id})
    return None


@bp.on_ws_message()
def message(event: WebsocketEvent) -> None:
    """`{"action": "ping"}` -> `{"type": "pong"}`, sent back on the same connection."""
    reply = json.dumps(service.answer(event.body), separators=(",", ":"))
    try:
        service.websocket_api(bp.current_app).send(event.connection_id, reply)
    except WebsocketDisconnectedError:
        logger().info("websocket closed before its reply")


@bp.on_ws_disconnect()
def disconnect(event: WebsocketEvent) -> None:
    removed = service.forget_connection(event.connection_id)
    logger().info("websocket disconnected", extra={"removed": removed})


@bp.on_sqs_message(**DECLARATION.queue_trigger("push_changes"))
def push_changes(event: SQSEvent) -> dict[str, Any]:
    """task-* / note-* events -> `{"type": "changed"|"deleted", "resource", "id",
    "version"}` to every connection of the event's owner; gone connections are dropped."""

    def send(connection_id: str, body: str) -> None:
        service.websocket_api(bp.current_app).send(connection_id, body)

    def handle(envelope: Envelope, record: SQSRecord) -> None:
        service.push_change(envelope, send)

    return consume(event.to_dict(), handle, PUSH_DLQ_URL.value)
