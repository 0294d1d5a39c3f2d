"""The API's conventions (README.md), across the Projects, Tasks and Notes services:
authentication, problem+json errors, body parsing and limits, content types, methods,
X-Request-Id, Idempotency-Key, and list parameters and cursors.

Each table of cases runs as subtests of one test, so they share one moto stack.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.core.settings import MAX_BODY_BYTES
from tests.problems import field_errors, problem

KINDS = ("projects", "tasks", "notes")
ID_FIELD = {"projects": "projectId", "tasks": "taskId", "notes": "noteId"}
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
CAP = MAX_BODY_BYTES


# ---- helpers ---------------------------------------------------------------------------


def count(api: Any, user: Any, kind: str) -> int:
    total = 0
    cursor: str | None = None
    for _ in range(100):
        path = f"/{kind}?limit=200" + (f"&cursor={cursor}" if cursor else "")
        reply = api.get(path, user)
        assert reply.status == 200, reply.json
        total += len(reply.json["items"])
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return total
    raise AssertionError("the list never ended")


def b64(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(token: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


class World:
    """One project, task and note of a user, and valid create bodies for each kind."""

    def __init__(self, api: Any, user: Any) -> None:
        self.api = api
        self.user = user
        self.project = self._create("projects", {"name": "Home"})
        self.task = self._create("tasks", self.body("tasks"))
        self.note = self._create("notes", self.body("notes"))

    def _create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.api.post(f"/{kind}", self.user, body)
        assert reply.status == 201, reply.json
        created: dict[str, Any] = reply.json
        return created

    def body(self, kind: str, tag: str = "") -> dict[str, Any]:
        if kind == "projects":
            return {"name": f"Project{tag}"}
        if kind == "tasks":
            return {"title": f"Task{tag}", "projectId": self.project["projectId"]}
        return {"title": f"Note{tag}", "tags": ["x"]}

    def item(self, kind: str) -> dict[str, Any]:
        return {"projects": self.project, "tasks": self.task, "notes": self.note}[kind]

    def path(self, kind: str) -> str:
        return f"/{kind}/{self.item(kind)[ID_FIELD[kind]]}"

    def writes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every route that takes a body: (method, path, a valid body)."""
        routes: list[tuple[str, str, dict[str, Any]]] = []
        for kind in KINDS:
            routes.append(("POST", f"/{kind}", self.body(kind)))
            routes.append(("PUT", self.path(kind), self.body(kind, " v2")))
            routes.append(("PATCH", self.path(kind), self.body(kind, " v3")))
        return routes

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for kind in KINDS:
            reply = self.api.get(self.path(kind), self.user)
            assert reply.status == 200, (kind, reply.json)
            state[kind] = reply.json
            state[f"{kind} count"] = count(self.api, self.user, kind)
        return state


@pytest.fixture
def world(api, alice) -> World:
    return World(api, alice)


# ---- authentication --------------------------------------------------------------------


def test_protected_routes_need_a_token(api, world, subtests):
    before = world.snapshot()
    routes: list[tuple[str, str, Any]] = []
    for kind in KINDS:
        for path in (world.path(kind), f"/{kind}/{UNKNOWN_ID}"):
            routes += [("GET", path, None), ("PUT", path, world.body(kind))]
            routes += [("PATCH", path, world.body(kind)), ("DELETE", path, None)]
        routes += [("GET", f"/{kind}", None), ("POST", f"/{kind}", world.body(kind))]
        routes += [("GET", f"/{kind}?limit=1", None), ("POST", f"/{kind}", "not json")]
    for method, path, body in routes:
        with subtests.test(f"{method} {path}"):
            if isinstance(body, str):
                reply = api.request(method, path, None, raw=body)
            else:
                reply = api.request(method, path, None, body)
            problem(reply, 401)
            assert reply.header("WWW-Authenticate") == "Bearer"
    assert world.snapshot() == before


def test_access_token_is_not_an_id_token(api, alice, world):
    bearer = {"Authorization": f"Bearer {alice.access_token}"}
    before = world.snapshot()
    problem(api.get("/projects", None, headers=bearer), 401)
    problem(api.get(world.path("notes"), None, headers=bearer), 401)
    problem(api.post("/notes", None, {"title": "x"}, headers=bearer), 401)
    problem(api.delete(world.path("tasks"), None, headers=bearer), 401)
    assert world.snapshot() == before


def test_health_is_public(api, alice):
    for user in (None, alice):
        reply = api.get("/health", user)
        assert reply.status == 200
        assert reply.json == {"status": "ok"}
        assert reply.header("Content-Type") == "application/json"
        assert reply.header("X-Request-Id")


# ---- request bodies --------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes]] = [
    ("truncated", b'{"name": "x"'),
    ("trailing comma", b'{"name": "x",}'),
    ("single quotes", b"{'name': 'x'}"),
    ("bare word", b"hello"),
    ("empty array", b"[]"),
    ("array of objects", b'[{"name": "x"}]'),
    ("string", b'"a string"'),
    ("number", b"42"),
    ("NaN", b"NaN"),
    ("null", b"null"),
    ("boolean", b"true"),
    ("empty", b""),
    ("whitespace", b" \n\t "),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}'),
    ("UTF-16", '{"name": "x"}'.encode("utf-16")),
    ("deeply nested", b"[" * 100_000),
]


def test_malformed_and_non_object_bodies_are_400(api, world, subtests):
    before = world.snapshot()
    for method, path, _ in world.writes():
        for label, raw in MALFORMED:
            with subtests.test(f"{method} {path.split('/')[1]} {label}"):
                problem(api.request(method, path, world.user, raw=raw), 400)
    assert world.snapshot() == before


WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("projects", {"name": "P", "archived": "yes"}, "archived"),
    ("projects", {"name": "P", "archived": 1}, "archived"),
    ("projects", {"name": 5}, "name"),
    ("projects", {"name": "P", "description": ["d"]}, "description"),
    ("tasks", {"title": "T", "priority": 1.5}, "priority"),
    ("tasks", {"title": "T", "priority": "1"}, "priority"),
    ("tasks", {"title": "T", "priority": True}, "priority"),
    ("tasks", {"title": "T", "isCompleted": 1}, "isCompleted"),
    ("tasks", {"title": "T", "isCompleted": "true"}, "isCompleted"),
    ("tasks", {"title": "T", "status": 3}, "status"),
    ("tasks", {"title": "T", "targetDate": 20260101}, "targetDate"),
    ("tasks", {"title": ["T"]}, "title"),
    ("notes", {"title": 5}, "title"),
    ("notes", {"body": {"md": "x"}}, "body"),
    ("notes", {"tags": "work"}, "tags"),
    ("notes", {"tags": [1]}, "tags"),
    ("notes", {"projectId": 7}, "projectId"),
]


def test_wrong_types_are_400_naming_the_field(api, world, subtests):
    before = world.snapshot()
    for kind, fields, field in WRONG_TYPES:
        body = {**world.body(kind), **fields}
        for method, path in (("POST", f"/{kind}"), ("PUT", world.path(kind))):
            with subtests.test(f"{method} {kind} {field}={fields[field]!r}"):
                errors = field_errors(api.request(method, path, world.user, body))
                assert field in errors, errors
        with subtests.test(f"PATCH {kind} {field}={fields[field]!r}"):
            reply = api.patch(world.path(kind), world.user, {field: fields[field]})
            assert field in field_errors(reply), reply.json
    assert world.snapshot() == before


def test_unknown_and_read_only_fields_are_400_naming_the_field(api, world, subtests):
    before = world.snapshot()
    for kind in KINDS:
        for field, value in (
            ("bogus", 1),
            ("userId", "someone-else"),
            (ID_FIELD[kind], UNKNOWN_ID),
            ("version", 9),
            ("createdAt", "2026-01-01T00:00:00Z"),
            ("updatedAt", "2026-01-01T00:00:00Z"),
        ):
            for method, path in (("POST", f"/{kind}"), ("PATCH", world.path(kind))):
                with subtests.test(f"{method} {kind} {field}"):
                    body = {**world.body(kind), field: value}
                    errors = field_errors(api.request(method, path, world.user, body))
                    assert field in errors, errors
    assert world.snapshot() == before


# ---- size, content type, method --------------------------------------------------------


def padded(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON padded with trailing whitespace to exactly `size` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def test_body_at_the_cap_is_accepted(api, alice):
    reply = api.post("/notes", alice, raw=padded({"title": "big"}, CAP))
    assert reply.status == 201, reply.json
    reply = api.post("/projects", alice, raw=padded({"name": "big"}, CAP))
    assert reply.status == 201, reply.json


def test_body_over_the_cap_is_413(api, world, subtests):
    before = world.snapshot()
    for method, path, body in world.writes():
        for label, raw in (
            ("one byte over", padded(body, CAP + 1)),
            ("two MiB of JSON", json.dumps({**body, "body": "x" * 2 * 1024 * 1024}).encode()),
            ("not even JSON", b"{" * (CAP + 10)),
        ):
            with subtests.test(f"{method} {path.split('/')[1]} {label}"):
                problem(api.request(method, path, world.user, raw=raw), 413)
    assert world.snapshot() == before


def test_non_json_content_type_is_415(api, world, subtests):
    before = world.snapshot()
    for content_type in (
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for method, path, body in world.writes():
            with subtests.test(f"{method} {path.split('/')[1]} {content_type}"):
                headers = {"Content-Type": content_type}
                reply = api.request(method, path, world.user, raw=json.dumps(body), headers=headers)
                problem(reply, 415)
    assert world.snapshot() == before


def test_json_content_type_variants_are_accepted(api, alice, subtests):
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        for kind, body in (("projects", {"name": "P"}), ("notes", {"title": "N"})):
            with subtests.test(f"{kind} {content_type}"):
                headers = {"Content-Type": content_type}
                reply = api.post(f"/{kind}", alice, raw=json.dumps(body), headers=headers)
                assert reply.status == 201, reply.json


def test_unsupported_method_is_405(api, world, subtests):
    before = world.snapshot()
    cases: list[tuple[str, str, set[str]]] = []
    for kind in KINDS:
        for method in ("PUT", "PATCH", "DELETE"):
            cases.append((method, f"/{kind}", {"GET", "HEAD", "OPTIONS", "POST"}))
        item_methods = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}
        cases.append(("POST", world.path(kind), item_methods))
    for method, path, allowed in cases:
        with subtests.test(f"{method} {path}"):
            reply = api.request(method, path, world.user, {"name": "x", "title": "x"})
            problem(reply, 405)
            allow = reply.header("Allow") or ""
            assert {part.strip() for part in allow.split(",")} == allowed, allow
    assert world.snapshot() == before


# ---- X-Request-Id ----------------------------------------------------------------------


def _responses(api: Any, world: World, headers: dict[str, str]) -> dict[str, Any]:
    """One response of (nearly) every status, each sent with `headers`."""
    user = world.user
    note = world.path("notes")
    fresh = api.post("/notes", user, {"title": "tmp"}).json
    key = {"Idempotency-Key": "request-id-probe"}
    api.post("/notes", user, {"title": "keyed"}, headers=key)
    return {
        "200 health": api.get("/health", headers=headers),
        "200 list": api.get("/projects", user, headers=headers),
        "201": api.post("/notes", user, {"title": "n"}, headers=headers),
        "201 replay": api.post("/notes", user, {"title": "keyed"}, headers={**headers, **key}),
        "409": api.post("/notes", user, {"title": "other"}, headers={**headers, **key}),
        "204": api.delete(f"/notes/{fresh['noteId']}", user, headers=headers),
        "304": api.get(note, user, headers={**headers, "If-None-Match": '"1"'}),
        "400": api.post("/notes", user, raw="{", headers=headers),
        "401": api.get("/notes", None, headers=headers),
        "404": api.get(f"/notes/{UNKNOWN_ID}", user, headers=headers),
        "405": api.request("PATCH", "/notes", user, {}, headers=headers),
        "412": api.patch(note, user, {"title": "x"}, headers={**headers, "If-Match": '"9"'}),
        "413": api.post("/notes", user, raw=b" " * (CAP + 1), headers=headers),
        "415": api.post("/notes", user, raw="{}", headers={**headers, "Content-Type": "text/xml"}),
        "422": api.post("/notes", user, {"projectId": UNKNOWN_ID}, headers=headers),
    }


def test_safe_request_id_is_echoed_on_every_response(api, world, subtests):
    for request_id in ("abc-123", "req.1:2@host/x+y=z_", "A" * 128, UNKNOWN_ID):
        replies = _responses(api, world, {"X-Request-Id": request_id})
        for label, reply in replies.items():
            with subtests.test(f"{request_id[:20]} {label}"):
                assert label.startswith(str(reply.status)), (reply.status, reply.raw[:200])
                assert reply.header("X-Request-Id") == request_id


def test_request_id_header_name_is_case_insensitive(api, alice):
    reply = api.get("/projects", alice, headers={"x-request-id": "lower-case-1"})
    assert reply.header("X-Request-Id") == "lower-case-1"


def test_request_id_is_generated_when_absent(api, world):
    replies = _responses(api, world, {})
    seen: set[str] = set()
    for label, reply in replies.items():
        assert label.startswith(str(reply.status)), (label, reply.status, reply.raw[:200])
        request_id = reply.header("X-Request-Id")
        assert request_id, label
        assert ULID.match(request_id), (label, request_id)
        seen.add(request_id)
    assert len(seen) == len(replies), "a generated id was reused"


def test_request_ids_are_unique(api, alice):
    ids = {api.get("/projects", alice).header("X-Request-Id") for _ in range(20)}
    assert len(ids) == 20


def test_unsafe_request_id_is_replaced(api, world, subtests):
    for request_id in ("has space", "A" * 129, "semi;colon", 'quo"te', "<script>", "ünïcode", ""):
        replies = _responses(api, world, {"X-Request-Id": request_id})
        for label, reply in replies.items():
            with subtests.test(f"{request_id[:20]!r} {label}"):
                assert label.startswith(str(reply.status)), (reply.status, reply.raw[:200])
                echoed = reply.header("X-Request-Id")
                assert echoed != request_id
                assert echoed
                assert ULID.match(echoed), echoed


# ---- Idempotency-Key -------------------------------------------------------------------


def test_idempotent_retry_replays_the_original(api, world, subtests):
    for kind in KINDS:
        with subtests.test(kind):
            before = count(api, world.user, kind)
            body = world.body(kind, " once")
            key = {"Idempotency-Key": f"create-{kind}-1"}
            first = api.post(f"/{kind}", world.user, body, headers=key)
            assert first.status == 201, first.json
            for _ in range(2):
                again = api.post(f"/{kind}", world.user, body, headers=key)
                assert again.status == 201
                assert again.json == first.json
                for header in ("ETag", "Location", "Content-Type"):
                    assert again.header(header) == first.header(header), header
                # The retry is its own request, with its own correlation id.
                assert again.header("X-Request-Id") != first.header("X-Request-Id")
            assert count(api, world.user, kind) == before + 1
            location = first.header("Location")
            assert location == f"/{kind}/{first.json[ID_FIELD[kind]]}"
            assert api.get(location, world.user).json == first.json

            # Still the original answer after the resource has changed.
            patch = {"name": "changed"} if kind == "projects" else {"title": "changed"}
            assert api.patch(location, world.user, patch).status == 200
            again = api.post(f"/{kind}", world.user, body, headers=key)
            assert again.status == 201
            assert again.json == first.json
            assert count(api, world.user, kind) == before + 1


def test_idempotency_key_with_another_body_is_409(api, world, subtests):
    for kind in KINDS:
        with subtests.test(kind):
            key = {"Idempotency-Key": f"conflict-{kind}"}
            first = api.post(f"/{kind}", world.user, world.body(kind, " A"), headers=key)
            assert first.status == 201
            before = count(api, world.user, kind)
            problem(api.post(f"/{kind}", world.user, world.body(kind, " B"), headers=key), 409)
            assert count(api, world.user, kind) == before
            location = first.header("Location")
            assert api.get(location, world.user).json == first.json
            # The original retry still replays after the conflict.
            again = api.post(f"/{kind}", world.user, world.body(kind, " A"), headers=key)
            assert again.status == 201
            assert again.json == first.json


def test_idempotency_keys_are_per_user(api, alice, bob, world, subtests):
    bobs = World(api, bob)
    for kind in KINDS:
        with subtests.test(kind):
            key = {"Idempotency-Key": f"shared-{kind}"}
            counts = (count(api, alice, kind), count(api, bob, kind))
            mine = api.post(f"/{kind}", alice, world.body(kind, " same"), headers=key)
            theirs = api.post(f"/{kind}", bob, bobs.body(kind, " same"), headers=key)
            assert (mine.status, theirs.status) == (201, 201), (mine.json, theirs.json)
            assert mine.json[ID_FIELD[kind]] != theirs.json[ID_FIELD[kind]]
            assert count(api, alice, kind) == counts[0] + 1
            assert count(api, bob, kind) == counts[1] + 1
            # Neither can read the other's object through its replay or its location.
            problem(api.get(mine.header("Location"), bob), 404)
            problem(api.get(theirs.header("Location"), alice), 404)


def test_idempotency_keys_are_per_route(api, alice, world):
    key = {"Idempotency-Key": "same-key-everywhere"}
    created = [api.post(f"/{kind}", alice, world.body(kind), headers=key) for kind in KINDS]
    assert [reply.status for reply in created] == [201, 201, 201]


def test_failed_request_does_not_burn_the_key(api, world, subtests):
    failures: dict[str, list[tuple[dict[str, Any], int]]] = {
        "projects": [({"name": ""}, 400), ({"name": "x", "bogus": 1}, 400)],
        "tasks": [({"title": "T"}, 400), ({"title": "T", "projectId": UNKNOWN_ID}, 422)],
        "notes": [({"title": 5}, 400), ({"projectId": UNKNOWN_ID}, 422)],
    }
    for kind, attempts in failures.items():
        with subtests.test(kind):
            key = {"Idempotency-Key": f"retry-{kind}"}
            before = count(api, world.user, kind)
            for body, status in attempts:
                problem(api.post(f"/{kind}", world.user, body, headers=key), status)
            problem(api.post(f"/{kind}", world.user, raw="{", headers=key), 400)
            assert count(api, world.user, kind) == before
            fixed = api.post(f"/{kind}", world.user, world.body(kind, " fixed"), headers=key)
            assert fixed.status == 201, fixed.json
            again = api.post(f"/{kind}", world.user, world.body(kind, " fixed"), headers=key)
            assert again.status == 201
            assert again.json == fixed.json
            assert count(api, world.user, kind) == before + 1


def test_idempotency_key_length(api, world, subtests):
    for kind in KINDS:
        with subtests.test(kind):
            before = count(api, world.user, kind)
            for key in ("k" * 256, "k" * 1000):
                reply = api.post(
                    f"/{kind}", world.user, world.body(kind), headers={"Idempotency-Key": key}
                )
                problem(reply, 400)
            assert count(api, world.user, kind) == before
            longest = {"Idempotency-Key": "k" * 255}
            first = api.post(f"/{kind}", world.user, world.body(kind), headers=longest)
            assert first.status == 201, first.json
            again = api.post(f"/{kind}", world.user, world.body(kind), headers=longest)
            assert again.json == first.json
            assert count(api, world.user, kind) == before + 1


def test_without_a_key_every_post_creates(api, world):
    before = count(api, world.user, "notes")
    first = api.post("/notes", world.user, {"title": "same"})
    second = api.post("/notes", world.user, {"title": "same"})
    assert first.json["noteId"] != second.json["noteId"]
    assert count(api, world.user, "notes") == before + 2


def test_idempotency_key_is_for_post_only(api, world):
    key = {"Idempotency-Key": "patch-key"}
    path = world.path("notes")
    first = api.patch(path, world.user, {"title": "p"}, headers=key)
    second = api.patch(path, world.user, {"title": "q"}, headers=key)
    assert (first.status, second.status) == (200, 200)
    assert second.json["version"] == first.json["version"] + 1


# ---- list parameters -------------------------------------------------------------------


def test_list_limit_must_be_1_to_200(api, world, subtests):
    for kind in KINDS:
        for limit in ("1", "200"):
            with subtests.test(f"{kind} limit={limit}"):
                reply = api.get(f"/{kind}?limit={limit}", world.user)
                assert reply.status == 200, reply.json
                assert len(reply.json["items"]) == 1
        for limit in ("0", "201", "abc", "-1", "1.5", "", "1e2", "9" * 30):
            with subtests.test(f"{kind} limit={limit}"):
                errors = field_errors(api.get(f"/{kind}?limit={limit}", world.user))
                assert "limit" in errors, errors


def test_list_default_limit_is_50(api, alice):
    for i in range(51):
        assert api.post("/notes", alice, {"title": f"n{i}"}).status == 201
    page = api.get("/notes", alice).json
    assert len(page["items"]) == 50
    assert page["nextCursor"]
    rest = api.get(f"/notes?cursor={page['nextCursor']}", alice).json
    assert len(rest["items"]) == 1
    assert rest["nextCursor"] is None


def test_unknown_query_parameter_is_400(api, world, subtests):
    cases = [(kind, "foo=bar", "foo") for kind in KINDS]
    cases += [(kind, "Limit=5", "Limit") for kind in KINDS]
    cases += [
        ("projects", f"projectId={world.project['projectId']}", "projectId"),
        ("notes", "status=Active", "status"),
        ("tasks", "tag=x", "tag"),
        ("tasks", "status=Bogus", "status"),
        ("tasks", "isCompleted=yes", "isCompleted"),
    ]
    for kind, query, field in cases:
        with subtests.test(f"{kind}?{query}"):
            errors = field_errors(api.get(f"/{kind}?{query}", world.user))
            assert field in errors, errors


# ---- cursors ---------------------------------------------------------------------------


@pytest.fixture
def paged(api, alice) -> World:
    """Alice owns three of each kind, so a limit=1 list has a cursor."""
    world = World(api, alice)
    for i in range(2):
        for kind in KINDS:
            assert api.post(f"/{kind}", alice, world.body(kind, str(i))).status == 201
    return world


def first_cursor(api: Any, user: Any, kind: str, query: str = "") -> str:
    reply = api.get(f"/{kind}?limit=1" + (f"&{query}" if query else ""), user)
    assert reply.status == 200, reply.json
    cursor: str = reply.json["nextCursor"]
    assert cursor
    return cursor


def test_valid_cursor_continues_the_list(api, paged, subtests):
    for kind in KINDS:
        with subtests.test(kind):
            first = api.get(f"/{kind}?limit=1", paged.user).json
            rest = api.get(f"/{kind}?limit=5&cursor={first['nextCursor']}", paged.user).json
            assert rest["nextCursor"] is None
            seen = [item[ID_FIELD[kind]] for item in first["items"] + rest["items"]]
            assert len(seen) == len(set(seen)) == 3


GARBAGE_CURSORS: list[tuple[str, str]] = [
    ("word", "garbage"),
    ("punctuation", "!!!!"),
    ("percent-encoded NUL", "%00"),
    ("percent-encoded unicode", "%C3%BC%C3%BC"),
    ("empty", ""),
    ("too long", "A" * 2049),
    ("very long", "eyJ2IjoxfQ" * 600),
    ("not JSON", b64(b"not json at all")),
    ("JSON array", b64([1, 2])),
    ("JSON null", b64(None)),
    ("JSON string", b64("cursor")),
    ("no fingerprint", b64({"v": 1, "k": {"userId": "u", "noteId": "n"}})),
    ("wrong version", b64({"v": 2, "q": "0" * 24, "k": {}})),
    ("boolean version", b64({"v": True, "q": "0" * 24, "k": {}})),
    ("empty key", b64({"v": 1, "q": "0" * 24, "k": {}})),
    ("key a list", b64({"v": 1, "q": "0" * 24, "k": ["userId"]})),
    ("number values", b64({"v": 1, "q": "0" * 24, "k": {"userId": 1, "noteId": 2}})),
    ("nested values", b64({"v": 1, "q": "0" * 24, "k": {"userId": {"S": "u"}}})),
]


def test_garbage_cursor_is_400(api, paged, subtests):
    for kind in KINDS:
        for label, cursor in GARBAGE_CURSORS:
            with subtests.test(f"{kind} {label}"):
                problem(api.get(f"/{kind}?limit=1&cursor={cursor}", paged.user), 400)


def _mutations(cursor: str) -> list[tuple[str, str]]:
    """Edits of a real cursor: flipped characters and re-encoded payload edits."""
    edits: list[tuple[str, str]] = []
    # Every character but the last (whose low bits base64 may ignore).
    for index in range(0, len(cursor) - 1):
        flipped = "B" if cursor[index] != "B" else "C"
        edits.append((f"char {index}", cursor[:index] + flipped + cursor[index + 1 :]))
    payload = unb64(cursor)
    for name, value in payload["k"].items():
        changed = value[:-1] + ("A" if value[-1] != "A" else "B")
        edits.append((f"key {name}", b64({**payload, "k": {**payload["k"], name: changed}})))
        edits.append(
            (
                f"key {name} dropped",
                b64(
                    {
                        **payload,
                        "k": {other: v for other, v in payload["k"].items() if other != name},
                    }
                ),
            )
        )
    edits.append(("extra key", b64({**payload, "k": {**payload["k"], "extra": "x"}})))
    edits.append(("fingerprint", b64({**payload, "q": "f" * len(payload["q"])})))
    edits.append(("version", b64({**payload, "v": 2})))
    return edits


def test_tampered_cursor_is_400(api, paged, bob, subtests):
    for kind in KINDS:
        cursor = first_cursor(api, paged.user, kind)
        payload = unb64(cursor)
        for label, edited in _mutations(cursor):
            with subtests.test(f"{kind} {label}"):
                problem(api.get(f"/{kind}?limit=1&cursor={edited}", paged.user), 400)
        with subtests.test(f"{kind} pointed at bob's partition"):
            moved = b64({**payload, "k": {**payload["k"], "userId": bob.sub}})
            problem(api.get(f"/{kind}?limit=1&cursor={moved}", paged.user), 400)


def test_cursor_of_another_user_is_400(api, paged, bob, subtests):
    bobs = World(api, bob)
    for i in range(2):
        for kind in KINDS:
            assert api.post(f"/{kind}", bob, bobs.body(kind, str(i))).status == 201
    for kind in KINDS:
        with subtests.test(kind):
            alices = first_cursor(api, paged.user, kind)
            problem(api.get(f"/{kind}?limit=1&cursor={alices}", bob), 400)
            bobs_cursor = first_cursor(api, bob, kind)
            problem(api.get(f"/{kind}?limit=1&cursor={bobs_cursor}", paged.user), 400)


def test_cursor_of_another_query_is_400(api, paged, subtests):
    api_user = paged.user
    project = paged.project["projectId"]
    other = api.post("/projects", api_user, {"name": "Other"}).json["projectId"]
    for i in range(3):
        api.post("/tasks", api_user, {"title": f"t{i}", "projectId": project, "status": "Done"})
        api.post("/notes", api_user, {"title": f"n{i}", "tags": ["a", "b"], "projectId": project})
    cursors = {
        "projects": first_cursor(api, api_user, "projects"),
        "tasks": first_cursor(api, api_user, "tasks"),
        "tasks project": first_cursor(api, api_user, "tasks", f"projectId={project}"),
        "tasks status": first_cursor(api, api_user, "tasks", "status=Done"),
        "notes": first_cursor(api, api_user, "notes"),
        "notes tag": first_cursor(api, api_user, "notes", "tag=a"),
        "notes project": first_cursor(api, api_user, "notes", f"projectId={project}"),
    }
    misuse = [
        ("projects", "/tasks?"),
        ("projects", "/notes?"),
        ("tasks", "/projects?"),
        ("tasks", "/notes?"),
        ("notes", "/projects?"),
        ("notes", "/tasks?"),
        ("tasks", f"/tasks?projectId={project}&"),
        ("tasks", "/tasks?isCompleted=true&"),
        ("tasks project", "/tasks?"),
        ("tasks project", f"/tasks?projectId={other}&"),
        ("tasks project", f"/tasks?projectId={project}&status=Done&"),
        ("tasks status", "/tasks?status=Active&"),
        ("tasks status", "/tasks?"),
        ("notes", "/notes?tag=a&"),
        ("notes tag", "/notes?"),
        ("notes tag", "/notes?tag=b&"),
        ("notes tag", f"/notes?projectId={project}&tag=a&"),
        ("notes project", f"/notes?projectId={other}&"),
        ("notes project", "/notes?"),
    ]
    for source, target in misuse:
        with subtests.test(f"{source} cursor on {target}"):
            problem(api.get(f"{target}limit=1&cursor={cursors[source]}", api_user), 400)
    # Each cursor still works where it came from, with any limit.
    for source, target in [
        ("tasks project", f"/tasks?projectId={project}&"),
        ("notes tag", "/notes?tag=a&"),
        ("notes", "/notes?"),
    ]:
        with subtests.test(f"{source} cursor at home"):
            reply = api.get(f"{target}limit=7&cursor={cursors[source]}", api_user)
            assert reply.status == 200, reply.json


def test_no_request_is_a_500(api, world):
    """A sweep of odd requests: whatever they get, never an internal error."""
    user = world.user
    requests: list[Callable[[], Any]] = [
        lambda: api.get("/notes?limit=1&limit=2", user),
        lambda: api.get("/notes?cursor=%FF%FE", user),
        lambda: api.get("/notes/%00", user),
        lambda: api.get(f"/notes/{'9' * 2000}", user),
        lambda: api.get(world.path("notes"), user, headers={"If-None-Match": '"²"'}),
        lambda: api.patch(world.path("notes"), user, {"title": "x"}, headers={"If-Match": '"²"'}),
        lambda: api.patch(world.path("tasks"), user, {"priority": 10**30}),
        lambda: api.post("/tasks", user, {"title": "T", "projectId": "x" * 64}),
        lambda: api.post("/notes", user, {"taskId": "\u0000"}),
        lambda: api.get("/tasks?projectId=%00", user),
        lambda: api.post("/projects", user, raw=b"\xef\xbb\xbf{}"),
    ]
    for send in requests:
        reply = send()
        assert reply.status < 500, reply.raw[:300]
