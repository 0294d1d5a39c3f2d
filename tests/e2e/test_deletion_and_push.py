"""End to end over HTTP against `python -m devstack` on free ports: deletion is immediate
for concurrent clients, nothing acknowledged is undone, and project changes are pushed."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.e2e.test_local_stack import (
    PUMP_TIMEOUT,
    SEED_TASK,
    Account,
    call,
    create_project,
    pushes_until,
    sign_up_and_in,
    websocket,
)

# The pump works through every earlier change first; on a loaded machine (2 shared cores)
# that takes longer than the other module's PUMP_TIMEOUT. Still a bound.
SETTLE_TIMEOUT = 3 * PUMP_TIMEOUT


@pytest.fixture(scope="module")
def carol(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "carol@example.com")


def test_project_changes_are_pushed(contract: dict[str, str], carol: Account) -> None:
    with websocket(contract, carol.id_token) as socket:
        project = create_project(contract, carol, "Pushed")
        pid = project["projectId"]

        def push_of(version: int) -> Any:
            return lambda m: m.get("id") == pid and m.get("version") == version

        assert pushes_until(socket, push_of(1), SETTLE_TIMEOUT)[-1] == {
            "type": "changed",
            "resource": "project",
            "id": pid,
            "version": 1,
        }
        path = f"/projects/{pid}"
        assert call(contract, "PATCH", path, carol.id_token, {"name": "Renamed"}).status == 200
        assert pushes_until(socket, push_of(2), SETTLE_TIMEOUT)[-1]["type"] == "changed"
        assert call(contract, "DELETE", path, carol.id_token).status == 204
        assert pushes_until(socket, push_of(3), SETTLE_TIMEOUT)[-1] == {
            "type": "deleted",
            "resource": "project",
            "id": pid,
            "version": 3,
        }


def wait_until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen in {SETTLE_TIMEOUT} s"
        time.sleep(0.2)


def dynamodb(contract: dict[str, str]) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def stored(contract: dict[str, str], table: str, user: Account, key: str, item_id: str) -> Any:
    return (
        dynamodb(contract)
        .get_item(
            TableName=f"tandem-local-{table}",
            Key={"userId": {"S": user.sub}, key: {"S": item_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )


def live_tasks_in(contract: dict[str, str], user: Account, project_id: str) -> list[Any]:
    items = dynamodb(contract).query(
        TableName="tandem-local-tasks",
        KeyConditionExpression="userId = :u",
        FilterExpression="projectId = :p AND attribute_not_exists(deletedAt)",
        ExpressionAttributeValues={":u": {"S": user.sub}, ":p": {"S": project_id}},
        ConsistentRead=True,
    )["Items"]
    return list(items)


# ---- notes: unlinked at once, then stored, published and pushed --------------------------


def probe_queue(contract: dict[str, str], topic_suffix: str) -> tuple[Any, str]:
    """An SQS queue of the local AWS subscribed, unfiltered, to one of the stack's topics."""
    session = {
        "endpoint_url": contract["awsEndpoint"],
        "region_name": contract["region"],
        "aws_access_key_id": "e2e",
        "aws_secret_access_key": "e2e",
    }
    sqs, sns = boto3.client("sqs", **session), boto3.client("sns", **session)
    url = sqs.create_queue(QueueName=f"e2e-probe-{topic_suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    (topic,) = [
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(topic_suffix)
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return sqs, url


def test_notes_are_unlinked_at_once_then_stored_published_and_pushed(
    contract: dict[str, str],
) -> None:
    erin = sign_up_and_in(contract, "erin@example.com")
    token = erin.id_token
    doomed = create_project(contract, erin, "Doomed")["projectId"]
    kept = create_project(contract, erin, "Kept")["projectId"]

    def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = call(contract, "POST", path, token, body)
        assert reply.status == 201, reply.json
        result: dict[str, Any] = reply.json
        return result

    task = created("/tasks", {**SEED_TASK, "projectId": doomed})
    lone = created("/tasks", {**SEED_TASK, "projectId": kept})
    both = created("/notes", {"title": "a", "projectId": doomed, "taskId": task["taskId"]})
    by_lone = created("/notes", {"title": "b", "taskId": lone["taskId"]})
    sqs, probe = probe_queue(contract, "-notes")

    with websocket(contract, token) as socket:
        assert call(contract, "DELETE", f"/projects/{doomed}", token).status == 204
        assert call(contract, "DELETE", f"/tasks/{lone['taskId']}", token).status == 204

        # At once: the links read as null, and lists by the deleted targets are empty.
        read = call(contract, "GET", f"/notes/{both['noteId']}", token).json
        assert (read["projectId"], read["taskId"], read["version"]) == (None, None, 1)
        read = call(contract, "GET", f"/notes/{by_lone['noteId']}", token).json
        assert (read["taskId"], read["version"]) == (None, 1)
        for query in (
            f"projectId={doomed}",
            f"taskId={task['taskId']}",
            f"taskId={lone['taskId']}",
        ):
            listed = call(contract, "GET", f"/notes?{query}", token).json
            assert listed == {"items": [], "nextCursor": None}, query

        # Then the cascade stores it: a new version per cleared link, and a push of each.
        wanted = {(both["noteId"], 2), (both["noteId"], 3), (by_lone["noteId"], 2)}
        seen: set[tuple[Any, Any]] = set()

        def all_pushed(message: dict[str, Any]) -> bool:
            if message.get("resource") == "note":
                assert message["type"] == "changed", message  # never deleted
                seen.add((message["id"], message["version"]))
            return wanted <= seen

        pushes_until(socket, all_pushed, SETTLE_TIMEOUT)

    for note, version in ((both, 3), (by_lone, 2)):
        item = stored(contract, "notes", erin, "noteId", note["noteId"])
        assert item["version"] == {"N": str(version)}
        assert not {"projectId", "taskId", "projectKey", "taskKey"} & set(item)
        assert "deletedAt" not in item  # never deleted

    events: dict[tuple[str, int], Any] = {}

    def collect() -> bool:
        for message in sqs.receive_message(QueueUrl=probe, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            envelope = json.loads(message["Body"])
            events[(envelope["subject"]["id"], envelope["subject"]["version"])] = envelope
        return {(both["noteId"], 3), (by_lone["noteId"], 2)} <= set(events)

    wait_until(collect, "the note-updated events")
    assert events[(both["noteId"], 3)]["type"] == "note-updated"
    assert events[(by_lone["noteId"], 2)]["data"]["taskId"] is None


# ---- deletion under concurrent clients ------------------------------------------------

CLIENTS = 6
# Bounds: each client stops after this many requests or once the run is over. The run
# deletes the project once every client has made a round of requests, and ends once every
# client has made a full round of its six operations after the 204 (or at the deadline).
MAX_REQUESTS_PER_CLIENT = 60
OPS_PER_ROUND = 6


@dataclass
class Outcome:
    op: str
    task_id: str | None
    sent: float
    status: int
    body: Any


def test_deletion_is_immediate_for_concurrent_clients_and_undoes_no_2xx(
    contract: dict[str, str],
) -> None:
    dave = sign_up_and_in(contract, "dave@example.com")
    token = dave.id_token
    doomed = create_project(contract, dave, "Doomed")["projectId"]
    kept = create_project(contract, dave, "Kept")["projectId"]

    def new_task(project_id: str, title: str) -> str:
        body = {**SEED_TASK, "title": title, "projectId": project_id}
        reply = call(contract, "POST", "/tasks", token, body)
        assert reply.status == 201, reply.json
        task_id: str = reply.json["taskId"]
        return task_id

    # Separate pools, so that every acknowledged write has one expected fate: tasks that
    # are only moved out of the doomed project, only moved into it, or only edited in it.
    leaving = [new_task(doomed, f"out{i}") for i in range(CLIENTS * 4)]
    arriving = [new_task(kept, f"in{i}") for i in range(CLIENTS * 4)]
    staying = [new_task(doomed, f"stay{i}") for i in range(CLIENTS)]
    pools = {"leaving": iter(leaving), "arriving": iter(arriving)}
    pool_lock = threading.Lock()

    def take(pool: str) -> str | None:
        with pool_lock:
            return next(pools[pool], None)

    outcomes: list[Outcome] = []
    outcomes_lock = threading.Lock()
    deleted_at: list[float] = []
    over = threading.Event()

    def client(number: int) -> None:
        ops = itertools.cycle(["create", "move-out", "move-in", "edit", "read", "list"])
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if over.is_set():
                return
            op = next(ops)
            task_id: str | None = None
            sent = time.monotonic()
            if op == "create":
                reply = call(
                    contract,
                    "POST",
                    "/tasks",
                    token,
                    {**SEED_TASK, "title": f"c{number}-{n}", "projectId": doomed},
                )
            elif op in ("move-out", "move-in"):
                task_id = take("leaving" if op == "move-out" else "arriving")
                if task_id is None:
                    continue
                target = kept if op == "move-out" else doomed
                reply = call(contract, "PATCH", f"/tasks/{task_id}", token, {"projectId": target})
            elif op == "edit":
                task_id = staying[number]
                reply = call(contract, "PATCH", f"/tasks/{task_id}", token, {"title": f"e{n}"})
            elif op == "read":
                task_id = staying[(number + 1) % CLIENTS]
                reply = call(contract, "GET", f"/tasks/{task_id}", token)
            else:
                reply = call(contract, "GET", f"/tasks?projectId={doomed}", token)
            with outcomes_lock:
                outcomes.append(Outcome(op, task_id, sent, reply.status, reply.json))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()

    def sent_since(moment: float) -> bool:
        with outcomes_lock:
            per_client = [o for o in outcomes if o.sent > moment]
        return len(per_client) >= CLIENTS * OPS_PER_ROUND

    wait_until(lambda: sent_since(0.0), "a round of requests before the deletion")
    deletion = call(contract, "DELETE", f"/projects/{doomed}", token)
    assert deletion.status == 204, deletion.json
    deleted_at.append(time.monotonic())
    wait_until(lambda: sent_since(deleted_at[0]), "a round of requests after the deletion")
    over.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    answered = deleted_at[0]

    after = [o for o in outcomes if o.sent > answered]
    before = [o for o in outcomes if o.sent <= answered]
    # (The move pools may run dry; every other operation runs after the 204.)
    assert {o.op for o in after} >= {"create", "edit", "read", "list"}, after
    assert all(o.status < 500 for o in outcomes), [o for o in outcomes if o.status >= 500]
    # From the 204 on: no write into the project, its tasks are 404, its list is empty.
    expected_after = {
        "create": {422},
        "move-in": {422},
        "move-out": {404},
        "edit": {404},
        "read": {404},
        "list": {200},
    }
    wrong = [o for o in after if o.status not in expected_after[o.op]]
    assert wrong == [], wrong
    assert all(o.body["items"] == [] for o in after if o.op == "list")
    # Before it, everything succeeded (a write racing the deletion may be refused instead).
    assert all(o.status in (200, 201, 404, 422) for o in before)
    assert any(o.status in (200, 201) for o in before if o.op != "read" and o.op != "list")

    # The pump runs the cascade: no task outlives its project ...
    wait_until(lambda: live_tasks_in(contract, dave, doomed) == [], "the cascade")
    # ... and no acknowledged write is undone. A task moved out is still there, at the
    # version it was acknowledged with or later.
    for o in before + after:
        if o.op == "move-out" and o.status == 200:
            reply = call(contract, "GET", f"/tasks/{o.task_id}", token)
            assert reply.status == 200, (o, reply.json)
            assert reply.json["projectId"] == kept
            assert reply.json["version"] >= o.body["version"]
    # A write that put a task in the doomed project was acknowledged only if it was sent
    # before the deletion answered, and it was the deletion that removed it afterwards.
    placed = [
        o for o in outcomes if o.status in (200, 201) and o.op in ("create", "move-in", "edit")
    ]
    assert placed, "no write into the project was acknowledged before its deletion"
    for o in placed:
        assert o.sent <= answered, o
        task_id = o.task_id or o.body["taskId"]
        item = stored(contract, "tasks", dave, "taskId", task_id)
        assert "deletedAt" in item, (o, item)
        assert int(item["version"]["N"]) > o.body["version"]  # the tombstone came after


def test_offline_commands_over_http_and_a_push_means_sync_has_the_change(
    contract: dict[str, str], carol: Account
) -> None:
    """POST /sync applies an offline batch (a task in a project created in the same
    batch); the push of each change comes only once GET /sync can return it."""

    def sync(cursor: str | None) -> tuple[dict[str, list[Any]], str]:
        merged: dict[str, list[Any]] = {"projects": [], "tasks": [], "notes": [], "deleted": []}
        while True:
            reply = call(
                contract, "GET", "/sync" + (f"?cursor={cursor}" if cursor else ""), carol.id_token
            )
            assert reply.status == 200, reply.raw
            for name in merged:
                merged[name] += reply.json[name]
            cursor = reply.json["cursor"]
            if not reply.json["hasMore"]:
                return merged, cursor

    _, cursor = sync(None)
    batch = {
        "commands": [
            {
                "commandId": "e2e-1",
                "type": "create",
                "resource": "project",
                "tempId": "p",
                "fields": {"name": "From the plane"},
            },
            {
                "commandId": "e2e-2",
                "type": "create",
                "resource": "task",
                "tempId": "t",
                "fields": {"title": "Unpack", "projectId": "p"},
            },
        ]
    }
    with websocket(contract, carol.id_token) as socket:
        reply = call(contract, "POST", "/sync", carol.id_token, batch)
        assert reply.status == 200, reply.raw
        assert [r["status"] for r in reply.json["results"]] == ["ok", "ok"]
        task_id = reply.json["idMap"]["t"]
        pushes_until(socket, lambda m: m.get("id") == task_id, SETTLE_TIMEOUT)
        # At the moment of the push, the change is in the log.
        changes, _ = sync(cursor)
    assert [t["taskId"] for t in changes["tasks"]] == [task_id]
    assert changes["tasks"][0]["projectId"] == reply.json["idMap"]["p"]
    replay = call(contract, "POST", "/sync", carol.id_token, batch)
    assert replay.json == reply.json
