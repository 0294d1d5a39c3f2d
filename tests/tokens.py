"""Tokens for the negative tests: moto-signed ones with chosen claims, and forgeries.

moto signs every Cognito token with one static key that ships inside the moto package
(docs/decisions.md), so a test can sign a token the local stack would otherwise accept, and then
break exactly one thing about it (expiry, audience, issuer, token_use).
"""

from __future__ import annotations

import base64
import json
import time
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

MOTO_KID = "dummy"


@lru_cache(maxsize=1)
def moto_signing_key() -> Any:
    private_jwk = load_resource("cognitoidp/resources/jwks-private.json")
    return jwt.PyJWK(private_jwk, algorithm="RS256").key


@lru_cache(maxsize=1)
def moto_public_jwks() -> dict[str, Any]:
    document: dict[str, Any] = load_resource("cognitoidp/resources/jwks-public.json")
    return document


@lru_cache(maxsize=1)
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def sign(claims: dict[str, Any], key: Any = None, kid: str = MOTO_KID) -> str:
    return jwt.encode(
        claims, key if key is not None else moto_signing_key(), "RS256", headers={"kid": kid}
    )


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def tamper(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload."""
    header, _, signature = token.split(".")
    return ".".join([header, _b64({**claims_of(token), **changes}), signature])


BAD_KINDS = (
    "missing",
    "empty",
    "garbage",
    "bearer-garbage",
    "bearer-only",
    "basic-scheme",
    "three-segments",
    "not-json-payload",
    "hs256-forged",
    "alg-none",
    "tampered-payload",
    "expired",
    "wrong-audience",
    "wrong-issuer",
    "access-token",
    "no-token-use",
    "other-key",
    "unknown-kid",
    "oversized",
)


def bad_authorizations(id_token: str, access_token: str) -> dict[str, str | None]:
    """Every kind of bad `Authorization` header value (None: no header at all), made from a
    user's real ID and access tokens."""
    claims = claims_of(id_token)
    now = int(time.time())
    without_token_use = {k: v for k, v in claims.items() if k != "token_use"}
    kinds: dict[str, str | None] = {
        "missing": None,
        "empty": "",
        "garbage": "garbage",
        "bearer-garbage": "Bearer garbage",
        "bearer-only": "Bearer",
        "basic-scheme": "Basic dXNlcjpwYXNzd29yZA==",
        "three-segments": "Bearer a.b.c",
        "not-json-payload": "Bearer eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln",
        "hs256-forged": "Bearer "
        + jwt.encode(claims, "guessed-secret-32-bytes-long!!!!", "HS256", {"kid": MOTO_KID}),
        "alg-none": "Bearer " + jwt.encode(claims, "", "none", {"kid": MOTO_KID}),
        "tampered-payload": "Bearer " + tamper(id_token, sub="someone-else"),
        "expired": "Bearer " + sign({**claims, "iat": now - 7200, "exp": now - 3600}),
        "wrong-audience": "Bearer " + sign({**claims, "aud": "another-client"}),
        "wrong-issuer": "Bearer "
        + sign({**claims, "iss": claims["iss"].rsplit("/", 1)[0] + "/us-east-1_other"}),
        "access-token": "Bearer " + access_token,
        "no-token-use": "Bearer " + sign(without_token_use),
        "other-key": "Bearer " + sign(claims, key=other_rsa_key()),
        "unknown-kid": "Bearer " + sign(claims, kid="not-a-known-kid"),
        "oversized": "Bearer " + "a" * 10_000,
    }
    assert tuple(kinds) == BAD_KINDS
    return kinds
