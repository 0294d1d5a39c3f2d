"""Typed domain errors. They become problem+json in one place: core.http.

They subclass ChaliceUnhandledError because that is the one exception Chalice lets
propagate out of a view into middleware; any other one it turns into its own 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chalice.app import ChaliceUnhandledError

ErrorMap = Mapping[str, Any]


class DomainError(ChaliceUnhandledError):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        errors: ErrorMap | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}


class BadRequest(DomainError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class ValidationFailed(BadRequest):
    slug = "validation-failed"
    title = "Validation failed"

    def __init__(self, errors: ErrorMap, detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail, errors=errors)


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str = "A valid bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(DomainError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(DomainError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class UnprocessableReference(DomainError):
    status = 422
    slug = "unprocessable-reference"
    title = "Unusable reference"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, errors={field: [detail]})


class TooManyRequests(DomainError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class ServiceUnavailable(DomainError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class WriteContended(ServiceUnavailable):
    """A transaction that kept meeting other transactions on its items (DynamoDB's
    TransactionConflict): nothing is known to have changed, so it may simply be retried."""

    def __init__(self) -> None:
        super().__init__("Other requests are writing the same items; retry.", 1)
