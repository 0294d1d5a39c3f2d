"""The workers' side of the task manager: what a worker is given and returns, and the
registry that finds them.

A worker lives in its own service's folder, in a module `chalicelib/<service>/workers.py`
whose `WORKERS` maps (service, action) to it, and whose optional `PRESENTERS` maps a job
type to the function that turns a stored result into what `GET /jobs/{id}` shows (e.g. a
fresh presigned URL). The registry is a core.wiring dependency ("jobs.workers"), so a
test registers a fake worker with `wiring.override`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.wiring import Dependency


@dataclass(frozen=True)
class JobRun:
    """One run of one step of a job."""

    user_id: str
    job_id: str
    job_type: str
    data: Mapping[str, Any]
    checkpoint: Mapping[str, Any] | None  # what the previous step handed on; None at first
    step: int
    attempt: int
    correlation_id: str
    seconds_left: Callable[[], float]
    participants: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Done:
    """The job succeeded with `result`. `forget`: the worker removed the job's record
    itself (account deletion removes everything of the user), so nothing is written."""

    result: Mapping[str, Any] | None = None
    forget: bool = False


@dataclass(frozen=True)
class Continue:
    """Not finished: run the next step with `checkpoint`, after `delay` seconds."""

    checkpoint: Mapping[str, Any]
    progress: int
    delay: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


class PermanentFailure(Exception):
    """No retry can make this job succeed (bad data, a missing resource): it fails at
    once and its message is dead-lettered with this reason."""


Worker = Callable[[JobRun], Done | Continue]
Presenter = Callable[[str, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Registry:
    workers: Mapping[tuple[str, str], Worker]
    presenters: Mapping[str, Presenter]


def discover() -> Registry:
    """Every service's `workers` module's WORKERS and PRESENTERS."""
    import chalicelib

    workers: dict[tuple[str, str], Worker] = {}
    presenters: dict[str, Presenter] = {}
    for package in sorted(pkgutil.iter_modules(chalicelib.__path__), key=lambda p: p.name):
        name = f"chalicelib.{package.name}.workers"
        if not package.ispkg or package.name == "jobs" or importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        for key, worker in getattr(module, "WORKERS", {}).items():
            if key in workers:
                raise ValueError(f"worker {key} is registered twice")
            workers[key] = worker
        presenters.update(getattr(module, "PRESENTERS", {}))
    return Registry(workers, presenters)


registry = Dependency("jobs.workers", discover)
