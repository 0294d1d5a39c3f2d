"""POST /tasks latency and the local stack's memory as the tasks table grows.

Run: .venv/bin/python bench/stack_scaling.py [samples] [levels...]
     (default: 100 samples at 0, 5000 and 20000 tasks)

Starts `python -m devstack run --fresh` on free ports with a state dir of its own, signs a
user up, and at each level: fills the tasks table up to that many tasks through the API
(POST /tasks over HTTP, 8 clients), waits until the event pump has caught up, then times
`samples` sequential POST /tasks over HTTP and reads the resident memory of every process
of the stack (`ps`). Then it stops the stack (the state is saved), starts it again on
that state, and times that. Bounded: the largest level's POSTs, plus the samples. Writes
the section "Local stack: cost of a write as the table grows" of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402

CLIENTS = 8
PASSWORD = "Bench-password-1!"
TITLE = "Local stack: cost of a write as the table grows"
LOAD_AT_START = os.getloadavg()[0]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start(state_dir: Path, *args: str) -> tuple[subprocess.Popen[bytes], dict[str, str], float]:
    api, ws, aws = free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        TANDEM_STATE_DIR=str(state_dir),
        TANDEM_API_PORT=str(api),
        TANDEM_WS_PORT=str(ws),
        TANDEM_AWS_PORT=str(aws),
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    log = (state_dir / "stack.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while "is ready" not in (state_dir / "stack.log").read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit((state_dir / "stack.log").read_text(errors="replace"))
        time.sleep(0.05)
    ready = time.perf_counter() - started
    return process, json.loads((state_dir / "local.json").read_text()), ready


def sign_in(contract: dict[str, str]) -> str:
    import boto3

    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    email = "bench@example.com"
    cognito.sign_up(
        ClientId=contract["userPoolClientId"],
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=contract["userPoolId"], Username=email)
    result = cognito.initiate_auth(
        ClientId=contract["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def post(contract: dict[str, str], token: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        contract["apiUrl"] + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 201:
            raise RuntimeError(f"{path}: {response.status}")
        return json.loads(response.read())


def task(project_id: str, n: int) -> dict[str, Any]:
    return {
        "title": f"task {n}",
        "projectId": project_id,
        "status": "Active",
        "targetDate": None,
        "startDate": None,
        "isCompleted": False,
    }


def fill(contract: dict[str, str], token: str, project_id: str, start: int, end: int) -> None:
    """POST /tasks from CLIENTS threads until there are `end` tasks."""
    numbers = iter(range(start, end))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def client() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None or failures:
                return
            try:
                post(contract, token, "/tasks", task(project_id, n))
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def settle(contract: dict[str, str], timeout: float = 600) -> None:
    """Waits (bounded) until the event pump has caught up: every queue of the stack stays
    empty for three seconds in a row."""
    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 3 and time.monotonic() < deadline:
        waiting = 0
        for url in sqs.list_queues().get("QueueUrls", []):
            if url.endswith("-dlq"):
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            waiting += sum(int(value) for value in attributes.values())
        quiet = quiet + 1 if waiting == 0 else 0
        time.sleep(1)


def stack_rss_mb(pid: int) -> float:
    """Resident memory of the stack's process and its children (the embedded AWS)."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    pids = [str(pid), *children.split()]
    rss = subprocess.run(
        ["ps", "-o", "rss=", "-p", ",".join(pids)], capture_output=True, text=True, check=True
    ).stdout
    return sum(int(kb) for kb in rss.split()) / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    levels = [int(n) for n in sys.argv[2:]] or [0, 5_000, 20_000]
    state_dir = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
    process, contract, first_ready = start(state_dir, "--fresh")
    rows: list[tuple[int, float, float, float, float, float]] = []
    try:
        token = sign_in(contract)
        project_id = post(contract, token, "/projects", {"name": "bench"})["projectId"]
        count = 0
        for level in levels:
            started = time.perf_counter()
            fill(contract, token, project_id, count, level)
            filled = time.perf_counter() - started
            count = max(count, level)
            settle(contract)  # the pump delivers the fill's events first
            timings = []
            for n in range(samples):
                began = time.perf_counter()
                post(contract, token, "/tasks", task(project_id, count + n))
                timings.append((time.perf_counter() - began) * 1000)
            count += samples
            rss = stack_rss_mb(process.pid)
            rate = (level - (rows[-1][0] if rows else 0)) / filled if filled > 0.5 else 0.0
            p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
            rows.append((level, p50, p95, max(timings), rss, rate))
            print(
                f"{level:>6} tasks: POST /tasks p50 {rows[-1][1]:.1f} ms p95 {rows[-1][2]:.1f} ms, "
                f"stack RSS {rss:.0f} MB, filled at {rate:.0f} POST/s",
                flush=True,
            )
        process.send_signal(signal.SIGINT)
        stopped = time.perf_counter()
        process.wait(300)
        stop_seconds = time.perf_counter() - stopped
        state_mb = (state_dir / "aws-state.pickle").stat().st_size / 1e6
        # A restart restores all of it: the time to ready, and a write on the restored table.
        process, contract, restart_ready = start(state_dir)
        began = time.perf_counter()
        post(contract, token, "/tasks", task(project_id, count))
        restored_post = (time.perf_counter() - began) * 1000
        restored_rss = stack_rss_mb(process.pid)
        process.send_signal(signal.SIGINT)
        process.wait(300)
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(state_dir, ignore_errors=True)

    base = rows[0][1]
    lines = [
        f"`.venv/bin/python bench/stack_scaling.py {samples} {' '.join(map(str, levels))}`: "
        f"`make run` in a subprocess; at each level, {samples} sequential POST /tasks over "
        f"HTTP (one user, one project; the tasks were filled through the API by {CLIENTS} "
        "clients), and the resident memory of the stack's processes (API + embedded AWS).",
        "",
        "| tasks | p50 | p95 | max | p50 / p50 at 0 | stack RSS | fill rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for level, p50, p95, top, rss, rate in rows:
        fill_rate = f"{rate:.0f} POST/s" if rate else "-"
        lines.append(
            f"| {level:,} | {p50:.1f} ms | {p95:.1f} ms | {top:.1f} ms | {p50 / base:.2f} | "
            f"{rss:.0f} MB | {fill_rate} |"
        )
    lines += [
        "",
        "- before the fixes of issue 8 (moto copied every table a transaction named), "
        "POST /tasks took about 100, 330 and 770 ms at 0, 2,000 and 6,000 tasks, and the "
        "stack grew by up to 40 MB per task write (the issue's numbers)",
        f"- the machine: {os.cpu_count()} cores, load average {LOAD_AT_START:.1f} at the start "
        "(other work on it slows every number here)",
        f"- ready at the first start (empty state): {first_ready:.1f} s",
        f"- stop with Ctrl-C (SIGINT) at {count:,} tasks, the state's save included: "
        f"{stop_seconds:.1f} s; the saved state: {state_mb:.0f} MB",
        f"- restart with that state: ready in {restart_ready:.1f} s, stack RSS "
        f"{restored_rss:.0f} MB, the first POST /tasks {restored_post:.0f} ms (the same "
        "token as before the restart)",
    ]
    write_section(TITLE, lines)


if __name__ == "__main__":
    main()
