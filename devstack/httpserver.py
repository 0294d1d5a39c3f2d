"""What the local stack's HTTP servers (the API, the admin endpoint) share, on top of
http.server:

- `LocalHTTPServer`: a thread per connection, a listen backlog that takes a burst of
  clients (socketserver's default of 5 resets the rest), and TCP_NODELAY on every
  accepted socket, so that no answer waits ~40 ms for the client's delayed ACK (Nagle).
- `ProblemHandler`: every answer is problem+json with an X-Request-Id, including those
  http.server gives itself (a malformed or too long request line, too large headers) and
  methods no route knows, which http.server answers 501 text/html; `HEAD` is answered as
  `GET` without the body; a request body is read whether it comes with Content-Length or
  chunked; a response is written in one send().
"""

from __future__ import annotations

import json
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.core import errors
from chalicelib.core.context import accept_correlation_id
from chalicelib.core.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX, problem_of

# API Gateway's payload limit; the app caps bodies lower itself (413 problem+json).
MAX_BODY_BYTES = 10 * 1024 * 1024
LISTEN_BACKLOG = 128
# After refusing a request whose rest is still arriving (a too long header, a too large
# body), the server reads up to this much of it before closing: closing a socket with
# unread data sends a reset, which can destroy the answer before the client reads it.
LINGER_BYTES = 1024 * 1024
LINGER_SECONDS = 1.0
_CHUNK_LINE_BYTES = 1024


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class HttpProblem(Exception):
    """An answer the server gives without the app: its status, detail and extra headers."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


# The app's own problem types where it has one for the status (chalicelib.core.problems).
_APP_PROBLEMS = {
    problem_of(error).status: problem_of(error)
    for error in (
        errors.DomainError,
        errors.BadRequest,
        errors.NotFound,
        errors.MethodNotAllowed,
        errors.PayloadTooLarge,
        errors.UnsupportedMediaType,
    )
}


def problem(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    """The app's problem shape (chalicelib.core.http) for a status the server answers."""
    known = _APP_PROBLEMS.get(status)
    if known is not None:
        slug, title = known.slug, known.title
    else:
        phrase = HTTPStatus(status).phrase.replace("Request-URI", "URI")
        words = phrase.split()
        title = " ".join([words[0], *(w if w.isupper() else w.lower() for w in words[1:])])
        slug = phrase.lower().replace(" ", "-")
    return {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


# What http.server's own refusals say; never its message, which may quote the request.
_DETAILS = {
    HTTPStatus.BAD_REQUEST: "The request is not valid HTTP/1.1.",
    HTTPStatus.REQUEST_URI_TOO_LONG: "The request line is longer than 65536 bytes.",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
        "A header line is longer than 65536 bytes, or there are more than 100 headers."
    ),
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "Only HTTP/1.0 and HTTP/1.1 are supported.",
    HTTPStatus.REQUEST_TIMEOUT: "The request did not arrive in time.",
}


class ProblemHandler(BaseHTTPRequestHandler):
    """Subclasses implement `answer()`, called for every method, HEAD included (as GET)."""

    protocol_version = "HTTP/1.1"
    # http.server answers a request line it cannot read in HTTP/0.9, without a status line
    # or headers: no client of today would understand it.
    default_request_version = "HTTP/1.1"
    # Headers and body go out in one send() at the end of each request (flushed by
    # http.server after the method), not as two packets.
    wbufsize = 64 * 1024
    max_body_bytes = MAX_BODY_BYTES

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the app logs its requests; the servers' own lines would be noise

    def handle_one_request(self) -> None:
        # Nothing of the previous request on a kept-alive connection may leak into this one.
        self._request_id: str | None = None
        self.headers = None  # type: ignore[assignment]
        super().handle_one_request()

    def close_after_answer(self) -> None:
        """The rest of the request stays unread: close, after draining what still comes."""
        self.close_connection = True
        self._linger = True

    # -- every method, known or not, reaches answer() --

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers 501 text/html when it is missing.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        self._request_id = accept_correlation_id(self.headers.get("X-Request-Id"))
        self._head = self.command == "HEAD"
        try:
            self.answer()
        except HttpProblem as error:
            self.send_problem(error.status, error.detail, error.headers)

    def answer(self) -> None:
        raise NotImplementedError

    @property
    def method(self) -> str:
        """The method to serve: HEAD is GET whose body is not sent."""
        return "GET" if self.command == "HEAD" else self.command

    @property
    def request_id(self) -> str:
        request_id = getattr(self, "_request_id", None)
        if request_id is None:
            headers = getattr(self, "headers", None)
            request_id = accept_correlation_id(headers.get("X-Request-Id") if headers else None)
            self._request_id = request_id
        return request_id

    # -- reading --

    def read_body(self) -> bytes | None:
        """The request body (None if there is none), Content-Length or chunked."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                self.close_after_answer()
                raise HttpProblem(
                    HTTPStatus.NOT_IMPLEMENTED, "Only the chunked transfer coding is supported."
                )
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        if not raw.strip().isdigit():
            self.close_connection = True
            raise HttpProblem(HTTPStatus.BAD_REQUEST, "Content-Length is not a number.")
        length = int(raw)
        if length > self.max_body_bytes:
            self.close_after_answer()
            raise self._too_large()
        return self.rfile.read(length) if length else None

    def _too_large(self) -> HttpProblem:
        return HttpProblem(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"The request body is larger than {self.max_body_bytes} bytes.",
        )

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(_CHUNK_LINE_BYTES)
            try:
                length = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                length = -1
            if length < 0 or not line.endswith(b"\n"):
                self.close_connection = True
                raise HttpProblem(HTTPStatus.BAD_REQUEST, "The chunked body is malformed.")
            if length == 0:
                break
            size += length
            if size > self.max_body_bytes:
                self.close_after_answer()
                raise self._too_large()
            chunks.append(self.rfile.read(length))
            if self.rfile.readline(_CHUNK_LINE_BYTES).strip():
                self.close_connection = True
                raise HttpProblem(HTTPStatus.BAD_REQUEST, "The chunked body is malformed.")
        while self.rfile.readline(_CHUNK_LINE_BYTES).strip():
            pass  # trailer fields: nothing here reads them
        return b"".join(chunks)

    # -- writing --

    def send_answer(self, status: int, headers: dict[str, Any], body: bytes) -> None:
        """One response; `headers` values may be lists (repeated headers). No body for
        HEAD, 1xx, 204 and 304, but the Content-Length that GET's body has."""
        self.send_response(status)
        names = {name.lower() for name in headers}
        if "x-request-id" not in names:
            self.send_header("X-Request-Id", self.request_id)
        for name, value in headers.items():
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, str(item))
        bodiless = status < 200 or status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        if not bodiless:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not bodiless and self.command != "HEAD":
            self.wfile.write(body)

    def send_problem(
        self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        body = json.dumps(problem(status, detail, **extra)).encode()
        self.send_answer(status, {"Content-Type": PROBLEM_CONTENT_TYPE, **(headers or {})}, body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (request line, headers, version) as problem+json.
        The request is not readable past this point, so the connection closes."""
        self.close_after_answer()
        status = HTTPStatus(code)
        self.send_problem(status, _DETAILS.get(status, f"{status.phrase}."))

    def finish(self) -> None:
        super().finish()
        if getattr(self, "_linger", False):
            self._drain()

    def _drain(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            read = 0
            while read < LINGER_BYTES:
                data = self.connection.recv(64 * 1024)
                if not data:
                    break
                read += len(data)
        except OSError:
            pass
