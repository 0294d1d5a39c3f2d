"""The Chalice app in the local stage, and its HTTP server on 127.0.0.1.

The gateway is chalice local's (chalice.local.LocalGateway), in-process, with one change:
it does not decode Cognito tokens. chalice local decodes them unverified, and a malformed
`Authorization` header crashes it and drops the connection (docs/decisions.md). In the local stage
the app verifies tokens itself (chalicelib.core.local_auth), so the gateway passes those
requests through untouched.

The HTTP server around it is devstack.httpserver's, not chalice local's: a listen backlog
for bursts, TCP_NODELAY, every answer problem+json with X-Request-Id (an unknown route,
method, too long line or header, an exception outside the app), HEAD, chunked bodies.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import urllib.request
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from chalice.app import CognitoUserPoolAuthorizer
from chalice.local import (
    CustomLocalChalice,
    LocalChalice,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    RouteMatcher,
)

from chalicelib.core.local_auth import CLIENT_ID_ENV, ISSUER_ENV, JWKS_URL_ENV

from .httpserver import HttpProblem, LocalHTTPServer, ProblemHandler
from .infra import ROOT, Context, environment
from .stack import BackgroundServer, Stack, StackError

log = logging.getLogger("tandem.devstack")

CONCURRENCY_ENV = "TANDEM_API_CONCURRENCY"
DEFAULT_CONCURRENCY = 4


def local_auth_environment(infra: Context, aws_endpoint: str, region: str) -> dict[str, str]:
    """What core.local_auth needs: moto serves the JWKS, but its tokens' `iss` is AWS's."""
    pool_id = infra.names["UserPool"]
    return {
        JWKS_URL_ENV: f"{aws_endpoint}/{pool_id}/.well-known/jwks.json",
        ISSUER_ENV: f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        CLIENT_ID_ENV: infra.names["UserPoolClient"],
    }


def app_environment(stage_env: Mapping[str, str], stack: Stack) -> dict[str, str]:
    """The stage's variables from .chalice/config.json, plus what only the running stack
    knows. A resource name that the config and the provisioned infra disagree on is an
    error: the app would talk to a table that does not exist."""
    infra = stack.provisioned()
    provisioned = environment(infra)
    drift = {
        name: (stage_env[name], value)
        for name, value in provisioned.items()
        if name in stage_env and stage_env[name] != value
    }
    if drift:
        raise StackError(
            f".chalice/config.json stage {stack.stage!r} names resources that the declarations "
            f"provisioned under other names (config, provisioned): {drift}"
        )
    return {
        **provisioned,
        **stage_env,
        **local_auth_environment(infra, stack.aws_endpoint, stack.region),
    }


EXTRA_IMPORTS_ENV = "TANDEM_DEVSTACK_IMPORTS"


def import_extras(env: Mapping[str, str] = os.environ) -> list[str]:
    """Imports the modules named in TANDEM_DEVSTACK_IMPORTS (comma-separated) after the
    app: how end-to-end tests register fakes through core.wiring in the stack's process
    (e.g. a job worker that fails on purpose). Unset, nothing is imported."""
    import importlib

    names = [name.strip() for name in env.get(EXTRA_IMPORTS_ENV, "").split(",") if name.strip()]
    for name in names:
        importlib.import_module(name)
    return names


class ChaliceApp:
    """Loads app.py in the local stage, as `chalice local --stage local` does."""

    name = "app"

    def start(self, stack: Stack) -> None:
        from chalice.cli.factory import CLIFactory
        from chalice.deploy.validate import validate_routes

        factory = CLIFactory(project_dir=str(ROOT), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=stack.stage)
        os.environ.update(app_environment(config.environment_variables, stack))
        stack.chalice_config = config
        stack.app = config.chalice_app  # imports app.py now, with the stage's environment
        validate_routes(stack.app.routes)
        import_extras()

    def stop(self) -> None:
        pass


class _AppVerifiesCognitoTokens(LocalGatewayAuthorizer):
    """Leaves Cognito-protected requests to the app's local-stage check; other authorizer
    kinds keep chalice local's behaviour."""

    def authorize(self, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        route = self._route_for_event(lambda_event)
        if route is not None and isinstance(route.authorizer, CognitoUserPoolAuthorizer):
            return lambda_event, lambda_context
        return super().authorize(raw_path, lambda_event, lambda_context)


class _Gateway(LocalGateway):
    def __init__(self, app_object: Any, config: Any) -> None:
        super().__init__(app_object, config)
        self._authorizer = _AppVerifiesCognitoTokens(app_object)
        self.routes = RouteMatcher(list(app_object.routes))

    def methods(self, path: str) -> list[str] | None:
        """The methods the route of `path` answers (None: no route), as a client sees
        them: HEAD wherever GET is, and OPTIONS (CORS preflight) everywhere."""
        try:
            route = self.routes.match_route(path).route
        except ValueError:
            return None
        declared = list(self._app_object.routes[route])
        implied = ["HEAD"] if "GET" in declared else []
        return sorted({*declared, *implied, "OPTIONS"})


class _RequestHandler(ProblemHandler):
    """chalice local's request handling (chalice.local.ChaliceRequestHandler) on a
    ProblemHandler: the same gateway, with every answer problem+json and X-Request-Id.
    An unknown route is 404 as the deployed API's gateway response makes it, where chalice
    local answers 403 quoting the caller's Authorization header."""

    gateway: _Gateway  # set on the subclass made per server
    running: threading.BoundedSemaphore  # the requests the app may run at once

    def answer(self) -> None:
        path = self.path
        methods = self.gateway.methods(path)
        if methods is None:
            self.read_body()  # the connection stays usable
            raise HttpProblem(HTTPStatus.NOT_FOUND, "No such resource.")
        if self.command not in methods:
            self.read_body()
            raise HttpProblem(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{self.command[:32]} is not allowed here.",
                {"Allow": ", ".join(methods)},
            )
        body = self.read_body()
        headers = dict(self.headers)
        if body is not None and "Transfer-Encoding" in self.headers:
            # What API Gateway gives a function: the body it read, and its length.
            headers = {k: v for k, v in headers.items() if k.lower() != "transfer-encoding"}
            headers["Content-Length"] = str(len(body))
        try:
            with self.running:
                response = self.gateway.handle_request(self.method, path, headers, body)
        except LocalGatewayException as error:  # another authorizer kind refused
            raise HttpProblem(error.CODE, "The request is not authorized.") from None
        except Exception:
            log.exception("the local gateway failed on %s %s", self.command, path.split("?")[0])
            self.close_connection = True
            raise HttpProblem(
                HTTPStatus.INTERNAL_SERVER_ERROR, "An internal error occurred."
            ) from None
        out: dict[str, Any] = {"Content-Type": "application/json"}
        out.update(response.get("headers") or {})
        out.update(response.get("multiValueHeaders") or {})
        raw = response.get("body")
        if response.get("isBase64Encoded") and raw is not None:
            raw = base64.b64decode(raw)
        data = raw.encode() if isinstance(raw, str) else (raw or b"")
        self.send_answer(int(response["statusCode"]), out, data)


def api_concurrency(env: Any = os.environ) -> int:
    """How many requests the app runs at once (TANDEM_API_CONCURRENCY, 4); the others
    wait their turn. In AWS each request has a Lambda of its own; here they share one
    process and its GIL with the event pump's handlers, and 20 busy clients unbounded
    starved the pump (request to websocket push p50 10-20 s instead of 1.5 s)."""
    raw = env.get(CONCURRENCY_ENV) or str(DEFAULT_CONCURRENCY)
    if not raw.isdigit() or int(raw) < 1:
        raise StackError(f"{CONCURRENCY_ENV}={raw!r} is not a positive number")
    return int(raw)


class LocalApi:
    name = "api"

    def __init__(self) -> None:
        self._server: Any = None
        self._served: BackgroundServer | None = None

    def start(self, stack: Stack) -> None:
        if stack.app is None:
            raise RuntimeError("LocalApi needs the ChaliceApp component before it")
        if not isinstance(stack.app, LocalChalice):
            # What chalice local's create_local_server does: the app's current_request
            # becomes thread-local, since the server answers requests on many threads.
            CustomLocalChalice.__bases__ = (LocalChalice, stack.app.__class__)
            stack.app.__class__ = CustomLocalChalice
        handler = type(
            "ApiHandler",
            (_RequestHandler,),
            {
                "gateway": _Gateway(stack.app, stack.chalice_config),
                "running": threading.BoundedSemaphore(api_concurrency()),
            },
        )
        try:
            self._server = LocalHTTPServer((stack.host, stack.ports.api), handler)
        except OSError as error:
            raise StackError(
                f"cannot listen on {stack.host}:{stack.ports.api} for the API "
                f"({error.strerror}); set TANDEM_API_PORT to a free port"
            ) from None
        self._served = BackgroundServer(self._server, "local-api")
        # Ready means answering: one request through the whole path.
        with urllib.request.urlopen(f"{stack.api_url}/health", timeout=10) as response:
            if response.status != 200:
                raise StackError(f"the API answered {response.status} to GET /health")

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
