"""Idempotency-Key for POST: a retry with the same key and body gets the original answer.

One record per (user, route, key) in the idempotency table. A conditional put claims the
key before the handler runs, so two concurrent retries cannot both create. Only 2xx
answers are kept: after an error the key is released, so the client can retry it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from chalice.app import Request, Response
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.attributes import UTCDateTimeAttribute as DateTime
from pynamodb.exceptions import DoesNotExist, PutError

from . import infra
from .errors import BadRequest, Conflict, ValidationFailed
from .models import CompressedText, SettingsTable, SharedConnectionModel, condition_failed, utcnow
from .schema import text_errors
from .settings import get_settings
from .strict_json import canonical

HEADER = "idempotency-key"
MAX_KEY_CHARS = 255
# Longer than the API function's timeout: a request that died holding the key frees it.
LOCK_SECONDS = 60
_REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")


class IdempotencyRecord(SharedConnectionModel):
    class Meta(metaclass=SettingsTable):
        setting = infra.IDEMPOTENCY_TABLE

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute(attr_name="requestHash")
    state = UnicodeAttribute()  # "in-progress" | "completed"
    locked_until = DateTime(attr_name="lockedUntil")
    status_code = NumberAttribute(attr_name="statusCode", null=True)
    body = CompressedText(null=True)  # a note's answer may be 400 KB of UTF-8
    headers = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(attr_name="expiresAt")


def applies(request: Request) -> bool:
    return request.method == "POST" and HEADER in request.headers


def _digest(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
        sha.update(b"\x00")
    return sha.hexdigest()


def run(request: Request, user_id: str, get_response: Callable[[Request], Response]) -> Response:
    client_key = request.headers[HEADER]
    if not 0 < len(client_key) <= MAX_KEY_CHARS:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters.")
    if errors := text_errors({"Idempotency-Key": client_key}):
        raise ValidationFailed(errors, "The Idempotency-Key header is not valid text.")
    params = json.dumps(request.uri_params or {}, sort_keys=True)
    record_key = _digest(user_id, request.method, request.path, params, client_key)
    # Compared as JSON: a retry that only reorders keys or whitespace is the same request.
    request_hash = _digest(canonical(request.raw_body or b""))
    now = utcnow()
    record = IdempotencyRecord(
        record_key,
        request_hash=request_hash,
        state="in-progress",
        locked_until=now + timedelta(seconds=LOCK_SECONDS),
        expires_at=now + timedelta(hours=get_settings().idempotency_hours),
    )
    claimable = (
        IdempotencyRecord.key.does_not_exist()
        | (IdempotencyRecord.expires_at < now)
        | (
            (IdempotencyRecord.state == "in-progress")
            & (IdempotencyRecord.locked_until < now)
            & (IdempotencyRecord.request_hash == request_hash)
        )
    )
    try:
        record.save(condition=claimable)
    except PutError as error:
        if not condition_failed(error):
            raise
        return _replay(record_key, request_hash)

    try:
        response = get_response(request)
    except BaseException:
        record.delete()
        raise
    if 200 <= response.status_code < 300:
        record.state = "completed"
        record.status_code = response.status_code
        record.body = response.body if isinstance(response.body, str) else json.dumps(response.body)
        record.headers = json.dumps(
            {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
        )
        record.save()
    else:
        record.delete()
    return response


def _replay(record_key: str, request_hash: str) -> Response:
    try:
        existing = IdempotencyRecord.get(record_key, consistent_read=True)
    except DoesNotExist:
        raise Conflict(
            "A request with this Idempotency-Key has just finished; retry.",
            headers={"Retry-After": "1"},
        ) from None
    if existing.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was already used with a different request body.")
    if existing.state != "completed" or existing.status_code is None:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress.",
            headers={"Retry-After": "1"},
        )
    headers = json.loads(existing.headers or "{}")
    headers["Idempotent-Replayed"] = "true"
    status = int(existing.status_code)
    return Response(body=existing.body or "", status_code=status, headers=headers)
