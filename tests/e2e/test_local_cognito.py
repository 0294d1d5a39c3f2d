"""The running stack's Cognito signs in as Cognito does, over HTTP, with pycognito's SRP
client (what AWS Amplify's mobile SDKs do by default) and the API checking the tokens."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from tests.e2e.test_local_stack import (
    PASSWORD,
    RunningStack,
    call,
    cognito,
    sign_up_and_in,
    start_stack,
)
from tests.tokens import claims_of

INCORRECT = "Incorrect username or password."


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    stack: RunningStack = start_stack(tmp_path_factory.mktemp("tandem-cognito"))
    try:
        yield stack.contract
    finally:
        stack.stop()


def srp_sign_in(contract: dict[str, str], email: str, password: str) -> dict[str, Any]:
    client = AWSSRP(
        username=email,
        password=password,
        pool_id=contract["userPoolId"],
        client_id=contract["userPoolClientId"],
        client=cognito(contract),
    )
    tokens: dict[str, Any] = client.authenticate_user()["AuthenticationResult"]
    return tokens


def refused(contract: dict[str, str], email: str, password: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        srp_sign_in(contract, email, password)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_srp_sign_in_gives_a_token_the_api_accepts(contract: dict[str, str]) -> None:
    account = sign_up_and_in(contract, "srp-erin@example.com")
    tokens = srp_sign_in(contract, account.email, PASSWORD)
    claims = claims_of(tokens["IdToken"])
    assert (claims["sub"], claims["email"]) == (account.sub, account.email)
    created = call(contract, "POST", "/projects", tokens["IdToken"], {"name": "Over SRP"})
    assert created.status == 201, created.json
    # The same user as by USER_PASSWORD_AUTH: it owns what the SRP token created.
    fetched = call(contract, "GET", f"/projects/{created.json['projectId']}", account.id_token)
    assert fetched.status == 200, fetched.json


def test_srp_with_a_wrong_password_is_refused(contract: dict[str, str]) -> None:
    account = sign_up_and_in(contract, "srp-frank@example.com")
    assert refused(contract, account.email, PASSWORD + "x") == ("NotAuthorizedException", INCORRECT)


def test_unknown_user_is_an_incorrect_password(contract: dict[str, str]) -> None:
    assert refused(contract, "nobody@example.com", PASSWORD) == (
        "NotAuthorizedException",
        INCORRECT,
    )


def test_refresh_gives_a_token_of_the_same_user(contract: dict[str, str]) -> None:
    account = sign_up_and_in(contract, "srp-gina@example.com")
    tokens = srp_sign_in(contract, account.email, PASSWORD)
    refreshed = cognito(contract).initiate_auth(
        ClientId=contract["userPoolClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert claims_of(refreshed["IdToken"])["sub"] == account.sub
    reply = call(contract, "GET", "/projects", refreshed["IdToken"])
    assert reply.status == 200, reply.json


def test_concurrent_srp_sign_ins_each_get_their_own_answer(contract: dict[str, str]) -> None:
    """Interleaved challenges of many clients: every right password signs in as its own
    user, every wrong one is refused."""
    accounts = [sign_up_and_in(contract, f"srp-crowd{i}@example.com") for i in range(4)]
    attempts = [(a, PASSWORD) for a in accounts] + [(a, PASSWORD + "x") for a in accounts]

    def attempt(pair: tuple[Any, str]) -> str:
        account, password = pair
        try:
            tokens = srp_sign_in(contract, account.email, password)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return str(claims_of(tokens["IdToken"])["sub"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, attempts * 2))
    expected = [a.sub for a in accounts] + ["NotAuthorizedException"] * len(accounts)
    assert outcomes == expected * 2
