"""Settings, read from the environment when first asked for, never at import."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Environment variable -> logical id of the resource in infra/ that it names.
# This one mapping feeds the local provisioner, the tests and the packaged template.
RESOURCE_ENV: dict[str, str] = {
    "TANDEM_PROJECTS_TABLE": "ProjectsTable",
    "TANDEM_TASKS_TABLE": "TasksTable",
    "TANDEM_TASK_PROJECTS_TABLE": "TaskProjectsTable",
    "TANDEM_NOTES_TABLE": "NotesTable",
    "TANDEM_IDEMPOTENCY_TABLE": "IdempotencyTable",
}

STAGES = ("local", "dev", "prod")


@dataclass(frozen=True)
class Settings:
    stage: str
    projects_table: str
    tasks_table: str
    task_projects_table: str
    notes_table: str
    idempotency_table: str
    max_body_bytes: int
    tombstone_days: int
    idempotency_hours: int


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else int(raw)


def get_settings() -> Settings:
    """Builds settings from the environment.

    Not cached: it is a handful of dict lookups, and the Chalice test client swaps the
    environment per stage, so a cache would serve the wrong stage's names.
    """
    env = os.environ
    stage = env.get("TANDEM_STAGE", "dev")
    if stage not in STAGES:
        raise RuntimeError(f"TANDEM_STAGE must be one of {STAGES}, not {stage!r}")
    return Settings(
        stage=stage,
        projects_table=env.get("TANDEM_PROJECTS_TABLE", ""),
        tasks_table=env.get("TANDEM_TASKS_TABLE", ""),
        task_projects_table=env.get("TANDEM_TASK_PROJECTS_TABLE", ""),
        notes_table=env.get("TANDEM_NOTES_TABLE", ""),
        idempotency_table=env.get("TANDEM_IDEMPOTENCY_TABLE", ""),
        max_body_bytes=_int("TANDEM_MAX_BODY_BYTES", 256 * 1024),
        tombstone_days=_int("TANDEM_TOMBSTONE_DAYS", 30),
        idempotency_hours=_int("TANDEM_IDEMPOTENCY_HOURS", 24),
    )
