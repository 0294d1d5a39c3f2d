"""The local stack's admin endpoint on 127.0.0.1 (TANDEM_ADMIN_PORT; by default a free
port, written to local.json as `adminUrl`):

    POST|GET|DELETE /<stage>/@connections/<id>   API Gateway's Management API, locally:
                                                 post-to-connection, get, delete
    POST /invoke/<function>                      run one of the app's event functions now
                                                 (the body, if any, is its event; a
                                                 scheduled function gets EventBridge's)
    GET  /schedules                              the scheduled functions, next fire times
    POST /2015-03-31/functions/<name>/invocations Lambda's Invoke API (RequestResponse) of
                                                 the app's plain functions, which the app's
                                                 `aws.lambda` client reaches (lambda_api)
    GET  /health

The app reaches the first through `app.websocket_api.send` (devstack.websocket.
LoopbackSession); `python -m devstack invoke <function>` uses the second.
"""

from __future__ import annotations

import json
import logging
import os
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from . import lambda_api
from .httpserver import HttpProblem, LocalHTTPServer, ProblemHandler
from .pump import WEBSOCKET_FUNCTIONS
from .stack import BackgroundServer, Stack, StackError

log = logging.getLogger("tandem.admin")

PORT_ENV = "TANDEM_ADMIN_PORT"
MAX_BODY_BYTES = 1024 * 1024
_CONNECTIONS = "/@connections/"


class AdminError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def admin_port(env: Any = os.environ) -> int:
    raw = env.get(PORT_ENV) or "0"
    if not raw.isdigit() or not 0 <= int(raw) < 65536:
        raise StackError(f"{PORT_ENV}={raw!r} is not a port number")
    return int(raw)


def event_functions(app: Any) -> dict[str, str]:
    """Function name (as Lambda knows it) -> handler name, for every non-REST function."""
    functions = {source.name: source.name for source in app.event_sources}
    functions.update({f.name: f.name for f in app.pure_lambda_functions})
    for route, handler in app.websocket_handlers.items():
        functions[WEBSOCKET_FUNCTIONS[route]] = handler.name
        functions[handler.name] = handler.name
    return functions


def invoke_function(stack: Stack, function: str, event: Any | None) -> Any:
    """Runs `function` once with `event` (None: a scheduled function's own event, or {}
    for a plain Lambda function); its result."""
    scheduler = stack.scheduler
    if event is None and scheduler is not None and function in scheduler.jobs:
        return scheduler.invoke_now(function)
    app = stack.loaded_app()
    handlers = event_functions(app)
    handler = handlers.get(function)
    if handler is None:
        known = ", ".join(sorted(handlers)) or "none"
        raise AdminError(404, "NotFoundException", f"no function {function!r}; known: {known}")
    if event is None:
        pure = {f.name for f in app.pure_lambda_functions}
        if handler not in pure:
            raise AdminError(400, "BadRequestException", f"{function} needs its event as the body")
        event = {}
    return stack.invoker()(handler, event)


class _Handler(ProblemHandler):
    """Errors are problem+json with the extension member `message` and the header
    x-amzn-ErrorType, which is what botocore reads of a rest-json error."""

    stack: Stack  # set on the subclass made per server
    max_body_bytes = MAX_BODY_BYTES

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = b"" if body is None else json.dumps(body, default=str).encode()
        out = dict(headers or {})
        if raw:
            out["Content-Type"] = "application/json"
        self.send_answer(status, out, raw)

    def _error(self, error: AdminError) -> None:
        self.send_problem(
            error.status,
            error.message,
            {"x-amzn-ErrorType": error.error_type},
            message=error.message,
        )

    def answer(self) -> None:
        try:
            try:
                body = self.read_body() or b""
            except HttpProblem as problem:
                kind = (
                    "PayloadTooLargeException" if problem.status == 413 else "BadRequestException"
                )
                raise AdminError(problem.status, kind, problem.detail) from None
            path = urlsplit(self.path).path
            method = self.method
            if _CONNECTIONS in path:
                self._connections(path.split(_CONNECTIONS, 1)[1], body)
            elif path.startswith(lambda_api.INVOKE_PREFIX) and method == "POST":
                self._lambda_invoke(path, body)
            elif path.startswith("/invoke/") and method == "POST":
                self._invoke(unquote(path.removeprefix("/invoke/")), body)
            elif path == "/schedules" and method == "GET":
                scheduler = self.stack.scheduler
                self._send(200, scheduler.describe() if scheduler is not None else [])
            elif path == "/health" and method == "GET":
                self._send(200, {"status": "ok"})
            else:
                raise AdminError(404, "NotFoundException", f"no {method[:32]} {path[:256]}")
        except AdminError as error:
            self._error(error)
        except Exception as error:
            log.exception("admin %s %s failed", self.command, self.path)
            self._error(AdminError(500, "InternalServerErrorException", repr(error)))

    # -- the Management API --

    def _connections(self, segment: str, body: bytes) -> None:
        """`segment`: the connection id as it is in the path (one segment, quoted)."""
        connections = self.stack.websockets
        if connections is None or not segment or "/" in segment:
            raise AdminError(404, "NotFoundException", "no such connection endpoint")
        connection_id = unquote(segment)
        if self.method == "POST":
            status = connections.post(connection_id, body)
        elif self.method == "GET":
            info = connections.info(connection_id)
            if info is not None:
                self._send(200, info)
                return
            status = HTTPStatus.GONE
        elif self.method == "DELETE":
            status = connections.close(connection_id)
        else:
            raise AdminError(
                405, "MethodNotAllowedException", f"{self.command[:32]} is not allowed"
            )
        if status == HTTPStatus.GONE:
            raise AdminError(410, "GoneException", f"connection {connection_id} is gone")
        if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            raise AdminError(413, "PayloadTooLargeException", "the data is over 128 KB")
        self._send(int(status))

    # -- invoke --

    def _invoke(self, function: str, body: bytes) -> None:
        try:
            event = json.loads(body) if body.strip() else None
        except ValueError:
            raise AdminError(400, "BadRequestException", "the body is not JSON") from None
        try:
            result = invoke_function(self.stack, function, event)
        except AdminError:
            raise
        except Exception as error:
            log.exception("invoking %s raised", function)
            raise AdminError(500, "FunctionError", f"{function} raised {error!r}") from None
        self._send(200, {"function": function, "result": result})

    # -- Lambda's Invoke API --

    def _lambda_invoke(self, path: str, body: bytes) -> None:
        name = unquote(path.removeprefix(lambda_api.INVOKE_PREFIX))
        if not name.endswith(lambda_api.INVOKE_SUFFIX):
            raise AdminError(404, "ResourceNotFoundException", "no such Lambda API path")
        name = name.removesuffix(lambda_api.INVOKE_SUFFIX)
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind != "RequestResponse":
            raise AdminError(400, "InvalidParameterValueException", f"{kind[:32]} is not served")
        app = self.stack.loaded_app()
        names = lambda_api.function_names(app, self.stack.stack_name)
        try:
            raw, failed = lambda_api.run(self.stack.invoker(), names, name, body)
        except lambda_api.UnknownFunction:
            raise AdminError(
                404, "ResourceNotFoundException", f"Function not found: {name[:128]}"
            ) from None
        except ValueError:
            raise AdminError(
                400, "InvalidRequestContentException", "the payload is not JSON"
            ) from None
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if failed:
            log.error("function %s raised: %s", name, raw[:2000].decode(errors="replace"))
            headers["X-Amz-Function-Error"] = "Unhandled"
        self.send_answer(200, headers, raw)


class AdminServer:
    name = "admin"

    def __init__(self) -> None:
        self._server: LocalHTTPServer | None = None
        self._served: BackgroundServer | None = None

    def start(self, stack: Stack) -> None:
        port = admin_port()
        handler = type("AdminHandler", (_Handler,), {"stack": stack})
        try:
            self._server = LocalHTTPServer((stack.host, port), handler)
        except OSError as error:
            raise StackError(
                f"cannot listen on {stack.host}:{port} for the admin endpoint "
                f"({error.strerror}); set {PORT_ENV} to a free port (0: any)"
            ) from None
        self._served = BackgroundServer(self._server, "local-admin")
        stack.admin_url = f"http://{stack.host}:{self._server.server_address[1]}"
        if stack.app is not None:
            # app.websocket_api.send, unchanged, reaches this endpoint (see LoopbackSession).
            import boto3

            from .websocket import LoopbackSession

            session = boto3.Session(region_name=stack.region)
            stack.app.websocket_api.session = LoopbackSession(session, stack.admin_url)
            # The app's synchronous invokes (the gatekeeper's) reach this endpoint.
            lambda_api.configure(stack.app, stack.admin_url)
        stack.summary.append(("Admin", f"{stack.admin_url} (post-to-connection, invoke)"))

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
