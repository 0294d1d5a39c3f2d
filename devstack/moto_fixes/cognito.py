"""Cognito user pools: sign-in verifies the password on every flow, tokens carry Cognito's
claims, unknown users are not disclosed.

moto 5.2.5 departs from Cognito in ways a mobile app would notice (docs/local-stack.md,
"moto's Cognito"):
- `USER_SRP_AUTH` (AWS Amplify's default) answers a random `SRP_B` and `SALT`, and
  `RespondToAuthChallenge` then signs in whatever `PASSWORD_CLAIM_SIGNATURE` is sent:
  any password works;
- in a pool whose username is the email, the ID token's `email` claim is the name the
  caller signed in with: over SRP that is the internal username (the `sub`);
- an app client with `PreventUserExistenceErrors: ENABLED` still answers
  `UserNotFoundException` for an unknown user;
- a refresh token works with any app client of the pool and never expires, `auth_time`
  is reset by every refresh, and the tokens ignore the client's token validity.

Here the server side of Cognito's SRP-6a is done properly (below), the token claims are
built from the user's attributes, and the flows refuse what Cognito refuses. The rest of
moto's flow (NEW_PASSWORD_REQUIRED, MFA challenges, issuing the tokens) is moto's own.

Cognito's SRP (as its client SDKs implement it): the RFC 5054 3072-bit group, g = 2,
SHA-256, k = H(N | g), u = H(A | B), x = H(salt | H(poolName | userIdForSrp ":" password)),
each number hashed as big-endian bytes with a leading zero byte when its high bit is set.
The session key is HKDF-SHA256(ikm = S, salt = u, info = "Caldera Derived Key", 16 bytes),
and the client proves it with HMAC-SHA256(key, poolName | userIdForSrp | secretBlock |
timestamp). No maintained library implements Cognito's server side (pycognito and the
SDKs implement the client), so it is written here; the tests check it against pycognito.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# moto's classes are imported in apply(): importing this package must not load moto.

INCORRECT = "Incorrect username or password."

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D226"
    "1AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
HKDF_INFO = b"Caldera Derived Key"
# Cognito's PASSWORD_VERIFIER timestamp, e.g. "Wed Dec 2 14:12:10 UTC 2026".
TIMESTAMP_FORMAT = "%a %b %d %H:%M:%S UTC %Y"
# How far a TIMESTAMP may be from the server's clock. Cognito documents no window; this
# refuses only replays of old proofs and clocks that are plainly wrong.
TIMESTAMP_SKEW_SECONDS = 15 * 60
# An app client's AuthSessionValidity default: how long a challenge can be answered.
DEFAULT_SESSION_MINUTES = 3


def _padded(number: int) -> bytes:
    """A number as Cognito's SRP hashes it: big-endian, with a 0 byte if the high bit is set."""
    return number.to_bytes(number.bit_length() // 8 + 1, "big")


def _hash(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


K = _hash(_padded(N), _padded(G))


def pool_name(pool_id: str) -> str:
    """The part of a pool id after the region, as SRP hashes it."""
    return pool_id.split("_", 1)[1]


def verifier(pool_id: str, user_id_for_srp: str, password: str, salt: int) -> int:
    """v = g^x mod N: what Cognito stores for a password (moto stores the password itself)."""
    identity = hashlib.sha256(f"{pool_name(pool_id)}{user_id_for_srp}:{password}".encode()).digest()
    return pow(G, _hash(_padded(salt), identity), N)


def session_key(srp_a: int, srp_b: int, small_b: int, v: int) -> bytes:
    """The server's side of SRP-6a: S = (A * v^u)^b mod N, then Cognito's HKDF."""
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    u = _hash(_padded(srp_a), _padded(srp_b))
    s = pow(srp_a * pow(v, u, N) % N, small_b, N)
    return HKDF(algorithm=SHA256(), length=16, salt=_padded(u), info=HKDF_INFO).derive(_padded(s))


def claim_signature(key: bytes, pool_id: str, user_id_for_srp: str, block: bytes, ts: str) -> bytes:
    message = pool_name(pool_id).encode() + user_id_for_srp.encode() + block + ts.encode()
    return hmac.new(key, message, hashlib.sha256).digest()


# ---- pending PASSWORD_VERIFIER challenges -----------------------------------------------


@dataclass(frozen=True)
class _Challenge:
    pool_id: str
    client_id: str
    username: str | None  # moto's internal username; None for a simulated (unknown) user
    user_id_for_srp: str
    key: bytes
    expires_at: float


_challenges: dict[str, _Challenge] = {}
_challenges_lock = threading.Lock()


def _remember(block: str, challenge: _Challenge) -> None:
    now = time.time()
    with _challenges_lock:
        for stale in [b for b, c in _challenges.items() if c.expires_at < now]:
            del _challenges[stale]
        _challenges[block] = challenge


def _take(block: str) -> _Challenge | None:
    with _challenges_lock:
        return _challenges.pop(block, None)


# ---- per-pool state: kept on moto's pool object, so it lives (and is saved) with it ----


def _pool_secret(pool: Any) -> bytes:
    secret: bytes = pool.__dict__.setdefault("tandem_srp_secret", secrets.token_bytes(32))
    return secret


def _derived(pool: Any, purpose: str, value: str) -> bytes:
    return hmac.new(_pool_secret(pool), f"{purpose}\0{value}".encode(), hashlib.sha256).digest()


def _salt_for(pool: Any, user_id_for_srp: str) -> int:
    # One salt per user, always the same, as Cognito's stored salt; never starting with
    # a zero nibble, so that every client hashes the hex string the same way.
    return int.from_bytes(_derived(pool, "salt", user_id_for_srp)[:16], "big") | (1 << 127)


@dataclass(frozen=True)
class _SignIn:
    auth_time: int
    event_id: str


def _sign_in_of(pool: Any, origin_jti: str | None) -> _SignIn:
    """The sign-in that a token descends from: refreshed tokens keep its `auth_time`."""
    sign_ins: dict[str, _SignIn] = pool.__dict__.setdefault("tandem_sign_ins", {})
    if origin_jti is None:
        return _SignIn(int(time.time()), str(uuid.uuid4()))
    return sign_ins.setdefault(origin_jti, _SignIn(int(time.time()), str(uuid.uuid4())))


# ---- app client settings --------------------------------------------------------------


_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_DEFAULT_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}


def _validity_seconds(client: Any, token: str, default: int) -> int:
    """The client's `<token>Validity` in seconds (token: AccessToken, IdToken, RefreshToken)."""
    config = client.extended_config if client is not None else {}
    value = config.get(f"{token}Validity")
    if value is None:
        return default
    unit = (config.get("TokenValidityUnits") or {}).get(token, _DEFAULT_UNITS[token])
    return int(value) * _UNIT_SECONDS[unit]


def _prevents_user_existence_errors(client: Any) -> bool:
    return bool(client.extended_config.get("PreventUserExistenceErrors") == "ENABLED")


def _require_flow(client: Any, flow: str) -> None:
    """Cognito refuses a flow the client does not allow (when it names its flows)."""
    allowed = client.extended_config.get("ExplicitAuthFlows")
    if allowed is None:
        return
    legacy = {"USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY"}
    if f"ALLOW_{flow}" in allowed or (flow in legacy and flow in allowed):
        return
    from moto.cognitoidp.exceptions import InvalidParameterException

    raise InvalidParameterException(f"{flow} flow not enabled for this client")


# ---- the patched methods --------------------------------------------------------------


def _find_client(backend: Any, client_id: str) -> tuple[Any, Any]:
    for pool in backend.user_pools.values():
        if client_id in pool.clients:
            return pool, pool.clients[client_id]
    from moto.cognitoidp.exceptions import ResourceNotFoundError

    raise ResourceNotFoundError(client_id)


def _initiate_auth(original: Any, self: Any, client_id: str, auth_flow: str, params: Any) -> Any:
    from moto.cognitoidp.exceptions import NotAuthorizedError, UserNotFoundError

    flow = "REFRESH_TOKEN_AUTH" if auth_flow == "REFRESH_TOKEN" else auth_flow
    if flow not in ("USER_SRP_AUTH", "USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"):
        return original(self, client_id, auth_flow, params)
    pool, client = _find_client(self, client_id)
    _require_flow(client, flow)
    params = params or {}
    if flow == "USER_SRP_AUTH":
        return _start_srp(self, pool, client, params)
    if flow == "REFRESH_TOKEN_AUTH":
        _check_refresh_token(pool, client, params.get("REFRESH_TOKEN"))
        return original(self, client_id, auth_flow, params)
    try:
        return original(self, client_id, auth_flow, params)
    except UserNotFoundError:
        if _prevents_user_existence_errors(client):
            raise NotAuthorizedError(INCORRECT) from None
        raise


def _start_srp(backend: Any, pool: Any, client: Any, params: dict[str, str]) -> dict[str, Any]:
    from moto.cognitoidp.exceptions import (
        InvalidParameterException,
        NotAuthorizedError,
        UserNotFoundError,
    )
    from moto.cognitoidp.utils import check_secret_hash

    username = params.get("USERNAME")
    srp_a_hex = params.get("SRP_A")
    if not username or not srp_a_hex:
        raise InvalidParameterException("Missing required parameter USERNAME or SRP_A")
    try:
        srp_a = int(srp_a_hex, 16)
    except ValueError:
        raise InvalidParameterException("SRP_A is not a hexadecimal number") from None
    if srp_a % N == 0:
        raise NotAuthorizedError(INCORRECT)
    if client.generate_secret and not check_secret_hash(
        client.secret, client.id, username, params.get("SECRET_HASH")
    ):
        raise NotAuthorizedError(params.get("SECRET_HASH"))

    user = pool._get_user(username)
    if user is None:
        if not _prevents_user_existence_errors(client):
            raise UserNotFoundError("User does not exist.")
        # Cognito's simulated answer (RFC 5054, 2.5.1.3): the same salt and user id for
        # the same name every time, and a B like any other; the proof then fails.
        internal = None
        user_id_for_srp = str(uuid.UUID(bytes=_derived(pool, "id", username)[:16]))
        password = secrets.token_hex(32)
    else:
        internal = user_id_for_srp = user.username
        password = user.password or ""
    salt = _salt_for(pool, user_id_for_srp)
    v = verifier(pool.id, user_id_for_srp, password, salt)
    # 1024 random bits, as Cognito's SDKs pick `a`: a full-size exponent doubles the cost.
    small_b = secrets.randbits(1024) | 1
    srp_b = (K * v + pow(G, small_b, N)) % N
    block = base64.standard_b64encode(secrets.token_bytes(64)).decode()
    minutes = client.extended_config.get("AuthSessionValidity") or DEFAULT_SESSION_MINUTES
    challenge = _Challenge(
        pool_id=pool.id,
        client_id=client.id,
        username=internal,
        user_id_for_srp=user_id_for_srp,
        key=session_key(srp_a, srp_b, small_b, v),
        expires_at=time.time() + 60 * int(minutes),
    )
    _remember(block, challenge)
    if internal is not None:
        # moto's own PASSWORD_VERIFIER step looks its session up by the secret block.
        backend.sessions[block] = (internal, pool)
    return {
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": f"{salt:x}",
            "SRP_B": f"{srp_b:x}",
            "SECRET_BLOCK": block,
            "USERNAME": user_id_for_srp,
            "USER_ID_FOR_SRP": user_id_for_srp,
        },
    }


def _respond_to_auth_challenge(
    original: Any, self: Any, session: str, client_id: str, name: str, responses: Any
) -> Any:
    if name != "PASSWORD_VERIFIER":
        return original(self, session, client_id, name, responses)
    _verify_password_claim(self, client_id, responses or {})
    return original(self, session, client_id, name, responses)


def _verify_password_claim(backend: Any, client_id: str, responses: dict[str, str]) -> None:
    from moto.cognitoidp.exceptions import (
        InvalidParameterException,
        NotAuthorizedError,
        UserNotConfirmedException,
    )
    from moto.cognitoidp.models import UserStatus

    required = ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP")
    missing = [name for name in required if not responses.get(name)]
    if missing:
        raise InvalidParameterException(f"Missing required parameter {missing[0]}")
    block = responses["PASSWORD_CLAIM_SECRET_BLOCK"]
    challenge = _take(block)
    if challenge is None or challenge.client_id != client_id:
        raise NotAuthorizedError("Invalid session for the user.")
    if challenge.expires_at < time.time():
        backend.sessions.pop(block, None)
        raise NotAuthorizedError("Invalid session for the user, session is expired.")
    try:
        stamp = datetime.strptime(responses["TIMESTAMP"], TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        claimed = base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"], validate=True)
        block_bytes = base64.b64decode(block, validate=True)
    except (ValueError, binascii.Error):
        backend.sessions.pop(block, None)
        raise NotAuthorizedError(INCORRECT) from None
    expected = claim_signature(
        challenge.key,
        challenge.pool_id,
        challenge.user_id_for_srp,
        block_bytes,
        responses["TIMESTAMP"],
    )
    fresh = abs(stamp.timestamp() - time.time()) <= TIMESTAMP_SKEW_SECONDS
    pool = backend.user_pools.get(challenge.pool_id)
    user = pool._get_user(responses["USERNAME"]) if pool is not None else None
    same_user = user is not None and user.username == challenge.username
    if user is None or not (hmac.compare_digest(claimed, expected) and fresh and same_user):
        backend.sessions.pop(block, None)
        raise NotAuthorizedError(INCORRECT)
    if not user.enabled:
        backend.sessions.pop(block, None)
        raise NotAuthorizedError("User is disabled.")
    if user.status == UserStatus.UNCONFIRMED:
        backend.sessions.pop(block, None)
        raise UserNotConfirmedException("User is not confirmed.")


def _check_refresh_token(pool: Any, client: Any, token: str | None) -> None:
    """Cognito accepts a refresh token only from the client it was issued to, for an
    enabled user, within the client's refresh token validity from the sign-in."""
    from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError

    if not token:
        raise InvalidParameterException("Missing required parameter REFRESH_TOKEN")
    issued = pool.refresh_tokens.get(token)
    if issued is None:
        raise NotAuthorizedError("Invalid Refresh Token")
    issued_client, username, origin_jti = issued
    if issued_client != client.id:
        raise NotAuthorizedError("Invalid Refresh Token")
    user = pool._get_user(username)
    if user is None or not user.enabled:
        raise NotAuthorizedError("Invalid Refresh Token")
    lifetime = _validity_seconds(client, "RefreshToken", 30 * 86400)
    if time.time() >= _sign_in_of(pool, origin_jti).auth_time + lifetime:
        raise NotAuthorizedError("Refresh Token has expired")


def _admin_initiate_auth(
    original: Any, self: Any, pool_id: str, client_id: str, auth_flow: str, params: Any
) -> Any:
    from moto.cognitoidp.exceptions import NotAuthorizedError, UserNotFoundError

    pool = self.describe_user_pool(pool_id)
    client = pool.clients.get(client_id)
    if client is not None and auth_flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        _check_refresh_token(pool, client, (params or {}).get("REFRESH_TOKEN"))
    try:
        return original(self, pool_id, client_id, auth_flow, params)
    except UserNotFoundError:
        if client is not None and _prevents_user_existence_errors(client):
            raise NotAuthorizedError(INCORRECT) from None
        raise


def _create_jwt(
    self: Any,
    client_id: str,
    username: str,
    token_use: str,
    expires_in: int = 60 * 60,
    extra_data: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """A token with Cognito's claims, for the user `username` names (by any of its names)."""
    from joserfc import jwt  # moto's own JWT library
    from moto.cognitoidp.exceptions import NotAuthorizedError

    user = self._get_user(username)
    if user is None:
        raise NotAuthorizedError("User does not exist.")
    extra = dict(extra_data or {})
    client = self.clients.get(client_id)
    sign_in = _sign_in_of(self, extra.get("origin_jti"))
    validity = _validity_seconds(
        client, "IdToken" if token_use == "id" else "AccessToken", expires_in
    )
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": user.id,
        "iss": f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}",
        "token_use": token_use,
        "auth_time": sign_in.auth_time,
        "event_id": sign_in.event_id,
        "iat": now,
        "exp": now + validity,
        "jti": str(uuid.uuid4()),
        **extra,
    }
    if token_use == "id":
        payload.update(aud=client_id, **{"cognito:username": user.username})
        payload.update(_attribute_claims(client, user))
    else:
        payload.update(client_id=client_id, username=user.username)
    headers = {"kid": "dummy", "alg": "RS256"}  # the kid of moto's jwks-public.json
    return jwt.encode(headers, payload, self.json_web_key), validity


def _attribute_claims(client: Any, user: Any) -> dict[str, Any]:
    """The user's readable attributes, as Cognito puts them in an ID token: the
    `*_verified` ones as booleans."""
    readable = client.get_readable_fields() if client is not None else []
    claims: dict[str, Any] = {}
    for name, value in user.attribute_lookup.items():
        if name == "sub" or (readable and name not in readable):
            continue
        claims[name] = value == "true" if name.endswith("_verified") else value
    # Cognito keeps an unverified email or phone number as `<name>_verified: false`.
    for name in ("email", "phone_number"):
        if name in claims:
            claims.setdefault(f"{name}_verified", False)
    return claims


def _confirm_sign_up(original: Any, self: Any, client_id: str, username: str) -> str:
    """ConfirmSignUp proves the user received the code at the auto-verified attribute, so
    Cognito marks it verified (AdminConfirmSignUp does not)."""
    result = original(self, client_id, username)
    pool, _ = _find_client(self, client_id)
    user = pool._get_user(username)
    verified = pool.extended_config.get("AutoVerifiedAttributes", [])
    user.update_attributes(
        [
            {"Name": f"{name}_verified", "Value": "true"}
            for name in verified
            if name in user.attribute_lookup
        ]
    )
    return result  # type: ignore[no-any-return]


def _wrap(cls: Any, name: str, replacement: Any) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return replacement(original, self, *args, **kwargs)

    setattr(cls, name, method)


def apply() -> None:
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool

    _wrap(CognitoIdpBackend, "initiate_auth", _initiate_auth)
    _wrap(CognitoIdpBackend, "respond_to_auth_challenge", _respond_to_auth_challenge)
    _wrap(CognitoIdpBackend, "admin_initiate_auth", _admin_initiate_auth)
    _wrap(CognitoIdpBackend, "confirm_sign_up", _confirm_sign_up)
    CognitoIdpUserPool.create_jwt = _create_jwt  # type: ignore[method-assign]
