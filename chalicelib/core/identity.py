"""Who is calling: the `sub` claim of the verified Cognito ID token, nothing else.

In dev/prod API Gateway's Cognito authorizer verifies the token and puts its claims in
the request context; in the local stage core.local_auth verifies it and fills the same
place, so this module reads one shape in every stage.
"""

from __future__ import annotations

from typing import Any

from chalice.app import CognitoUserPoolAuthorizer, Request

from .errors import Unauthorized


def claims_of(request: Request) -> dict[str, Any]:
    context = request.context or {}
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    return claims if isinstance(claims, dict) else {}


def current_user_id(request: Request) -> str:
    claims = claims_of(request)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized()
    # Without OAuth scopes on the authorizer only ID tokens are valid, as in API Gateway.
    if claims.get("token_use", "id") != "id":
        raise Unauthorized("An ID token is required.")
    return sub


def user_pool_authorizer(provider_arns: list[str]) -> CognitoUserPoolAuthorizer:
    return CognitoUserPoolAuthorizer("TandemUserPool", provider_arns=provider_arns)
