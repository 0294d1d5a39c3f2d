"""DynamoDB round trips per route: every route of the app has a stated count here, and a
request that makes more calls than its route states fails. Counts, not timings
(issue 11). Calls are recorded with botocore's events on the process's one DynamoDB
client (bench/dynamo_calls.py), around each request through the Chalice test client.

Adding a route: add a row to STATED (the calls it makes at most, per case), exercise it
in `test_every_route_stays_within_its_stated_calls`, and when the count is above 1 say
why in docs/decisions.md ("DynamoDB round trips per route"). The table is printed by
`bench/flatness.py` into docs/benchmarks.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.dynamo_calls import DynamoRecorder, recording
from chalicelib.core import wiring

# Every authenticated request first asks the revocation list (core.revocation: one
# GetItem, so that a deleted user's still-valid token answers 401). Counted apart, so that
# the table below says what each route itself costs.
REVOCATION_CHECK = 1

# (method, route, case) -> the most DynamoDB calls one such request may make, besides the
# revocation check.
STATED: dict[tuple[str, str, str], int] = {
    ("GET", "/health", ""): 0,
    ("GET", "/openapi.json", ""): 0,
    ("GET", "/docs", ""): 0,
    ("GET", "/docs/{asset}", ""): 0,
    # The profile lives behind the gatekeeper function; counted with its calls (the
    # first read stores the default profile; every access appends to the audit trail).
    ("GET", "/me", ""): 3,
    ("PUT", "/me", ""): 2,
    ("POST", "/projects", ""): 1,
    ("POST", "/projects", "Idempotency-Key"): 3,
    ("POST", "/projects", "Idempotency-Key replayed"): 2,
    ("GET", "/projects", ""): 1,
    ("GET", "/projects/{project_id}", ""): 1,
    ("PUT", "/projects/{project_id}", ""): 1,
    ("PATCH", "/projects/{project_id}", ""): 1,
    ("PATCH", "/projects/{project_id}", "changes nothing"): 2,
    ("DELETE", "/projects/{project_id}", ""): 2,
    ("POST", "/tasks", ""): 1,
    ("POST", "/tasks", "first task of a project whose event has not arrived"): 3,
    ("GET", "/tasks", ""): 2,
    ("GET", "/tasks/{task_id}", ""): 2,
    ("PUT", "/tasks/{task_id}", ""): 2,
    ("PATCH", "/tasks/{task_id}", ""): 2,
    ("PATCH", "/tasks/{task_id}", "moves it"): 2,
    ("DELETE", "/tasks/{task_id}", ""): 2,
    ("POST", "/notes", ""): 1,
    ("POST", "/notes", "with tags"): 1,
    ("POST", "/notes", "with a taskId"): 2,
    ("GET", "/notes", ""): 1,
    ("GET", "/notes", "a page with task links"): 3,
    ("GET", "/notes", "?tag="): 2,
    ("GET", "/notes", "?tag=, a page with task links"): 4,
    ("GET", "/notes/{note_id}", ""): 1,
    ("GET", "/notes/{note_id}", "with a task link"): 3,
    ("PUT", "/notes/{note_id}", ""): 2,
    ("PATCH", "/notes/{note_id}", ""): 2,
    ("PATCH", "/notes/{note_id}", "with a task link"): 4,
    ("DELETE", "/notes/{note_id}", ""): 2,
    # The change log is filled from events, which this test does not deliver: these are
    # a log without changes (one read of the log). With changes, sync states its own.
    ("GET", "/sync", ""): 1,
    ("GET", "/sync", "with a cursor"): 1,
    # Measured when these routes landed (issue 11 states them; their services own them).
    ("POST", "/sync", "one create"): 6,
    ("POST", "/me/export", ""): 1,
    ("GET", "/jobs/{job_id}", ""): 1,
    ("DELETE", "/me", ""): 2,
}


def test_every_route_of_the_app_has_a_stated_count() -> None:
    from app import app

    stated = {(method, route) for method, route, _ in STATED}
    missing = sorted(
        (method, route)
        for route, methods in app.routes.items()
        for method in methods
        if method not in ("OPTIONS", "HEAD") and (method, route) not in stated
    )
    assert missing == [], (
        "Routes without a stated DynamoDB call count. Add a row per case to STATED in "
        "tests/test_dynamodb_calls.py, e.g. "
        + ", ".join(f'("{m}", "{r}", ""): <calls>' for m, r in missing)
        + ", exercise each in test_every_route_stays_within_its_stated_calls, and say in "
        "docs/decisions.md why a count above 1 is needed."
    )


class Measured:
    def __init__(self, api: Any, recorder: DynamoRecorder) -> None:
        self.api = api
        self.recorder = recorder
        self.calls: dict[tuple[str, str, str], int] = {}
        self.over: list[str] = []
        self.measured: dict[tuple[str, str, str], int] = {}

    def __call__(
        self,
        method: str,
        route: str,
        path: str,
        user: Any,
        body: Any = None,
        *,
        case: str = "",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Any:
        self.recorder.take()
        reply = self.api.request(method, path, user, body, headers=headers)
        taken = self.recorder.take()
        assert reply.status == status, (method, path, reply.raw[:500])
        key = (method, route, case)
        assert key in STATED, f"{key} is exercised but has no row in STATED"
        self.calls[key] = max(self.calls.get(key, 0), len(taken))
        stated = STATED[key] + (REVOCATION_CHECK if user is not None else 0)
        if len(taken) > stated:
            self.over.append(
                f"{method} {path} ({case or 'plain'}) made {len(taken)} DynamoDB calls "
                f"{taken.calls}, more than the {stated} stated"
            )
        self.measured[key] = max(self.measured.get(key, 0), len(taken))
        return reply.json if "json" in (reply.header("Content-Type") or "") else None


@pytest.fixture
def gatekeeper(chalice_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import app
    from devstack.lambda_api import InProcessLambda
    from devstack.pump import lambda_invoker

    from .conftest import STAGE

    monkeypatch.setenv("TANDEM_PROFILE_GATEKEEPER", "profile_gatekeeper")
    wiring.override("aws.lambda", InProcessLambda(app, lambda_invoker(app, STAGE)))


def test_every_route_stays_within_its_stated_calls(api: Any, alice: Any, gatekeeper: Any) -> None:
    with recording() as recorder:
        call = Measured(api, recorder)
        exercise(call, alice)
    assert call.over == [], "\n".join(call.over)
    assert set(call.calls) == set(STATED), (
        f"rows of STATED that this test never exercised: {sorted(set(STATED) - set(call.calls))}"
    )


def exercise(call: Measured, user: Any) -> None:
    for route in ("/health", "/openapi.json", "/docs"):
        call("GET", route, route, None)
    call("GET", "/docs/{asset}", "/docs/swagger-ui.css", None)
    call("GET", "/me", "/me", user)
    call("PUT", "/me", "/me", user, {"displayName": "A"}, headers={"If-Match": '"1"'})

    key = {"Idempotency-Key": "calls"}
    project = call("POST", "/projects", "/projects", user, {"name": "P"}, status=201)
    call(
        "POST",
        "/projects",
        "/projects",
        user,
        {"name": "K"},
        status=201,
        headers=key,
        case="Idempotency-Key",
    )
    call(
        "POST",
        "/projects",
        "/projects",
        user,
        {"name": "K"},
        status=201,
        headers=key,
        case="Idempotency-Key replayed",
    )
    other = call("POST", "/projects", "/projects", user, {"name": "Q"}, status=201)
    pid, path = project["projectId"], f"/projects/{project['projectId']}"
    route = "/projects/{project_id}"
    call("GET", "/projects", "/projects", user)
    call("GET", route, path, user)
    call("PUT", route, path, user, {"name": "P2"})
    call("PATCH", route, path, user, {"description": "d"})
    call("PATCH", route, path, user, {"description": "d"}, case="changes nothing")

    first = "first task of a project whose event has not arrived"
    task = call(
        "POST", "/tasks", "/tasks", user, {"title": "T", "projectId": pid}, status=201, case=first
    )
    call(
        "POST",
        "/tasks",
        "/tasks",
        user,
        {"title": "Q", "projectId": other["projectId"]},
        status=201,
        case=first,
    )
    call("POST", "/tasks", "/tasks", user, {"title": "U", "projectId": pid}, status=201)
    tid, tpath, troute = task["taskId"], f"/tasks/{task['taskId']}", "/tasks/{task_id}"
    for query in (
        "",
        f"?projectId={pid}",
        "?status=Active",
        "?isCompleted=false",
        f"?projectId={pid}&isCompleted=false",
    ):
        call("GET", "/tasks", f"/tasks{query}", user)
    call("GET", troute, tpath, user)
    call("PUT", troute, tpath, user, {"title": "T2", "projectId": pid})
    call("PATCH", troute, tpath, user, {"isCompleted": True})
    call("PATCH", troute, tpath, user, {"projectId": other["projectId"]}, case="moves it")
    call("PATCH", troute, tpath, user, {"projectId": pid}, case="moves it")

    plain = call("POST", "/notes", "/notes", user, {"title": "N"}, status=201)
    call(
        "POST",
        "/notes",
        "/notes",
        user,
        {"title": "N", "tags": ["a", "b"]},
        status=201,
        case="with tags",
    )
    linked = call(
        "POST",
        "/notes",
        "/notes",
        user,
        {"title": "L", "taskId": tid, "tags": ["a"]},
        status=201,
        case="with a taskId",
    )
    call("GET", "/notes", "/notes", user, case="a page with task links")
    call("GET", "/notes", f"/notes?projectId={pid}", user)
    call("GET", "/notes", f"/notes?taskId={tid}", user, case="a page with task links")
    call("GET", "/notes", "/notes?tag=b", user, case="?tag=")
    call("GET", "/notes", "/notes?tag=a", user, case="?tag=, a page with task links")
    nroute = "/notes/{note_id}"
    npath, lpath = f"/notes/{plain['noteId']}", f"/notes/{linked['noteId']}"
    call("GET", nroute, npath, user)
    call("GET", nroute, lpath, user, case="with a task link")
    call("PUT", nroute, npath, user, {"title": "N2", "tags": ["c"]})
    call("PATCH", nroute, npath, user, {"title": "N3"})
    call("PATCH", nroute, lpath, user, {"title": "L2"}, case="with a task link")
    call("DELETE", nroute, npath, user, status=204)

    call("DELETE", troute, tpath, user, status=204)
    call("DELETE", route, path, user, status=204)

    snapshot = call("GET", "/sync", "/sync", user)
    call("GET", "/sync", f"/sync?cursor={snapshot['cursor']}", user, case="with a cursor")
    command = {
        "commandId": "c1",
        "type": "create",
        "resource": "project",
        "tempId": "t1",
        "fields": {"name": "offline"},
    }
    call("POST", "/sync", "/sync", user, {"commands": [command]}, case="one create")

    job = call("POST", "/me/export", "/me/export", user, status=202)
    call("GET", "/jobs/{job_id}", f"/jobs/{job['jobId']}", user)
    call("DELETE", "/me", "/me", user, status=202)
