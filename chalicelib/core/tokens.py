"""Cognito ID-token verification, as API Gateway's Cognito authorizer does it: an RS256
signature by a key of the pool's JWKS, `iss`, `aud` (the app client), `token_use` == "id"
and `exp`. Stage-neutral: the local stage's REST check (core.local_auth) and a websocket's
$connect in every stage (which has no authorizer in front of it) use it.

PyJWT is a runtime dependency, but it is imported only where a token is verified, never
when the app is imported. The JWKS URL is configured apart from the issuer because moto's
`iss` is the real-looking https://cognito-idp.<region>.amazonaws.com/<poolId>.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import Unauthorized
from .wiring import Dependency

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "token_use")
MAX_TOKEN_CHARS = 8192
JWKS_TIMEOUT_SECONDS = 5.0
# A token with an unknown `kid` refetches the key set, at most this often.
JWKS_REFRESH_SECONDS = 30.0

INVALID_TOKEN = "The bearer token is invalid."


class TokenCheckUnavailable(RuntimeError):
    """No token can be checked here (not configured, or no keys): a server error, never
    a pass."""


@dataclass(frozen=True)
class TokenConfig:
    """Where the keys come from, and what `iss` and `aud` must be."""

    jwks_url: str
    issuer: str
    client_id: str


def verify_token(token: str, config: TokenConfig) -> dict[str, Any]:
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
        raise TokenCheckUnavailable(f"cannot fetch the JWKS at {jwks_url}: {error}") from None
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
