"""Who is calling: the `sub` claim of the verified Cognito ID token, nothing else.

In dev/prod API Gateway's Cognito authorizer verifies the token and puts its claims in
the request context; in the local stage core.local_auth verifies it and fills the same
place, so this module reads one shape in every stage.

API Gateway's authorizer accepts an ID token of any app client of the pool; the local
check accepts only the stage's own app client. So in dev/prod this module also requires
`aud` to be the stage's app client (TANDEM_USER_POOL_CLIENT_ID, a Ref in the packaged
template): a token issued to another client of the pool (an admin tool, a test client)
is not a Tandem user's. An unset client id is a server error, never a pass.
"""

from __future__ import annotations

from typing import Any

from chalice.app import CognitoUserPoolAuthorizer, Request

from .errors import Unauthorized
from .local_auth import LOCAL_STAGE
from .settings import get_settings


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
    _require_app_client(claims)
    return sub


class AppClientNotConfigured(RuntimeError):
    """The stage names no app client, so no token can be accepted."""


def _require_app_client(claims: dict[str, Any]) -> None:
    settings = get_settings()
    if settings.stage == LOCAL_STAGE:
        return  # core.local_auth checked `aud` against the local pool's client
    expected = settings.user_pool_client_id
    if not expected:
        raise AppClientNotConfigured("TANDEM_USER_POOL_CLIENT_ID is not set")
    if claims.get("aud") != expected:
        raise Unauthorized("The bearer token is for another app client.")


def user_pool_authorizer(provider_arns: list[str]) -> CognitoUserPoolAuthorizer:
    return CognitoUserPoolAuthorizer("TandemUserPool", provider_arns=provider_arns)
