"""The first request after import: what a fresh Lambda instance pays, beyond the import
itself, to build its AWS clients. Run:

    .venv/bin/python bench/first_request.py [runs] [checkout-to-compare]

Each run is a fresh interpreter that starts moto in-process, provisions the tables, seeds
the Tasks service's record of one project and one task with boto3 (untimed), imports the
app (timed apart), then times its first request, `GET /tasks?projectId=` (a Query of the
tasks table plus a read of the Tasks service's record of projects: two PynamoDB models),
and a second identical one.
The first minus the second is what building sessions and clients costs. moto's own cost is
in both, so the numbers compare checkouts on one machine, not with AWS. With a second
argument (a checkout of another commit) both are measured, interleaved. Writes
docs/benchmarks.md (section "First request after import").
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402

_CHILD = r"""
import json, os, sys, time
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled", TANDEM_STAGE="dev", POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
sys.path.insert(0, os.getcwd())
import boto3
from moto import mock_aws
from devstack import moto_fixes
from devstack.infra import Context, environment, provision

moto_fixes.apply()
with mock_aws():
    session = boto3.Session(region_name="us-east-1")
    ctx = provision(session, Context(stack_name="tandem-dev"))
    os.environ.update(environment(ctx))
    cognito = session.client("cognito-idp")
    pool, client_id = ctx.names["UserPool"], ctx.names["UserPoolClient"]
    email, password = "bench@example.com", "Bench-password-1!"
    cognito.sign_up(ClientId=client_id, Username=email, Password=password,
                    UserAttributes=[{"Name": "email", "Value": email}])
    cognito.admin_confirm_sign_up(UserPoolId=pool, Username=email)
    token = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]["IdToken"]
    sub = next(a["Value"] for a in cognito.admin_get_user(UserPoolId=pool, Username=email)
               ["UserAttributes"] if a["Name"] == "sub")
    project_id = "01JBENCHPR0JECT00000000000"
    dynamodb = session.client("dynamodb")
    dynamodb.put_item(TableName=ctx.names["TaskProjectsTable"], Item={
        "userId": {"S": sub}, "projectId": {"S": project_id}, "state": {"S": "live"},
        "version": {"N": "1"}, "updatedAt": {"S": "2026-12-02T00:00:00.000000+0000"}})
    # One task, so that the request reads two models: the task page, then its project's
    # record (in both checkouts' schemas: byProject's key is the same).
    dynamodb.put_item(TableName=ctx.names["TasksTable"], Item={
        "userId": {"S": sub}, "taskId": {"S": "01JBENCHTASK00000000000000"},
        "projectId": {"S": project_id}, "title": {"S": "t"}, "status": {"S": "Active"},
        "isCompleted": {"BOOL": False}, "version": {"N": "1"},
        "createdAt": {"S": "2026-12-02T00:00:00.000000+0000"},
        "updatedAt": {"S": "2026-12-02T00:00:00.000000+0000"},
        "projectKey": {"S": f"{sub}#{project_id}"}, "liveOwner": {"S": sub},
        "statusKey": {"S": f"{sub}#Active"}, "completionKey": {"S": f"{sub}#false"}})
    started = time.perf_counter()
    from app import app
    from chalice.test import Client
    imported = time.perf_counter() - started
    headers = {"Authorization": f"Bearer {token}"}
    with Client(app, stage_name="dev") as client:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            response = client.http.get(f"/tasks?projectId={project_id}", headers=headers)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.body
            assert len(json.loads(response.body)["items"]) == 1, response.body
print(json.dumps({"import": imported, "first": times[0], "second": times[1]}))
"""


def one_run(checkout: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD],
        cwd=checkout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
        capture_output=True,
        text=True,
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def summary(label: str, runs: list[dict[str, float]]) -> str:
    def median_ms(name: str) -> float:
        return statistics.median(run[name] for run in runs) * 1000

    extra = statistics.median(run["first"] - run["second"] for run in runs) * 1000
    return (
        f"| {label} | {median_ms('first'):.0f} ms | {median_ms('second'):.0f} ms | {extra:.0f} ms |"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    other = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else None
    checkouts = {"this checkout": ROOT, **({f"`{other.name}`": other} if other else {})}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in checkouts}
    for _ in range(count):
        for label, checkout in checkouts.items():  # interleaved: load spikes hit both
            runs[label].append(one_run(checkout))
    lines = [
        f"`.venv/bin/python bench/first_request.py {count}"
        + (f" {other}`" if other else "`")
        + f": {count} fresh interpreters each, medians; `GET /tasks?projectId=` through "
        "chalice.test.Client against moto in-process (moto's cost included in both).",
        "",
        "| checkout | first request | second request | first minus second |",
        "|---|---|---|---|",
        *(summary(label, measured) for label, measured in runs.items()),
    ]
    print("\n".join(lines))
    write_section("First request after import", lines)


if __name__ == "__main__":
    main()
