"""Items read and DynamoDB calls per request as a user's data grows (issue 11). Run:

    .venv/bin/python bench/flatness.py [large-N]      (default 10000; small N is 10)

For each N, a fresh moto (in-process) with the tables provisioned, then users seeded
directly with BatchWriteItem (items built by the app's own models):
- "tasks": N tasks, one completed, one `Done`, one in a second project;
- "tombstones": 10 live tasks, 10 live notes and 10 live projects, and N deleted of each;
- "notes": N notes, one tagged `x` (the others `y`) and linked to a project and a task.
(`--calls-only` writes only the route table of tests/test_dynamodb_calls.py.) Each
request then runs once through chalice.test.Client with a real token, and
bench/dynamo_calls.py counts its DynamoDB calls and the items they read (a Query's
ScannedCount, items a Get/BatchGet returned). Goal: items(N) / items(10) <= 1.1 for every
filter and get. A second filter narrows the first one's Query and reads one page at
most (limit + 1 items), so its first request is bounded, not flat below a page: those
rows are listed apart. Writes docs/benchmarks.md (section "Flatness: items read per
request").
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    TANDEM_STAGE="dev",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench.report import write_section  # noqa: E402
from devstack import moto_fixes  # noqa: E402
from devstack.infra import Context, environment, provision  # noqa: E402

PROJECT_A, PROJECT_B = "01JBENCHPR0JECTA0000000000", "01JBENCHPR0JECTB0000000000"


def task_id(i: int) -> str:
    return f"01JBENCHTASK{i:014d}"


def note_id(i: int) -> str:
    return f"01JBENCHN0TE{i:014d}"


def project_id(i: int) -> str:
    return f"01JBENCHPR0J{i:014d}"


class Seeder:
    def __init__(self, session: boto3.Session, ctx: Context) -> None:
        self.dynamodb = session.client("dynamodb")
        self.ctx = ctx
        self.now = datetime.now(UTC)

    def put(self, logical: str, items: list[dict[str, Any]]) -> None:
        table = self.ctx.names[logical]
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            self.dynamodb.batch_write_item(RequestItems={table: batch})

    def record(self, user: str, project: str) -> None:
        from chalicelib.tasks.models import LIVE, ProjectRecord

        record = ProjectRecord(user, project, state=LIVE, version=1, updated_at=self.now)
        self.put("TaskProjectsTable", [record.serialize()])

    def tasks(self, user: str, count: int, *, deleted: bool = False, offset: int = 0) -> None:
        from chalicelib.tasks.models import Task

        items = []
        for i in range(offset, offset + count):
            task = Task(
                user,
                task_id(i),
                project_id=PROJECT_B if i == 0 else PROJECT_A,
                title=f"t{i}",
                status="Done" if i == 2 else "Active",
                is_completed=i == 1,
                version=2 if deleted else 1,
                created_at=self.now,
                updated_at=self.now,
                deleted_at=self.now if deleted else None,
            )
            task.refresh_index_keys()
            items.append(task.serialize())
        self.put("TasksTable", items)

    def notes(self, user: str, count: int, *, deleted: bool = False, offset: int = 0) -> None:
        from chalicelib.notes.models import Note, NoteTag

        items, tags = [], []
        for i in range(offset, offset + count):
            tag = "x" if i == 0 else "y"
            note = Note(
                user,
                note_id(i),
                title=f"n{i}",
                tags=[tag],
                project_id=PROJECT_A if i == 0 else None,
                task_id=task_id(3) if i == 0 else None,
                version=2 if deleted else 1,
                created_at=self.now,
                updated_at=self.now,
                deleted_at=self.now if deleted else None,
            )
            note.refresh_index_keys()
            items.append(note.serialize())
            if not deleted:
                tags.append(NoteTag.of(user, tag, note_id(i)).serialize())
        self.put("NotesTable", items)
        self.put("NoteTagsTable", tags)

    def projects(self, user: str, count: int, *, deleted: bool, offset: int = 0) -> None:
        from chalicelib.projects.models import Project

        items = []
        for i in range(offset, offset + count):
            project = Project(
                user,
                project_id(i),
                name=f"p{i}",
                version=2 if deleted else 1,
                created_at=self.now,
                updated_at=self.now,
                deleted_at=self.now if deleted else None,
            )
            project.refresh_index_keys()
            items.append(project.serialize())
        self.put("ProjectsTable", items)


def token_for(session: boto3.Session, ctx: Context, name: str) -> tuple[str, str]:
    cognito = session.client("cognito-idp")
    pool, client_id = ctx.names["UserPool"], ctx.names["UserPoolClient"]
    email, password = f"{name}@example.com", "Bench-password-1!"
    cognito.sign_up(
        ClientId=client_id,
        Username=email,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=pool, Username=email)
    token = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]["IdToken"]
    attributes = cognito.admin_get_user(UserPoolId=pool, Username=email)["UserAttributes"]
    sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
    return sub, token


# (label, user, path, narrowed?) measured at each N.
REQUESTS = [
    ("GET /tasks (10 live, N deleted)", "tombstones", "/tasks", False),
    ("GET /tasks?isCompleted=true (1 of N)", "tasks", "/tasks?isCompleted=true", False),
    ("GET /tasks?status=Done (1 of N)", "tasks", "/tasks?status=Done", False),
    ("GET /tasks?projectId= (1 of N)", "tasks", f"/tasks?projectId={PROJECT_B}", False),
    ("GET /tasks/{id} (of N)", "tasks", f"/tasks/{task_id(5)}", False),
    ("GET /notes (10 live, N deleted)", "tombstones", "/notes", False),
    ("GET /notes?tag=x (1 of N)", "notes", "/notes?tag=x", False),
    ("GET /notes?projectId= (1 of N)", "notes", f"/notes?projectId={PROJECT_A}", False),
    ("GET /notes?taskId= (1 of N)", "notes", f"/notes?taskId={task_id(3)}", False),
    ("GET /notes/{id} (of N)", "notes", f"/notes/{note_id(5)}", False),
    ("GET /projects (10 live, N deleted)", "tombstones", "/projects", False),
    ("GET /projects/{id} (of N)", "tombstones", f"/projects/{project_id(0)}", False),
    ("GET /sync (no changes logged)", "tasks", "/sync", False),
    (
        "GET /tasks?projectId=&isCompleted=true (1 of N)",
        "tasks",
        f"/tasks?projectId={PROJECT_A}&isCompleted=true",
        True,
    ),
    (
        "GET /tasks?status=Active&isCompleted=true",
        "tasks",
        "/tasks?status=Active&isCompleted=true",
        True,
    ),
    ("GET /notes?projectId=&tag=x (1 of N)", "notes", f"/notes?projectId={PROJECT_A}&tag=x", True),
    # Every item matches: a full page, read once (limit + 1), whatever N is.
    ("GET /tasks?isCompleted=false (N-1 of N)", "tasks", "/tasks?isCompleted=false", True),
]


def measure(size: int) -> dict[str, tuple[int, int, int]]:
    """label -> (calls, items read, items returned)."""
    from chalice.test import Client

    from bench.dynamo_calls import recording
    from chalicelib.core import wiring

    moto_fixes.apply()
    with mock_aws():
        wiring.reset()
        session = boto3.Session(region_name="us-east-1")
        ctx = provision(session, Context(stack_name="tandem-dev"))
        os.environ.update(environment(ctx))
        users = {
            name: token_for(session, ctx, f"{name}{size}")
            for name in ("tasks", "tombstones", "notes")
        }
        seeder = Seeder(session, ctx)
        started = time.perf_counter()
        tasks_user, dead_user, notes_user = (users[n][0] for n in ("tasks", "tombstones", "notes"))
        for user in (tasks_user, dead_user, notes_user):
            seeder.record(user, PROJECT_A)
            seeder.record(user, PROJECT_B)
        seeder.tasks(tasks_user, size)
        seeder.tasks(dead_user, 10)
        seeder.tasks(dead_user, size, deleted=True, offset=10)
        seeder.tasks(notes_user, 5)  # what the linked note points at
        seeder.notes(notes_user, size)
        seeder.notes(dead_user, 10)
        seeder.notes(dead_user, size, deleted=True, offset=10)
        seeder.projects(dead_user, 10, deleted=False)
        seeder.projects(dead_user, size, deleted=True, offset=10)
        print(f"N={size}: seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)

        from app import app

        results: dict[str, tuple[int, int, int]] = {}
        with Client(app, stage_name="dev") as client, recording() as recorder:
            for label, user, path, _ in REQUESTS:
                headers = {"Authorization": f"Bearer {users[user][1]}"}
                recorder.take()
                response = client.http.get(path, headers=headers)
                taken = recorder.take()
                assert response.status_code == 200, (path, response.status_code, response.body)
                body = json.loads(response.body)
                returned = len(body["items"]) if "items" in body else 1
                results[label] = (len(taken), taken.items_read, returned)
        return results


def write_calls_table() -> None:
    """The stated calls per route, from the table tests/test_dynamodb_calls.py asserts."""
    from tests.test_dynamodb_calls import REVOCATION_CHECK, STATED

    lines = [
        "Stated in `tests/test_dynamodb_calls.py` (`STATED`), which fails when a request "
        "makes more. Authenticated routes add the revocation list's GetItem "
        f"(`core.revocation`, {REVOCATION_CHECK}); reasons for counts above 1 are in "
        'docs/decisions.md ("DynamoDB round trips per route").',
        "",
        "| route | case | calls | with the revocation check |",
        "|---|---|---|---|",
    ]
    public = {"/health", "/openapi.json", "/docs", "/docs/{asset}"}
    for (method, route, case), calls in STATED.items():
        total = calls + (0 if route in public else REVOCATION_CHECK)
        lines.append(f"| {method} {route} | {case or '-'} | {calls} | {total} |")
    write_section("DynamoDB calls per route", lines)


def main() -> None:
    write_calls_table()
    if sys.argv[1:] == ["--calls-only"]:
        return
    large = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    small_results, large_results = measure(10), measure(large)
    header = [
        f"| request | calls, 10 → {large:,} | items read, 10 → {large:,} | ratio | returned |",
        "|---|---|---|---|---|",
    ]

    def row(label: str) -> str:
        (c1, r1, n1), (c2, r2, n2) = small_results[label], large_results[label]
        ratio = r2 / r1 if r1 else (1.0 if r2 == 0 else float("inf"))
        return f"| {label} | {c1} → {c2} | {r1} → {r2} | {ratio:.2f} | {n1} → {n2} |"

    keyed = [label for label, _, _, narrowed in REQUESTS if not narrowed]
    narrowed = [label for label, _, _, narrow in REQUESTS if narrow]
    lines = [
        f"`.venv/bin/python bench/flatness.py {large}`: each request once, at N = 10 and "
        f"N = {large:,}, in-process moto; calls and items read (Query ScannedCount, items "
        "a Get/BatchGet returned) recorded on the app's DynamoDB client, the revocation "
        "list's GetItem (core.revocation) included in the calls. Default `limit` (50).",
        "",
        "Served by a key (goal: ratio ≤ 1.1):",
        "",
        *header,
        *(row(label) for label in keyed),
        "",
        "Bounded by the page instead: a second filter narrows the first one's Query, which "
        "reads one page at most per request (`limit + 1` = 51 items) and answers a short "
        "page with a cursor rather than paging on; a filter that most items match fills "
        "its page. The ratio only shows that 10 items are less than a page:",
        "",
        *header,
        *(row(label) for label in narrowed),
    ]
    print("\n".join(lines))
    write_section("Flatness: items read per request", lines)


if __name__ == "__main__":
    main()
