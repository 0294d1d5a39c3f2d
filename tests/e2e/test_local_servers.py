"""The local stack's HTTP servers (API, websocket, admin) under odd and concurrent use,
over real sockets against `python -m devstack` on free ports: every answer is
problem+json with an X-Request-Id and never quotes the caller's token, HEAD and chunked
bodies work, a burst of connections is not reset, and every request's log line carries
that request's correlation id while other clients run in parallel."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.core.settings import MAX_BODY_BYTES
from tests.e2e.test_local_stack import (
    Account,
    RunningStack,
    call,
    sign_up_and_in,
)

# A token-shaped secret: no answer may contain it.
SECRET = "eyJzZWNyZXQiOiJkby1ub3QtZWNobyJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
TIMEOUT = 20.0


@pytest.fixture(scope="module")
def alice(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "alice@example.com")


@pytest.fixture(scope="module")
def bob(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "bob@example.com")


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


@dataclass
class Raw:
    """One answer read to the end of the connection: nothing of it is hidden."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def exchange(url: str, request: bytes) -> Raw:
    """Sends `request` as is on a new connection (which it asks to close) and reads the
    whole answer."""
    with socket.create_connection(address(url), timeout=TIMEOUT) as sock:
        # The server may answer and close before it has read everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Raw(int(status_line.split()[1]), headers, body, received)


def request_bytes(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def assert_problem(answer: Raw, status: int) -> dict[str, Any]:
    assert answer.status == status, answer.raw[:500]
    assert answer.headers.get("content-type") == "application/problem+json", answer.headers
    assert answer.headers.get("x-request-id"), answer.headers
    assert SECRET.encode() not in answer.raw
    body: dict[str, Any] = answer.json
    assert body["status"] == status
    assert body["type"].startswith("urn:problem-type:tandem:")
    assert body["title"]
    assert body["detail"]
    return body


BEARER = f"Authorization: Bearer {SECRET}"
HUGE_HEADER = "Authorization: Bearer " + "a" * 100_000
LONG_TARGET = "/health?x=" + "a" * 70_000


# ---- the API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        pytest.param(request_bytes("GET", "/no/such/route", BEARER), 404, id="unknown-route"),
        pytest.param(request_bytes("POST", "/nope", BEARER, body=b""), 404, id="post-unknown"),
        pytest.param(request_bytes("TRACE", "/tasks", BEARER), 405, id="trace"),
        pytest.param(request_bytes("FOO", "/health", BEARER), 405, id="unknown-method"),
        pytest.param(request_bytes("PUT", "/health", BEARER), 405, id="undeclared-method"),
        pytest.param(request_bytes("GET", "/health", HUGE_HEADER), 431, id="huge-header"),
        pytest.param(request_bytes("GET", LONG_TARGET, BEARER), 414, id="long-request-line"),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", 400, id="not-http"),
        pytest.param(
            request_bytes("POST", "/projects", BEARER, "Content-Length: lots"),
            400,
            id="bad-content-length",
        ),
        pytest.param(
            request_bytes("POST", "/projects", BEARER, "Transfer-Encoding: gzip"),
            501,
            id="unknown-transfer-coding",
        ),
    ],
)
def test_every_odd_api_request_is_answered_with_a_problem(
    contract: dict[str, str], request_: bytes, status: int
) -> None:
    body = assert_problem(exchange(contract["apiUrl"], request_), status)
    assert "Authorization" not in json.dumps(body)


def test_a_method_not_allowed_names_the_allowed_ones(contract: dict[str, str]) -> None:
    answer = exchange(contract["apiUrl"], request_bytes("TRACE", "/tasks/x"))
    assert_problem(answer, 405)
    assert set(answer.headers["allow"].split(", ")) == {
        "GET",
        "HEAD",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }


def test_head_answers_as_get_without_a_body_and_the_connection_stays_usable(
    contract: dict[str, str], alice: Account
) -> None:
    connection = http.client.HTTPConnection(*address(contract["apiUrl"]), timeout=TIMEOUT)
    auth = {"Authorization": f"Bearer {alice.id_token}"}
    try:
        connection.request("GET", "/projects", headers=auth)
        got = connection.getresponse()
        get_body = got.read()
        connection.request("HEAD", "/projects", headers=auth)
        head = connection.getresponse()
        assert head.status == 200
        assert head.read() == b""
        assert head.getheader("Content-Length") == str(len(get_body))
        assert head.getheader("X-Request-Id")
        connection.request("HEAD", "/no/such/route")
        missing = connection.getresponse()
        assert missing.status == 404
        assert missing.read() == b""
        # The same connection, after two HEADs: the next answer is whole and in sync.
        connection.request("GET", "/health")
        after = connection.getresponse()
        assert (after.status, json.loads(after.read())) == (200, {"status": "ok"})
    finally:
        connection.close()


def test_a_chunked_body_is_read(contract: dict[str, str], alice: Account) -> None:
    connection = http.client.HTTPConnection(*address(contract["apiUrl"]), timeout=TIMEOUT)
    try:
        connection.request(
            "POST",
            "/projects",
            body=iter([b'{"name": ', b'"streamed', b' by OkHttp"}']),
            headers={
                "Authorization": f"Bearer {alice.id_token}",
                "Content-Type": "application/json",
            },
            encode_chunked=True,
        )
        created = connection.getresponse()
        body = json.loads(created.read())
        assert created.status == 201, body
        assert body["name"] == "streamed by OkHttp"
        # A chunked body over the app's cap is its 413, and the connection goes on.
        connection.request(
            "POST",
            "/projects",
            body=iter([b'{"name": "', b"x" * MAX_BODY_BYTES, b'"}']),
            headers={"Authorization": f"Bearer {alice.id_token}"},
            encode_chunked=True,
        )
        too_large = connection.getresponse()
        assert too_large.status == 413
        assert too_large.getheader("Content-Type") == "application/problem+json"
        too_large.read()
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_a_gzip_body_reaches_the_app_with_its_encoding(
    contract: dict[str, str], alice: Account
) -> None:
    """The server passes Content-Encoding and the encoded body through: whatever the app
    does with it, the answer is the app's, not a server's 400 or a dropped connection."""
    import gzip

    answer = exchange(
        contract["apiUrl"],
        request_bytes(
            "POST",
            "/projects",
            f"Authorization: Bearer {alice.id_token}",
            "Content-Type: application/json",
            "Content-Encoding: gzip",
            "Content-Length: {}".format(len(gzip.compress(b'{"name": "zipped"}'))),
            body=gzip.compress(b'{"name": "zipped"}'),
        ),
    )
    assert answer.status in (201, 400, 415), answer.raw[:500]
    assert answer.headers.get("x-request-id")
    if answer.status != 201:
        assert_problem(answer, answer.status)


def test_a_burst_of_simultaneous_connections_is_served_without_a_reset(
    contract: dict[str, str],
) -> None:
    # More than socketserver's default backlog of 5 can hold while the server is busy:
    # with it, a burst this size loses connections (resets, or SYNs dropped for longer
    # than the timeout).
    clients = 100
    ready = threading.Barrier(clients)

    def one(_: int) -> str:
        with socket.socket() as sock:
            sock.settimeout(TIMEOUT)
            ready.wait(TIMEOUT)
            try:
                sock.connect(address(contract["apiUrl"]))
                sock.sendall(request_bytes("GET", "/health"))
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            except OSError as error:
                return type(error).__name__
            return received.split(b"\r\n", 1)[0].decode()

    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(one, range(clients)))
    assert outcomes == ["HTTP/1.1 200 OK"] * clients, outcomes


def test_parallel_clients_get_their_own_answers_and_log_lines(
    running: RunningStack, contract: dict[str, str]
) -> None:
    rounds = 25
    # Users of this test only: every request line of theirs is one of the requests below.
    alice = sign_up_and_in(contract, "alice-logs@example.com")
    bob = sign_up_and_in(contract, "bob-logs@example.com")

    for user, name in ((alice, "alice"), (bob, "bob")):
        assert call(contract, "POST", "/projects", user.id_token, {"name": name}).status == 201

    def client(user: Account, name: str) -> None:
        connection = http.client.HTTPConnection(*address(contract["apiUrl"]), timeout=TIMEOUT)
        try:
            for number in range(rounds):
                connection.request(
                    "GET",
                    "/projects",
                    headers={
                        "Authorization": f"Bearer {user.id_token}",
                        "X-Request-Id": f"{name}-{number}",
                    },
                )
                answer = connection.getresponse()
                listed = json.loads(answer.read())
                assert answer.getheader("X-Request-Id") == f"{name}-{number}"
                # The view read this request, not the other client's.
                assert [p["name"] for p in listed["items"]] == [name]
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(client, alice, "alice"), pool.submit(client, bob, "bob")]:
            done.result()

    names = {alice.sub: "alice", bob.sub: "bob"}
    lines = []
    for text in running.log.read_text(errors="replace").splitlines():
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        request = line.get("message") == "request" and line.get("method") == "GET"
        if request and line.get("userId") in names:
            lines.append(line)
    assert len(lines) == 2 * rounds
    wrong = [line for line in lines if not line["correlation_id"].startswith(names[line["userId"]])]
    assert wrong == []


# ---- the websocket and admin servers ---------------------------------------------------


def test_a_websocket_token_too_long_for_the_request_line_is_a_problem(
    contract: dict[str, str],
) -> None:
    target = "/?token=" + SECRET * 200
    answer = exchange(
        contract["wsUrl"],
        request_bytes(
            "GET",
            target,
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ).replace(b"Connection: close\r\n", b""),
    )
    assert_problem(answer, 414)


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        # $connect refuses the token before the upgrade is looked at.
        pytest.param(request_bytes("GET", f"/?token={SECRET}"), 401, id="plain-get"),
        pytest.param(request_bytes("GET", "/", HUGE_HEADER), 431, id="huge-header"),
    ],
)
def test_every_odd_websocket_request_is_answered_with_a_problem(
    contract: dict[str, str], request_: bytes, status: int
) -> None:
    assert_problem(exchange(contract["wsUrl"], request_), status)


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        pytest.param(request_bytes("GET", "/no/such/route", BEARER), 404, id="unknown-route"),
        pytest.param(request_bytes("TRACE", "/health", BEARER), 404, id="trace"),
        pytest.param(request_bytes("GET", "/health", HUGE_HEADER), 431, id="huge-header"),
        pytest.param(request_bytes("GET", LONG_TARGET), 414, id="long-request-line"),
    ],
)
def test_every_odd_admin_request_is_answered_with_a_problem(
    contract: dict[str, str], request_: bytes, status: int
) -> None:
    assert_problem(exchange(contract["adminUrl"], request_), status)


def test_admin_head_has_no_body(contract: dict[str, str]) -> None:
    answer = exchange(contract["adminUrl"], request_bytes("HEAD", "/health"))
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers["x-request-id"]


def test_a_healthy_request_is_answered_too(contract: dict[str, str]) -> None:
    reply = call(contract, "GET", "/health")
    assert reply.status == 200
    assert reply.headers["X-Request-Id"]


def test_the_api_concurrency_is_a_positive_number_from_the_environment() -> None:
    from devstack.api import CONCURRENCY_ENV, api_concurrency
    from devstack.stack import StackError

    assert api_concurrency({}) == 4
    assert api_concurrency({CONCURRENCY_ENV: "8"}) == 8
    for bad in ("0", "-1", "many"):
        with pytest.raises(StackError, match=CONCURRENCY_ENV):
            api_concurrency({CONCURRENCY_ENV: bad})
