"""Typed domain errors. Their HTTP status, problem type and title are one table in the
HTTP layer (core.problems); they become problem+json in one place: core.http.

They subclass ChaliceUnhandledError because that is the one exception Chalice lets
propagate out of a view into middleware; any other one it turns into its own 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import ChaliceUnhandledError

ErrorMap = Mapping[str, Any]


class DomainError(ChaliceUnhandledError):
    """Anything the caller cannot fix; every other error is one of its subclasses."""

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
    """The request cannot be read: malformed, or a parameter of the wrong form."""


class ValidationFailed(BadRequest):
    """Fields of the body are invalid; `errors` names them."""

    def __init__(self, errors: ErrorMap, detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail, errors=errors)


class Unauthorized(DomainError):
    """No valid token of the stage's app client."""

    def __init__(self, detail: str = "A valid bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    """The caller may not do this."""


class NotFound(DomainError):
    """No such resource for this caller: another user's is not found either."""


class MethodNotAllowed(DomainError):
    """The path exists; the method does not."""


class Conflict(DomainError):
    """The request clashes with the current state (a reused or busy key)."""


class CursorExpired(DomainError):
    """A change-log cursor older than the log's retention: the client starts over."""


class PreconditionFailed(DomainError):
    """If-Match names a version that is no longer current."""


class PayloadTooLarge(DomainError):
    """The body is over the cap."""


class UnsupportedMediaType(DomainError):
    """The body is not JSON, or its encoding is unknown."""


class UnprocessableReference(DomainError):
    """A field refers to a resource the caller cannot use."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, errors={field: [detail]})


class TooManyRequests(DomainError):
    """Retry later, after `retry_after_seconds`."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class ServiceUnavailable(DomainError):
    """A write could not land in time; retry after `retry_after_seconds`."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class WriteContended(ServiceUnavailable):
    """A transaction that kept meeting other transactions on its items (DynamoDB's
    TransactionConflict): nothing is known to have changed, so it may simply be retried."""

    def __init__(self) -> None:
        super().__init__("Other requests are writing the same items; retry.", 1)
