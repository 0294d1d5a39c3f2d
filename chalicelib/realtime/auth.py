"""Who is connecting: the Cognito ID token of a websocket's `?token=`.

Chalice puts no Cognito authorizer in front of a websocket $connect, so the app checks the
token itself, in every stage, with the checks API Gateway's authorizer makes on REST
requests (core.tokens.verify_token): an RS256 signature by a key of the pool's JWKS,
`iss`, `aud` (the app client), `token_use` = "id" and `exp`.

Where the keys and the issuer come from depends on the stage:
- local: the local stage's configuration (core.local_auth.load_config: the embedded AWS's
  JWKS on a loopback address), with the same refusals as the REST check;
- dev/prod: the stage's own user pool at Cognito, `https://cognito-idp.<region>.amazonaws
  .com/<poolId>`, built from the pool id and the Lambda's region, never from a URL in
  the environment.
A missing or malformed setting fails closed (an error, never a pass).
"""

from __future__ import annotations

import os
import re

from chalicelib.core import revocation
from chalicelib.core.errors import Unauthorized
from chalicelib.core.local_auth import LOCAL_STAGE, load_config, refuse_outside_local
from chalicelib.core.settings import get_settings
from chalicelib.core.tokens import (
    INVALID_TOKEN,
    MAX_TOKEN_CHARS,
    TokenCheckUnavailable,
    TokenConfig,
    verify_token,
)

COGNITO_ISSUER = "https://cognito-idp.{region}.amazonaws.com/{pool_id}"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_POOL_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}_[0-9A-Za-z]+$")
_CLIENT_ID = re.compile(r"^[0-9A-Za-z]{1,128}$")


def token_config() -> TokenConfig:
    """Where the keys come from and what `iss`/`aud` must be, for this stage."""
    settings = get_settings()
    if settings.stage == LOCAL_STAGE:
        refuse_outside_local()
        return load_config()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    pool_id, client_id = settings.user_pool_id, settings.user_pool_client_id
    if not _REGION.match(region):
        raise TokenCheckUnavailable(f"websocket token check: no usable AWS region ({region!r})")
    if not _POOL_ID.match(pool_id) or not pool_id.startswith(f"{region}_"):
        raise TokenCheckUnavailable(f"websocket token check: TANDEM_USER_POOL_ID is {pool_id!r}")
    if not _CLIENT_ID.match(client_id):
        raise TokenCheckUnavailable(
            f"websocket token check: TANDEM_USER_POOL_CLIENT_ID {client_id!r}"
        )
    issuer = COGNITO_ISSUER.format(region=region, pool_id=pool_id)
    return TokenConfig(f"{issuer}/.well-known/jwks.json", issuer, client_id)


def user_of_token(token: str | None) -> str:
    """The verified `sub` of an ID token; Unauthorized for anything else."""
    if not token:
        raise Unauthorized()
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized(INVALID_TOKEN)
    claims = verify_token(token, token_config())
    user_id: str = claims["sub"]
    # A deleted user's token is still valid for up to an hour (core.revocation).
    revocation.refuse_revoked(user_id)
    return user_id
