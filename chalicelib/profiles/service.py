"""The Profiles service's public API: every call goes through the gatekeeper's function
by a synchronous invoke (RequestResponse), never to its tables. The router's routes and
the jobs' workers (export, account deletion) use it.

The invoke goes through the `aws.lambda` client of core.wiring: in AWS, Lambda's Invoke
API; in the local stack the same API served by devstack (devstack/lambda_api.py), which
runs the function in the app with the same event.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.errors import (
    BadRequest,
    DomainError,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    ValidationFailed,
)
from chalicelib.core.problems import problem_of
from chalicelib.core.wiring import aws

from .infra import GATEKEEPER_FUNCTION

# The gatekeeper answers a refusal with the problem's slug; it becomes the same typed
# error on this side of the invoke.
_ERRORS: dict[str, type[DomainError]] = {
    problem_of(error).slug: error
    for error in (BadRequest, ValidationFailed, NotFound, PreconditionFailed, ServiceUnavailable)
}


class GatekeeperFailed(RuntimeError):
    """The gatekeeper's function raised (Lambda's FunctionError): a server error."""


def _invoke(event: dict[str, Any]) -> dict[str, Any] | None:
    response = aws("lambda").invoke(
        FunctionName=GATEKEEPER_FUNCTION.required(),
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        # The payload names the exception; it holds no profile data, but is not echoed.
        raise GatekeeperFailed(f"the gatekeeper failed ({response['FunctionError']})")
    answer = json.loads(payload)
    if not isinstance(answer, dict):
        raise GatekeeperFailed("the gatekeeper answered something that is not an object")
    if answer.get("ok") is True:
        profile = answer.get("profile")
        return profile if isinstance(profile, dict) else None
    slug = str(answer.get("problem"))
    error_type = _ERRORS.get(slug)
    detail = str(answer.get("detail") or "")
    if error_type is ValidationFailed:
        raise ValidationFailed(answer.get("errors") or {}, detail)
    if error_type is ServiceUnavailable:
        raise ServiceUnavailable(detail, 1)
    if error_type is None:
        raise GatekeeperFailed(f"the gatekeeper refused with an unknown problem {slug[:64]!r}")
    raise error_type(detail)


def _call(
    action: str, user_id: str, correlation_id: str, actor: str | None = None, **more: Any
) -> dict[str, Any] | None:
    event = {
        "action": action,
        "userId": user_id,
        "actor": actor or user_id,
        "correlationId": correlation_id,
        **more,
    }
    return _invoke(event)


def get_profile(user_id: str, correlation_id: str) -> dict[str, Any]:
    """The caller's profile as the API shows it (created with defaults on first read)."""
    profile = _call("read", user_id, correlation_id)
    if profile is None:
        raise GatekeeperFailed("the gatekeeper answered a read without a profile")
    return profile


def put_profile(
    user_id: str, body: Any, if_match: str | None, correlation_id: str
) -> dict[str, Any]:
    """Replaces the profile with `body` (validated by the gatekeeper's strict schema)."""
    profile = _call("write", user_id, correlation_id, profile=body, ifMatch=if_match)
    if profile is None:
        raise GatekeeperFailed("the gatekeeper answered a write without a profile")
    return profile


def export_profile(user_id: str, correlation_id: str, actor: str) -> dict[str, Any]:
    """Public: the profile for the user's data export (audited as an export by `actor`)."""
    profile = _call("export", user_id, correlation_id, actor)
    if profile is None:
        raise GatekeeperFailed("the gatekeeper answered an export without a profile")
    return profile


def delete_profile(user_id: str, correlation_id: str, actor: str) -> None:
    """Public: deletes the profile (account deletion); the audit trail keeps the fact."""
    _call("delete", user_id, correlation_id, actor)
