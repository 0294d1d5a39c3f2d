"""The router's HTTP concerns, in one place: correlation id, authentication, body cap,
idempotency, request log, and every error turned into RFC 9457 problem+json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from chalice.app import Request, Response
from marshmallow import ValidationError

from . import idempotency, revocation, transport
from .conditional import EntityTags, etag, parse_entity_tags
from .context import accept_correlation_id
from .errors import (
    BadRequest,
    DomainError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from .identity import current_user_id
from .log import bind_correlation_id, logger
from .observability import count
from .problems import PROBLEM_CONTENT_TYPE, problem_of
from .schema import LoadSchema, printable_key, text_errors
from .settings import get_settings
from .strict_json import DuplicateKey, parse_json

PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/{asset}"})
JSON_CONTENT_TYPE = "application/json"

# Chalice answers some requests itself, with {"Code", "Message"} bodies; those get the
# same problem shape as ours.
_CHALICE_STATUS_ERRORS: dict[int, type[DomainError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}

Headers = dict[str, str | list[str]]
GetResponse = Callable[[Request], Response]
Authenticator = Callable[[Request], None]


def problem_body(error: DomainError) -> dict[str, Any]:
    problem = problem_of(error)
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": error.detail,
    }
    if error.errors:
        body["errors"] = _bounded(error.errors)
        if len(error.errors) > MAX_REPORTED_FIELDS:
            body["detail"] += f" (the first {MAX_REPORTED_FIELDS} of {len(error.errors)} fields)"
    return body


# An answer that named every one of 200,000 unknown keys or bad list items was 6 MB:
# over Lambda's answer limit, so a 502 deployed. The first few say what is wrong.
MAX_REPORTED_FIELDS = 50
MAX_REPORTED_MESSAGES = 10
MAX_REPORTED_CHARS = 300


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REPORTED_CHARS else text[: MAX_REPORTED_CHARS - 1] + "\u2026"


def _bounded(errors: Mapping[str, Any]) -> dict[str, Any]:
    bounded: dict[str, Any] = {}
    for field, messages in list(errors.items())[:MAX_REPORTED_FIELDS]:
        listed = [_clip(str(m)) for m in messages] if isinstance(messages, list) else messages
        if isinstance(listed, list) and len(listed) > MAX_REPORTED_MESSAGES:
            more = len(listed) - MAX_REPORTED_MESSAGES
            listed = [*listed[:MAX_REPORTED_MESSAGES], f"... and {more} more."]
        bounded[_clip(field)] = listed
    return bounded


def problem_response(error: DomainError) -> Response:
    headers: Headers = {"Content-Type": PROBLEM_CONTENT_TYPE, **error.headers}
    body = problem_body(error)
    return Response(body=json.dumps(body), status_code=body["status"], headers=headers)


def _from_chalice_error(response: Response) -> Response:
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body):
        return response
    error_type = _CHALICE_STATUS_ERRORS.get(response.status_code, DomainError)
    detail = str(body.get("Message", "")) if response.status_code < 500 else ""
    error = error_type(detail or "An internal error occurred.")
    problem = problem_response(error)
    for name, value in response.headers.items():
        if name.lower() == "allow":
            problem.headers[name] = value
    return problem


def _check_body_size(request: Request) -> None:
    cap = get_settings().max_body_bytes
    if len(request.raw_body or b"") > cap:
        raise PayloadTooLarge(f"The request body is larger than {cap} bytes.")


def make_router_middleware(
    authenticate: Authenticator | None,
    routes: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[..., Response]:
    """The one HTTP middleware. `authenticate`, when given, verifies the token itself and
    fills the authorizer claims (local stage); otherwise API Gateway has done so.

    `routes` is the app's route table (path -> method -> entry). A method that no route
    declares has no authorizer, so it carries no claims and used to get a 401; with the
    table it gets Chalice's 405 (as problem+json) instead. No view runs for it."""

    def needs_user(request: Request) -> bool:
        if request.path in PUBLIC_PATHS or request.method == "OPTIONS":
            return False
        return routes is None or request.method in routes.get(request.path, {})

    def router(request: Request, get_response: GetResponse) -> Response:
        started = time.perf_counter()
        request_id = accept_correlation_id(request.headers.get("x-request-id"))
        bind_correlation_id(request_id)
        log = logger()
        user_id: str | None = None
        try:
            if needs_user(request):
                if authenticate is not None:
                    authenticate(request)
                user_id = current_user_id(request)
                revocation.check(request, user_id)
            _check_body_size(request)
            transport.decode_body(request, get_settings().max_body_bytes)
            if request.method == "OPTIONS":
                response = transport.preflight(request, (routes or {}).get(request.path, {}))
            elif user_id is not None and idempotency.applies(request):
                response = idempotency.run(request, user_id, get_response)
            else:
                response = get_response(request)
            response = _from_chalice_error(response)
        except DomainError as error:
            response = problem_response(error)
        except Exception:
            log.exception("unhandled error", extra={"path": request.path})
            response = problem_response(DomainError("An internal error occurred."))
        response.headers["X-Request-Id"] = request_id
        transport.add_cors_headers(request, response)
        if request.method == "HEAD":
            response.body = ""
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "userId": user_id,
                "durationMs": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        count("Requests", status=str(response.status_code))
        return response

    return router


# ---- helpers for thin route handlers -------------------------------------------------


def json_body(request: Request) -> Any:
    raw = request.raw_body or b""
    if not raw.strip():
        raise BadRequest("A JSON request body is required.")
    try:
        # A pathologically nested document is malformed too, not a RecursionError's 500.
        data = parse_json(raw)
    except DuplicateKey as duplicate:
        key = printable_key(duplicate.key)
        raise ValidationFailed(
            {key: ["The field appears more than once."]}, "The request body repeats a field."
        ) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None
    if isinstance(data, Mapping) and (errors := text_errors(data)):
        raise ValidationFailed(errors, "The request body has strings that are not valid text.")
    return data


def query(request: Request, schema: LoadSchema) -> dict[str, Any]:
    params: Mapping[str, str] = request.query_params or {}
    if errors := text_errors(params):
        raise ValidationFailed(errors, "The query string has parameters that are not valid text.")
    try:
        return dict(schema.load(dict(params)))
    except ValidationError as error:
        messages = error.messages
        raise ValidationFailed(
            messages if isinstance(messages, dict) else {"_schema": messages},
            "The query string has invalid parameters.",
        ) from None


def if_match(request: Request) -> EntityTags | None:
    return parse_entity_tags(request.headers.get("if-match"), weak_matches=False)


def respond(
    body: Any,
    *,
    status: int = 200,
    version: int | None = None,
    location: str | None = None,
) -> Response:
    headers: Headers = {"Content-Type": JSON_CONTENT_TYPE}
    if version is not None:
        headers["ETag"] = etag(version)
    if location is not None:
        headers["Location"] = location
    # UTF-8, not \uXXXX escapes: a CJK or emoji text is half or a third of the bytes.
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers=headers)


def respond_resource(request: Request, body: Any, version: int) -> Response:
    """A GET of one resource, honouring If-None-Match with 304."""
    if_none_match = parse_entity_tags(request.headers.get("if-none-match"), weak_matches=True)
    if if_none_match is not None and if_none_match.matches(version):
        return Response(body="", status_code=304, headers={"ETag": etag(version)})
    return respond(body, version=version)


def no_content() -> Response:
    return Response(body="", status_code=204)


def list_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "nextCursor": next_cursor}
