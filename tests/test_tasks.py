"""Tasks routes, the project reference rule and the Tasks service's record of projects."""

from __future__ import annotations

import pytest

from chalicelib.tasks import service as tasks_service
from tests.events_support import project_record

SEED = {
    "title": "My Task",
    "status": "Active",
    "targetDate": None,
    "startDate": None,
    "isCompleted": False,
}


@pytest.fixture
def task_of(api, project_of):
    def make(user, project=None, **fields):
        project = project or project_of(user)
        reply = api.post(
            "/tasks", user, {"title": "t", "projectId": project["projectId"], **fields}
        )
        assert reply.status == 201, reply.json
        return reply.json

    return make


def test_the_original_clients_body_is_accepted_verbatim(api, alice, project_of):
    project = project_of(alice)
    reply = api.post("/tasks", alice, {**SEED, "projectId": project["projectId"]})
    assert reply.status == 201
    body = reply.json
    assert {k: body[k] for k in SEED} == SEED
    assert body["projectId"] == project["projectId"]
    assert body["notes"] is None
    assert body["priority"] is None
    assert body["version"] == 1
    assert reply.header("ETag") == '"1"'
    assert reply.header("Location") == f"/tasks/{body['taskId']}"
    assert api.get(f"/tasks/{body['taskId']}", alice).json == body


def test_defaults_and_every_field(api, alice, project_of):
    project = project_of(alice)
    minimal = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]}).json
    assert minimal["status"] == "Active"
    assert minimal["isCompleted"] is False
    assert minimal["targetDate"] is None
    full = {
        "title": "Write",
        "projectId": project["projectId"],
        "status": "Blocked",
        "startDate": "2026-11-01",
        "targetDate": "2026-11-30",
        "isCompleted": True,
        "notes": "n" * 10_000,
        "priority": 4,
    }
    reply = api.post("/tasks", alice, full)
    assert reply.status == 201
    assert {k: reply.json[k] for k in full} == full


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"status": "Doing"}, "status"),
        ({"status": None}, "status"),
        ({"targetDate": "2026-13-01"}, "targetDate"),
        ({"targetDate": "22/11/2026"}, "targetDate"),
        ({"startDate": "2026-11-22T10:00:00Z"}, "startDate"),
        ({"startDate": "2026-12-01", "targetDate": "2026-11-01"}, "startDate"),
        ({"isCompleted": 1}, "isCompleted"),
        ({"isCompleted": "false"}, "isCompleted"),
        ({"isCompleted": None}, "isCompleted"),
        ({"priority": 5}, "priority"),
        ({"priority": -1}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"priority": "2"}, "priority"),
        ({"priority": True}, "priority"),
        ({"notes": "n" * 10_001}, "notes"),
        ({"projectId": 42}, "projectId"),
        ({"assignee": "x"}, "assignee"),
        ({"taskId": "01J00000000000000000000000"}, "taskId"),
        ({"userId": "x"}, "userId"),
        ({"updatedAt": "2026-11-22T10:00:00Z"}, "updatedAt"),
    ],
)
def test_create_validates_field_by_field(api, alice, project_of, patch, field):
    project = project_of(alice)
    body = {"title": "t", "projectId": project["projectId"], **patch}
    reply = api.post("/tasks", alice, body)
    assert reply.status == 400, reply.json
    assert field in reply.json["errors"]
    assert api.get("/tasks", alice).json["items"] == []


def test_project_id_is_required(api, alice):
    reply = api.post("/tasks", alice, {"title": "t"})
    assert reply.status == 400
    assert "projectId" in reply.json["errors"]


@pytest.mark.parametrize("project_id", ["01J00000000000000000000000", "nope", "x" * 64])
def test_unknown_project_is_422(api, alice, project_id):
    reply = api.post("/tasks", alice, {"title": "t", "projectId": project_id})
    assert reply.status == 422
    assert reply.json["type"].endswith("unprocessable-reference")
    assert "projectId" in reply.json["errors"]


def test_another_users_project_is_422_and_leaves_no_record(api, alice, bob, project_of, aws, stack):
    project = project_of(alice)
    reply = api.post("/tasks", bob, {"title": "t", "projectId": project["projectId"]})
    assert reply.status == 422
    assert project_record(aws, stack, bob, project["projectId"]) is None
    assert api.get("/tasks", bob).json["items"] == []


def test_a_deleted_project_is_422(api, alice, project_of):
    project = project_of(alice)
    api.delete(f"/projects/{project['projectId']}", alice)
    reply = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
    assert reply.status == 422


def test_task_right_after_project_fills_the_record_on_a_miss(api, alice, project_of, aws, stack):
    project = project_of(alice)
    assert project_record(aws, stack, alice, project["projectId"]) is None
    reply = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
    assert reply.status == 201
    record = project_record(aws, stack, alice, project["projectId"])
    assert record["state"] == {"S": "live"}
    assert record["version"] == {"N": "1"}


def test_the_miss_path_never_resurrects_a_tombstone(api, alice, project_of, stack):
    project = project_of(alice)
    tasks_service.forget_project(alice.sub, project["projectId"], 2, "evt-1")
    reply = api.post("/tasks", alice, {"title": "t", "projectId": project["projectId"]})
    assert reply.status == 422  # the Projects table still says live; the tombstone wins


def test_remember_project_is_idempotent_and_keeps_the_newest_version(stack, alice):
    pid = "01J00000000000000000000001"
    assert tasks_service.remember_project(alice.sub, pid, 2, "e2") is True
    assert tasks_service.remember_project(alice.sub, pid, 2, "e2") is False
    assert tasks_service.remember_project(alice.sub, pid, 1, "e1") is False
    assert tasks_service.remember_project(alice.sub, pid, 3, "e3") is True
    tasks_service.forget_project(alice.sub, pid, 4, "e4")
    assert tasks_service.remember_project(alice.sub, pid, 5, "e5") is False


def test_tasks_of_a_tombstoned_project_disappear_at_once(api, alice, project_of, task_of, stack):
    project = project_of(alice)
    task = task_of(alice, project)
    other = task_of(alice)
    tasks_service.forget_project(alice.sub, project["projectId"], 2, "evt")
    path = f"/tasks/{task['taskId']}"
    assert api.get(path, alice).status == 404
    assert api.patch(path, alice, {"title": "x"}).status == 404
    assert api.delete(path, alice).status == 404
    assert [t["taskId"] for t in api.get("/tasks", alice).json["items"]] == [other["taskId"]]
    by_project = api.get(f"/tasks?projectId={project['projectId']}", alice).json
    assert by_project["items"] == []


def test_filters(api, alice, project_of, task_of):
    first, second = project_of(alice), project_of(alice)
    a = task_of(alice, first, status="Active")
    b = task_of(alice, first, status="Done", isCompleted=True)
    c = task_of(alice, second, status="Done")
    d = task_of(alice, second, status="Blocked", isCompleted=True)

    def ids(query):
        reply = api.get(f"/tasks{query}", alice)
        assert reply.status == 200, reply.json
        return [t["taskId"] for t in reply.json["items"]]

    assert ids("") == [a["taskId"], b["taskId"], c["taskId"], d["taskId"]]
    assert ids(f"?projectId={first['projectId']}") == [a["taskId"], b["taskId"]]
    assert ids("?status=Done") == [b["taskId"], c["taskId"]]
    assert ids("?isCompleted=true") == [b["taskId"], d["taskId"]]
    assert ids("?isCompleted=false") == [a["taskId"], c["taskId"]]
    assert ids(f"?projectId={second['projectId']}&status=Done") == [c["taskId"]]
    assert ids(f"?projectId={second['projectId']}&isCompleted=true") == [d["taskId"]]
    assert ids("?status=Done&isCompleted=true") == [b["taskId"]]
    assert ids(f"?projectId={first['projectId']}&status=Blocked") == []


@pytest.mark.parametrize("query", ["?status=Doing", "?isCompleted=yes", "?limit=0", "?owner=x"])
def test_bad_list_queries_are_400(api, alice, query):
    reply = api.get(f"/tasks{query}", alice)
    assert reply.status == 400
    assert reply.header("Content-Type") == "application/problem+json"


def test_filtered_lists_page_without_gaps(api, alice, project_of, task_of):
    project = project_of(alice)
    done = [task_of(alice, project, status="Done")["taskId"] for _ in range(5)]
    task_of(alice, project, status="Active")
    for query in (f"projectId={project['projectId']}&status=Done", "status=Done"):
        seen, cursor = [], None
        while True:
            reply = api.get(
                f"/tasks?{query}&limit=2" + (f"&cursor={cursor}" if cursor else ""), alice
            )
            assert reply.status == 200
            seen += [t["taskId"] for t in reply.json["items"]]
            cursor = reply.json["nextCursor"]
            if cursor is None:
                break
        assert seen == done


def test_status_change_moves_the_task_between_status_lists(api, alice, task_of):
    task = task_of(alice)
    api.patch(f"/tasks/{task['taskId']}", alice, {"status": "Done"})
    assert api.get("/tasks?status=Active", alice).json["items"] == []
    assert [t["taskId"] for t in api.get("/tasks?status=Done", alice).json["items"]] == [
        task["taskId"]
    ]


def test_put_replaces_and_patch_merges(api, alice, task_of):
    task = task_of(alice, notes="keep", priority=2, startDate="2026-11-01")
    path = f"/tasks/{task['taskId']}"
    patched = api.patch(path, alice, {"isCompleted": True, "targetDate": "2026-11-05"})
    assert patched.status == 200
    assert patched.json["notes"] == "keep"
    assert patched.json["isCompleted"] is True
    assert patched.json["version"] == 2
    put = api.put(path, alice, {"title": "new", "projectId": task["projectId"]})
    assert put.status == 200
    assert put.json["notes"] is None
    assert put.json["priority"] is None
    assert put.json["startDate"] is None
    assert put.json["isCompleted"] is False
    assert put.json["version"] == 3
    assert put.header("ETag") == '"3"'


def test_patch_checks_date_order_against_the_stored_task(api, alice, task_of):
    task = task_of(alice, startDate="2026-11-10")
    path = f"/tasks/{task['taskId']}"
    reply = api.patch(path, alice, {"targetDate": "2026-11-01"})
    assert reply.status == 400
    assert "startDate" in reply.json["errors"]
    assert api.get(path, alice).json["version"] == 1


def test_moving_a_task_checks_the_new_project(api, alice, bob, project_of, task_of):
    task = task_of(alice)
    path = f"/tasks/{task['taskId']}"
    target = project_of(alice)
    moved = api.patch(path, alice, {"projectId": target["projectId"]})
    assert moved.status == 200
    assert moved.json["projectId"] == target["projectId"]
    listed = api.get(f"/tasks?projectId={target['projectId']}", alice).json["items"]
    assert [t["taskId"] for t in listed] == [task["taskId"]]
    assert api.get(f"/tasks?projectId={task['projectId']}", alice).json["items"] == []
    for bad in ("01J00000000000000000000000", project_of(bob)["projectId"]):
        reply = api.patch(path, alice, {"projectId": bad})
        assert reply.status == 422
    assert api.get(path, alice).json["projectId"] == target["projectId"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_on_tasks(api, alice, task_of, method):
    task = task_of(alice)
    path = f"/tasks/{task['taskId']}"
    body = {"title": "x", "projectId": task["projectId"]} if method != "DELETE" else None
    stale = api.request(method, path, alice, body, headers={"If-Match": '"9"'})
    assert stale.status == 412
    assert api.get(path, alice).json == task
    fresh = api.request(method, path, alice, body, headers={"If-Match": '"1"'})
    assert fresh.status == (204 if method == "DELETE" else 200)


def test_if_none_match_on_tasks(api, alice, task_of):
    task = task_of(alice)
    path = f"/tasks/{task['taskId']}"
    assert api.get(path, alice, headers={"If-None-Match": '"1"'}).status == 304
    assert api.get(path, alice, headers={"If-None-Match": '"0"'}).status == 200


def test_delete_task(api, alice, task_of):
    task = task_of(alice)
    path = f"/tasks/{task['taskId']}"
    assert api.delete(path, alice).status == 204
    assert api.get(path, alice).status == 404
    assert api.delete(path, alice).status == 404
    assert api.get("/tasks", alice).json["items"] == []
    assert api.get(f"/tasks?projectId={task['projectId']}", alice).json["items"] == []
    assert api.get("/tasks?status=Active", alice).json["items"] == []


def test_another_users_task_is_404_on_every_route(api, alice, bob, task_of, project_of):
    task = task_of(alice)
    path = f"/tasks/{task['taskId']}"
    bobs_project = project_of(bob)
    assert api.get(path, bob).status == 404
    assert api.put(path, bob, {"title": "x", "projectId": bobs_project["projectId"]}).status == 404
    assert api.patch(path, bob, {"title": "x"}).status == 404
    assert api.delete(path, bob).status == 404
    assert api.get("/tasks", bob).json["items"] == []
    assert api.get(f"/tasks?projectId={task['projectId']}", bob).json["items"] == []
    assert api.get("/tasks?status=Active", bob).json["items"] == []
    assert api.get(path, alice).json == task


def test_a_priority_of_2_0_is_the_integer_2(api, alice, project_of):
    """JSON has one number type; the document's `integer` admits 2.0 (found by schemathesis)."""
    project = project_of(alice)
    reply = api.post(
        "/tasks",
        alice,
        raw=b'{"title": "t", "projectId": "%s", "priority": 2.0}' % project["projectId"].encode(),
    )
    assert reply.status == 201, reply.json
    assert reply.json["priority"] == 2
    assert reply.raw.count(b'"priority": 2,') == 1
