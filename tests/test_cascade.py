"""Cascade delete at any size: bounded rounds, throttling, and the create/delete race."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest
from pynamodb.signals import pre_dynamodb_send

from chalicelib.core import wiring
from chalicelib.tasks.cascade import tombstone_project_tasks
from chalicelib.tasks.models import Task
from tests.events_support import ThrottledDynamoDB, live_tasks_of, project_record


def seed_tasks(aws, stack, user_id, project_id, count):
    """Writes `count` live tasks straight into the table: the cascade is under test here,
    not 10,000 POSTs."""
    from ulid import ULID

    dynamodb = aws.client("dynamodb")
    now = datetime.now(UTC)
    requests = []
    for i in range(count):
        task = Task(
            user_id,
            str(ULID()),
            project_id=project_id,
            title=f"t{i}",
            status="Active",
            is_completed=False,
            version=1,
            created_at=now,
            updated_at=now,
            request_id="seed",
        )
        task.refresh_index_keys()
        requests.append({"PutRequest": {"Item": task.serialize()}})
    for start in range(0, count, 25):
        dynamodb.batch_write_item(
            RequestItems={stack.names["TasksTable"]: requests[start : start + 25]}
        )


def test_ten_thousand_tasks_with_throttling(api, alice, pump, aws, stack, monkeypatch, capsys):
    bound = 2_000
    monkeypatch.setenv("TANDEM_CASCADE_MAX_TASKS", str(bound))
    project = api.post("/projects", alice, {"name": "big"}).json
    api.post("/tasks", alice, {"title": "first", "projectId": project["projectId"]})
    seed_tasks(aws, stack, alice.sub, project["projectId"], 9_999)
    other = api.post("/projects", alice, {"name": "other"}).json
    keeper = api.post("/tasks", alice, {"title": "keep", "projectId": other["projectId"]}).json
    # Only the project side runs here: publishing 10,000 task-deleted events through moto
    # would test moto's speed, not the cascade.
    pump.streams = [s for s in pump.streams if s.function == "publish_project_changes"]
    pump.drain()

    throttled = ThrottledDynamoDB(aws.client("dynamodb"), every=10, left_over=7)
    wiring.override("aws.dynamodb", throttled)
    rounds = []
    real_invoke = pump.invoke

    def counting(name, event):
        calls, written = throttled.batch_write_calls, throttled.written_items
        result = real_invoke(name, event)
        if name == "on_project_deleted":
            rounds.append((throttled.written_items - written, throttled.batch_write_calls - calls))
        return result

    pump.invoke = counting
    started = time.perf_counter()
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    pump.drain()
    elapsed = time.perf_counter() - started

    assert live_tasks_of(aws, stack, alice, project["projectId"]) == []
    assert api.get(f"/tasks/{keeper['taskId']}", alice).status == 200
    assert project_record(aws, stack, alice, project["projectId"])["state"] == {"S": "deleted"}
    assert throttled.unprocessed_items > 0  # the retry path really ran
    assert all(tombstoned <= bound for tombstoned, _ in rounds)
    assert throttled.batch_write_calls <= 1.1 * math.ceil(10_000 / 25)
    assert max(throttled.sizes) == 25
    # 5 full rounds and one sweep that finds nothing.
    assert [t for t, _ in rounds] == [2_000] * 5 + [0]
    with capsys.disabled():
        print(
            f"\ncascade of 10,000 tasks: {throttled.batch_write_calls} BatchWriteItem calls "
            f"({throttled.unprocessed_items} items left unprocessed and retried), "
            f"{len(rounds)} invocations {[c for _, c in rounds]}, {elapsed:.1f}s under moto"
        )


def test_a_round_stops_when_time_runs_out(alice, aws, stack):
    seed_tasks(aws, stack, alice.sub, "01JPR0JECT0000000000000009", 60)
    clock = iter(range(100, 0, -1))  # one second less each time it is asked
    outcome = tombstone_project_tasks(
        alice.sub,
        "01JPR0JECT0000000000000009",
        "corr",
        max_tasks=1_000,
        seconds_left=lambda: float(next(clock)),
        time_margin=60,
    )
    assert outcome.finished is False
    assert outcome.tombstoned == 41  # 100 s .. 60 s left: it stops below the margin
    again = tombstone_project_tasks(
        alice.sub,
        "01JPR0JECT0000000000000009",
        "corr",
        max_tasks=1_000,
        seconds_left=lambda: 100.0,
        time_margin=60,
    )
    assert (again.tombstoned, again.finished) == (19, True)


def test_a_redelivered_round_resumes_where_tasks_remain(alice, aws, stack):
    seed_tasks(aws, stack, alice.sub, "01JPR0JECT0000000000000008", 30)

    def one_round():
        return tombstone_project_tasks(
            alice.sub,
            "01JPR0JECT0000000000000008",
            "c",
            max_tasks=20,
            seconds_left=lambda: 100.0,
            time_margin=1,
        )

    first, second, third = one_round(), one_round(), one_round()
    assert [(o.tombstoned, o.finished) for o in (first, second, third)] == [
        (20, False),
        (10, True),
        (0, True),
    ]


def test_a_task_created_while_its_project_is_deleted_does_not_survive(
    api, alice, pump, aws, stack, project_of
):
    """The race: POST /tasks has checked the record (live) and is about to commit when the
    project-deleted event tombstones the record and runs the cascade. The transaction's
    ConditionCheck on the tombstoned record cancels the create."""
    project = project_of(alice)
    api.post("/tasks", alice, {"title": "before", "projectId": project["projectId"]})
    pump.drain()
    fired: list[bool] = []

    def delete_project_now(sender, operation_name, table_name, req_uuid):
        if operation_name == "TransactWriteItems" and not fired:
            fired.append(True)
            from chalicelib.projects import service as projects

            projects.delete_project(alice.sub, project["projectId"], None, "race")
            pump.drain()

    pre_dynamodb_send.connect(delete_project_now)
    try:
        reply = api.post("/tasks", alice, {"title": "racer", "projectId": project["projectId"]})
    finally:
        pre_dynamodb_send.disconnect(delete_project_now)
    assert fired
    assert reply.status == 422
    pump.drain()
    assert live_tasks_of(aws, stack, alice, project["projectId"]) == []


@pytest.mark.parametrize("moved", [False, True])
def test_no_update_lands_in_a_project_whose_cascade_began(
    api, alice, pump, aws, stack, project_of, moved
):
    doomed, safe = project_of(alice), project_of(alice)
    home = safe if moved else doomed
    task = api.post("/tasks", alice, {"title": "t", "projectId": home["projectId"]}).json
    pump.drain()
    fired: list[bool] = []

    def delete_doomed(sender, operation_name, table_name, req_uuid):
        if operation_name == "TransactWriteItems" and not fired:
            fired.append(True)
            from chalicelib.projects import service as projects

            projects.delete_project(alice.sub, doomed["projectId"], None, "race")
            pump.drain()

    patch = {"projectId": doomed["projectId"]} if moved else {"title": "edited"}
    pre_dynamodb_send.connect(delete_doomed)
    try:
        reply = api.patch(f"/tasks/{task['taskId']}", alice, patch)
    finally:
        pre_dynamodb_send.disconnect(delete_doomed)
    assert fired
    assert reply.status == (422 if moved else 404)
    assert live_tasks_of(aws, stack, alice, doomed["projectId"]) == []
    if moved:
        assert api.get(f"/tasks/{task['taskId']}", alice).json["projectId"] == safe["projectId"]
