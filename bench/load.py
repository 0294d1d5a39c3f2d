"""Load on the local stack: N users for T seconds, each with a websocket, then a recount.

Run: .venv/bin/python bench/load.py [--users 20] [--seconds 60] [--attach] [--chaos SPEC]
     (or `make load USERS=20 DURATION=60`; `make soak` is the same under chaos)

Without --attach it starts a stack on free 127.0.0.1 ports (and stops it); with it, it
loads the running one (`make run`). Each user signs up, creates a project, connects a
websocket, and then, one request at a time until the time is up: creates tasks, PATCHes
them with If-Match (now and then with a stale one: 412), reads, lists and deletes them,
and now and then creates a task in a project it deleted (422). Stale If-Match and deleted projects
cancel DynamoDB transactions, which is what lost acknowledged writes in moto.

Then the recount, after the pushes have had time to arrive:
- lost writes: every acknowledged write must read back at its acknowledged version or
  later (a task that reads 404 or an older version is lost);
- resurrected deletes: every acknowledged delete must read 404;
- 5xx answers; p50/p95/p99 request latency;
- request -> websocket push latency: from sending a write to its push
  {"type": "changed", "resource": "task", "id", "version"} on the user's socket; pushes
  never received are counted;
- peak memory (VmHWM) of the stack's processes.
Goal: 0 lost, 0 resurrected, 0 5xx, p95 push <= 2 s. Writes docs/benchmarks.md (section
"Load"). With --chaos (devstack.chaos: duplicated, shuffled, late and failed deliveries,
throttled writes and publishes) the stack is started in chaos mode and the section is
"Soak": the counts must stay 0, latencies may not.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOAD_AT_START = os.getloadavg()[0]
sys.path.insert(0, str(ROOT))

from bench.localstack import LocalStack, local_stack, percentile, sign_up  # noqa: E402
from bench.report import write_section  # noqa: E402

PUSH_GRACE_SECONDS = 15.0
SEED = {"status": "Active", "targetDate": None, "startDate": None, "isCompleted": False}


@dataclass
class Result:
    method: str
    path: str
    status: int
    seconds: float


@dataclass
class User:
    number: int
    stack: LocalStack
    token: str = ""
    project: str = ""
    deleted_project: str = ""
    acked: dict[str, int] = field(default_factory=dict)  # task id -> acknowledged version
    deleted: set[str] = field(default_factory=set)  # tasks whose DELETE answered 204
    sent: dict[tuple[str, int], float] = field(default_factory=dict)  # (id, version) -> t
    pushed: dict[tuple[str, int], float] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connection: http.client.HTTPConnection | None = None
    socket: Any = None

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(*self.stack.api, timeout=60)
        sent = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        sent.update(headers)
        started = time.perf_counter()
        try:
            self.connection.request(
                method, path, body=None if body is None else json.dumps(body), headers=sent
            )
            response = self.connection.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.connection = None
            self.errors.append(f"{method} {path}: {error!r}")
            status, raw = 0, b""
        self.results.append(Result(method, path, status, time.perf_counter() - started))
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def write(self, method: str, path: str, body: Any, **headers: str) -> tuple[int, Any]:
        started = time.monotonic()
        status, answer = self.call(method, path, body, **headers)
        if status in (200, 201) and isinstance(answer, dict) and "taskId" in answer:
            task, version = answer["taskId"], answer["version"]
            self.acked[task] = max(version, self.acked.get(task, 0))
            self.sent[(task, version)] = started
        return status, answer

    # -- the user's session --

    def setup(self) -> None:
        from websockets.sync.client import connect

        _, self.token = sign_up(
            self.stack.contract, f"load-{self.number}-{time.time_ns()}@example.com"
        )
        status, project = self.call("POST", "/projects", {"name": f"load {self.number}"})
        assert status == 201, project
        self.project = project["projectId"]
        status, trash = self.call("POST", "/projects", {"name": "to delete"})
        assert status == 201, trash
        self.deleted_project = trash["projectId"]
        assert self.call("DELETE", f"/projects/{self.deleted_project}")[0] == 204
        self.socket = connect(f"{self.stack.contract['wsUrl']}/?token={self.token}")
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        try:
            for message in self.socket:
                got = json.loads(message)
                if got.get("type") == "changed" and got.get("resource") == "task":
                    self.pushed.setdefault((got["id"], got["version"]), time.monotonic())
        except Exception:
            pass  # the socket closed

    def step(self, rng: random.Random) -> None:
        roll = rng.random()
        tasks = list(self.acked)
        if roll < 0.3 or not tasks:
            self.write("POST", "/tasks", {**SEED, "title": "load", "projectId": self.project})
        elif roll < 0.6:
            task = rng.choice(tasks)
            status, current = self.call("GET", f"/tasks/{task}")
            if status == 200:
                self.write(
                    "PATCH",
                    f"/tasks/{task}",
                    {"title": f"v{current['version'] + 1}"},
                    **{"If-Match": f'"{current["version"]}"'},
                )
        elif roll < 0.65:
            task = rng.choice(tasks)
            status, _ = self.call(
                "PATCH", f"/tasks/{task}", {"title": "stale"}, **{"If-Match": '"0"'}
            )
            if status != 412:
                self.errors.append(f"a stale If-Match answered {status}")
        elif roll < 0.68:
            status, _ = self.call(
                "POST", "/tasks", {**SEED, "title": "x", "projectId": self.deleted_project}
            )
            if status != 422:
                self.errors.append(f"a task in a deleted project answered {status}")
        elif roll < 0.9:
            self.call("GET", f"/tasks/{rng.choice(tasks)}")
        elif roll < 0.95:
            task = rng.choice(tasks)
            status, _ = self.call("DELETE", f"/tasks/{task}")
            if status == 204:
                self.acked.pop(task)
                self.deleted.add(task)
        else:
            self.call("GET", f"/tasks?projectId={self.project}&limit=50")

    def recount(self) -> list[str]:
        lost = []
        for task, version in self.acked.items():
            status, answer = self.call("GET", f"/tasks/{task}")
            if status != 200 or answer["version"] < version:
                found = answer.get("version") if status == 200 else status
                lost.append(f"user {self.number} task {task}: acked v{version}, read {found}")
        return lost

    def resurrected(self) -> list[str]:
        back = []
        for task in sorted(self.deleted):
            status, _ = self.call("GET", f"/tasks/{task}")
            if status != 404:
                back.append(f"user {self.number} task {task}: deleted, then read {status}")
        return back


def run(users: int, seconds: float, attach: bool, chaos: str | None = None) -> list[str]:
    if chaos:
        os.environ["TANDEM_CHAOS"] = chaos  # the stack started below inherits it
    with local_stack(attach) as stack:
        people = [User(number, stack) for number in range(users)]
        for person in people:
            person.setup()
        stop_at = time.monotonic() + seconds

        def session(person: User) -> None:
            rng = random.Random(person.number)
            while time.monotonic() < stop_at:
                person.step(rng)

        threads = [threading.Thread(target=session, args=(p,)) for p in people]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        expected = {key for person in people for key in person.sent}
        grace_until = time.monotonic() + PUSH_GRACE_SECONDS
        while time.monotonic() < grace_until:
            if sum(len(p.pushed.keys() & p.sent.keys()) for p in people) >= len(expected):
                break
            time.sleep(0.2)
        load_results = [r for p in people for r in p.results]
        lost = [line for person in people for line in person.recount()]
        resurrected = [line for person in people for line in person.resurrected()]
        memory = stack.peak_memory_mib()
        for person in people:
            person.socket.close()

    latencies = [r.seconds for r in load_results]
    server_errors = [r for r in load_results if r.status >= 500]
    failed = [e for p in people for e in p.errors]
    push = [p.pushed[key] - p.sent[key] for p in people for key in p.sent.keys() & p.pushed.keys()]
    missing = len(expected) - len(push)
    writes = sum(1 for r in load_results if r.method in ("POST", "PATCH", "DELETE"))
    deletes = sum(len(p.deleted) for p in people)
    command = (
        f"`.venv/bin/python bench/load.py --users {users} --seconds {seconds:g}"
        f"{' --attach' if attach else ''}{f' --chaos {chaos}' if chaos else ''}`"
    )
    lines = [
        f"{command}: {users} users, each with a websocket, one request at a time for "
        f"{seconds:g} s against a stack {'already running' if attach else 'started by the script'}"
        "; then the recount.",
        "",
        f"- requests: {len(load_results)} in {elapsed:.0f} s "
        f"(**{len(load_results) / elapsed:.1f}/s**), {writes} writes, "
        f"{len(expected)} acknowledged, {deletes} deletes acknowledged",
        f"- lost writes on recount: **{len(lost)}**",
        f"- resurrected deletes on recount: **{len(resurrected)}**",
        f"- 5xx answers: **{len(server_errors)}**; other failures: {len(failed)}",
        f"- request latency: p50 **{statistics.median(latencies) * 1000:.0f} ms**, "
        f"p95 **{percentile(latencies, 0.95) * 1000:.0f} ms**, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms",
        f"- request → websocket push: p50 {percentile(push, 0.5):.2f} s, "
        f"p95 **{percentile(push, 0.95):.2f} s**, max {max(push, default=float('nan')):.2f} s; "
        f"{missing} pushes not received {PUSH_GRACE_SECONDS:g} s after the run",
        f"- the machine: {os.cpu_count()} cores, load average {LOAD_AT_START:.1f} at the start "
        "(other work on it slows every number here)",
        "- peak memory of the stack: "
        + (f"**{memory:.0f} MiB**" if memory is not None else "unknown (process not found)"),
    ]
    details = lost[:10] + resurrected[:10] + failed[:10]
    details += [f"{r.method} {r.path} {r.status}" for r in server_errors[:10]]
    return lines + ([""] + [f"  - {d}" for d in details] if details else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--attach", action="store_true", help="load the running stack")
    parser.add_argument(
        "--chaos", metavar="SPEC", help="start the stack in chaos mode (devstack.chaos): a soak"
    )
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.seconds <= 3600:
        parser.error("users must be 1..200 and seconds 1..3600")
    if args.chaos and args.attach:
        parser.error("--chaos starts its own stack: start the running one with make run CHAOS=")
    if args.chaos:
        from devstack.chaos import Chaos

        parsed = Chaos.parse(args.chaos)
        args.chaos = parsed.spec() if parsed else None  # the seed, for a replay
    lines = run(args.users, args.seconds, args.attach, args.chaos)
    write_section("Soak (the load under chaos)" if args.chaos else "Load", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
