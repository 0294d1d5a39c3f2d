"""Cognito ID-token verification for the local stage, and only for it.

In dev/prod, API Gateway's Cognito authorizer (core.auth.AUTHORIZER, on every route but
the public ones) verifies the token before the Lambda runs, and this module does nothing.
`chalice local` verifies nothing (docs/decisions.md), so in the local stage the router calls this
module, which checks what API Gateway would: an RS256 signature by a key of the local
pool's JWKS, `iss`, `aud` (the app client), `token_use` == "id" and `exp`. On success the
verified claims replace whatever is in the request context, so core.identity reads one
shape in every stage.

It cannot be switched on in the cloud by accident:
- `authenticate_local_stage` (the router's hook) decides per request from the stage and
  is a no-op unless the stage is "local";
- `verify_request` itself refuses to run unless the stage is "local" and the process is
  not a Lambda runtime, and it only fetches keys from a loopback JWKS URL.
A refusal or a missing setting is a server error (fail closed), never a pass.

The checks themselves are core.tokens', which the websocket's $connect uses too.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Request

from .errors import Unauthorized
from .settings import get_settings
from .tokens import INVALID_TOKEN, MAX_TOKEN_CHARS, TokenCheckUnavailable, TokenConfig, verify_token

JWKS_URL_ENV = "TANDEM_COGNITO_JWKS_URL"
ISSUER_ENV = "TANDEM_COGNITO_ISSUER"
CLIENT_ID_ENV = "TANDEM_COGNITO_CLIENT_ID"

LOCAL_STAGE = "local"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Set by the Lambda runtime (and not by chalice local, which sets AWS_EXECUTION_ENV).
LAMBDA_RUNTIME_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API")


class LocalAuthRefused(TokenCheckUnavailable):
    """Local verification cannot run here: wrong stage, inside Lambda, or not configured."""


def authenticate_local_stage(request: Request) -> None:
    """The router's authenticate hook: verifies the token in the local stage only.

    In dev/prod API Gateway's authorizer has already verified it, and this returns
    without touching the request.
    """
    if get_settings().stage == LOCAL_STAGE:
        verify_request(request)


def verify_request(request: Request) -> dict[str, Any]:
    """Verifies the request's bearer token and puts its claims where API Gateway would."""
    refuse_outside_local()
    config = load_config()
    claims = verify_token(bearer_token(request.headers.get("authorization")), config)
    request.context["authorizer"] = {"claims": claims}
    return claims


def refuse_outside_local() -> None:
    stage = get_settings().stage
    if stage != LOCAL_STAGE:
        raise LocalAuthRefused(f"local token verification refuses to run in stage {stage!r}")
    in_lambda = [name for name in LAMBDA_RUNTIME_ENV if os.environ.get(name)]
    if in_lambda:
        raise LocalAuthRefused(f"local token verification refuses to run in Lambda ({in_lambda})")


def load_config() -> TokenConfig:
    env = os.environ
    values = {name: env.get(name, "") for name in (JWKS_URL_ENV, ISSUER_ENV, CLIENT_ID_ENV)}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise LocalAuthRefused(f"local token verification is not configured: {missing} unset")
    jwks_url = values[JWKS_URL_ENV]
    parts = urlsplit(jwks_url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise LocalAuthRefused(f"{JWKS_URL_ENV} must be an http(s) URL on a loopback host")
    return TokenConfig(jwks_url, values[ISSUER_ENV], values[CLIENT_ID_ENV])


def bearer_token(header: str | None) -> str:
    """The token of `Authorization: Bearer <token>` (or a bare token, as API Gateway takes)."""
    parts = (header or "").split()
    if not parts:
        raise Unauthorized()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        token = parts[1]
    elif len(parts) == 1 and parts[0].lower() != "bearer":
        token = parts[0]
    else:
        raise Unauthorized(INVALID_TOKEN)
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized(INVALID_TOKEN)
    return token
