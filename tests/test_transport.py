"""Transport conventions of the API (README.md) through the app's router: gzip request bodies,
CORS per stage, HEAD wherever GET is, and 405 for unknown methods, each answer with
X-Request-Id."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from chalicelib.core.settings import MAX_BODY_BYTES
from tests.problems import problem
from tests.test_conventions import KINDS, World

ORIGIN = "https://app.example.com"


@pytest.fixture
def world(api, alice) -> World:
    return World(api, alice)


def gz(body: object) -> bytes:
    return gzip.compress(json.dumps(body).encode())


# ---- Content-Encoding --------------------------------------------------------------------


def test_a_gzip_body_is_accepted_on_every_write(api, world, subtests):
    for method, path, body in world.writes():
        for coding in ("gzip", "x-gzip", "GZIP", "gzip, identity"):
            with subtests.test(f"{method} {path.split('/')[1]} {coding}"):
                headers = {"Content-Encoding": coding}
                reply = api.request(method, path, world.user, raw=gz(body), headers=headers)
                assert reply.status in (200, 201), reply.raw[:300]
                for name, value in body.items():
                    assert reply.json[name] == value


def test_identity_and_a_plain_body_labelled_gzip_are_taken_as_they_are(api, alice):
    """API Gateway decompresses gzip itself and may pass the header on."""
    for coding in ("identity", "gzip"):
        reply = api.post(
            "/projects", alice, raw=json.dumps({"name": "P"}), headers={"Content-Encoding": coding}
        )
        assert reply.status == 201, reply.raw


def test_other_encodings_are_415_naming_the_encoding(api, world, subtests):
    before = world.snapshot()
    for coding in ("br", "deflate", "compress", "zstd", "gzip, br", "gzip, gzip", "x-custom"):
        for method, path, body in world.writes():
            with subtests.test(f"{method} {path.split('/')[1]} {coding}"):
                reply = api.request(
                    method, path, world.user, raw=gz(body), headers={"Content-Encoding": coding}
                )
                detail = problem(reply, 415)["detail"]
                assert repr(coding) in detail, detail
                assert reply.header("Accept-Encoding") == "gzip"
    assert world.snapshot() == before


def test_a_gzip_bomb_is_413(api, world, subtests):
    before = world.snapshot()
    zeros = b'{"name": "' + b"0" * (64 * 1024 * 1024) + b'"}'
    bomb = gzip.compress(zeros, 9)
    assert len(bomb) < 100 * 1024
    just_over = gzip.compress(b" " * (MAX_BODY_BYTES + 1 - 2) + b"{}")
    for label, raw in (("64 MiB in a small gzip", bomb), ("one byte over the cap", just_over)):
        for method, path, _ in world.writes():
            with subtests.test(f"{method} {path.split('/')[1]} {label}"):
                reply = api.request(
                    method, path, world.user, raw=raw, headers={"Content-Encoding": "gzip"}
                )
                problem(reply, 413)
    assert world.snapshot() == before


def test_a_gzip_body_at_the_cap_is_accepted(api, alice):
    raw = json.dumps({"name": "big"}).encode()
    padded = raw + b" " * (MAX_BODY_BYTES - len(raw))
    reply = api.post(
        "/projects", alice, raw=gzip.compress(padded), headers={"Content-Encoding": "gzip"}
    )
    assert reply.status == 201, reply.raw[:300]


def test_a_broken_gzip_body_is_400(api, world, subtests):
    good = gz({"name": "P"})
    for label, raw in (
        ("truncated", good[: len(good) // 2]),
        ("corrupt", good[:10] + b"\x00" * 10 + good[20:]),
        ("two members", good + good),
        ("raw deflate", good[:2] + zlib.compress(b'{"name": "P"}')[2:]),
    ):
        with subtests.test(label):
            reply = api.post("/projects", world.user, raw=raw, headers={"Content-Encoding": "gzip"})
            problem(reply, 400)


def test_an_idempotent_retry_may_switch_between_gzip_and_plain(api, alice):
    key = {"Idempotency-Key": "gzip-retry"}
    first = api.post(
        "/notes", alice, raw=gz({"title": "n"}), headers={**key, "Content-Encoding": "gzip"}
    )
    assert first.status == 201
    again = api.post("/notes", alice, {"title": "n"}, headers=key)
    assert (again.status, again.json) == (201, first.json)


# ---- CORS ------------------------------------------------------------------------------


def preflight(api, path: str, origin: str = ORIGIN, method: str = "GET"):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, if-match",
        "X-Request-Id": "preflight-1",
    }
    return api.request("OPTIONS", path, None, headers=headers)


def test_without_configured_origins_no_browser_gets_a_cors_answer(api, world, subtests):
    for path in ("/projects", world.path("tasks"), "/health"):
        with subtests.test(path):
            reply = preflight(api, path)
            problem(reply, 403)
            assert reply.header("X-Request-Id") == "preflight-1"
            assert reply.header("Access-Control-Allow-Origin") is None
    reply = api.get("/projects", world.user, headers={"Origin": ORIGIN})
    assert reply.status == 200
    assert reply.header("Access-Control-Allow-Origin") is None


@pytest.fixture
def cors(monkeypatch):
    monkeypatch.setenv("TANDEM_CORS_ALLOWED_ORIGINS", f"{ORIGIN}, http://localhost:5173")


def test_an_allowed_origin_gets_its_preflight_answered(api, world, cors, subtests):
    for kind in KINDS:
        for path, methods in (
            (f"/{kind}", "GET, HEAD, OPTIONS, POST"),
            (world.path(kind), "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ):
            with subtests.test(path):
                reply = preflight(api, path, method="PATCH")
                assert reply.status == 204, reply.raw
                assert reply.raw == b""
                assert reply.header("Access-Control-Allow-Origin") == ORIGIN
                assert reply.header("Access-Control-Allow-Methods") == methods
                allowed = reply.header("Access-Control-Allow-Headers") or ""
                for header in ("Authorization", "Content-Type", "If-Match", "Idempotency-Key"):
                    assert header in allowed
                assert reply.header("Access-Control-Max-Age") == "600"
                assert reply.header("Vary") == "Origin"
                assert reply.header("X-Request-Id") == "preflight-1"
    problem(preflight(api, "/projects", origin="https://evil.example.com"), 403)


def test_an_allowed_origin_can_read_every_answer(api, world, cors, subtests):
    origin = {"Origin": "http://localhost:5173"}
    for label, reply in (
        ("200", api.get(world.path("notes"), world.user, headers=origin)),
        ("201", api.post("/notes", world.user, {"title": "n"}, headers=origin)),
        ("401", api.get("/notes", None, headers=origin)),
        ("404", api.get("/notes/01ARZ3NDEKTSV4RRFFQ69G5FAV", world.user, headers=origin)),
    ):
        with subtests.test(label):
            assert reply.status == int(label)
            assert reply.header("Access-Control-Allow-Origin") == "http://localhost:5173"
            exposed = reply.header("Access-Control-Expose-Headers") or ""
            assert {"ETag", "Location", "X-Request-Id"} <= {h.strip() for h in exposed.split(",")}
    other = api.get("/notes", world.user, headers={"Origin": "https://evil.example.com"})
    assert other.status == 200
    assert other.header("Access-Control-Allow-Origin") is None


def test_options_without_an_origin_lists_the_methods(api, world):
    reply = api.request("OPTIONS", world.path("notes"), None)
    assert reply.status == 204
    assert reply.header("Allow") == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert reply.header("X-Request-Id")


# ---- HEAD and unknown methods -----------------------------------------------------------


def test_head_works_wherever_get_does(api, world, subtests):
    for path in ["/health", *[f"/{kind}" for kind in KINDS], *[world.path(k) for k in KINDS]]:
        with subtests.test(path):
            got = api.get(path, world.user)
            head = api.request("HEAD", path, world.user)
            assert head.status == got.status == 200
            assert head.raw == b""
            for name in ("Content-Type", "ETag"):
                assert head.header(name) == got.header(name)
            assert head.header("X-Request-Id")
    assert api.request("HEAD", world.path("notes"), None).status == 401
    missing = api.request("HEAD", "/notes/01ARZ3NDEKTSV4RRFFQ69G5FAV", world.user)
    assert (missing.status, missing.raw) == (404, b"")
    etag = api.get(world.path("notes"), world.user).header("ETag")
    assert (
        api.request("HEAD", world.path("notes"), world.user, headers={"If-None-Match": etag}).status
        == 304
    )


def test_unknown_methods_are_405_problems_with_a_request_id(api, world, subtests):
    before = world.snapshot()
    for method in ("FOO", "TRACE", "PROPFIND", "CONNECT", "LINK"):
        for path in ("/projects", world.path("notes"), "/health"):
            with subtests.test(f"{method} {path}"):
                reply = api.request(method, path, world.user, headers={"X-Request-Id": "m-1"})
                problem(reply, 405)
                assert reply.header("X-Request-Id") == "m-1"
                assert "GET" in (reply.header("Allow") or "")
    assert world.snapshot() == before
