"""Every limit is reachable (README.md, The API): lengths count code points, and a body at every
field's maximum, in 4-byte characters sent as JSON escapes (12 bytes each), is under the
body cap, is stored (DynamoDB's 400 KB item limit), reads back, replays, is deleted and
published. One character more is a 400 naming the field, not a 413."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from chalicelib.core.publisher import MAX_MESSAGE_BYTES
from chalicelib.core.settings import MAX_BODY_BYTES
from tests.events_support import Probe
from tests.problems import field_errors, problem

TAGS = 20


def astral(count: int, seed: int) -> str:
    """`count` random characters above U+FFFF: 4 bytes each in UTF-8, 12 as JSON escapes,
    and the worst case for compression."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x10000, 0x10FFFF)) for _ in range(count))


def largest(kind: str, project_id: str, task_id: str) -> dict[str, Any]:
    """A legal body with every text field at its maximum."""
    if kind == "projects":
        return {
            "name": astral(200, 1),
            "description": astral(10_000, 2),
            "color": "#ffffff",
            "archived": False,
        }
    if kind == "tasks":
        return {
            "title": astral(500, 3),
            "projectId": project_id,
            "status": "Blocked",
            "targetDate": "2026-11-22",
            "startDate": "2026-11-01",
            "isCompleted": False,
            "notes": astral(10_000, 4),
            "priority": 4,
        }
    return {
        "title": astral(500, 5),
        "body": astral(100_000, 6),
        "projectId": project_id,
        "taskId": task_id,
        "tags": [astral(64, 100 + n) for n in range(TAGS)],
    }


LONGEST = {
    "projects": ["name", "description"],
    "tasks": ["title", "notes"],
    "notes": ["title", "body", "tags"],
}
ID = {"projects": "projectId", "tasks": "taskId", "notes": "noteId"}


@pytest.fixture
def parents(api, alice) -> tuple[str, str]:
    project = api.post("/projects", alice, {"name": "parent"}).json
    task = api.post("/tasks", alice, {"title": "parent", "projectId": project["projectId"]}).json
    return project["projectId"], task["taskId"]


def escaped(body: dict[str, Any]) -> bytes:
    """As a client that escapes everything outside ASCII sends it: the most bytes."""
    return json.dumps(body, ensure_ascii=True).encode()


def without_meta(resource: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        k: v
        for k, v in resource.items()
        if k not in {ID[kind], "version", "createdAt", "updatedAt", "attachments"}
    }


@pytest.mark.parametrize("kind", ["projects", "tasks", "notes"])
def test_a_body_at_every_maximum_is_stored_and_read_back(api, alice, parents, kind):
    body = largest(kind, *parents)
    raw = escaped(body)
    assert len(raw) < MAX_BODY_BYTES
    key = {"Idempotency-Key": f"largest-{kind}"}

    created = api.post(f"/{kind}", alice, raw=raw, headers=key)
    assert created.status == 201, created.raw[:300]
    assert without_meta(created.json, kind) == body
    path = f"/{kind}/{created.json[ID[kind]]}"
    assert api.get(path, alice).json == created.json
    listed = api.get(f"/{kind}?limit=200", alice).json["items"]
    assert created.json in listed

    # The idempotency record holds the whole answer, and replays it.
    replay = api.post(f"/{kind}", alice, raw=json.dumps(body, indent=1), headers=key)
    assert (replay.status, replay.json) == (201, created.json)

    # A PUT and a PATCH at the maximum, with other characters of the same size.
    other = largest(kind, *parents)
    for name in LONGEST[kind]:
        value = other[name]
        other[name] = [v[::-1] for v in value] if isinstance(value, list) else value[::-1]
    put = api.put(path, alice, raw=escaped(other))
    assert put.status == 200, put.raw[:300]
    assert without_meta(put.json, kind) == other
    patch = api.patch(path, alice, raw=escaped({n: body[n] for n in LONGEST[kind]}))
    assert patch.status == 200, patch.raw[:300]
    assert without_meta(patch.json, kind) == body

    # The tombstone carries the last snapshot plus its own attributes.
    assert api.delete(path, alice).status == 204
    problem(api.get(path, alice), 404)


@pytest.mark.parametrize("kind", ["projects", "tasks", "notes"])
def test_one_character_more_is_a_400_naming_the_field(api, alice, parents, kind, subtests):
    for name in LONGEST[kind]:
        with subtests.test(name):
            body = largest(kind, *parents)
            if name == "tags":
                body["tags"][0] += "\U0001f600"
            else:
                body[name] += "\U0001f600"
            raw = escaped(body)
            assert len(raw) < MAX_BODY_BYTES
            errors = field_errors(api.post(f"/{kind}", alice, raw=raw))
            assert list(errors) == [name], errors


def test_lengths_count_code_points_not_utf16_units_or_bytes(api, alice):
    """200 emoji are 400 UTF-16 units and 800 bytes, and still a legal name."""
    assert api.post("/projects", alice, {"name": "\U0001f600" * 200}).status == 201
    errors = field_errors(api.post("/projects", alice, {"name": "\U0001f600" * 201}))
    assert list(errors) == ["name"]


def test_a_largest_note_is_published_within_the_sns_limit(api, alice, parents, pump, aws, stack):
    probe = Probe.attach(aws, stack)
    pump.drain()
    probe.drain()
    body = largest("notes", *parents)
    created = api.post("/notes", alice, raw=escaped(body))
    assert created.status == 201
    pump.drain()
    published = probe.drain()
    assert [envelope["type"] for envelope, _ in published] == ["note-created"]
    envelope = published[0][0]
    assert len(json.dumps(envelope, ensure_ascii=False).encode()) <= MAX_MESSAGE_BYTES
    assert envelope["dataOmitted"] == ["body"]
    assert envelope["data"] == {k: v for k, v in created.json.items() if k != "body"}


def test_a_small_note_is_published_whole(api, alice, pump, aws, stack):
    probe = Probe.attach(aws, stack)
    created = api.post("/notes", alice, {"title": "t", "body": "\U0001f600" * 1000})
    pump.drain()
    ((envelope, _),) = probe.drain()
    assert envelope["data"] == created.json
    assert "dataOmitted" not in envelope


def test_cjk_and_emoji_notes_of_the_allowed_length_are_accepted(api, alice, subtests):
    """The issue's two cases: they answered 413 under the old 256 KiB cap."""
    for label, text in (("90,000 CJK", "\u4e2d" * 90_000), ("70,000 emoji", "\U0001f600" * 70_000)):
        for raw in (
            escaped({"body": text}),
            json.dumps({"body": text}, ensure_ascii=False).encode(),
        ):
            with subtests.test(f"{label} {len(raw)} bytes"):
                reply = api.post("/notes", alice, raw=raw)
                assert reply.status == 201, reply.raw[:200]
                assert api.get(f"/notes/{reply.json['noteId']}", alice).json["body"] == text


LAMBDA_ANSWER_LIMIT = 6 * 1024 * 1024


def lambda_payload(reply: Any) -> int:
    """The answer's size inside Lambda's JSON response, where the body is a JSON string
    with every non-ASCII character escaped."""
    return len(json.dumps({"body": reply.raw.decode(), "headers": reply.headers}))


@pytest.mark.parametrize("kind", ["tasks", "notes"])
def test_a_list_of_large_items_stays_under_lambdas_answer_limit(api, alice, parents, kind):
    """200 tasks with long CJK notes made a 12 MB list: a 502 from API Gateway."""
    count = {"tasks": 55, "notes": 6}[kind]
    for _ in range(count):
        body = largest(kind, *parents)
        if kind == "notes":
            body["tags"] = []
        assert api.post(f"/{kind}", alice, raw=escaped(body)).status == 201
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        reply = api.get(f"/{kind}?limit=200{cursor}", alice)
        assert reply.status == 200
        assert lambda_payload(reply) < LAMBDA_ANSWER_LIMIT, lambda_payload(reply)
        seen += [item[ID[kind]] for item in reply.json["items"]]
        pages += 1
        if reply.json["nextCursor"] is None:
            break
        cursor = f"&cursor={reply.json['nextCursor']}"
    assert pages > 1
    assert len(seen) == len(set(seen)) == count + (1 if kind == "tasks" else 0)
