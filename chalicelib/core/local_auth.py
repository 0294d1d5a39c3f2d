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

`verify_token` itself is stage-neutral: the websocket $connect handler,
which has no Cognito authorizer in front of it in any stage, uses it with the real
pool's issuer in dev/prod. PyJWT is therefore a runtime dependency, but it is imported
only where a token is verified, never when the app is imported. The JWKS URL is
configured apart from the issuer because moto's `iss` is the real-looking
https://cognito-idp.<region>.amazonaws.com/<poolId>.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Request

from .errors import Unauthorized
from .settings import get_settings
from .wiring import Dependency

JWKS_URL_ENV = "TANDEM_COGNITO_JWKS_URL"
ISSUER_ENV = "TANDEM_COGNITO_ISSUER"
CLIENT_ID_ENV = "TANDEM_COGNITO_CLIENT_ID"

LOCAL_STAGE = "local"
ALGORITHM = "RS256"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Set by the Lambda runtime (and not by chalice local, which sets AWS_EXECUTION_ENV).
LAMBDA_RUNTIME_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API")
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "token_use")
MAX_TOKEN_CHARS = 8192
JWKS_TIMEOUT_SECONDS = 5.0
# A token with an unknown `kid` refetches the key set, at most this often.
JWKS_REFRESH_SECONDS = 30.0

INVALID_TOKEN = "The bearer token is invalid."


class LocalAuthRefused(RuntimeError):
    """Local verification cannot run here: wrong stage, inside Lambda, or not configured."""


@dataclass(frozen=True)
class LocalAuthConfig:
    jwks_url: str
    issuer: str
    client_id: str


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


def load_config() -> LocalAuthConfig:
    env = os.environ
    values = {name: env.get(name, "") for name in (JWKS_URL_ENV, ISSUER_ENV, CLIENT_ID_ENV)}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise LocalAuthRefused(f"local token verification is not configured: {missing} unset")
    jwks_url = values[JWKS_URL_ENV]
    parts = urlsplit(jwks_url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise LocalAuthRefused(f"{JWKS_URL_ENV} must be an http(s) URL on a loopback host")
    return LocalAuthConfig(jwks_url, values[ISSUER_ENV], values[CLIENT_ID_ENV])


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


def verify_token(token: str, config: LocalAuthConfig) -> dict[str, Any]:
    import jwt  # only the paths that verify a token pay for the import

    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthorized(INVALID_TOKEN)
        key = signing_key(config.jwks_url, kid)
        if key is None:
            raise Unauthorized(INVALID_TOKEN)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=config.client_id,
            issuer=config.issuer,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The bearer token has expired.") from None
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise Unauthorized(INVALID_TOKEN) from None
    if claims.get("token_use") != "id":
        raise Unauthorized("An ID token is required.")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized(INVALID_TOKEN)
    return claims


# ---- the key cache: one key set per JWKS URL, refetched only for an unknown kid -------


@dataclass(frozen=True)
class _KeySet:
    fetched_at: float
    keys: dict[str, Any]


# Key sets by JWKS URL: a dependency, so that a test's fake fetcher never sees another
# test's keys (wiring.reset).
_key_sets: Dependency[dict[str, _KeySet]] = Dependency("jwks_key_sets", dict)
_key_sets_lock = threading.Lock()


def signing_key(jwks_url: str, kid: str) -> Any:
    """The public key for `kid`, or None. Fetches the JWKS on first use, then caches it."""
    with _key_sets_lock:
        key_sets = _key_sets()
        cached = key_sets.get(jwks_url)
        stale = cached is None or (
            kid not in cached.keys and time.monotonic() - cached.fetched_at >= JWKS_REFRESH_SECONDS
        )
        if stale:
            cached = _KeySet(time.monotonic(), _fetch_keys(jwks_url))
            key_sets[jwks_url] = cached
        assert cached is not None
        return cached.keys.get(kid)


def clear_key_cache() -> None:
    with _key_sets_lock:
        _key_sets().clear()


JwksFetcher = Callable[[str], Any]


def _http_get_json(url: str) -> Any:
    # Callers build the URL: load_config() allows only http(s) on a loopback host, the
    # websocket's cloud path only the https Cognito issuer of the stage's pool.
    import urllib.request  # with ssl and http.client: only a key fetch pays for them

    with urllib.request.urlopen(url, timeout=JWKS_TIMEOUT_SECONDS) as response:  # noqa: S310
        return json.loads(response.read())


# Tests override it with what a JWKS URL would serve (e.g. Cognito's, which they cannot
# reach), and clear the key cache.
jwks_fetcher: Dependency[JwksFetcher] = Dependency("jwks_fetcher", lambda: _http_get_json)


def _fetch_keys(jwks_url: str) -> dict[str, Any]:
    import jwt

    try:
        document = jwks_fetcher()(jwks_url)
    except (OSError, ValueError) as error:
        raise LocalAuthRefused(f"cannot fetch the JWKS at {jwks_url}: {error}") from None
    keys: dict[str, Any] = {}
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        except jwt.PyJWTError:
            continue  # an unusable key verifies nothing
    return keys
