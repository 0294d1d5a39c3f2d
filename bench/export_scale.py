"""The export of a user with 10,000 tasks: how many bounded invocations (steps) it takes,
each step's time and peak Python memory, and the document's size.

Run: .venv/bin/python bench/export_scale.py [tasks] [items_per_step]
     (default: 10000 tasks, the deployed default of TANDEM_EXPORT_ITEMS_PER_STEP, 4000)

moto in-process (no server): one project, `tasks` tasks written with BatchWriteItem, 50
notes, then the export worker's steps run one after another as the task manager would
run them (each with a fresh 300 s budget), the profile through the gatekeeper's function
(in-process invoke). Peak memory is tracemalloc's, per step. Writes the section "Export
of a large account" of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402

TITLE = "Export of a large account"


def main(tasks: int, per_step: str) -> None:
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        TANDEM_STAGE="dev",
        TANDEM_PROFILE_GATEKEEPER="profile_gatekeeper",
        TANDEM_EXPORT_ITEMS_PER_STEP=per_step,
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from devstack import moto_fixes
    from devstack.infra import Context, environment, provision

    moto_fixes.apply()
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        ctx = provision(session, Context(stack_name="tandem-dev", region="us-east-1"))
        os.environ.update(environment(ctx))
        from app import app
        from chalicelib.accounts.export import export_step
        from chalicelib.core import wiring
        from chalicelib.core.ids import new_id
        from chalicelib.core.models import utcnow
        from chalicelib.jobs.workers import Continue, JobRun
        from chalicelib.notes import service as notes
        from chalicelib.projects import service as projects
        from chalicelib.tasks.models import Task
        from devstack.lambda_api import InProcessLambda
        from devstack.pump import lambda_invoker

        wiring.override("aws.lambda", InProcessLambda(app, lambda_invoker(app, "dev")))
        user = "bench-user"
        project = projects.create_project(user, {"name": "Bench"}, "bench")
        now = utcnow()
        with Task.batch_write() as batch:
            for n in range(tasks):
                task = Task(
                    user,
                    new_id(),
                    project_id=project.project_id,
                    title=f"Task {n} " + "x" * 40,
                    status="Active",
                    is_completed=False,
                    notes="Some notes about the task. " * 4,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                task.refresh_index_keys()
                batch.save(task)
        for n in range(50):
            notes.create_note(user, {"title": f"Note {n}", "body": "b" * 500}, "bench")
        checkpoint = None
        steps: list[tuple[float, int]] = []
        job_id = new_id()
        while True:
            deadline = time.monotonic() + 300
            run = JobRun(
                user_id=user,
                job_id=job_id,
                job_type="export",
                data={},
                checkpoint=checkpoint,
                step=len(steps),
                attempt=1,
                correlation_id="bench",
                seconds_left=lambda d=deadline: d - time.monotonic(),  # type: ignore[misc]
            )
            tracemalloc.start()
            started = time.perf_counter()
            outcome = export_step(run)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            steps.append((elapsed, peak))
            if not isinstance(outcome, Continue):
                break
            checkpoint = json.loads(json.dumps(outcome.checkpoint))
        result = dict(outcome.result or {})
    lines = [
        f"Command: `.venv/bin/python bench/export_scale.py {tasks} {per_step}` (moto in-process)",
        "",
        f"- {tasks} tasks, 1 project, 50 notes: {result.get('items')} items, "
        f"{result.get('bytes', 0) / 1e6:.2f} MB of JSON, in {len(steps)} steps "
        f"(at most {per_step} items per step).",
        "",
        "| step | time (s) | peak Python memory (MB) |",
        "| --- | --- | --- |",
        *(f"| {i} | {t:.1f} | {m / 1e6:.1f} |" for i, (t, m) in enumerate(steps)),
    ]
    print("\n".join(lines))
    write_section(TITLE, lines)


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        sys.argv[2] if len(sys.argv) > 2 else "4000",
    )
