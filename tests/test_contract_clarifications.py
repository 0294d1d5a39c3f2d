"""the API (README.md) clarifications, each with the defect it settles: strict dates and colours,
a PATCH that changes nothing, Idempotency-Key compared as JSON, and last-writer-wins for
concurrent writes without If-Match."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from chalice.config import Config
from chalice.local import LocalChalice, LocalGateway
from pynamodb.signals import pre_dynamodb_send

from tests.events_support import Probe
from tests.problems import field_errors, problem
from tests.test_conventions import ID_FIELD, KINDS, World


@pytest.fixture
def world(api, alice) -> World:
    return World(api, alice)


# ---- dates and colours -------------------------------------------------------------------

OTHER_DATE_SPELLINGS = [
    "20261122",
    "2026-W47-1",
    "2026W471",
    "2026-326",
    "2026-11-22T00:00:00",
    "2026-11-22 ",
    "2026-11-22\n",
    "2026-1-5",
    "+2026-11-22",
    "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff12",  # full-width digits
    "2026-02-30",
    "",
]


def test_dates_are_exactly_yyyy_mm_dd(api, world, subtests):
    before = world.snapshot()
    for field in ("targetDate", "startDate"):
        for value in OTHER_DATE_SPELLINGS:
            full = {**world.body("tasks"), field: value}
            for method, path, body in [
                ("POST", "/tasks", full),
                ("PUT", world.path("tasks"), full),
                ("PATCH", world.path("tasks"), {field: value}),
            ]:
                with subtests.test(f"{method} {field}={value!r}"):
                    errors = field_errors(api.request(method, path, world.user, body))
                    assert list(errors) == [field], errors
    assert world.snapshot() == before


def test_a_date_comes_back_as_sent(api, world):
    body = {**world.body("tasks"), "startDate": "2026-01-31", "targetDate": "2026-11-22"}
    created = api.post("/tasks", world.user, body)
    assert created.status == 201, created.json
    assert (created.json["startDate"], created.json["targetDate"]) == ("2026-01-31", "2026-11-22")


def test_colour_is_exactly_hash_rrggbb(api, world, subtests):
    before = world.snapshot()
    for value in ("#ffffff\n", "#ffffff\r\n", "#FFFFFF ", " #ffffff", "#fffffff", "#ffff"):
        full = {"name": "P", "color": value}
        for method, path, body in [
            ("POST", "/projects", full),
            ("PUT", world.path("projects"), full),
            ("PATCH", world.path("projects"), {"color": value}),
        ]:
            with subtests.test(f"{method} {value!r}"):
                errors = field_errors(api.request(method, path, world.user, body))
                assert list(errors) == ["color"], errors
    assert world.snapshot() == before
    assert api.patch(world.path("projects"), world.user, {"color": "#A0b1C2"}).status == 200


# ---- a write that changes nothing -------------------------------------------------------


def test_a_patch_that_changes_nothing_is_not_a_write(api, world, pump, aws, stack, subtests):
    probe = Probe.attach(aws, stack)
    world.task = api.patch(world.path("tasks"), world.user, {"targetDate": "2026-11-22"}).json
    world.note = api.patch(world.path("notes"), world.user, {"tags": ["x", "y"]}).json
    pump.drain()
    probe.drain()
    same_values = {
        "projects": {"name": world.project["name"], "color": None},
        "tasks": {"title": world.task["title"], "targetDate": "2026-11-22"},
        "notes": {"tags": ["x", "y"], "projectId": None},
    }
    for kind in KINDS:
        current = world.item(kind)
        for label, body in (("empty", {}), ("same values", same_values[kind])):
            for if_match in (None, f'"{current["version"]}"'):
                with subtests.test(f"{kind} {label} If-Match={if_match}"):
                    headers = {"If-Match": if_match} if if_match else {}
                    reply = api.patch(world.path(kind), world.user, body, headers=headers)
                    assert reply.status == 200, reply.json
                    assert reply.json == current
                    assert reply.header("ETag") == f'"{current["version"]}"'
                    assert api.get(world.path(kind), world.user).json == current
        with subtests.test(f"{kind} PUT of the same resource"):
            writable = {
                k: v
                for k, v in current.items()
                if k not in {ID_FIELD[kind], "version", "createdAt", "updatedAt", "attachments"}
            }
            reply = api.put(world.path(kind), world.user, writable)
            assert reply.status == 200, reply.json
            assert reply.json == current
    pump.drain()
    assert probe.drain() == []
    # If-Match still guards a no-op: a stale version is 412, not a silent 200.
    stale = {"If-Match": '"99"'}
    assert api.patch(world.path("notes"), world.user, {}, headers=stale).status == 412
    # A real change after all that is one version up, and one event.
    changed = api.patch(world.path("notes"), world.user, {"title": "changed"})
    assert changed.json["version"] == world.note["version"] + 1
    pump.drain()
    assert [envelope["type"] for envelope, _ in probe.drain()] == ["note-updated"]


# ---- Idempotency-Key compares JSON --------------------------------------------------------


def test_an_idempotent_retry_may_differ_in_whitespace_and_key_order(api, world, subtests):
    for kind in KINDS:
        with subtests.test(kind):
            body = {
                **world.body(kind, " keyed"),
                **({"tags": ["a", "b"]} if kind == "notes" else {}),
            }
            key = {"Idempotency-Key": f"json-{kind}"}
            first = api.post(f"/{kind}", world.user, raw=json.dumps(body), headers=key)
            assert first.status == 201, first.json
            for raw in (
                json.dumps(body, indent=2),
                json.dumps(dict(reversed(list(body.items()))), separators=(",", ":")),
                "\n  " + json.dumps(body, sort_keys=True) + "\r\n",
                json.dumps(body, ensure_ascii=False).replace("keyed", "\\u006beyed"),
            ):
                again = api.post(f"/{kind}", world.user, raw=raw, headers=key)
                assert again.status == 201, again.json
                assert again.json == first.json
                assert again.header("Idempotent-Replayed") == "true"
            # Another value is still another request; so is another list order.
            other = {**body, **({"tags": ["b", "a"]} if kind == "notes" else {})}
            if kind != "notes":
                other = world.body(kind, " other")
            assert api.post(f"/{kind}", world.user, other, headers=key).status == 409


# ---- concurrent writes without If-Match -------------------------------------------------

CHANGE = {"projects": "description", "tasks": "notes", "notes": "body"}
WRITES = {"projects": "UpdateItem", "tasks": "TransactWriteItems", "notes": "PutItem"}
# A project's PATCH is one UpdateItem in place (issue 11): it never loses a race, so one
# rival lands before it and it lands right after.
RACES = {"projects": 1, "tasks": 6, "notes": 6}


def _service_update(kind: str):
    from chalicelib.notes import service as notes
    from chalicelib.projects import service as projects
    from chalicelib.tasks import service as tasks

    return {
        "projects": projects.update_project,
        "tasks": tasks.update_task,
        "notes": notes.update_note,
    }[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_a_patch_that_keeps_losing_races_still_lands(api, world, kind):
    """Another writer commits between this PATCH's read and its write, again and again
    (more often than the three attempts that used to end in 409)."""
    field, item_id = CHANGE[kind], world.item(kind)[ID_FIELD[kind]]
    snake = {"description": "description", "notes": "notes", "body": "body"}[field]
    races = RACES[kind]
    competing: list[int] = []
    busy = threading.Event()

    def compete(sender, operation_name, table_name, req_uuid):
        if operation_name != WRITES[kind] or busy.is_set() or len(competing) >= races:
            return
        busy.set()
        try:
            update = _service_update(kind)
            done = update(
                world.user.sub, item_id, {snake: f"other {len(competing)}"}, None, "rival"
            )
            competing.append(done.version)
        finally:
            busy.clear()

    pre_dynamodb_send.connect(compete)
    try:
        reply = api.patch(world.path(kind), world.user, {field: "mine"})
    finally:
        pre_dynamodb_send.disconnect(compete)
    assert len(competing) == races
    assert reply.status == 200, reply.json
    assert reply.json[field] == "mine"
    assert reply.json["version"] == world.item(kind)["version"] + races + 1
    assert api.get(world.path(kind), world.user).json == reply.json


@contextmanager
def concurrent_gateway(app: Any) -> Iterator[LocalGateway]:
    """Chalice's gateway, serving requests from many threads as chalice local does: the
    app's current_request becomes thread-local (LocalChalice) while it runs. The stage's
    variables are in the environment already (the `stack` fixture)."""
    original = app.__class__
    app.__class__ = type("ThreadedApp", (LocalChalice, original), {})
    try:
        yield LocalGateway(app, Config.create(chalice_stage="dev", app_name="tandem"))
    finally:
        app.__class__ = original


@pytest.mark.parametrize("kind", KINDS)
def test_parallel_patches_without_if_match_all_win(world, stack, kind):
    from app import app

    callers = 10
    field = CHANGE[kind]
    headers = {**world.user.auth, "Content-Type": "application/json"}
    start = threading.Barrier(callers)

    with concurrent_gateway(app) as gateway:

        def patch(n: int) -> tuple[int, Any]:
            body = json.dumps({field: f"caller {n}"}).encode()
            start.wait()
            reply = gateway.handle_request("PATCH", world.path(kind), dict(headers), body)
            return reply["statusCode"], json.loads(reply["body"])

        with ThreadPoolExecutor(callers) as pool:
            replies = list(pool.map(patch, range(callers)))

    assert [status for status, _ in replies] == [200] * callers, replies
    # Each caller saw its own change in its answer, at its own version.
    assert all(body[field] == f"caller {n}" for n, (_, body) in enumerate(replies))
    versions = sorted(body["version"] for _, body in replies)
    first = world.item(kind)["version"] + 1
    assert versions == list(range(first, first + callers))


def test_a_duplicate_while_the_first_still_runs_is_409_with_retry_after(api, alice):
    """The other 409: the same key and body while the first request has not answered."""
    key = {"Idempotency-Key": "slow-first"}
    duplicates: list[Any] = []

    def duplicate(sender, operation_name, table_name, req_uuid):
        if operation_name == "PutItem" and table_name.endswith("-projects") and not duplicates:
            duplicates.append(None)
            duplicates[0] = api.post("/projects", alice, {"name": "once"}, headers=key)

    pre_dynamodb_send.connect(duplicate)
    try:
        first = api.post("/projects", alice, {"name": "once"}, headers=key)
    finally:
        pre_dynamodb_send.disconnect(duplicate)
    assert first.status == 201, first.json
    (second,) = duplicates
    assert "still in progress" in problem(second, 409)["detail"]
    assert second.header("Retry-After") == "1"
    again = api.post("/projects", alice, {"name": "once"}, headers=key)
    assert (again.status, again.json) == (201, first.json)
    names = [p["name"] for p in api.get("/projects", alice).json["items"]]
    assert names.count("once") == 1


@pytest.mark.parametrize("if_match", [False, True])
def test_a_task_patch_that_keeps_meeting_other_transactions_still_lands(api, world, if_match):
    """DynamoDB cancels a transaction that meets another on the same item
    (TransactionConflict): ten parallel PATCHes of one task do. Nothing is known to have
    changed, so the PATCH is retried past transact_write's four attempts (was a 500)."""
    from tests.test_deletion import _inject_conflicts

    version = world.task["version"]
    headers = {"If-Match": f'"{version}"'} if if_match else {}
    conflicts, remove = _inject_conflicts(6)
    try:
        reply = api.patch(world.path("tasks"), world.user, {"notes": "mine"}, headers=headers)
    finally:
        remove()
    assert conflicts.answered == 6
    assert reply.status == 200, reply.json
    assert (reply.json["notes"], reply.json["version"]) == ("mine", version + 1)
