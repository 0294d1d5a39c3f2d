"""The local stage's token check (core.local_auth), with real tokens from moto's Cognito
and the JWKS served over HTTP by a moto server, as in the local stack."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from chalice.app import CognitoUserPoolAuthorizer, Request
from chalice.test import Client
from moto import mock_aws
from moto.server import ThreadedMotoServer

from chalicelib.core import local_auth, tokens
from chalicelib.core.errors import Unauthorized
from chalicelib.core.http import PUBLIC_PATHS
from chalicelib.core.local_auth import (
    CLIENT_ID_ENV,
    ISSUER_ENV,
    JWKS_URL_ENV,
    LocalAuthRefused,
)
from chalicelib.core.problems import problem_of
from chalicelib.core.tokens import TokenCheckUnavailable, TokenConfig
from devstack.infra import Context, create_user_pools, load_template, provision
from tests.conftest import REGION, Api, User, UserPool
from tests.tokens import BAD_KINDS, bad_authorizations, claims_of, moto_public_jwks

LOCAL = "local"
# Bad headers that chalice's own local gateway (used by chalice.test.Client) cannot
# even parse before the app runs; they are checked directly here and over real HTTP in
# tests/e2e. Everything else also goes through the router.
UNPARSEABLE_BY_CHALICE = {
    "empty",
    "garbage",
    "bearer-garbage",
    "bearer-only",
    "basic-scheme",
    "three-segments",
    "not-json-payload",
    "oversized",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer("127.0.0.1", port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def carol() -> User:
    """A user of the local pool (from infra/), made once: verification never calls Cognito."""
    with mock_aws():
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        ctx = Context(stack_name="tandem-local", region=REGION)
        create_user_pools(session.client("cognito-idp"), load_template(), ctx)
        pool = UserPool(
            session.client("cognito-idp"), ctx.names["UserPool"], ctx.names["UserPoolClient"]
        )
        return pool.new_user("carol")


def configure(monkeypatch: pytest.MonkeyPatch, config: TokenConfig, stage: str) -> None:
    monkeypatch.setenv("TANDEM_STAGE", stage)
    monkeypatch.setenv(JWKS_URL_ENV, config.jwks_url)
    monkeypatch.setenv(ISSUER_ENV, config.issuer)
    monkeypatch.setenv(CLIENT_ID_ENV, config.client_id)


@pytest.fixture
def local_config(
    carol: User, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TokenConfig]:
    claims = claims_of(carol.id_token)
    pool_id = claims["iss"].rsplit("/", 1)[1]
    config = TokenConfig(
        jwks_url=f"{moto_url}/{pool_id}/.well-known/jwks.json",
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        client_id=claims["aud"],
    )
    configure(monkeypatch, config, LOCAL)
    tokens.clear_key_cache()
    yield config
    tokens.clear_key_cache()


@pytest.fixture
def local_api(aws: boto3.Session, local_config: TokenConfig) -> Iterator[Api]:
    """The app in the local stage, on the local stage's tables (tandem-local-*)."""
    from app import app

    provision(aws, Context(stack_name="tandem-local", region=REGION))
    with Client(app, stage_name=LOCAL) as client:
        yield Api(client)


def request_with(authorization: str | None, context: dict[str, Any] | None = None) -> Request:
    headers = {} if authorization is None else {"authorization": authorization}
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": headers,
            "pathParameters": None,
            "requestContext": {"httpMethod": "GET", "resourcePath": "/projects", **(context or {})},
            "body": None,
            "stageVariables": None,
        }
    )


# ---- the good path ------------------------------------------------------------------


def test_valid_id_token_reaches_the_routes(local_api: Api, carol: User) -> None:
    created = local_api.post("/projects", carol, {"name": "Local"})
    assert created.status == 201, created.json
    listed = local_api.get("/projects", carol)
    assert listed.status == 200
    assert [p["projectId"] for p in listed.json["items"]] == [created.json["projectId"]]


def test_verified_claims_replace_what_was_there(local_config: TokenConfig, carol: User) -> None:
    request = request_with(
        f"Bearer {carol.id_token}", {"authorizer": {"claims": {"sub": "mallory"}}}
    )
    claims = local_auth.verify_request(request)
    assert claims["sub"] == carol.sub
    assert request.context["authorizer"] == {"claims": claims}


def test_bare_token_is_accepted_as_api_gateway_does(local_config: TokenConfig, carol: User) -> None:
    assert local_auth.verify_request(request_with(carol.id_token))["sub"] == carol.sub


def test_public_routes_need_no_token(local_api: Api) -> None:
    assert local_api.get("/health").status == 200


# ---- every kind of bad token --------------------------------------------------------


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_token_is_unauthorized(local_config: TokenConfig, carol: User, kind: str) -> None:
    access = _access_token(carol)
    authorization = bad_authorizations(carol.id_token, access)[kind]
    with pytest.raises(Unauthorized) as caught:
        local_auth.verify_request(request_with(authorization))
    assert problem_of(caught.value).status == 401


def test_bad_tokens_get_401_problem_from_the_router(local_api: Api, carol: User) -> None:
    bad = bad_authorizations(carol.id_token, _access_token(carol))
    for kind in BAD_KINDS:
        if kind in UNPARSEABLE_BY_CHALICE:
            continue
        authorization = bad[kind]
        headers = {} if authorization is None else {"Authorization": authorization}
        reply = local_api.request("POST", "/projects", body={"name": "x"}, headers=headers)
        assert reply.status == 401, (kind, reply.json)
        assert reply.header("Content-Type") == "application/problem+json", kind
        assert reply.header("WWW-Authenticate") == "Bearer", kind
        assert reply.json["status"] == 401, kind
    # Nothing was written with a bad token.
    assert local_api.get("/projects", carol).json["items"] == []


def _access_token(user: User) -> str:
    assert claims_of(user.access_token)["token_use"] == "access"
    return user.access_token


# ---- it cannot run outside the local stage ------------------------------------------


def test_router_hook_does_nothing_outside_the_local_stage(
    local_config: TokenConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for stage in ("dev", "prod"):
        monkeypatch.setenv("TANDEM_STAGE", stage)
        request = request_with("garbage", {"authorizer": {"claims": {"sub": "from-gateway"}}})
        local_auth.authenticate_local_stage(request)  # API Gateway's job there: no-op
        assert request.context["authorizer"] == {"claims": {"sub": "from-gateway"}}
        with pytest.raises(LocalAuthRefused, match=stage):
            local_auth.verify_request(request_with("garbage"))


def test_refuses_inside_a_lambda_runtime(
    local_config: TokenConfig, carol: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "tandem-dev")
    with pytest.raises(LocalAuthRefused, match="Lambda"):
        local_auth.verify_request(request_with(f"Bearer {carol.id_token}"))


def test_refusal_fails_closed_with_a_500(
    local_api: Api, carol: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "tandem-dev")
    reply = local_api.post("/projects", carol, {"name": "x"})
    assert reply.status == 500
    assert reply.header("Content-Type") == "application/problem+json"


@pytest.mark.parametrize(
    "jwks_url",
    [
        "https://cognito-idp.us-east-1.amazonaws.com/pool/.well-known/jwks.json",
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
    ],
)
def test_keys_come_only_from_a_loopback_url(
    local_config: TokenConfig, carol: User, monkeypatch: pytest.MonkeyPatch, jwks_url: str
) -> None:
    monkeypatch.setenv(JWKS_URL_ENV, jwks_url)
    with pytest.raises(LocalAuthRefused, match="loopback"):
        local_auth.verify_request(request_with(f"Bearer {carol.id_token}"))


@pytest.mark.parametrize("unset", [JWKS_URL_ENV, ISSUER_ENV, CLIENT_ID_ENV])
def test_unconfigured_is_refused(
    local_config: TokenConfig, carol: User, monkeypatch: pytest.MonkeyPatch, unset: str
) -> None:
    monkeypatch.delenv(unset)
    with pytest.raises(LocalAuthRefused, match=unset):
        local_auth.verify_request(request_with(f"Bearer {carol.id_token}"))


def test_unreachable_jwks_is_a_server_error_not_a_pass(
    local_config: TokenConfig, carol: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JWKS_URL_ENV, f"http://127.0.0.1:{free_port()}/jwks.json")
    with pytest.raises(TokenCheckUnavailable, match="cannot fetch"):
        local_auth.verify_request(request_with(f"Bearer {carol.id_token}"))


def test_every_private_route_keeps_the_api_gateway_authorizer() -> None:
    """In dev/prod the local check is off, so API Gateway's authorizer must guard each route."""
    from app import app

    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if path in PUBLIC_PATHS or method == "OPTIONS":  # a preflight carries no token
                continue
            assert isinstance(entry.authorizer, CognitoUserPoolAuthorizer), (method, path)


def test_importing_the_app_does_not_import_pyjwt() -> None:
    """PyJWT (with cryptography) is imported only where a token is verified (the local
    stage's check, the websocket $connect): no other Lambda's cold start pays for it."""
    code = "import sys, app; sys.exit('jwt' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---- the key cache ------------------------------------------------------------------


class _CountingJwks(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps(moto_public_jwks()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counting_jwks() -> Iterator[tuple[str, type[_CountingJwks]]]:
    handler = type("Counting", (_CountingJwks,), {"hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", handler
    server.shutdown()
    server.server_close()


def test_keys_are_fetched_once_and_cached(
    local_config: TokenConfig,
    carol: User,
    counting_jwks: tuple[str, type[_CountingJwks]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = counting_jwks
    monkeypatch.setenv(JWKS_URL_ENV, url)
    for _ in range(3):
        local_auth.verify_request(request_with(f"Bearer {carol.id_token}"))
    assert handler.hits == 1
    # An unknown kid right after a fetch does not make every bad token a fetch.
    unknown_kid = bad_authorizations(carol.id_token, carol.access_token)["unknown-kid"]
    for _ in range(3):
        with pytest.raises(Unauthorized):
            local_auth.verify_request(request_with(unknown_kid))
    assert handler.hits == 1
