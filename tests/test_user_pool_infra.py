"""The user pool and its app client are provisioned from infra/ (devstack.infra)."""

from __future__ import annotations

import jwt
import pytest
from botocore.exceptions import ClientError

from devstack.infra import Context, create_user_pools, load_template
from tests.conftest import UserPool


def test_pool_is_the_one_defined_in_infra(user_pool: UserPool, stack: Context) -> None:
    pool = user_pool.client.describe_user_pool(UserPoolId=user_pool.pool_id)["UserPool"]
    assert pool["Name"] == f"{stack.stack_name}-users"
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    defined = load_template()["Resources"]["UserPool"]["Properties"]["Policies"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["Policies"] == defined


def test_app_client_has_no_secret_and_the_password_flows(user_pool: UserPool) -> None:
    client = user_pool.client.describe_user_pool_client(
        UserPoolId=user_pool.pool_id, ClientId=user_pool.client_id
    )["UserPoolClient"]
    assert "ClientSecret" not in client
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
    }


def test_weak_password_is_refused(user_pool: UserPool) -> None:
    with pytest.raises(ClientError) as caught:
        user_pool.client.sign_up(
            ClientId=user_pool.client_id,
            Username="weak@example.com",
            Password="short1A",
            UserAttributes=[{"Name": "email", "Value": "weak@example.com"}],
        )
    assert caught.value.response["Error"]["Code"] == "InvalidPasswordException"


def test_password_sign_in_gives_an_rs256_id_token_for_the_client(user_pool: UserPool) -> None:
    user = user_pool.new_user("carol")
    header = jwt.get_unverified_header(user.id_token)
    claims = jwt.decode(user.id_token, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert claims["aud"] == user_pool.client_id
    assert claims["token_use"] == "id"
    assert claims["sub"] == user.sub
    assert claims["iss"].endswith("/" + user_pool.pool_id)


def test_unknown_property_fails_provisioning() -> None:
    template = load_template()
    template["Resources"]["UserPool"]["Properties"]["NotAProperty"] = True
    with pytest.raises(ValueError, match="NotAProperty"):
        create_user_pools(None, template, Context(stack_name="x"))
