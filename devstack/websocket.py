"""The local websocket API: what API Gateway's websocket API does, on 127.0.0.1.

- A websocket server (the `websockets` package) on TANDEM_WS_PORT. Each connection gets an
  API-Gateway-style connection id. The upgrade request becomes a `$connect` event for the
  app's on_ws_connect handler (with `queryStringParameters`, so `?token=` reaches it); a
  non-2xx answer refuses the upgrade with that status, as API Gateway does. Each message
  becomes a `$default` event for on_ws_message, and the close a `$disconnect` event for
  on_ws_disconnect. A handler that raises gets the client API Gateway's
  `{"message": "Internal server error", ...}` frame, and the connection stays open.
- `Connections`: the API Gateway Management API's side (post-to-connection, get, delete),
  served over HTTP by devstack.admin: a message for an open socket is sent on it; for an
  id with no open socket the answer is 410 GoneException, as in AWS.
- `LoopbackSession`: what the stack gives the app as `app.websocket_api.session`. It is a
  boto3 session whose `apigatewaymanagementapi` clients go to the local endpoint, so
  `app.websocket_api.send` runs unchanged (same client, same GoneException handling).

Every refused handshake is problem+json with X-Request-Id (the app's problem from
$connect, or the server's own: a too long request line or header, not an upgrade), and
the accepted one carries X-Request-Id too. asyncio sets TCP_NODELAY on its sockets.

Differences from AWS: no idle (10 min) or maximum (2 h) connection time; no route
selection beyond `$default` (the app declares no other route).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.core.context import new_correlation_id
from chalicelib.core.problems import PROBLEM_CONTENT_TYPE

from .httpserver import LISTEN_BACKLOG, problem
from .pump import Invoke
from .stack import Stack, StackError

log = logging.getLogger("tandem.websocket")

# The app's websocket API, as API Gateway would name it; the stage is the config's.
LOCAL_API_ID = "tandemlocal"
# API Gateway's limits: a message of 128 KB (in frames of 32 KB), a post of 128 KB.
MAX_MESSAGE_BYTES = 128 * 1024
SEND_TIMEOUT_SECONDS = 5.0
# A post may arrive while the upgrade that $connect accepted is still completing.
OPEN_WAIT_SECONDS = 2.0
HANDLER_WORKERS = 8

Status = int


def connection_id() -> str:
    """Like API Gateway's (e.g. "L0SM9cOFvHcCIhw="): 11 random bytes in base64, here in
    the URL-safe alphabet, so that an id is one path segment even unquoted."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Entry:
    connection: Any  # websockets ServerConnection
    connected_at: int
    source_ip: str
    user_agent: str
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    last_active_at: int = 0


class Connections:
    """The open sockets by connection id. Lives on the server's event loop; the other
    threads (the HTTP management endpoint) call it through `post`, `info` and `close`,
    which are thread-safe."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._entries: dict[str, _Entry] = {}

    # -- on the loop --

    def add(self, cid: str, entry: _Entry) -> None:
        self._entries[cid] = entry

    def remove(self, cid: str) -> None:
        self._entries.pop(cid, None)

    def get(self, cid: str) -> _Entry | None:
        return self._entries.get(cid)

    def __len__(self) -> int:
        return len(self._entries)

    async def _open_entry(self, cid: str) -> _Entry | None:
        entry = self._entries.get(cid)
        if entry is None:
            return None
        try:
            await asyncio.wait_for(entry.opened.wait(), OPEN_WAIT_SECONDS)
        except TimeoutError:
            return None
        return entry if self._entries.get(cid) is entry else None

    async def _post(self, cid: str, data: bytes) -> Status:
        from websockets.exceptions import ConnectionClosed

        entry = await self._open_entry(cid)
        if entry is None:
            return HTTPStatus.GONE
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            message: str | bytes = data
        else:
            message = text
        try:
            await entry.connection.send(message)
        except ConnectionClosed:
            return HTTPStatus.GONE
        return HTTPStatus.OK

    async def _info(self, cid: str) -> dict[str, Any] | None:
        entry = await self._open_entry(cid)
        if entry is None:
            return None
        return {
            "connectedAt": datetime.fromtimestamp(entry.connected_at / 1000, UTC).isoformat(),
            "lastActiveAt": datetime.fromtimestamp(
                (entry.last_active_at or entry.connected_at) / 1000, UTC
            ).isoformat(),
            "identity": {"sourceIp": entry.source_ip, "userAgent": entry.user_agent},
        }

    async def _close(self, cid: str) -> Status:
        entry = await self._open_entry(cid)
        if entry is None:
            return HTTPStatus.GONE
        await entry.connection.close(1000, "closed by the server")
        return HTTPStatus.NO_CONTENT

    # -- from any thread --

    def _call(self, coroutine: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(SEND_TIMEOUT_SECONDS + OPEN_WAIT_SECONDS)

    def post(self, cid: str, data: bytes) -> Status:
        if len(data) > MAX_MESSAGE_BYTES:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        status: Status = self._call(self._post(cid, data))
        return status

    def info(self, cid: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call(self._info(cid))
        return found

    def close(self, cid: str) -> Status:
        status: Status = self._call(self._close(cid))
        return status


class LoopbackSession:
    """A boto3 Session for `app.websocket_api.session`: clients of the API Gateway
    Management API go to `endpoint` (the stage path kept), every other client is the
    wrapped session's own."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self._session = session
        self.endpoint = endpoint.rstrip("/")
        # Handlers run on many threads (the pump's, the websocket's); a boto3 Session is
        # not thread-safe while it builds a client.
        self._building = threading.Lock()

    @property
    def region_name(self) -> str | None:
        region: str | None = self._session.region_name
        return region

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if service_name == "apigatewaymanagementapi":
            # https://<api>.execute-api.<region>.amazonaws.com/<stage> -> <endpoint>/<stage>
            path = urlsplit(kwargs.get("endpoint_url") or "").path
            kwargs["endpoint_url"] = self.endpoint + path
        with self._building:
            return self._session.client(service_name, *args, **kwargs)


def _event(
    route: str, cid: str, stage: str, domain: str, connected_at: int, **extra: Any
) -> dict[str, Any]:
    kind = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    now = _now_ms()
    context = {
        "routeKey": route,
        "eventType": kind,
        "extendedRequestId": str(uuid.uuid4()),
        "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at,
        "requestTimeEpoch": now,
        "requestId": str(uuid.uuid4()),
        "domainName": domain,
        "connectionId": cid,
        "apiId": LOCAL_API_ID,
    }
    if kind == "MESSAGE":
        context["messageId"] = str(uuid.uuid4())
    return {"requestContext": context, "isBase64Encoded": False, **extra}


def _connect_extra(path: str, headers: Any, source_ip: str) -> dict[str, Any]:
    query = parse_qs(urlsplit(path).query, keep_blank_values=True)
    single = {k: v[-1] for k, v in query.items()} or None
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers.raw_items():
        multi_headers.setdefault(name, []).append(value)
    return {
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single,
        "multiValueQueryStringParameters": query or None,
        "identity": {"sourceIp": source_ip},
    }


class LocalWebsocket:
    """The component: the websocket server on its own event loop thread."""

    name = "websocket"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.connections: Connections | None = None
        self._handlers: dict[str, str] = {}
        self._ids: dict[Any, str] = {}  # the library's connection id -> API Gateway's
        self._invoke: Invoke | None = None
        self._stage = "api"
        self._domain = ""

    def start(self, stack: Stack) -> None:
        if stack.app is None:
            raise RuntimeError("LocalWebsocket needs the ChaliceApp component before it")
        self._invoke = stack.invoker()
        self._handlers = {
            route: handler.name for route, handler in stack.app.websocket_handlers.items()
        }
        self._stage = stack.chalice_config.api_gateway_stage if stack.chalice_config else "api"
        self._domain = f"{stack.host}:{stack.ports.ws}"
        # What the app's push (not a websocket handler) needs to find this API.
        os.environ["TANDEM_WEBSOCKET_API_ID"] = LOCAL_API_ID
        os.environ["TANDEM_WEBSOCKET_STAGE"] = self._stage
        self._executor = concurrent.futures.ThreadPoolExecutor(
            HANDLER_WORKERS, thread_name_prefix="ws-handler"
        )
        self._loop = asyncio.new_event_loop()
        self.connections = Connections(self._loop)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="local-websocket", daemon=True
        )
        self._thread.start()
        try:
            self._server = asyncio.run_coroutine_threadsafe(
                self._serve(stack.host, stack.ports.ws), self._loop
            ).result(10)
        except OSError as error:
            self.stop()
            raise StackError(
                f"cannot listen on {stack.host}:{stack.ports.ws} for the websocket "
                f"({error.strerror}); set TANDEM_WS_PORT to a free port"
            ) from None
        stack.websockets = self.connections

    async def _serve(self, host: str, port: int) -> Any:
        from websockets.asyncio.server import serve

        return await serve(
            self._session,
            host,
            port,
            process_request=self._on_upgrade,
            process_response=_with_request_id,
            create_connection=_problem_connection(),
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
            logger=_protocol_logger(),
            backlog=LISTEN_BACKLOG,
        )

    async def _call(self, route: str, event: dict[str, Any]) -> Any:
        """Runs the route's handler off the loop; None if the app has no such handler."""
        name = self._handlers.get(route)
        if name is None or self._invoke is None:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._invoke, name, event)

    async def _on_upgrade(self, connection: Any, request: Any) -> Any:
        cid = connection_id()
        connected_at = _now_ms()
        source_ip = connection.remote_address[0] if connection.remote_address else "127.0.0.1"
        event = _event(
            "$connect",
            cid,
            self._stage,
            self._domain,
            connected_at,
            **_connect_extra(request.path, request.headers, source_ip),
        )
        try:
            result = await self._call("$connect", event)
        except Exception:
            log.exception("the $connect handler raised; refusing the websocket")
            return problem_response(HTTPStatus.INTERNAL_SERVER_ERROR)
        status = int((result or {}).get("statusCode", 200))
        if not 200 <= status < 300:
            body = (result or {}).get("body")
            return problem_response(status, body if isinstance(body, str) else None)
        assert self.connections is not None
        entry = _Entry(connection, connected_at, source_ip, request.headers.get("User-Agent", ""))
        self.connections.add(cid, entry)
        self._ids[connection.id] = cid
        asyncio.get_running_loop().create_task(self._reap_unopened(cid, connection))
        return None

    async def _reap_unopened(self, cid: str, connection: Any) -> None:
        """A socket whose upgrade failed after $connect accepted it never opens; API
        Gateway would then send $disconnect, so the app forgets it too."""
        await connection.wait_closed()
        self._ids.pop(connection.id, None)
        assert self.connections is not None
        entry = self.connections.get(cid)
        if entry is None or entry.opened.is_set():
            return
        self.connections.remove(cid)
        event = _event("$disconnect", cid, self._stage, self._domain, entry.connected_at)
        event.update(disconnectStatusCode=1006, disconnectReason="")
        try:
            await self._call("$disconnect", event)
        except Exception:
            log.exception("the $disconnect handler raised")

    async def _session(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        cid = self._ids[connection.id]
        assert self.connections is not None
        entry = self.connections.get(cid)
        assert entry is not None
        entry.opened.set()
        try:
            async for message in connection:
                entry.last_active_at = _now_ms()
                binary = isinstance(message, bytes)
                body = base64.b64encode(message).decode() if binary else message
                event = _event(
                    "$default", cid, self._stage, self._domain, entry.connected_at, body=body
                )
                event["isBase64Encoded"] = binary
                try:
                    await self._call("$default", event)
                except Exception:
                    log.exception("the $default handler raised")
                    error = {
                        "message": "Internal server error",
                        "connectionId": cid,
                        "requestId": event["requestContext"]["requestId"],
                    }
                    await connection.send(json.dumps(error))
        except ConnectionClosed:
            pass
        finally:
            self.connections.remove(cid)
            close_code = connection.close_code or 1006
            event = _event(
                "$disconnect",
                cid,
                self._stage,
                self._domain,
                entry.connected_at,
                disconnectStatusCode=close_code,
                disconnectReason=connection.close_reason or "",
            )
            try:
                await self._call("$disconnect", event)
            except Exception:
                log.exception("the $disconnect handler raised")

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._server is not None:

            async def close() -> None:
                self._server.close()
                await self._server.wait_closed()

            try:
                asyncio.run_coroutine_threadsafe(close(), loop).result(15)
            except Exception as error:  # stopping must go on
                log.warning("closing the websocket server: %r", error)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if not loop.is_running():
            loop.close()
        self._loop = None


def _protocol_logger() -> logging.Logger:
    """The library's own log (each open and close at INFO): warnings and errors only."""
    logger = logging.getLogger("tandem.websocket.protocol")
    logger.setLevel(logging.WARNING)
    return logger


# What the websocket server says when it refuses a handshake itself; never the library's
# text, which may quote the request's headers.
_REFUSALS = {
    HTTPStatus.BAD_REQUEST: "The websocket handshake is invalid.",
    HTTPStatus.FORBIDDEN: "The websocket handshake is refused.",
    HTTPStatus.REQUEST_URI_TOO_LONG: "The request line is longer than 8192 bytes.",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
        "A header line is longer than 8192 bytes, or there are more than 128 headers."
    ),
    HTTPStatus.UPGRADE_REQUIRED: "This endpoint answers websocket upgrades only.",
    HTTPStatus.INTERNAL_SERVER_ERROR: "An internal error occurred.",
    HTTPStatus.SERVICE_UNAVAILABLE: "The server is shutting down.",
}


def problem_response(status: int, body: str | None = None, request_id: str | None = None) -> Any:
    """A refused handshake as problem+json with X-Request-Id: `body` (the app's problem)
    or the server's own."""
    from email.utils import formatdate

    from websockets.datastructures import Headers
    from websockets.http11 import Response

    try:
        code = HTTPStatus(status)
    except ValueError:
        code = HTTPStatus.INTERNAL_SERVER_ERROR
    if body is None or not body.startswith("{"):
        body = json.dumps(problem(code, _REFUSALS.get(code, f"{code.phrase}.")))
    raw = body.encode()
    headers = Headers(
        [
            ("Date", formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(raw))),
            ("Content-Type", PROBLEM_CONTENT_TYPE),
            ("X-Request-Id", request_id or new_correlation_id()),
        ]
    )
    return Response(code.value, code.phrase, headers, raw)


def _problem_connection() -> type:
    """websockets' ServerConnection, whose protocol refuses with problem+json. The library
    builds its ServerProtocol itself and answers some handshakes without a hook (a too long
    request line or header: 414/431 text/plain, not an upgrade: 426), so the protocol of
    each connection becomes the subclass whose `reject` makes the answer."""
    from websockets.asyncio.server import ServerConnection
    from websockets.server import ServerProtocol

    class ProblemProtocol(ServerProtocol):
        def reject(self, status: Any, text: str) -> Any:
            return problem_response(int(status))

    class ProblemConnection(ServerConnection):
        def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
            protocol.__class__ = ProblemProtocol
            super().__init__(protocol, *args, **kwargs)

    return ProblemConnection


def _with_request_id(connection: Any, request: Any, response: Any) -> Any:
    if "X-Request-Id" not in response.headers:
        response.headers["X-Request-Id"] = new_correlation_id()
    return response
