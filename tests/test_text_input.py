"""Input the JSON parser accepts but no store can hold (README.md, The API): a lone surrogate, a
C0 control character, NaN, an overflowing number, a repeated key. Each is a 400 that
names the field, on every write route and every string field, never a 500, and nothing
is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.problems import field_errors, problem
from tests.test_conventions import KINDS, World

LONE_SURROGATES = ["\ud800", "\udfff", "ok \ud83d", "\ude00 ok", "a\udc00\ud800b"]
CONTROL_CHARACTERS = ["\x00", "Inbox\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"]
NOT_TEXT = LONE_SURROGATES + CONTROL_CHARACTERS

# Every string field of every resource, with a valid value of the field's kind for the
# rest of the body.
STRING_FIELDS: dict[str, list[str]] = {
    "projects": ["name", "description", "color"],
    "tasks": ["title", "projectId", "status", "notes", "targetDate", "startDate"],
    "notes": ["title", "body", "projectId", "taskId"],
}


@pytest.fixture
def world(api, alice) -> World:
    return World(api, alice)


def routes(world: World, kind: str, fields: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """POST and PUT with a full body, PATCH with just `fields`."""
    full = {**world.body(kind), **fields}
    return [
        ("POST", f"/{kind}", full),
        ("PUT", world.path(kind), full),
        ("PATCH", world.path(kind), fields),
    ]


def test_strings_that_are_not_text_are_400_naming_the_field(api, world, subtests):
    before = world.snapshot()
    for kind in KINDS:
        for field in STRING_FIELDS[kind]:
            for value in NOT_TEXT:
                for method, path, body in routes(world, kind, {field: value}):
                    with subtests.test(f"{method} {kind} {field}={value!r}"):
                        # json.dumps escapes a surrogate as \udXXX, as JS and Java send it.
                        errors = field_errors(api.request(method, path, world.user, body))
                        assert list(errors) == [field], errors
    assert world.snapshot() == before


def test_a_tag_that_is_not_text_is_400_naming_tags(api, world, subtests):
    before = world.snapshot()
    for value in NOT_TEXT:
        for method, path, body in routes(world, "notes", {"tags": ["fine", value]}):
            with subtests.test(f"{method} tags {value!r}"):
                errors = field_errors(api.request(method, path, world.user, body))
                assert list(errors) == ["tags"], errors
                assert errors["tags"][0].startswith("1: "), errors
    assert world.snapshot() == before


def test_a_field_name_that_is_not_text_is_400(api, world, subtests):
    before = world.snapshot()
    for kind in KINDS:
        for name in ("\ud800", "na\x00me"):
            for method, path, body in routes(world, kind, {name: "x"}):
                with subtests.test(f"{method} {kind} {name!r}"):
                    reply = api.request(method, path, world.user, body)
                    errors = field_errors(reply)
                    # The name is echoed with the offending character replaced, so the
                    # answer itself is valid Unicode.
                    assert list(errors) == [
                        name.replace("\ud800", "\ufffd").replace("\x00", "\ufffd")
                    ]
                    reply.raw.decode("utf-8")
    assert world.snapshot() == before


def test_tab_newline_and_carriage_return_are_text(api, alice):
    body = "line 1\r\nline 2\n\tindented"
    created = api.post("/notes", alice, {"title": "a\tb", "body": body})
    assert created.status == 201, created.json
    stored = api.get(f"/notes/{created.json['noteId']}", alice).json
    assert (stored["title"], stored["body"]) == ("a\tb", body)


def test_valid_astral_characters_and_escaped_pairs_are_stored(api, alice):
    """A surrogate *pair* is one character: stored and read back as the emoji."""
    raw = b'{"name": "\\ud83d\\ude00 \xf0\x9f\x98\x80 \\u00e9"}'
    created = api.post("/projects", alice, raw=raw)
    assert created.status == 201, created.json
    assert created.json["name"] == "\U0001f600 \U0001f600 \u00e9"
    again = api.get(f"/projects/{created.json['projectId']}", alice)
    assert again.json["name"] == "\U0001f600 \U0001f600 \u00e9"


def test_query_parameters_that_are_not_text_are_400_naming_them(api, world, subtests):
    for path, field in [
        ("/tasks?projectId=%00", "projectId"),
        ("/tasks?status=Active%00", "status"),
        ("/notes?tag=a%01b", "tag"),
        ("/notes?taskId=%1F", "taskId"),
        ("/notes?projectId=%00", "projectId"),
        ("/projects?cursor=%00", "cursor"),
    ]:
        with subtests.test(path):
            errors = field_errors(api.get(path, world.user))
            assert list(errors) == [field], errors


REFUSED_JSON: list[tuple[str, str, bytes]] = [
    ("NaN", "archived", b'{"name": "P", "archived": NaN}'),
    ("Infinity", "archived", b'{"name": "P", "archived": Infinity}'),
    ("-Infinity", "archived", b'{"name": "P", "archived": -Infinity}'),
    ("float overflow", "archived", b'{"name": "P", "archived": 1e999}'),
    ("5000-digit integer", "archived", b'{"name": "P", "archived": ' + b"9" * 5000 + b"}"),
]


def test_json_that_is_not_strict_json_is_400(api, world, subtests):
    before = world.snapshot()
    for label, _, raw in REFUSED_JSON:
        for method, path in (("POST", "/projects"), ("PUT", world.path("projects"))):
            with subtests.test(f"{method} {label}"):
                problem(api.request(method, path, world.user, raw=raw), 400)
    assert world.snapshot() == before


def test_a_repeated_key_is_400_naming_it(api, world, subtests):
    """Parsers disagree on which of two equal keys wins; the body is ambiguous."""
    before = world.snapshot()
    for kind, raw, field in [
        ("projects", b'{"name": "a", "name": "b"}', "name"),
        ("tasks", b'{"title": "a", "projectId": "%s", "title": "b"}', "title"),
        ("notes", b'{"tags": ["a"], "body": "x", "tags": []}', "tags"),
    ]:
        raw = raw.replace(b"%s", world.project["projectId"].encode())
        for method, path in (("POST", f"/{kind}"), ("PUT", world.path(kind))):
            with subtests.test(f"{method} {kind}"):
                errors = field_errors(api.request(method, path, world.user, raw=raw))
                assert list(errors) == [field], errors
    assert world.snapshot() == before


def test_huge_integers_are_400_not_500(api, world, subtests):
    for value in (10**38, 10**39, -(10**40), 2**64):
        with subtests.test(str(value)):
            errors = field_errors(api.patch(world.path("tasks"), world.user, {"priority": value}))
            assert list(errors) == ["priority"]


def test_an_idempotency_key_that_is_not_text_is_400(api, world, subtests):
    before = world.snapshot()
    for key in ("\ud800", "key\x00", "\x1b[31m"):
        with subtests.test(repr(key)):
            reply = api.post("/notes", world.user, {"title": "n"}, headers={"Idempotency-Key": key})
            problem(reply, 400)
    assert world.snapshot() == before


def test_deep_nesting_inside_a_field_is_400_not_500(api, world, subtests):
    for depth in (50, 900):
        nested = "[" * depth + '"x"' + "]" * depth
        for field in ("tags", "bogus", "title"):
            with subtests.test(f"{field} {depth}"):
                raw = json.dumps({"title": "t"})[:-1] + f', "{field}": {nested}}}'
                if field == "title":
                    raw = '{"title": ' + nested + "}"
                reply = api.post("/notes", world.user, raw=raw)
                assert field in field_errors(reply)


def test_headers_that_are_not_text_are_never_a_500(api, world, subtests):
    """Headers reach the app as strings; in a Lambda event they may hold anything."""
    for name in ("If-Match", "If-None-Match", "X-Request-Id", "Origin", "Content-Encoding"):
        for value in ("\ud800", "\x00", "caf\u00e9", "\U0001f600"):
            for method, path, body in world.writes():
                with subtests.test(f"{method} {path.split('/')[1]} {name}={value!r}"):
                    reply = api.request(method, path, world.user, body, headers={name: value})
                    assert reply.status < 500, reply.raw[:300]
                    assert reply.header("X-Request-Id")
                    reply.raw.decode("utf-8")


def test_an_answer_naming_many_errors_stays_small(api, world, subtests):
    """Echoing 200,000 bad items made a 6 MB answer, over Lambda's limit (a 502)."""
    many_keys = "{" + ",".join(f'"{i}":0' for i in range(100_000)) + "}"
    for label, raw in (
        ("100,000 unknown keys", many_keys),
        ("200,000 bad tags", json.dumps({"tags": [0] * 200_000})),
        ("one 100,000-character key", json.dumps({"k" * 100_000: 1})),
    ):
        with subtests.test(label):
            reply = api.post("/notes", world.user, raw=raw)
            errors = field_errors(reply)
            assert len(reply.raw) < 16 * 1024, len(reply.raw)
            assert len(errors) <= 50
            assert all(len(messages) <= 11 for messages in errors.values())
    errors = field_errors(api.post("/notes", world.user, raw=json.dumps({"tags": [0] * 30})))
    assert errors["tags"][:2] == ["0: Not a valid string.", "1: Not a valid string."]
    assert errors["tags"][-1] == "... and 20 more."
