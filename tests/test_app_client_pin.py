"""In dev/prod the API accepts ID tokens of the stage's own app client only
(core.identity), where API Gateway's Cognito authorizer accepts any client of the pool.

The Chalice test client passes a token's claims to the app as API Gateway's authorizer
does; the tokens here are real ones of the same pool, from two app clients."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, Api, User, UserPool
from tests.problems import problem


def token_of_another_client(pool: UserPool, user: User) -> User:
    other: str = pool.client.create_user_pool_client(
        UserPoolId=pool.pool_id,
        ClientName="another-client",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    tokens = pool.client.initiate_auth(
        ClientId=other,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return User(user.email, user.sub, tokens["IdToken"], tokens["AccessToken"])


def test_id_token_of_another_app_client_of_the_pool_is_refused(
    api: Api, user_pool: UserPool, alice: User
) -> None:
    elsewhere = token_of_another_client(user_pool, alice)
    created = api.post("/projects", alice, {"name": "Mine"})
    assert created.status == 201, created.json
    for reply in (
        api.get("/projects", elsewhere),
        api.get(f"/projects/{created.json['projectId']}", elsewhere),
        api.post("/projects", elsewhere, {"name": "Not made"}),
    ):
        assert problem(reply, 401)["detail"] == "The bearer token is for another app client."
    assert [p["name"] for p in api.get("/projects", alice).json["items"]] == ["Mine"]


def test_without_the_stages_app_client_no_token_passes(
    api: Api, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANDEM_USER_POOL_CLIENT_ID")
    reply = api.get("/projects", alice)
    problem(reply, 500)
