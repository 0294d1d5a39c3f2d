"""Fake job workers for the end-to-end tests, registered through core.wiring in the local
stack's process (TANDEM_DEVSTACK_IMPORTS=tests.e2e.fake_workers)."""

from __future__ import annotations

from collections import Counter

from chalicelib.core import wiring
from chalicelib.jobs.workers import Done, JobRun, PermanentFailure, Registry, discover

SERVICE = "e2e"
_runs: Counter[str] = Counter()


def flaky(run: JobRun) -> Done:
    """Fails its first two runs, then succeeds."""
    _runs[run.job_id] += 1
    if _runs[run.job_id] <= 2:
        raise ConnectionError(f"run {_runs[run.job_id]} fails on purpose")
    return Done({"runs": _runs[run.job_id], "attempt": run.attempt})


def poison(run: JobRun) -> Done:
    raise PermanentFailure("this job can never succeed")


_real = discover()
wiring.override(
    "jobs.workers",
    Registry(
        {**_real.workers, (SERVICE, "flaky"): flaky, (SERVICE, "poison"): poison},
        _real.presenters,
    ),
)
