"""GET /tasks/{id} over HTTP against the local stack vs the same request in-process
(chalice.test.Client on moto), interleaved in one run, then the stack's throughput with
8 concurrent clients.

Run: .venv/bin/python bench/http_latency.py [requests] [--attach]

Without --attach it starts a stack on free 127.0.0.1 ports (and stops it); with it, it
uses the running one (`make run`). Each HTTP client keeps its connection alive, as a
mobile client does. The ratio of the medians is what the local servers add to the app's
own cost (target: at most 2.5). Writes docs/benchmarks.md (section "Local HTTP vs
in-process").
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOAD_AT_START = os.getloadavg()[0]
sys.path.insert(0, str(ROOT))

from bench.localstack import local_stack, percentile, sign_up  # noqa: E402
from bench.report import write_section  # noqa: E402

CLIENTS = 8
SEED = {
    "title": "My Task",
    "status": "Active",
    "targetDate": None,
    "startDate": None,
    "isCompleted": False,
}


class HttpClient:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        self.connection.request(method, path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def in_process() -> Any:
    """The app in-process on moto, with a user, a project and a task: a GET callable."""
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        TANDEM_STAGE="dev",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from devstack import moto_fixes
    from devstack.infra import Context, environment, provision

    moto_fixes.apply()
    mock = mock_aws()
    mock.start()
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
    from chalicelib.core.log import logger

    logger().setLevel("WARNING")  # not a line per request on the terminal
    client = Client(app, stage_name="dev")
    client.__enter__()

    def call(method: str, path: str, body: Any = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else b""
        response = client.http.request(method, path, headers=headers, body=payload)
        assert response.status_code < 300, (path, response.status_code, response.body)
        return json.loads(response.body) if response.body else None

    project = call("POST", "/projects", {"name": "bench"})
    task = call("POST", "/tasks", {**SEED, "projectId": project["projectId"]})
    path = f"/tasks/{task['taskId']}"
    return lambda: call("GET", path)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 300
    attach = "--attach" in sys.argv
    with local_stack(attach) as stack:
        # Before moto's in-process mock starts: these boto3 calls go to the stack.
        _, token = sign_up(stack.contract, f"bench-{time.time_ns()}@example.com")
        host, port = stack.api
        remote = HttpClient(host, port, token)
        status, project = remote.call("POST", "/projects", {"name": "bench"})
        assert status == 201, project
        status, task = remote.call("POST", "/tasks", {**SEED, "projectId": project["projectId"]})
        assert status == 201, task
        path = f"/tasks/{task['taskId']}"
        local_get = in_process()

        for _ in range(20):  # warm both paths
            remote.call("GET", path)
            local_get()
        over_http: list[float] = []
        inside: list[float] = []
        for _ in range(count):
            started = time.perf_counter()
            status, _ = remote.call("GET", path)
            over_http.append(time.perf_counter() - started)
            assert status == 200
            started = time.perf_counter()
            local_get()
            inside.append(time.perf_counter() - started)

        per_client = max(count // CLIENTS, 25)
        latencies: list[float] = []
        lock = threading.Lock()
        failures: list[int] = []

        def client() -> None:
            mine = HttpClient(host, port, token)
            for _ in range(per_client):
                started = time.perf_counter()
                status, _ = mine.call("GET", path)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        failures.append(status)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started

    http_p50, inside_p50 = statistics.median(over_http), statistics.median(inside)
    command = f"`.venv/bin/python bench/http_latency.py {count}{' --attach' if attach else ''}`"
    lines = [
        f"{command}: GET /tasks/{{id}} {count} times over HTTP (one kept-alive connection) "
        "against a stack started by the script, interleaved with the same request through "
        "chalice.test.Client on moto in the script's process; then "
        f"{CLIENTS} concurrent HTTP clients, {per_client} requests each.",
        "",
        "| path | p50 | p95 | max |",
        "|---|---|---|---|",
        f"| HTTP, local stack | {http_p50 * 1000:.1f} ms | "
        f"{percentile(over_http, 0.95) * 1000:.1f} ms | {max(over_http) * 1000:.1f} ms |",
        f"| in-process | {inside_p50 * 1000:.1f} ms | "
        f"{percentile(inside, 0.95) * 1000:.1f} ms | {max(inside) * 1000:.1f} ms |",
        "",
        f"- ratio of the medians, HTTP / in-process: **{http_p50 / inside_p50:.2f}** "
        "(target ≤ 2.5)",
        f"- the machine: {os.cpu_count()} cores, load average {LOAD_AT_START:.1f} at the start "
        "(other work on it slows every number here)",
        f"- {CLIENTS} concurrent clients: **{len(latencies) / wall:.0f} requests/s**, "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, {len(failures)} not 200",
    ]
    write_section("Local HTTP vs in-process", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
