"""The Chalice app in the local stage, and its HTTP server on 127.0.0.1.

The server is chalice's own local server (chalice.local), in-process, with two changes:
- its gateway does not decode Cognito tokens: chalice local decodes them unverified, and
  a malformed `Authorization` header crashes it and drops the connection (FACTS.md). In
  the local stage the app verifies tokens itself (chalicelib.core.local_auth), so the
  gateway passes those requests through untouched;
- an exception outside the app becomes a 500 problem+json, never a dropped connection.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from chalice.app import CognitoUserPoolAuthorizer
from chalice.local import (
    ChaliceRequestHandler,
    LocalGateway,
    LocalGatewayAuthorizer,
    create_local_server,
)

from chalicelib.core.local_auth import CLIENT_ID_ENV, ISSUER_ENV, JWKS_URL_ENV

from .infra import ROOT, Context, environment
from .stack import BackgroundServer, Stack, StackError

log = logging.getLogger("tandem.devstack")


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
            f".chalice/config.json stage {stack.stage!r} names resources that infra/ "
            f"provisioned under other names (config, provisioned): {drift}"
        )
    return {
        **provisioned,
        **stage_env,
        **local_auth_environment(infra, stack.aws_endpoint, stack.region),
    }


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


_INTERNAL_ERROR = json.dumps(
    {
        "type": "urn:problem-type:tandem:internal-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "An internal error occurred.",
    }
)


class _RequestHandler(ChaliceRequestHandler):
    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Any, config: Any
    ) -> None:
        self.local_gateway = _Gateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _handle(self) -> None:
        try:
            self._generic_handle()
        except Exception:
            log.exception("the local gateway failed on %s %s", self.command, self.path)
            self.close_connection = True
            self._send_http_response(
                500, {"Content-Type": "application/problem+json"}, _INTERNAL_ERROR
            )

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the app's router logs every request, with its user and correlation id


class LocalApi:
    name = "api"

    def __init__(self) -> None:
        self._server: Any = None
        self._served: BackgroundServer | None = None

    def start(self, stack: Stack) -> None:
        if stack.app is None:
            raise RuntimeError("LocalApi needs the ChaliceApp component before it")
        try:
            dev_server = create_local_server(
                stack.app, stack.chalice_config, stack.host, stack.ports.api
            )
        except OSError as error:
            raise StackError(
                f"cannot listen on {stack.host}:{stack.ports.api} for the API "
                f"({error.strerror}); set TANDEM_API_PORT to a free port"
            ) from None
        self._server = dev_server.server
        self._server.RequestHandlerClass = functools.partial(
            _RequestHandler, app_object=stack.app, config=stack.chalice_config
        )
        self._served = BackgroundServer(self._server, "local-api")
        # Ready means answering: one request through the whole path.
        with urllib.request.urlopen(f"{stack.api_url}/health", timeout=10) as response:
            if response.status != 200:
                raise StackError(f"the API answered {response.status} to GET /health")

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
