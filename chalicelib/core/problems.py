"""The HTTP side of the domain errors: one table of each error's status, problem type and
title (RFC 9457). The router (core.http), the websocket's $connect, the local servers and
API Gateway's own answers (deploy/gateway_responses.py) all read it."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import (
    BadRequest,
    Conflict,
    CursorExpired,
    DomainError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnprocessableReference,
    UnsupportedMediaType,
    ValidationFailed,
)

PROBLEM_TYPE_PREFIX = "urn:problem-type:tandem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Problem:
    status: int
    slug: str  # the problem type is PROBLEM_TYPE_PREFIX + slug
    title: str

    @property
    def type(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug


PROBLEMS: dict[type[DomainError], Problem] = {
    DomainError: Problem(500, "internal-error", "Internal server error"),
    BadRequest: Problem(400, "bad-request", "Bad request"),
    ValidationFailed: Problem(400, "validation-failed", "Validation failed"),
    Unauthorized: Problem(401, "unauthorized", "Unauthorized"),
    Forbidden: Problem(403, "forbidden", "Forbidden"),
    NotFound: Problem(404, "not-found", "Not found"),
    MethodNotAllowed: Problem(405, "method-not-allowed", "Method not allowed"),
    Conflict: Problem(409, "conflict", "Conflict"),
    CursorExpired: Problem(410, "sync-cursor-expired", "Cursor expired"),
    PreconditionFailed: Problem(412, "precondition-failed", "Precondition failed"),
    PayloadTooLarge: Problem(413, "payload-too-large", "Payload too large"),
    UnsupportedMediaType: Problem(415, "unsupported-media-type", "Unsupported media type"),
    UnprocessableReference: Problem(422, "unprocessable-reference", "Unusable reference"),
    TooManyRequests: Problem(429, "too-many-requests", "Too many requests"),
    ServiceUnavailable: Problem(503, "service-unavailable", "Service unavailable"),
}


def problem_of(error: DomainError | type[DomainError]) -> Problem:
    """The table's entry of the error's class, or of its nearest listed base class."""
    cls = error if isinstance(error, type) else type(error)
    for base in cls.__mro__:
        if base in PROBLEMS:
            return PROBLEMS[base]
    raise LookupError(f"{cls.__name__} is not a DomainError")
