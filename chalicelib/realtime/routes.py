"""Realtime routes: the websocket's connect, message and disconnect handlers (README.md,
The API)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalice.app import Response, WebsocketDisconnectedError, WebsocketEvent

from chalicelib.core.blueprints import WebsocketBlueprint
from chalicelib.core.errors import DomainError, Unauthorized
from chalicelib.core.http import problem_response
from chalicelib.core.log import logger

from . import auth, service

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
