"""Fixtures: moto's AWS in-process, tables from infra/, real Cognito tokens, the real
Chalice test client. In dev/prod API Gateway verifies the token and passes its claims;
the Chalice test client does the same with the token we give it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from devstack import moto_fixes
from devstack.infra import Context, environment, provision

STAGE = "dev"
REGION = "us-east-1"
PASSWORD = "Tandem-test-1!"


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # moto in-process routes only regional hostnames, not botocore's account-based ones.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


_CLIENTS: dict[tuple[str, str], Any] = {}


class _ClientCachingSession(boto3.Session):  # type: ignore[misc]
    """Building a botocore client costs ~50 ms. moto intercepts requests when they are
    sent, so one client per service serves every test's fresh mock_aws."""

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if args or set(kwargs) - {"region_name"}:
            return super().client(service_name, *args, **kwargs)
        key = (service_name, kwargs.get("region_name") or self.region_name)
        if key not in _CLIENTS:
            _CLIENTS[key] = super().client(service_name, region_name=key[1])
        return _CLIENTS[key]


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    moto_fixes.apply()
    with mock_aws():
        yield _ClientCachingSession(region_name=REGION)


@pytest.fixture
def stack(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Context:
    ctx = provision(aws, Context(stack_name=f"tandem-{STAGE}", region=REGION))
    # The Chalice client sets the stage's variables per request; service-level tests
    # that call functions directly need them too.
    for name, value in environment(ctx).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TANDEM_STAGE", STAGE)
    return ctx


@dataclass
class User:
    email: str
    sub: str
    id_token: str
    access_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.id_token}"}


@dataclass
class UserPool:
    client: Any
    pool_id: str
    client_id: str
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def new_user(self, name: str) -> User:
        email = f"{name}{next(self._counter)}@example.com"
        self.client.sign_up(
            ClientId=self.client_id,
            Username=email,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        self.client.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=email)
        tokens = self.client.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        sub = next(
            a["Value"]
            for a in self.client.admin_get_user(UserPoolId=self.pool_id, Username=email)[
                "UserAttributes"
            ]
            if a["Name"] == "sub"
        )
        return User(email, sub, tokens["IdToken"], tokens["AccessToken"])


@pytest.fixture
def user_pool(aws: boto3.Session, stack: Context) -> UserPool:
    # The pool and its app client come from infra/, provisioned with the tables.
    client = aws.client("cognito-idp")
    return UserPool(client, stack.names["UserPool"], stack.names["UserPoolClient"])


@pytest.fixture
def alice(user_pool: UserPool) -> User:
    return user_pool.new_user("alice")


@pytest.fixture
def bob(user_pool: UserPool) -> User:
    return user_pool.new_user("bob")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class Api:
    """The Chalice test client, speaking JSON as a mobile client would."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def request(
        self,
        method: str,
        path: str,
        user: User | None = None,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"}
        if user is not None:
            all_headers.update(user.auth)
        all_headers.update(headers or {})
        payload = b"" if body is None else json.dumps(body).encode()
        if raw is not None:
            payload = raw.encode() if isinstance(raw, str) else raw
        response = self._http.request(method, path, headers=all_headers, body=payload)
        return Reply(response.status_code, dict(response.headers), response.body)

    def get(self, path: str, user: User | None = None, **kw: Any) -> Reply:
        return self.request("GET", path, user, **kw)

    def post(self, path: str, user: User | None = None, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, user, body, **kw)

    def put(self, path: str, user: User | None = None, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, user, body, **kw)

    def patch(self, path: str, user: User | None = None, body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, user, body, **kw)

    def delete(self, path: str, user: User | None = None, **kw: Any) -> Reply:
        return self.request("DELETE", path, user, **kw)


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test gets its own AWS clients, and any fake a test installed goes away."""
    from chalicelib.core import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture
def chalice_client(stack: Context) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name=STAGE) as client:
        yield client


@pytest.fixture
def api(chalice_client: Client) -> Api:
    return Api(chalice_client)


@pytest.fixture
def pump(
    aws: boto3.Session, stack: Context, chalice_client: Client, monkeypatch: pytest.MonkeyPatch
):
    """The event pump, calling the real handlers through the Chalice test client."""
    from app import app
    from devstack.pump import Pump, lambda_invoker

    monkeypatch.setenv("TANDEM_CASCADE_SWEEP_DELAY_SECONDS", "0")
    monkeypatch.setenv("TANDEM_UNLINK_SWEEP_DELAY_SECONDS", "0")
    pump = Pump(aws, stack, app, invoke=lambda_invoker(app, STAGE), retry_visibility=0)
    yield pump
    pump.close()


@pytest.fixture
def project_of(api: Api) -> Any:
    def make(user: User, **fields: Any) -> dict[str, Any]:
        reply = api.post("/projects", user, {"name": "Inbox", **fields})
        assert reply.status == 201, reply.json
        body: dict[str, Any] = reply.json
        return body

    return make
