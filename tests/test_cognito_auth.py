"""The local Cognito signs in as Cognito does (devstack/moto_fixes/cognito.py), checked
with an independent client: pycognito's AWSSRP, the SRP client many Python apps use
against the real Cognito. moto runs in-process; tests/e2e/test_local_cognito.py does the
same over HTTP against the running stack."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from chalicelib.core import tokens, wiring
from chalicelib.core.tokens import TokenConfig
from tests.conftest import PASSWORD, REGION, User, UserPool
from tests.tokens import claims_of, moto_public_jwks

INCORRECT = "Incorrect username or password."


def srp(pool: UserPool, username: str, password: str, client_id: str | None = None) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=password,
        pool_id=pool.pool_id,
        client_id=client_id or pool.client_id,
        client=pool.client,
    )


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def verified_claims(pool: UserPool, token: str) -> dict[str, Any]:
    """The claims after the local stage's own check: signature, iss, aud, token_use, exp."""
    wiring.override("jwks_fetcher", lambda url: moto_public_jwks())
    tokens.clear_key_cache()
    try:
        config = TokenConfig(
            jwks_url="http://127.0.0.1/jwks.json",
            issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{pool.pool_id}",
            client_id=pool.client_id,
        )
        return tokens.verify_token(token, config)
    finally:
        wiring.override("jwks_fetcher", None)
        tokens.clear_key_cache()


def password_claim(pool: UserPool, email: str, password: str) -> tuple[AWSSRP, dict[str, str]]:
    """Step one of USER_SRP_AUTH, and pycognito's answer to the PASSWORD_VERIFIER challenge."""
    client = srp(pool, email, password)
    params = client.get_auth_params()
    challenge = pool.client.initiate_auth(
        ClientId=pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params
    )
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    return client, client.process_challenge(challenge["ChallengeParameters"], params)


def answer(pool: UserPool, responses: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = pool.client.respond_to_auth_challenge(
        ClientId=pool.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
    )
    return result


# ---- USER_SRP_AUTH --------------------------------------------------------------------


def test_srp_sign_in_with_the_right_password_gives_a_token_the_api_accepts(
    user_pool: UserPool, alice: User
) -> None:
    tokens = srp(user_pool, alice.email, PASSWORD).authenticate_user()["AuthenticationResult"]
    claims = verified_claims(user_pool, tokens["IdToken"])
    assert claims["sub"] == alice.sub
    assert claims["email"] == alice.email


def test_srp_token_works_on_the_api_as_its_user(
    user_pool: UserPool, alice: User, api: Any, bob: User
) -> None:
    tokens = srp(user_pool, alice.email, PASSWORD).authenticate_user()["AuthenticationResult"]
    over_srp = User(alice.email, alice.sub, tokens["IdToken"], tokens["AccessToken"])
    created = api.post("/projects", over_srp, {"name": "Over SRP"})
    assert created.status == 201, created.json
    # The same user by either sign-in; another user does not see it.
    assert api.get(f"/projects/{created.json['projectId']}", alice).status == 200
    assert api.get(f"/projects/{created.json['projectId']}", bob).status == 404


def test_srp_with_a_wrong_password_is_refused(user_pool: UserPool, alice: User) -> None:
    wrong = srp(user_pool, alice.email, PASSWORD + "x")
    assert error_of(wrong.authenticate_user) == ("NotAuthorizedException", INCORRECT)


def test_srp_proof_with_another_timestamp_is_refused(user_pool: UserPool, alice: User) -> None:
    _, responses = password_claim(user_pool, alice.email, PASSWORD)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    responses["TIMESTAMP"] = AWSSRP.get_cognito_formatted_timestamp(later)
    assert error_of(lambda: answer(user_pool, responses)) == ("NotAuthorizedException", INCORRECT)


def test_srp_proof_with_a_changed_signature_is_refused(user_pool: UserPool, alice: User) -> None:
    _, responses = password_claim(user_pool, alice.email, PASSWORD)
    signature = bytearray(base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"]))
    signature[0] ^= 1
    responses["PASSWORD_CLAIM_SIGNATURE"] = base64.b64encode(bytes(signature)).decode()
    assert error_of(lambda: answer(user_pool, responses))[0] == "NotAuthorizedException"


def test_srp_proof_cannot_be_replayed(user_pool: UserPool, alice: User) -> None:
    _, responses = password_claim(user_pool, alice.email, PASSWORD)
    assert answer(user_pool, responses)["AuthenticationResult"]["IdToken"]
    assert error_of(lambda: answer(user_pool, responses))[0] == "NotAuthorizedException"


def test_srp_proof_for_another_user_is_refused(user_pool: UserPool, alice: User, bob: User) -> None:
    _, responses = password_claim(user_pool, alice.email, PASSWORD)
    responses["USERNAME"] = bob.sub
    assert error_of(lambda: answer(user_pool, responses)) == ("NotAuthorizedException", INCORRECT)


def test_srp_old_timestamp_is_refused(user_pool: UserPool, alice: User) -> None:
    """A proof signed over a timestamp an hour old (a captured one) is refused, even with
    the right key."""
    client = srp(user_pool, alice.email, PASSWORD)
    params = client.get_auth_params()
    challenge = user_pool.client.initiate_auth(
        ClientId=user_pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params
    )["ChallengeParameters"]
    hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    stamp = AWSSRP.get_cognito_formatted_timestamp(hour_ago)
    key = client.get_password_authentication_key(
        challenge["USER_ID_FOR_SRP"], PASSWORD, int(challenge["SRP_B"], 16), challenge["SALT"]
    )
    message = (
        user_pool.pool_id.split("_")[1].encode()
        + challenge["USER_ID_FOR_SRP"].encode()
        + base64.b64decode(challenge["SECRET_BLOCK"])
        + stamp.encode()
    )
    responses = {
        "USERNAME": challenge["USERNAME"],
        "TIMESTAMP": stamp,
        "PASSWORD_CLAIM_SECRET_BLOCK": challenge["SECRET_BLOCK"],
        "PASSWORD_CLAIM_SIGNATURE": base64.b64encode(
            hmac.new(key, message, hashlib.sha256).digest()
        ).decode(),
    }
    assert error_of(lambda: answer(user_pool, responses)) == ("NotAuthorizedException", INCORRECT)


def test_srp_salt_is_the_users_own_every_time(user_pool: UserPool, alice: User) -> None:
    def challenge() -> dict[str, str]:
        params = srp(user_pool, alice.email, PASSWORD).get_auth_params()
        parameters: dict[str, str] = user_pool.client.initiate_auth(
            ClientId=user_pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params
        )["ChallengeParameters"]
        return parameters

    first, second = challenge(), challenge()
    assert first["SALT"] == second["SALT"]
    assert first["SRP_B"] != second["SRP_B"]
    assert first["SECRET_BLOCK"] != second["SECRET_BLOCK"]
    assert first["USER_ID_FOR_SRP"] == first["USERNAME"] == alice.sub


def test_srp_unconfirmed_user_is_told_only_after_the_right_password(
    user_pool: UserPool,
) -> None:
    email = "unconfirmed@example.com"
    user_pool.client.sign_up(
        ClientId=user_pool.client_id,
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    wrong = srp(user_pool, email, PASSWORD + "x")
    assert error_of(wrong.authenticate_user) == ("NotAuthorizedException", INCORRECT)
    right = srp(user_pool, email, PASSWORD)
    assert error_of(right.authenticate_user)[0] == "UserNotConfirmedException"


def test_srp_disabled_user_is_refused(user_pool: UserPool, alice: User) -> None:
    user_pool.client.admin_disable_user(UserPoolId=user_pool.pool_id, Username=alice.email)
    right = srp(user_pool, alice.email, PASSWORD)
    assert error_of(right.authenticate_user) == ("NotAuthorizedException", "User is disabled.")


# ---- unknown users, with PreventUserExistenceErrors -------------------------------------


def test_srp_unknown_user_is_an_incorrect_password(user_pool: UserPool) -> None:
    nobody = srp(user_pool, "nobody@example.com", PASSWORD)
    assert error_of(nobody.authenticate_user) == ("NotAuthorizedException", INCORRECT)


def test_srp_unknown_user_gets_a_challenge_like_a_real_one(
    user_pool: UserPool, alice: User
) -> None:
    def challenge(email: str) -> dict[str, str]:
        params = srp(user_pool, email, PASSWORD).get_auth_params()
        result = user_pool.client.initiate_auth(
            ClientId=user_pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params
        )
        assert result["ChallengeName"] == "PASSWORD_VERIFIER"
        parameters: dict[str, str] = result["ChallengeParameters"]
        return parameters

    real, fake, fake_again = (
        challenge(alice.email),
        challenge("nobody@example.com"),
        challenge("nobody@example.com"),
    )
    assert set(fake) == set(real)
    # The same salt and user id for the same name, as Cognito's simulated answer.
    assert (fake["SALT"], fake["USER_ID_FOR_SRP"]) == (
        fake_again["SALT"],
        fake_again["USER_ID_FOR_SRP"],
    )
    assert len(fake["USER_ID_FOR_SRP"]) == len(real["USER_ID_FOR_SRP"])


def test_password_auth_unknown_user_is_an_incorrect_password(user_pool: UserPool) -> None:
    code, message = error_of(
        lambda: user_pool.client.initiate_auth(
            ClientId=user_pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody@example.com", "PASSWORD": PASSWORD},
        )
    )
    assert (code, message) == ("NotAuthorizedException", INCORRECT)


def test_password_auth_wrong_password_is_refused(user_pool: UserPool, alice: User) -> None:
    code, message = error_of(
        lambda: user_pool.client.initiate_auth(
            ClientId=user_pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": alice.email, "PASSWORD": PASSWORD + "x"},
        )
    )
    assert (code, message) == ("NotAuthorizedException", INCORRECT)


def legacy_client(pool: UserPool, **settings: Any) -> str:
    client_id: str = pool.client.create_user_pool_client(
        UserPoolId=pool.pool_id,
        ClientName="legacy",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        **settings,
    )["UserPoolClient"]["ClientId"]
    return client_id


def test_a_legacy_client_still_says_the_user_does_not_exist(user_pool: UserPool) -> None:
    client_id = legacy_client(user_pool, PreventUserExistenceErrors="LEGACY")
    nobody = srp(user_pool, "nobody@example.com", PASSWORD, client_id=client_id)
    assert error_of(nobody.authenticate_user)[0] == "UserNotFoundException"


def test_a_flow_the_client_does_not_allow_is_refused(user_pool: UserPool, alice: User) -> None:
    client_id = legacy_client(user_pool)
    code, message = error_of(
        lambda: user_pool.client.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": alice.email, "PASSWORD": PASSWORD},
        )
    )
    assert (code, message) == (
        "InvalidParameterException",
        "USER_PASSWORD_AUTH flow not enabled for this client",
    )


# ---- claims -------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_tokens_carry_cognitos_claims(user_pool: UserPool, alice: User, flow: str) -> None:
    if flow == "USER_SRP_AUTH":
        result = srp(user_pool, alice.email, PASSWORD).authenticate_user()
    else:
        result = user_pool.client.initiate_auth(
            ClientId=user_pool.client_id,
            AuthFlow=flow,
            AuthParameters={"USERNAME": alice.email, "PASSWORD": PASSWORD},
        )
    tokens = result["AuthenticationResult"]
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{user_pool.pool_id}"
    id_claims = verified_claims(user_pool, tokens["IdToken"])
    assert id_claims["sub"] == alice.sub
    assert id_claims["email"] == alice.email
    # AdminConfirmSignUp (what conftest does) does not verify the email, in Cognito too.
    assert id_claims["email_verified"] is False
    assert id_claims["cognito:username"] == alice.sub  # the pool signs in by email
    assert id_claims["aud"] == user_pool.client_id
    assert id_claims["token_use"] == "id"
    assert id_claims["iss"] == issuer
    # IdTokenValidity: 60 minutes, from infra/.
    assert id_claims["exp"] - id_claims["iat"] == 3600
    assert id_claims["auth_time"] <= id_claims["iat"]
    assert "client_id" not in id_claims
    access = claims_of(tokens["AccessToken"])
    assert access["sub"] == alice.sub
    assert access["client_id"] == user_pool.client_id
    assert access["username"] == alice.sub
    assert access["token_use"] == "access"
    assert access["iss"] == issuer
    assert access["scope"] == "aws.cognito.signin.user.admin"
    assert access["exp"] - access["iat"] == 3600
    assert "aud" not in access
    assert access["origin_jti"] == id_claims["origin_jti"]
    assert access["event_id"] == id_claims["event_id"]
    assert tokens["ExpiresIn"] == 3600


def test_confirm_sign_up_verifies_the_email(user_pool: UserPool) -> None:
    email = "confirmed@example.com"
    user_pool.client.sign_up(
        ClientId=user_pool.client_id,
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    # No email is sent locally; moto takes any code.
    user_pool.client.confirm_sign_up(
        ClientId=user_pool.client_id, Username=email, ConfirmationCode="123456"
    )
    tokens = srp(user_pool, email, PASSWORD).authenticate_user()["AuthenticationResult"]
    assert claims_of(tokens["IdToken"])["email_verified"] is True


# ---- REFRESH_TOKEN_AUTH ---------------------------------------------------------------


def refresh(pool: UserPool, refresh_token: str, client_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = pool.client.initiate_auth(
        ClientId=client_id or pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )["AuthenticationResult"]
    return result


def test_refresh_gives_tokens_of_the_same_user_and_sign_in(
    user_pool: UserPool, alice: User
) -> None:
    tokens = srp(user_pool, alice.email, PASSWORD).authenticate_user()["AuthenticationResult"]
    first = claims_of(tokens["IdToken"])
    refreshed = refresh(user_pool, tokens["RefreshToken"])
    assert "RefreshToken" not in refreshed  # no rotation: the client keeps its token
    claims = verified_claims(user_pool, refreshed["IdToken"])
    assert claims["sub"] == first["sub"] == alice.sub
    assert claims["email"] == alice.email
    assert claims["auth_time"] == first["auth_time"]
    assert claims["origin_jti"] == first["origin_jti"]
    assert claims["jti"] != first["jti"]


def test_refresh_token_of_another_client_is_refused(user_pool: UserPool, alice: User) -> None:
    tokens = srp(user_pool, alice.email, PASSWORD).authenticate_user()["AuthenticationResult"]
    other = legacy_client(user_pool)
    code, message = error_of(lambda: refresh(user_pool, tokens["RefreshToken"], other))
    assert (code, message) == ("NotAuthorizedException", "Invalid Refresh Token")


def test_unknown_refresh_token_is_refused(user_pool: UserPool) -> None:
    code, _ = error_of(lambda: refresh(user_pool, "not-a-refresh-token"))
    assert code == "NotAuthorizedException"


def test_refresh_token_of_a_deleted_user_is_refused(user_pool: UserPool, alice: User) -> None:
    tokens = srp(user_pool, alice.email, PASSWORD).authenticate_user()["AuthenticationResult"]
    user_pool.client.admin_delete_user(UserPoolId=user_pool.pool_id, Username=alice.email)
    code, message = error_of(lambda: refresh(user_pool, tokens["RefreshToken"]))
    assert (code, message) == ("NotAuthorizedException", "Invalid Refresh Token")


def test_refresh_token_expires_with_the_clients_validity(user_pool: UserPool, alice: User) -> None:
    client_id: str = user_pool.client.create_user_pool_client(
        UserPoolId=user_pool.pool_id,
        ClientName="short",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        RefreshTokenValidity=0,
        TokenValidityUnits={"RefreshToken": "minutes"},
    )["UserPoolClient"]["ClientId"]
    tokens = srp(user_pool, alice.email, PASSWORD, client_id).authenticate_user()
    code, message = error_of(
        lambda: refresh(user_pool, tokens["AuthenticationResult"]["RefreshToken"], client_id)
    )
    assert (code, message) == ("NotAuthorizedException", "Refresh Token has expired")
