"""Request latency of the router + services, in-process against moto.

Run: .venv/bin/python bench/api_latency.py [requests-per-route]

It drives the real app through chalice.test.Client with real Cognito tokens, as the
tests do, so the numbers include moto's own cost (which dominates): they compare changes
to Tandem's request path with each other, not with DynamoDB. Bounded: N requests per
route, all in one process. Writes docs/benchmarks.md (section "API latency").
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

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
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench.report import write_section  # noqa: E402
from devstack.infra import Context, environment, provision  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        ctx = provision(session, Context(stack_name="tandem-dev"))
        os.environ.update(environment(ctx))
        cognito = session.client("cognito-idp")
        pool, client_id = ctx.names["UserPool"], ctx.names["UserPoolClient"]
        email, password = "bench@example.com", "Bench-password-1!"
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
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        from app import app

        with Client(app, stage_name="dev") as client:

            def call(method: str, path: str, body: object = None) -> tuple[float, dict]:
                payload = json.dumps(body).encode() if body is not None else b""
                started = time.perf_counter()
                response = client.http.request(method, path, headers=headers, body=payload)
                elapsed = time.perf_counter() - started
                assert response.status_code < 300, (path, response.status_code, response.body)
                return elapsed, json.loads(response.body) if response.body else {}

            _, project = call("POST", "/projects", {"name": "bench"})
            seed = {
                "title": "My Task",
                "projectId": project["projectId"],
                "status": "Active",
                "targetDate": None,
                "startDate": None,
                "isCompleted": False,
            }
            timings: dict[str, list[float]] = {}
            ids = []
            for _ in range(count):
                elapsed, task = call("POST", "/tasks", seed)
                timings.setdefault("POST /tasks (transaction)", []).append(elapsed)
                ids.append(task["taskId"])
            for task_id in ids:
                elapsed, _ = call("GET", f"/tasks/{task_id}")
                timings.setdefault("GET /tasks/{id}", []).append(elapsed)
            for task_id in ids:
                elapsed, _ = call("PATCH", f"/tasks/{task_id}", {"isCompleted": True})
                timings.setdefault("PATCH /tasks/{id}", []).append(elapsed)
            for _ in range(count):
                elapsed, _ = call("GET", f"/tasks?projectId={project['projectId']}&limit=50")
                timings.setdefault("GET /tasks?projectId= (50 items)", []).append(elapsed)

    lines = [
        f"`.venv/bin/python bench/api_latency.py {count}`: {count} requests per route through "
        "chalice.test.Client against moto in-process (moto's cost included).",
        "",
        "| route | p50 | p95 | max |",
        "|---|---|---|---|",
        *[
            f"| {route} | {statistics.median(v) * 1000:.1f} ms "
            f"| {percentile(v, 0.95) * 1000:.1f} ms | {max(v) * 1000:.1f} ms |"
            for route, v in timings.items()
        ],
    ]
    write_section("API latency", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
