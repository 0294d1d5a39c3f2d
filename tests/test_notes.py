"""Notes: every route of the API contract (README.md), success and failure, through the real
Chalice test client with real Cognito tokens and moto's DynamoDB.

Tables of validation cases run as subtests of one test, so they share one moto stack
and stay fast while still reporting each failing case on its own.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.problems import field_errors, problem

NOTE_FIELDS = {
    "noteId",
    "title",
    "body",
    "projectId",
    "taskId",
    "tags",
    "attachments",
    "version",
    "createdAt",
    "updatedAt",
}
READ_ONLY = ("noteId", "userId", "version", "createdAt", "updatedAt", "attachments")
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# Well-formed ids that name nothing.
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


# ---- helpers ---------------------------------------------------------------------------


def all_notes(api: Any, user: Any, query: str = "") -> list[dict[str, Any]]:
    """Every note of a list, following nextCursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params = [query] if query else []
        if cursor:
            params.append(f"cursor={cursor}")
        path = "/notes" + ("?" + "&".join(params) if params else "")
        reply = api.get(path, user)
        assert reply.status == 200, reply.json
        items.extend(reply.json["items"])
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return items
    raise AssertionError("the list never ended")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["noteId"] for item in items]


@pytest.fixture
def note_of(api):
    def make(user: Any, **fields: Any) -> dict[str, Any]:
        reply = api.post("/notes", user, fields)
        assert reply.status == 201, reply.json
        body: dict[str, Any] = reply.json
        return body

    return make


@pytest.fixture
def task_of(api):
    def make(user: Any, project_id: str, **fields: Any) -> dict[str, Any]:
        reply = api.post("/tasks", user, {"title": "A task", "projectId": project_id, **fields})
        assert reply.status == 201, reply.json
        body: dict[str, Any] = reply.json
        return body

    return make


def snapshot(api: Any, user: Any, note_id: str) -> dict[str, Any]:
    reply = api.get(f"/notes/{note_id}", user)
    assert reply.status == 200, reply.json
    body: dict[str, Any] = reply.json
    return body


# ---- POST /notes -----------------------------------------------------------------------


def test_create_empty_note_gets_defaults(api, alice):
    reply = api.post("/notes", alice, {})
    assert reply.status == 201, reply.json
    note = reply.json
    assert set(note) == NOTE_FIELDS
    assert ULID.match(note["noteId"])
    assert note["title"] is None
    assert note["body"] is None
    assert note["projectId"] is None
    assert note["taskId"] is None
    assert note["tags"] == []
    assert note["attachments"] == []
    assert note["version"] == 1
    assert RFC3339_UTC.match(note["createdAt"])
    assert note["updatedAt"] == note["createdAt"]
    assert reply.header("ETag") == '"1"'
    assert reply.header("Location") == f"/notes/{note['noteId']}"
    assert reply.header("Content-Type") == "application/json"


def test_create_full_note_and_read_it_back(api, alice, project_of, task_of):
    project = project_of(alice)
    task = task_of(alice, project["projectId"])
    body = {
        "title": "Meeting",
        "body": "# Agenda\n\n- one\n- two ✓",
        "projectId": project["projectId"],
        "taskId": task["taskId"],
        "tags": ["work", "weekly"],
    }
    reply = api.post("/notes", alice, body)
    assert reply.status == 201, reply.json
    note = reply.json
    for name, value in body.items():
        assert note[name] == value, name
    assert note["attachments"] == []
    assert snapshot(api, alice, note["noteId"]) == note


def test_create_gives_distinct_ids(api, alice):
    first = api.post("/notes", alice, {"title": "same"}).json
    second = api.post("/notes", alice, {"title": "same"}).json
    assert first["noteId"] != second["noteId"]
    assert len(all_notes(api, alice)) == 2


def test_create_accepts_boundary_lengths(api, alice):
    body = {
        "title": "t" * 500,
        "body": "b" * 100_000,
        "tags": [f"{i:02d}" + "x" * 62 for i in range(20)],
    }
    reply = api.post("/notes", alice, body)
    assert reply.status == 201, reply.json
    assert reply.json["title"] == body["title"]
    assert reply.json["body"] == body["body"]
    assert reply.json["tags"] == body["tags"]
    assert all(len(tag) == 64 for tag in reply.json["tags"])


def test_create_counts_characters_not_bytes(api, alice):
    reply = api.post("/notes", alice, {"title": "é" * 500, "tags": ["ü" * 64]})
    assert reply.status == 201, reply.json
    assert reply.json["title"] == "é" * 500


def test_create_accepts_empty_strings_and_nulls(api, alice):
    reply = api.post(
        "/notes",
        alice,
        {"title": "", "body": "", "projectId": None, "taskId": None, "tags": None},
    )
    assert reply.status == 201, reply.json
    note = reply.json
    assert note["title"] == ""
    assert note["body"] == ""
    assert note["projectId"] is None
    assert note["taskId"] is None
    assert note["tags"] == []


def test_create_collapses_duplicate_tags_keeping_order(api, alice):
    reply = api.post("/notes", alice, {"tags": ["b", "a", "b", "c", "a"]})
    assert reply.status == 201, reply.json
    assert reply.json["tags"] == ["b", "a", "c"]


def test_tag_limit_counts_distinct_tags(api, alice):
    """21 entries that collapse to 20 distinct tags make a valid note of 20 tags."""
    tags = [f"t{i}" for i in range(20)] + ["t0"]
    reply = api.post("/notes", alice, {"tags": tags})
    assert reply.status == 201, reply.json
    assert reply.json["tags"] == tags[:20]


def test_tags_are_case_sensitive(api, alice):
    reply = api.post("/notes", alice, {"tags": ["Work", "work"]})
    assert reply.status == 201, reply.json
    assert reply.json["tags"] == ["Work", "work"]


INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("title too long", {"title": "t" * 501}, "title"),
    ("title a number", {"title": 5}, "title"),
    ("title a list", {"title": ["a"]}, "title"),
    ("title a bool", {"title": True}, "title"),
    ("body too long", {"body": "b" * 100_001}, "body"),
    ("body an object", {"body": {"md": "x"}}, "body"),
    ("body a number", {"body": 1}, "body"),
    ("21 distinct tags", {"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ("tags a string", {"tags": "work"}, "tags"),
    ("tags an object", {"tags": {"work": True}}, "tags"),
    ("empty tag", {"tags": ["ok", ""]}, "tags"),
    ("tag too long", {"tags": ["x" * 65]}, "tags"),
    ("tag a number", {"tags": [5]}, "tags"),
    ("tag null", {"tags": [None]}, "tags"),
    ("tag a list", {"tags": [["a"]]}, "tags"),
    ("projectId a number", {"projectId": 5}, "projectId"),
    ("projectId empty", {"projectId": ""}, "projectId"),
    ("projectId too long", {"projectId": "p" * 65}, "projectId"),
    ("projectId an object", {"projectId": {"id": "x"}}, "projectId"),
    ("taskId a bool", {"taskId": True}, "taskId"),
    ("taskId empty", {"taskId": ""}, "taskId"),
    ("taskId a list", {"taskId": ["x"]}, "taskId"),
    ("unknown field", {"title": "x", "color": "#ffffff"}, "color"),
    ("snake_case field", {"project_id": UNKNOWN_ID}, "project_id"),
    ("internal deletedAt", {"deletedAt": "2026-01-01T00:00:00Z"}, "deletedAt"),
    ("internal projectKey", {"projectKey": "x#y"}, "projectKey"),
    ("internal requestId", {"requestId": "x"}, "requestId"),
    ("internal expiresAt", {"expiresAt": 1}, "expiresAt"),
]
READ_ONLY_VALUES: list[tuple[str, Any]] = [
    ("noteId", UNKNOWN_ID),
    ("userId", "someone"),
    ("version", 7),
    ("createdAt", "2026-01-01T00:00:00Z"),
    ("updatedAt", "2026-01-01T00:00:00Z"),
    ("attachments", []),
]
assert {name for name, _ in READ_ONLY_VALUES} == set(READ_ONLY)
INVALID_BODIES += [
    (f"read-only {name}", {"title": "x", name: value}, name) for name, value in READ_ONLY_VALUES
]


def test_create_rejects_invalid_fields(api, alice, subtests):
    for label, body, field in INVALID_BODIES:
        with subtests.test(label):
            errors = field_errors(api.post("/notes", alice, body))
            assert field in errors, errors
    assert all_notes(api, alice) == []


def test_create_reports_every_bad_field_at_once(api, alice):
    body = {"title": 5, "noteId": UNKNOWN_ID, "bogus": 1, "tags": [""]}
    errors = field_errors(api.post("/notes", alice, body))
    assert {"title", "noteId", "bogus", "tags"} <= set(errors)


def test_read_only_fields_name_themselves_as_read_only(api, alice):
    errors = field_errors(api.post("/notes", alice, {"version": 3, "attachments": []}))
    for name in ("version", "attachments"):
        assert any("read-only" in message.lower() for message in errors[name]), errors


def test_validation_comes_before_reference_checks(api, alice):
    """A body that is both malformed and points at nothing is a 400, not a 422."""
    errors = field_errors(api.post("/notes", alice, {"title": 5, "projectId": UNKNOWN_ID}))
    assert "title" in errors


# ---- references ------------------------------------------------------------------------


def test_create_with_task_only(api, alice, project_of, task_of):
    task = task_of(alice, project_of(alice)["projectId"])
    reply = api.post("/notes", alice, {"taskId": task["taskId"]})
    assert reply.status == 201, reply.json
    assert reply.json["taskId"] == task["taskId"]


def test_create_with_project_only(api, alice, project_of):
    project = project_of(alice)
    reply = api.post("/notes", alice, {"projectId": project["projectId"]})
    assert reply.status == 201, reply.json
    assert reply.json["projectId"] == project["projectId"]
    assert reply.json["taskId"] is None


def test_create_rejects_unusable_references(api, alice, project_of, task_of, subtests):
    live = project_of(alice, name="Live")
    other = project_of(alice, name="Other")
    deleted = project_of(alice, name="Deleted")
    live_task = task_of(alice, live["projectId"])
    deleted_task = task_of(alice, live["projectId"], title="Deleted task")
    orphan_task = task_of(alice, deleted["projectId"], title="Orphan")
    assert api.delete(f"/projects/{deleted['projectId']}", alice).status == 204
    assert api.delete(f"/tasks/{deleted_task['taskId']}", alice).status == 204

    cases: list[tuple[str, dict[str, Any], str]] = [
        ("unknown project", {"projectId": UNKNOWN_ID}, "projectId"),
        ("malformed project id", {"projectId": "not-an-id"}, "projectId"),
        ("deleted project", {"projectId": deleted["projectId"]}, "projectId"),
        ("a task id as project", {"projectId": live_task["taskId"]}, "projectId"),
        ("unknown task", {"taskId": UNKNOWN_ID}, "taskId"),
        ("malformed task id", {"taskId": "not-an-id"}, "taskId"),
        ("deleted task", {"taskId": deleted_task["taskId"]}, "taskId"),
        ("task of a deleted project", {"taskId": orphan_task["taskId"]}, "taskId"),
        ("a project id as task", {"taskId": live["projectId"]}, "taskId"),
        (
            "task of another project",
            {"projectId": other["projectId"], "taskId": live_task["taskId"]},
            "taskId",
        ),
        (
            "live task, deleted project",
            {"projectId": deleted["projectId"], "taskId": live_task["taskId"]},
            "projectId",
        ),
    ]
    for label, body, field in cases:
        with subtests.test(label):
            errors = field_errors(api.post("/notes", alice, {"title": label, **body}), 422)
            assert field in errors, errors
    assert all_notes(api, alice) == []


# ---- GET /notes/{noteId} ---------------------------------------------------------------


def test_get_note(api, alice, note_of):
    note = note_of(alice, title="Hello", tags=["x"])
    reply = api.get(f"/notes/{note['noteId']}", alice)
    assert reply.status == 200
    assert reply.json == note
    assert reply.header("ETag") == '"1"'
    assert reply.header("Content-Type") == "application/json"


def test_get_unknown_note_is_404(api, alice, note_of, subtests):
    lower = note_of(alice)["noteId"].lower()
    for note_id in (UNKNOWN_ID, "nope", lower, "x" * 300, "%00"):
        with subtests.test(note_id[:30]):
            problem(api.get(f"/notes/{note_id}", alice), 404)


# ---- GET /notes ------------------------------------------------------------------------


def test_list_empty(api, alice):
    reply = api.get("/notes", alice)
    assert reply.status == 200
    assert reply.json == {"items": [], "nextCursor": None}


def test_list_returns_own_notes_in_id_order(api, alice, note_of):
    created = [note_of(alice, title=f"n{i}") for i in range(4)]
    reply = api.get("/notes", alice)
    assert reply.status == 200
    assert reply.json["nextCursor"] is None
    items = reply.json["items"]
    assert sorted(ids(items)) == sorted(ids(created))
    assert ids(items) == sorted(ids(items))
    by_id = {note["noteId"]: note for note in created}
    for item in items:
        assert item == by_id[item["noteId"]]


def test_list_filters(api, alice, project_of, task_of, note_of, subtests):
    p1 = project_of(alice, name="P1")["projectId"]
    p2 = project_of(alice, name="P2")["projectId"]
    t1 = task_of(alice, p1)["taskId"]
    t1b = task_of(alice, p1, title="other task")["taskId"]
    t2 = task_of(alice, p2)["taskId"]
    notes = {
        "loose": note_of(alice, tags=["work"]),
        "loose-home": note_of(alice, tags=["home"]),
        "p1": note_of(alice, projectId=p1),
        "p1-work": note_of(alice, projectId=p1, tags=["work", "urgent"]),
        "p1-t1": note_of(alice, projectId=p1, taskId=t1, tags=["home"]),
        "p1-t1-work": note_of(alice, projectId=p1, taskId=t1, tags=["work"]),
        "t1-only-work": note_of(alice, taskId=t1, tags=["work"]),
        "p1-t1b": note_of(alice, projectId=p1, taskId=t1b),
        "p2-t2-work": note_of(alice, projectId=p2, taskId=t2, tags=["work"]),
    }
    cases: list[tuple[str, set[str]]] = [
        ("", set(notes)),
        (f"projectId={p1}", {"p1", "p1-work", "p1-t1", "p1-t1-work", "p1-t1b"}),
        (f"projectId={p2}", {"p2-t2-work"}),
        (f"taskId={t1}", {"p1-t1", "p1-t1-work", "t1-only-work"}),
        (f"taskId={t2}", {"p2-t2-work"}),
        ("tag=work", {"loose", "p1-work", "p1-t1-work", "t1-only-work", "p2-t2-work"}),
        ("tag=home", {"loose-home", "p1-t1"}),
        ("tag=urgent", {"p1-work"}),
        ("tag=wor", set()),  # a tag matches whole, never as a substring
        ("tag=Work", set()),
        (f"projectId={p1}&tag=work", {"p1-work", "p1-t1-work"}),
        (f"taskId={t1}&tag=work", {"p1-t1-work", "t1-only-work"}),
        (f"projectId={p1}&taskId={t1}", {"p1-t1", "p1-t1-work"}),
        (f"projectId={p2}&taskId={t1}", set()),
        (f"projectId={p1}&taskId={t1}&tag=work", {"p1-t1-work"}),
        (f"projectId={p1}&taskId={t1}&tag=home", {"p1-t1"}),
        (f"projectId={UNKNOWN_ID}", set()),
        (f"taskId={UNKNOWN_ID}", set()),
        ("tag=nothing", set()),
    ]
    for query, expected in cases:
        with subtests.test(query or "no filter"):
            expected_ids = {notes[name]["noteId"] for name in expected}
            found = all_notes(api, alice, query)
            assert set(ids(found)) == expected_ids
            assert len(found) == len(expected_ids)
            # The same filters paged one by one give the same answer.
            paged = all_notes(api, alice, "&".join(filter(None, [query, "limit=1"])))
            assert ids(paged) == ids(found)


def test_list_follows_moves_between_projects_and_tags(api, alice, project_of, note_of):
    p1 = project_of(alice, name="P1")["projectId"]
    p2 = project_of(alice, name="P2")["projectId"]
    note = note_of(alice, projectId=p1, tags=["a"])
    nid = note["noteId"]
    assert ids(all_notes(api, alice, f"projectId={p1}")) == [nid]

    assert api.patch(f"/notes/{nid}", alice, {"projectId": p2, "tags": ["b"]}).status == 200
    assert all_notes(api, alice, f"projectId={p1}") == []
    assert ids(all_notes(api, alice, f"projectId={p2}")) == [nid]
    assert all_notes(api, alice, "tag=a") == []
    assert ids(all_notes(api, alice, "tag=b")) == [nid]

    assert api.patch(f"/notes/{nid}", alice, {"projectId": None}).status == 200
    assert all_notes(api, alice, f"projectId={p2}") == []
    assert ids(all_notes(api, alice)) == [nid]


def test_pagination_walks_every_note_once(api, alice, note_of):
    created = {note_of(alice, title=f"n{i}")["noteId"] for i in range(7)}
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        path = "/notes?limit=3" + (f"&cursor={cursor}" if cursor else "")
        reply = api.get(path, alice)
        assert reply.status == 200, reply.json
        pages.append(ids(reply.json["items"]))
        cursor = reply.json["nextCursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert len(pages) < 10
    assert [len(page) for page in pages] == [3, 3, 1]
    seen = [nid for page in pages for nid in page]
    assert len(seen) == len(set(seen)), "a note appeared twice"
    assert set(seen) == created, "a note was skipped"
    assert seen == sorted(seen)


def test_full_last_page_has_no_cursor(api, alice, note_of):
    for i in range(4):
        note_of(alice, title=f"n{i}")
    first = api.get("/notes?limit=2", alice).json
    assert len(first["items"]) == 2
    assert first["nextCursor"] is not None
    second = api.get(f"/notes?limit=2&cursor={first['nextCursor']}", alice).json
    assert len(second["items"]) == 2
    assert second["nextCursor"] is None
    exact = api.get("/notes?limit=4", alice).json
    assert len(exact["items"]) == 4
    assert exact["nextCursor"] is None


def test_filtered_pagination_has_no_gaps_or_duplicates(api, alice, project_of, note_of, subtests):
    """A filter served by a key (?tag=) fills its pages, with no empty trailing page. A
    second filter narrows the key's Query server-side: such a request reads one page of
    items at most, so its pages may come short (issue 11), but never with gaps or
    duplicates, even when matching notes are interleaved."""
    project = project_of(alice)["projectId"]
    matching: dict[str, set[str]] = {"tag=even": set(), f"projectId={project}&tag=even": set()}
    for i in range(11):
        fields: dict[str, Any] = {"title": f"n{i}", "tags": ["even" if i % 2 == 0 else "odd"]}
        if i % 3:
            fields["projectId"] = project
        note = note_of(alice, **fields)
        if i % 2 == 0:
            matching["tag=even"].add(note["noteId"])
            if i % 3:
                matching[f"projectId={project}&tag=even"].add(note["noteId"])
    deleted = note_of(alice, tags=["even"], projectId=project)
    assert api.delete(f"/notes/{deleted['noteId']}", alice).status == 204

    for query, expected in matching.items():
        with subtests.test(query):
            sizes: list[int] = []
            seen: list[str] = []
            cursor: str | None = None
            while True:
                path = f"/notes?{query}&limit=2" + (f"&cursor={cursor}" if cursor else "")
                reply = api.get(path, alice)
                assert reply.status == 200, reply.json
                sizes.append(len(reply.json["items"]))
                seen.extend(ids(reply.json["items"]))
                cursor = reply.json["nextCursor"]
                if cursor is None:
                    break
                assert len(sizes) < 20
            assert len(seen) == len(set(seen))
            assert set(seen) == expected
            if "&" in query:
                assert all(size <= 2 for size in sizes), sizes
            else:
                assert all(size == 2 for size in sizes[:-1]), sizes
                assert 1 <= sizes[-1] <= 2, sizes


def test_list_skips_deleted_notes_across_pages(api, alice, note_of):
    notes = [note_of(alice, title=f"n{i}")["noteId"] for i in range(6)]
    for nid in notes[1::2]:
        assert api.delete(f"/notes/{nid}", alice).status == 204
    paged = all_notes(api, alice, "limit=1")
    assert set(ids(paged)) == set(notes[0::2])
    assert len(paged) == 3


def test_list_limit_bounds(api, alice, note_of):
    for i in range(3):
        note_of(alice, title=f"n{i}")
    assert len(api.get("/notes?limit=1", alice).json["items"]) == 1
    assert len(api.get("/notes?limit=200", alice).json["items"]) == 3
    for bad in ("0", "201", "-1", "abc", "1.5", ""):
        errors = field_errors(api.get(f"/notes?limit={bad}", alice))
        assert "limit" in errors


def test_list_rejects_unknown_and_bad_query_parameters(api, alice, subtests):
    for query, field in [
        ("status=Active", "status"),
        ("projectid=x", "projectid"),
        ("tags=work", "tags"),
        (f"projectId={'p' * 65}", "projectId"),
        ("tag=", "tag"),
        (f"tag={'t' * 65}", "tag"),
        ("taskId=", "taskId"),
    ]:
        with subtests.test(query):
            errors = field_errors(api.get(f"/notes?{query}", alice))
            assert field in errors, errors


def test_list_rejects_bad_cursors(api, alice, note_of, subtests):
    for i in range(3):
        note_of(alice, title=f"n{i}", tags=["a"])
    cursor = api.get("/notes?limit=1", alice).json["nextCursor"]
    tag_cursor = api.get("/notes?limit=1&tag=a", alice).json["nextCursor"]
    assert cursor
    assert tag_cursor
    for label, query in [
        ("garbage", "cursor=garbage"),
        ("tampered", f"cursor={cursor[:-6]}AAAAAA"),
        ("truncated", f"cursor={cursor[: len(cursor) // 2]}"),
        ("unfiltered cursor, tag filter", f"tag=a&cursor={cursor}"),
        ("tag cursor, no filter", f"cursor={tag_cursor}"),
        ("tag cursor, other tag", f"tag=b&cursor={tag_cursor}"),
    ]:
        with subtests.test(label):
            problem(api.get(f"/notes?limit=1&{query}", alice), 400)


# ---- PUT /notes/{noteId} ---------------------------------------------------------------


def test_put_replaces_the_whole_note(api, alice, project_of, task_of, note_of):
    project = project_of(alice)["projectId"]
    task = task_of(alice, project)["taskId"]
    note = note_of(alice, title="Old", body="old", projectId=project, taskId=task, tags=["x"])
    reply = api.put(f"/notes/{note['noteId']}", alice, {"body": "new"})
    assert reply.status == 200, reply.json
    updated = reply.json
    assert updated["noteId"] == note["noteId"]
    assert updated["body"] == "new"
    # What PUT leaves out goes back to its default.
    assert updated["title"] is None
    assert updated["projectId"] is None
    assert updated["taskId"] is None
    assert updated["tags"] == []
    assert updated["attachments"] == []
    assert updated["version"] == 2
    assert updated["createdAt"] == note["createdAt"]
    assert updated["updatedAt"] >= note["updatedAt"]
    assert reply.header("ETag") == '"2"'
    assert snapshot(api, alice, note["noteId"]) == updated


def test_put_sets_every_field(api, alice, project_of, task_of, note_of):
    project = project_of(alice)["projectId"]
    task = task_of(alice, project)["taskId"]
    note = note_of(alice)
    body = {
        "title": "T",
        "body": "B",
        "projectId": project,
        "taskId": task,
        "tags": ["k", "k", "l"],
    }
    reply = api.put(f"/notes/{note['noteId']}", alice, body)
    assert reply.status == 200, reply.json
    assert reply.json["tags"] == ["k", "l"]
    for name in ("title", "body", "projectId", "taskId"):
        assert reply.json[name] == body[name]


def test_put_rejects_invalid_bodies_and_changes_nothing(api, alice, note_of, subtests):
    note = note_of(alice, title="Keep", tags=["keep"])
    for label, body, field in INVALID_BODIES:
        with subtests.test(label):
            errors = field_errors(api.put(f"/notes/{note['noteId']}", alice, body))
            assert field in errors, errors
    assert snapshot(api, alice, note["noteId"]) == note


def test_put_rejects_unusable_references(api, alice, project_of, task_of, note_of):
    p1 = project_of(alice, name="P1")["projectId"]
    p2 = project_of(alice, name="P2")["projectId"]
    task = task_of(alice, p1)["taskId"]
    note = note_of(alice, title="Keep")
    path = f"/notes/{note['noteId']}"
    assert "projectId" in field_errors(api.put(path, alice, {"projectId": UNKNOWN_ID}), 422)
    assert "taskId" in field_errors(api.put(path, alice, {"taskId": UNKNOWN_ID}), 422)
    errors = field_errors(api.put(path, alice, {"projectId": p2, "taskId": task}), 422)
    assert "taskId" in errors
    assert snapshot(api, alice, note["noteId"]) == note


def test_put_unknown_note_is_404(api, alice):
    problem(api.put(f"/notes/{UNKNOWN_ID}", alice, {"title": "x"}), 404)
    problem(api.put("/notes/nope", alice, {"title": "x"}), 404)
    assert all_notes(api, alice) == []


# ---- PATCH /notes/{noteId} -------------------------------------------------------------


def test_patch_changes_only_given_fields(api, alice, project_of, task_of, note_of):
    project = project_of(alice)["projectId"]
    task = task_of(alice, project)["taskId"]
    note = note_of(alice, title="T", body="B", projectId=project, taskId=task, tags=["a"])
    reply = api.patch(f"/notes/{note['noteId']}", alice, {"title": "T2"})
    assert reply.status == 200, reply.json
    patched = reply.json
    assert patched["title"] == "T2"
    for name in ("body", "projectId", "taskId", "tags", "attachments", "createdAt", "noteId"):
        assert patched[name] == note[name], name
    assert patched["version"] == 2
    assert reply.header("ETag") == '"2"'
    assert snapshot(api, alice, note["noteId"]) == patched


def test_patch_increments_version_each_time(api, alice, note_of):
    note = note_of(alice)
    path = f"/notes/{note['noteId']}"
    for expected in (2, 3, 4):
        reply = api.patch(path, alice, {"body": f"v{expected}"})
        assert reply.status == 200
        assert reply.json["version"] == expected
        assert reply.header("ETag") == f'"{expected}"'
    reply = api.get(path, alice)
    assert reply.json["version"] == 4
    assert reply.json["body"] == "v4"
    assert reply.header("ETag") == '"4"'


def test_patch_nulls_clear_fields(api, alice, project_of, task_of, note_of):
    project = project_of(alice)["projectId"]
    task = task_of(alice, project)["taskId"]
    note = note_of(alice, title="T", body="B", projectId=project, taskId=task, tags=["a"])
    body = {"title": None, "body": None, "projectId": None, "taskId": None, "tags": None}
    reply = api.patch(f"/notes/{note['noteId']}", alice, body)
    assert reply.status == 200, reply.json
    for name in ("title", "body", "projectId", "taskId"):
        assert reply.json[name] is None, name
    assert reply.json["tags"] == []


def test_patch_collapses_duplicate_tags(api, alice, note_of):
    note = note_of(alice, tags=["a"])
    reply = api.patch(f"/notes/{note['noteId']}", alice, {"tags": ["z", "y", "z"]})
    assert reply.status == 200, reply.json
    assert reply.json["tags"] == ["z", "y"]


def test_patch_references(api, alice, project_of, task_of, note_of):
    p1 = project_of(alice, name="P1")["projectId"]
    p2 = project_of(alice, name="P2")["projectId"]
    t1 = task_of(alice, p1)["taskId"]
    t2 = task_of(alice, p2)["taskId"]
    note = note_of(alice, projectId=p1, taskId=t1)
    path = f"/notes/{note['noteId']}"

    # A task of another project than the note's project.
    assert "taskId" in field_errors(api.patch(path, alice, {"taskId": t2}), 422)
    # A project that the note's task is not in.
    assert "taskId" in field_errors(api.patch(path, alice, {"projectId": p2}), 422)
    assert "projectId" in field_errors(api.patch(path, alice, {"projectId": UNKNOWN_ID}), 422)
    assert "taskId" in field_errors(api.patch(path, alice, {"taskId": UNKNOWN_ID}), 422)
    assert snapshot(api, alice, note["noteId"]) == note

    # Moving both together is consistent.
    reply = api.patch(path, alice, {"projectId": p2, "taskId": t2})
    assert reply.status == 200, reply.json
    assert (reply.json["projectId"], reply.json["taskId"]) == (p2, t2)


def test_patch_rejects_invalid_bodies_and_changes_nothing(api, alice, note_of, subtests):
    note = note_of(alice, title="Keep", tags=["keep"])
    for label, body, field in INVALID_BODIES:
        with subtests.test(label):
            errors = field_errors(api.patch(f"/notes/{note['noteId']}", alice, body))
            assert field in errors, errors
    assert snapshot(api, alice, note["noteId"]) == note


def test_patch_unknown_note_is_404(api, alice):
    problem(api.patch(f"/notes/{UNKNOWN_ID}", alice, {"title": "x"}), 404)


# ---- conditional requests --------------------------------------------------------------


def test_if_none_match(api, alice, note_of):
    note = note_of(alice, title="T")
    path = f"/notes/{note['noteId']}"
    for header in ('"1"', "*", 'W/"1"', '"7", "1"'):
        reply = api.get(path, alice, headers={"If-None-Match": header})
        assert reply.status == 304, header
        assert reply.raw == b""
        assert reply.header("ETag") == '"1"'
    for header in ('"2"', '"01"x', "garbage"):
        reply = api.get(path, alice, headers={"If-None-Match": header})
        assert reply.status == 200, header
        assert reply.json == note

    api.patch(path, alice, {"title": "T2"})
    reply = api.get(path, alice, headers={"If-None-Match": '"1"'})
    assert reply.status == 200
    assert reply.json["title"] == "T2"
    assert reply.header("ETag") == '"2"'
    assert api.get(path, alice, headers={"If-None-Match": '"2"'}).status == 304


def test_if_match_on_updates(api, alice, note_of, subtests):
    for method in ("put", "patch"):
        with subtests.test(method):
            _check_if_match(api, alice, note_of(alice, title="T", tags=["a"]), method)


def _check_if_match(api: Any, alice: Any, note: dict[str, Any], method: str) -> None:
    path = f"/notes/{note['noteId']}"
    send = getattr(api, method)
    for stale in ('"2"', '"0"', 'W/"1"', "garbage", '"1'):
        problem(send(path, alice, {"title": "X"}, headers={"If-Match": stale}), 412)
    assert snapshot(api, alice, note["noteId"]) == note

    reply = send(path, alice, {"title": "Y"}, headers={"If-Match": '"1"'})
    assert reply.status == 200, reply.json
    assert reply.json["version"] == 2
    problem(send(path, alice, {"title": "Z"}, headers={"If-Match": '"1"'}), 412)
    assert snapshot(api, alice, note["noteId"])["title"] == "Y"

    reply = send(path, alice, {"title": "W"}, headers={"If-Match": '"5", "2"'})
    assert reply.status == 200, reply.json
    reply = send(path, alice, {"title": "V"}, headers={"If-Match": "*"})
    assert reply.status == 200, reply.json
    assert reply.json["version"] == 4


def test_if_match_on_delete(api, alice, note_of):
    note = note_of(alice, title="T")
    path = f"/notes/{note['noteId']}"
    problem(api.delete(path, alice, headers={"If-Match": '"2"'}), 412)
    assert snapshot(api, alice, note["noteId"]) == note
    assert api.delete(path, alice, headers={"If-Match": '"1"'}).status == 204
    problem(api.get(path, alice), 404)


def test_validation_error_before_precondition(api, alice, note_of):
    """A bad body with a stale If-Match is still unchanged data, whatever the status."""
    note = note_of(alice, title="T")
    reply = api.patch(f"/notes/{note['noteId']}", alice, {"title": 5}, headers={"If-Match": '"9"'})
    assert reply.status in (400, 412)
    assert snapshot(api, alice, note["noteId"]) == note


# ---- DELETE /notes/{noteId} ------------------------------------------------------------


def test_delete_note(api, alice, project_of, task_of, note_of):
    project = project_of(alice)["projectId"]
    task = task_of(alice, project)["taskId"]
    keep = note_of(alice, title="keep", projectId=project, taskId=task, tags=["t"])
    gone = note_of(alice, title="gone", projectId=project, taskId=task, tags=["t"])
    path = f"/notes/{gone['noteId']}"

    reply = api.delete(path, alice)
    assert reply.status == 204
    assert reply.raw == b""

    problem(api.get(path, alice), 404)
    problem(api.get(path, alice, headers={"If-None-Match": '"1"'}), 404)
    for query in ("", f"projectId={project}", f"taskId={task}", "tag=t"):
        assert ids(all_notes(api, alice, query)) == [keep["noteId"]], query
    problem(api.delete(path, alice), 404)
    problem(api.put(path, alice, {"title": "back"}), 404)
    problem(api.patch(path, alice, {"title": "back"}), 404)
    problem(api.get(path, alice), 404)
    assert snapshot(api, alice, keep["noteId"]) == keep


def test_delete_unknown_note_is_404(api, alice):
    problem(api.delete(f"/notes/{UNKNOWN_ID}", alice), 404)
    problem(api.delete("/notes/nope", alice), 404)


# ---- another user's notes --------------------------------------------------------------


@pytest.fixture
def alices(api, alice, project_of, task_of, note_of):
    """Alice's project, task and note, and a way to check that none of them changed."""
    project = project_of(alice, name="Alice's")
    task = task_of(alice, project["projectId"])
    note = note_of(
        alice,
        title="Secret",
        body="mine",
        projectId=project["projectId"],
        taskId=task["taskId"],
        tags=["private"],
    )

    class Alices:
        project_id = project["projectId"]
        task_id = task["taskId"]
        note_id = note["noteId"]
        path = f"/notes/{note['noteId']}"

        @staticmethod
        def assert_unchanged() -> None:
            assert snapshot(api, alice, note["noteId"]) == note
            assert all_notes(api, alice) == [note]
            assert api.get(f"/projects/{project['projectId']}", alice).json == project
            assert api.get(f"/tasks/{task['taskId']}", alice).json == task

    return Alices


def test_bob_cannot_get_alices_note(api, bob, alices):
    problem(api.get(alices.path, bob), 404)
    problem(api.get(alices.path, bob, headers={"If-None-Match": '"1"'}), 404)
    alices.assert_unchanged()


def test_bob_does_not_see_alices_notes_in_lists(api, bob, alices):
    for query in (
        "",
        f"projectId={alices.project_id}",
        f"taskId={alices.task_id}",
        "tag=private",
        f"projectId={alices.project_id}&taskId={alices.task_id}&tag=private",
    ):
        assert all_notes(api, bob, query) == [], query
    alices.assert_unchanged()


def test_bob_cannot_update_alices_note(api, bob, alices):
    for method in ("put", "patch"):
        send = getattr(api, method)
        problem(send(alices.path, bob, {"title": "pwned"}), 404)
        # Not 412: a precondition on someone else's note must not reveal that it exists.
        problem(send(alices.path, bob, {"title": "pwned"}, headers={"If-Match": '"1"'}), 404)
        problem(send(alices.path, bob, {"title": "pwned"}, headers={"If-Match": '"9"'}), 404)
        problem(send(alices.path, bob, {"noteId": "x"}), 400)
    alices.assert_unchanged()


def test_bob_cannot_delete_alices_note(api, bob, alices):
    problem(api.delete(alices.path, bob), 404)
    problem(api.delete(alices.path, bob, headers={"If-Match": '"9"'}), 404)
    alices.assert_unchanged()


def test_bob_cannot_reference_alices_project_or_task(api, bob, alices, subtests):
    bodies = [
        ("project", {"projectId": alices.project_id}, "projectId"),
        ("task", {"taskId": alices.task_id}, "taskId"),
        ("both", {"projectId": alices.project_id, "taskId": alices.task_id}, "projectId"),
    ]
    for label, body, field in bodies:
        with subtests.test(f"POST {label}"):
            assert field in field_errors(api.post("/notes", bob, body), 422)
    assert all_notes(api, bob) == []

    own = api.post("/notes", bob, {"title": "bob's"}).json
    for label, body, field in bodies:
        for method in ("put", "patch"):
            with subtests.test(f"{method.upper()} {label}"):
                reply = getattr(api, method)(f"/notes/{own['noteId']}", bob, body)
                assert field in field_errors(reply, 422)
    assert snapshot(api, bob, own["noteId"]) == own
    alices.assert_unchanged()


def test_bob_cannot_page_with_alices_cursor(api, alice, bob, alices, note_of):
    note_of(alice, title="second")
    cursor = api.get("/notes?limit=1", alice).json["nextCursor"]
    assert cursor
    problem(api.get(f"/notes?limit=1&cursor={cursor}", bob), 400)


def test_bobs_notes_stay_his(api, alice, bob, alices, note_of):
    mine = note_of(bob, title="bob's", tags=["private"])
    assert all_notes(api, bob) == [mine]
    assert all_notes(api, bob, "tag=private") == [mine]
    problem(api.get(f"/notes/{mine['noteId']}", alice), 404)
    alices.assert_unchanged()
