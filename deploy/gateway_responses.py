"""API Gateway's own error answers (gateway responses) as problem+json in the app's shape,
and the stage-wide throttling that produces one of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.core import errors
from chalicelib.core.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX, problem_of

_DETAIL_FROM_GATEWAY = "$context.error.messageString"


@dataclass(frozen=True)
class GatewayProblem:
    """The problem+json API Gateway answers with when it rejects a request itself."""

    slug: str
    title: str
    status: int | None  # None: the family's statuses vary, and RFC 9457 makes it optional
    detail: str
    status_code: str | None = None  # to answer with instead of API Gateway's own
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, error: type[errors.DomainError], detail: str, **kw: Any) -> GatewayProblem:
        problem = problem_of(error)
        return cls(problem.slug, problem.title, problem.status, detail, **kw)


_THROTTLED = GatewayProblem.of(
    errors.TooManyRequests,
    "Too many requests; retry later.",
    headers=(("Retry-After", "1"),),
)
_BAD_REQUEST = GatewayProblem.of(errors.BadRequest, _DETAIL_FROM_GATEWAY)
GATEWAY_PROBLEMS: dict[str, GatewayProblem] = {
    "UNAUTHORIZED": GatewayProblem.of(
        errors.Unauthorized,
        "A valid bearer token is required.",
        headers=(("WWW-Authenticate", "Bearer"),),
    ),
    "ACCESS_DENIED": GatewayProblem.of(
        errors.Forbidden, "The token does not grant access to this resource."
    ),
    # A REST API answers an unknown path or method with this 403; the API's contract is 404.
    "MISSING_AUTHENTICATION_TOKEN": GatewayProblem.of(
        errors.NotFound, "No such resource.", status_code="404"
    ),
    "REQUEST_TOO_LARGE": GatewayProblem.of(errors.PayloadTooLarge, "The request is too large."),
    "UNSUPPORTED_MEDIA_TYPE": GatewayProblem.of(errors.UnsupportedMediaType, _DETAIL_FROM_GATEWAY),
    "BAD_REQUEST_BODY": _BAD_REQUEST,
    "BAD_REQUEST_PARAMETERS": _BAD_REQUEST,
    "THROTTLED": _THROTTLED,
    "QUOTA_EXCEEDED": _THROTTLED,
    "DEFAULT_4XX": GatewayProblem(
        "request-rejected", "Request rejected", None, _DETAIL_FROM_GATEWAY
    ),
    "DEFAULT_5XX": GatewayProblem(
        problem_of(errors.DomainError).slug,
        problem_of(errors.DomainError).title,
        None,
        "An internal error occurred.",
    ),
}


# A stage-wide limit on every route: it bounds what a runaway client can cost a
# pay-per-request deployment. API Gateway answers over it with THROTTLED (a 429 problem).
THROTTLING = [
    {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
    }
]


def _problem_template(problem: GatewayProblem) -> str:
    """The body as a mapping template: JSON, with API Gateway's message (already a quoted
    JSON string) as the detail where the problem has no fixed one."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_PREFIX + problem.slug, "title": problem.title}
    if problem.status is not None:
        body["status"] = int(problem.status_code or problem.status)
    body["detail"] = "@DETAIL@"
    detail = problem.detail
    quoted = detail if detail == _DETAIL_FROM_GATEWAY else json.dumps(detail)
    return json.dumps(body).replace('"@DETAIL@"', quoted)


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses`: every answer API Gateway gives on its own
    is problem+json in the app's shape, and carries API Gateway's request id."""
    responses: dict[str, Any] = {}
    for response_type, problem in GATEWAY_PROBLEMS.items():
        headers = {"Content-Type": PROBLEM_CONTENT_TYPE, **dict(problem.headers)}
        parameters = {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()}
        parameters["gatewayresponse.header.X-Request-Id"] = "context.requestId"
        response: dict[str, Any] = {
            "responseParameters": parameters,
            "responseTemplates": {"application/json": _problem_template(problem)},
        }
        if problem.status_code:
            response["statusCode"] = problem.status_code
        responses[response_type] = response
    return responses
