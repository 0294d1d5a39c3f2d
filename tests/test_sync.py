"""GET /sync and its change log, on moto in-process through the real handlers and the pump.

The two traps of issue 12 are tested here: a change that commits after a later one
(`test_a_change_committed_late_is_not_skipped`, `test_appends_interleaved_...`), and a
lagging secondary index (`test_sync_reads_no_index_and_only_consistently`).
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from pynamodb.connection.base import Connection as PynamoConnection
from pynamodb.signals import pre_dynamodb_send

from chalicelib.core.models import utcnow
from chalicelib.sync import cursor as cursors
from chalicelib.sync import log
from chalicelib.sync.log import Appended, Change
from chalicelib.sync.models import LogEntry
from devstack.infra import Context
from tests.conftest import Api, User
from tests.problems import problem

# ---- helpers ---------------------------------------------------------------------------


def sync_all(api: Api, user: User, cursor: str | None = None) -> tuple[dict[str, Any], str]:
    """Follows hasMore to the end: every page merged, and the last cursor."""
    merged: dict[str, Any] = {"projects": [], "tasks": [], "notes": [], "deleted": []}
    while True:
        path = "/sync" if cursor is None else f"/sync?cursor={cursor}"
        reply = api.get(path, user)
        assert reply.status == 200, reply.json
        page = reply.json
        for name in merged:
            merged[name].extend(page[name])
        cursor = page["cursor"]
        if not page["hasMore"]:
            return merged, cursor


def ids(items: list[dict[str, Any]], key: str) -> list[str]:
    return sorted(item[key] for item in items)


def entries_of(user: User) -> list[LogEntry]:
    return list(LogEntry.query(user.sub, LogEntry.entry_key.startswith("log#")))


def change(user: User, object_id: str, version: int, deleted: bool = False) -> Change:
    return Change(user.sub, "task", object_id, version, utcnow() if deleted else None)


# ---- the log ---------------------------------------------------------------------------


def test_one_entry_per_object_at_its_newest_version(stack: Context, alice: User) -> None:
    assert log.append(change(alice, "A", 1)) is Appended.NEW
    assert log.append(change(alice, "B", 1)) is Appended.NEW
    assert log.append(change(alice, "A", 3)) is Appended.NEW
    # Late, repeated and out-of-order events change nothing.
    assert log.append(change(alice, "A", 2)) is Appended.STALE
    assert log.append(change(alice, "A", 3)) is Appended.PRESENT
    entries = entries_of(alice)
    assert [(e.object_id, e.version, e.seq) for e in entries] == [("B", 1, 2), ("A", 3, 3)]


def test_appends_interleaved_with_a_reader_commit_in_seq_order(stack: Context, alice: User) -> None:
    """The adversarial interleaving: appender A reads the counter, B appends and a reader
    takes a cursor, then A tries to commit on the seq it read. A's condition fails, it
    retries on the next seq, and the reader's next read sees it: no entry can ever land
    below a seq someone has read past."""
    fired: list[str] = []

    def interleave(sender: Any, operation_name: str, table_name: str, req_uuid: str) -> None:
        if operation_name == "TransactWriteItems" and not fired:
            fired.append("B")
            pre_dynamodb_send.disconnect(interleave)
            log.append(change(alice, "B", 1))  # commits seq 1 while A holds seq 0
            seen.extend(e.object_id for e in entries_of(alice))

    seen: list[str] = []
    pre_dynamodb_send.connect(interleave)
    try:
        assert log.append(change(alice, "A", 1), sleep=lambda s: None) is Appended.NEW
    finally:
        pre_dynamodb_send.disconnect(interleave)
    assert fired
    assert seen == ["B"]
    assert [(e.object_id, e.seq) for e in entries_of(alice)] == [("B", 1), ("A", 2)]


def test_concurrent_appends_take_distinct_consecutive_seqs(stack: Context, alice: User) -> None:
    errors: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            for i in range(5):
                log.append(change(alice, f"T{n}-{i}", 1))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [e.seq for e in entries_of(alice)] == list(range(1, 21))


# ---- GET /sync -------------------------------------------------------------------------


def test_snapshot_then_changes_with_tombstones(
    api: Api, pump: Any, alice: User, bob: User, project_of: Any
) -> None:
    project = project_of(alice, name="Home")
    task = api.post("/tasks", alice, {"title": "t1", "projectId": project["projectId"]}).json
    gone = api.post("/tasks", alice, {"title": "t2", "projectId": project["projectId"]}).json
    note = api.post("/notes", alice, {"title": "n", "taskId": task["taskId"]}).json
    assert api.delete(f"/tasks/{gone['taskId']}", alice).status == 204
    project_of(bob)  # someone else's
    pump.drain()

    snapshot, cursor = sync_all(api, alice)
    assert snapshot["projects"] == [api.get(f"/projects/{project['projectId']}", alice).json]
    assert snapshot["tasks"] == [api.get(f"/tasks/{task['taskId']}", alice).json]
    assert snapshot["notes"] == [api.get(f"/notes/{note['noteId']}", alice).json]
    assert snapshot["deleted"] == []  # a first sync has nothing to delete

    quiet, cursor = sync_all(api, alice, cursor)
    assert quiet == {"projects": [], "tasks": [], "notes": [], "deleted": []}

    assert api.patch(f"/tasks/{task['taskId']}", alice, {"title": "t1'"}).status == 200
    assert api.patch(f"/tasks/{task['taskId']}", alice, {"title": "t1''"}).status == 200
    assert api.delete(f"/notes/{note['noteId']}", alice).status == 204
    pump.drain()
    delta, cursor = sync_all(api, alice, cursor)
    assert [t["title"] for t in delta["tasks"]] == ["t1''"]  # once, at its latest version
    assert delta["tasks"][0]["version"] == 3
    [tombstone] = delta["deleted"]
    assert {k: tombstone[k] for k in ("type", "id", "version")} == {
        "type": "note",
        "id": note["noteId"],
        "version": 2,
    }
    assert tombstone["deletedAt"].endswith("Z")
    assert sync_all(api, bob)[0]["projects"][0]["projectId"] != project["projectId"]


def test_a_change_committed_late_is_not_skipped(
    api: Api, pump: Any, alice: User, project_of: Any
) -> None:
    """Trap 1: X is written before Y, but Y reaches the log (and the client syncs) first.
    A timestamp cursor taken after Y would skip X (X's updatedAt is older); a seq cursor
    cannot, because X's entry is allocated a seq only when it is logged."""
    project = project_of(alice)
    pump.drain()
    _, cursor = sync_all(api, alice)
    x = api.post("/tasks", alice, {"title": "X", "projectId": project["projectId"]}).json
    y = api.post("/tasks", alice, {"title": "Y", "projectId": project["projectId"]}).json
    # Y is logged, X not yet (its event is late).
    log.append(Change(alice.sub, "task", y["taskId"], 1, None))
    first, cursor = sync_all(api, alice, cursor)
    assert ids(first["tasks"], "taskId") == [y["taskId"]]
    pump.drain()  # now X's event arrives (and Y's again)
    second, _ = sync_all(api, alice, cursor)
    assert ids(second["tasks"], "taskId") == [x["taskId"]]


def test_sync_reads_no_index_and_only_consistently(
    aws: Any,
    api: Api,
    pump: Any,
    alice: User,
    project_of: Any,
    stack: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Trap 2: nothing GET /sync reads can lag. Every read it sends is a strongly
    consistent GetItem, Query or BatchGetItem on a table, never on an index, and the
    sync table has no index at all."""
    project = project_of(alice)
    task = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]}).json
    api.post("/notes", alice, {"title": "n", "taskId": task["taskId"]})
    pump.drain()
    # A pass-through spy on PynamoDB's one door to DynamoDB: what each request asked.
    seen: list[dict[str, Any]] = []
    original = PynamoConnection.dispatch

    def dispatch(self: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        seen.append({"operation": operation_name, **operation_kwargs})
        return original(self, operation_name, operation_kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(PynamoConnection, "dispatch", dispatch)
        reply = api.get("/sync", alice)
    assert reply.status == 200
    assert reply.json["notes"]
    operations = {call["operation"] for call in seen}
    assert operations <= {"GetItem", "Query", "BatchGetItem"}, operations
    for call in seen:
        assert "IndexName" not in call
        if call["operation"] == "BatchGetItem":
            assert all(keys.get("ConsistentRead") for keys in call["RequestItems"].values())
        else:
            assert call.get("ConsistentRead") is True, call
    tables = aws.client("dynamodb").describe_table(TableName=stack.names["SyncTable"])["Table"]
    assert not tables.get("GlobalSecondaryIndexes")
    assert not tables.get("LocalSecondaryIndexes")


def test_cascaded_deletions_reach_the_log(
    api: Api, pump: Any, alice: User, project_of: Any
) -> None:
    project = project_of(alice)
    tasks = [
        api.post("/tasks", alice, {"title": f"t{i}", "projectId": project["projectId"]}).json
        for i in range(3)
    ]
    note = api.post("/notes", alice, {"title": "n", "projectId": project["projectId"]}).json
    pump.drain()
    _, cursor = sync_all(api, alice)
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    pump.drain()
    delta, _ = sync_all(api, alice, cursor)
    deleted = {(d["type"], d["id"]) for d in delta["deleted"]}
    assert deleted == {("project", project["projectId"])} | {("task", t["taskId"]) for t in tasks}
    # The note is unlinked by its cascade: a new version, logged like any write.
    [unlinked] = delta["notes"]
    assert unlinked["noteId"] == note["noteId"]
    assert unlinked["projectId"] is None
    assert unlinked["version"] == 2


def test_paging_bounds_each_answer_and_loses_nothing(
    api: Api, pump: Any, alice: User, project_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_SYNC_PAGE_ENTRIES", "3")
    made = [project_of(alice, name=f"p{i}")["projectId"] for i in range(8)]
    pump.drain()
    first = api.get("/sync", alice).json
    assert len(first["projects"]) == 3
    assert first["hasMore"] is True
    # A write between pages: the object moves to the end of the log and comes again.
    api.patch(f"/projects/{made[0]}", alice, {"name": "renamed"})
    pump.drain()
    rest, _ = sync_all(api, alice, first["cursor"])
    seen = first["projects"] + rest["projects"]
    assert sorted({p["projectId"] for p in seen}) == sorted(made)
    latest = {p["projectId"]: p for p in seen}  # later pages win, as a client applies them
    assert latest[made[0]]["name"] == "renamed"


# ---- cursors and retention ---------------------------------------------------------------


def _forge(token: str, **changes: Any) -> str:
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload.update(changes)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_an_expired_cursor_is_410_then_a_resync_converges(
    api: Api, pump: Any, alice: User, project_of: Any
) -> None:
    project = project_of(alice)
    pump.drain()
    _, cursor = sync_all(api, alice)
    api.patch(f"/projects/{project['projectId']}", alice, {"name": "later"})
    pump.drain()
    old = int((utcnow() - timedelta(days=29, minutes=1)).timestamp())
    reply = api.get(f"/sync?cursor={_forge(cursor, t=old)}", alice)
    assert problem(reply, 410)["type"].endswith(":sync-cursor-expired")
    # Valid a minute short of the retention minus the margin.
    young = int((utcnow() - timedelta(days=28, hours=23)).timestamp())
    assert api.get(f"/sync?cursor={_forge(cursor, t=young)}", alice).status == 200
    # The client starts over and ends with the server's state.
    replica, _ = sync_all(api, alice)
    assert replica["projects"] == api.get("/projects", alice).json["items"]


@pytest.mark.parametrize(
    "bad",
    ["", "x", "e30", "not base64!", "A" * 300],
)
def test_a_malformed_cursor_is_400(api: Api, alice: User, stack: Context, bad: str) -> None:
    reply = api.get(f"/sync?cursor={bad}", alice)
    assert reply.status == 400


def test_a_cursor_of_another_user_or_from_the_future_is_400(
    api: Api, pump: Any, alice: User, bob: User, project_of: Any
) -> None:
    project_of(alice)
    pump.drain()
    _, cursor = sync_all(api, alice)
    assert api.get(f"/sync?cursor={cursor}", bob).status == 400
    future = int((utcnow() + timedelta(hours=1)).timestamp())
    assert api.get(f"/sync?cursor={_forge(cursor, t=future)}", alice).status == 400
    # Past the end of the log: the log it was made for is gone.
    gone = problem(api.get(f"/sync?cursor={_forge(cursor, s=10**6)}", alice), 410)
    assert gone["type"].endswith(":sync-cursor-expired")


def test_cursor_time_is_the_first_unseen_entry_when_more_is_left(
    api: Api, pump: Any, alice: User, project_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cursor is valid as long as the entries after it are kept: when it stops before
    the end, its time is when the first entry it has not seen was logged."""
    monkeypatch.setenv("TANDEM_SYNC_PAGE_ENTRIES", "1")
    project_of(alice)
    project_of(alice)
    pump.drain()
    page = api.get("/sync", alice).json
    assert page["hasMore"]
    decoded = cursors.decode(alice.sub, page["cursor"], utcnow(), log.retention())
    second = entries_of(alice)[1]
    assert int(decoded.since.timestamp()) == int(second.logged_at.timestamp())


def test_sync_needs_a_token_and_rejects_unknown_parameters(api: Api, alice: User) -> None:
    assert api.get("/sync").status == 401
    reply = api.get("/sync?limit=5", alice)
    assert reply.status == 400


# ---- housekeeping ------------------------------------------------------------------------


def test_purge_removes_only_what_expired_and_erasure_removes_everything(
    api: Api, pump: Any, alice: User, bob: User, project_of: Any
) -> None:
    from chalicelib.sync import maintenance

    kept, gone = project_of(alice), project_of(alice)
    project_of(bob)
    api.delete(f"/projects/{gone['projectId']}", alice)
    pump.drain()
    _, cursor = sync_all(api, alice)
    assert maintenance.purge_expired(alice.sub).removed == 0
    # The deletion's entry and pointer expire after the retention.
    for item in LogEntry.query(alice.sub):
        if item.expires_at is not None:
            item.update(actions=[LogEntry.expires_at.set(utcnow() - timedelta(seconds=1))])
    assert maintenance.purge_expired(alice.sub).removed == 2
    snapshot, _ = sync_all(api, alice)
    assert ids(snapshot["projects"], "projectId") == [kept["projectId"]]

    first = maintenance.delete_user_log(alice.sub, max_items=2)
    assert first == maintenance.Round(2, finished=False)
    while not maintenance.delete_user_log(alice.sub).finished:
        pass
    assert list(LogEntry.query(alice.sub)) == []
    gone_log = problem(api.get(f"/sync?cursor={cursor}", alice), 410)
    assert gone_log["type"].endswith(":sync-cursor-expired")
    assert sync_all(api, bob)[0]["projects"]  # bob's log is untouched


def test_the_backfill_logs_what_was_written_before_the_log(
    api: Api, alice: User, project_of: Any
) -> None:
    """No pump runs: the objects exist, their events never reached the log."""
    from chalicelib.sync.backfill import Position, backfill_page

    project = project_of(alice)
    task = api.post("/tasks", alice, {"title": "old", "projectId": project["projectId"]}).json
    note = api.post("/notes", alice, {"title": "old"}).json
    assert sync_all(api, alice)[0]["tasks"] == []
    at: Position | None = Position()
    pages = 0
    while at is not None:
        _, at = backfill_page(alice.sub, at, limit=1)
        pages += 1
    snapshot, _ = sync_all(api, alice)
    assert ids(snapshot["projects"], "projectId") == [project["projectId"]]
    assert ids(snapshot["tasks"], "taskId") == [task["taskId"]]
    assert ids(snapshot["notes"], "noteId") == [note["noteId"]]
    # Again: nothing new (idempotent).
    assert backfill_page(alice.sub, Position("task"))[0] == 0
