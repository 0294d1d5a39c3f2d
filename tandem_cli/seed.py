"""`seed`: a realistic data set written through the REST API, as the app would write it
(so every stream, topic and consumer sees it too)."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from . import api

WORDS = (
    "invoice",
    "roadmap",
    "garden",
    "launch",
    "budget",
    "review",
    "kitchen",
    "trip",
    "design",
    "hiring",
    "backup",
    "newsletter",
    "taxes",
    "onboarding",
    "release",
    "dentist",
    "moving",
    "workshop",
    "migration",
    "report",
)
VERBS = (
    "Plan",
    "Fix",
    "Write",
    "Call",
    "Book",
    "Draft",
    "Review",
    "Ship",
    "Clean",
    "Order",
    "Update",
    "Prepare",
)
TAGS = ("home", "work", "idea", "urgent", "later", "reading")
STATUSES = ("Active", "Active", "Active", "Blocked", "Done", "Archived")
COLORS = ("#E57373", "#64B5F6", "#81C784", "#FFD54F", "#BA68C8", None)


def _task(rng: random.Random, project_id: str) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    start = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
    dated = rng.random() < 0.6
    return {
        "title": f"{rng.choice(VERBS)} the {rng.choice(WORDS)}",
        "projectId": project_id,
        "status": status,
        "startDate": start.isoformat() if dated else None,
        "targetDate": (start + timedelta(days=rng.randrange(1, 60))).isoformat() if dated else None,
        "isCompleted": status == "Done",
        "priority": rng.choice((None, 0, 1, 2, 3, 4)),
        "notes": None,
    }


def _note(rng: random.Random, project_id: str, task_id: str | None) -> dict[str, Any]:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 60)))
    return {
        "title": f"Notes on the {rng.choice(WORDS)}",
        "body": words.capitalize() + ".",
        "projectId": project_id,
        "taskId": task_id,
        "tags": rng.sample(TAGS, rng.randrange(0, 3)),
    }


def seed_project(
    api_url: str,
    token: str,
    rng: random.Random,
    tasks: int,
    notes: int,
    advance: Callable[[int], None],
) -> dict[str, int]:
    project = api.call(
        api_url,
        token,
        "POST",
        "/projects",
        {
            "name": f"{rng.choice(WORDS).capitalize()} {rng.randrange(100, 999)}",
            "description": "Seeded by `tandem seed`.",
            "color": rng.choice(COLORS),
        },
    )
    advance(1)
    project_id = project["projectId"]
    task_ids = []
    for _ in range(tasks):
        task_ids.append(
            api.call(api_url, token, "POST", "/tasks", _task(rng, project_id))["taskId"]
        )
        advance(1)
    for _ in range(notes):
        task_id = rng.choice(task_ids) if task_ids and rng.random() < 0.5 else None
        api.call(api_url, token, "POST", "/notes", _note(rng, project_id, task_id))
        advance(1)
    return {"projects": 1, "tasks": tasks, "notes": notes}


def seed(
    api_url: str,
    token: str,
    projects: int,
    tasks: int,
    notes: int,
    seed_value: int,
    workers: int,
    advance: Callable[[int], None],
) -> dict[str, int]:
    """Writes `projects` projects with `tasks` tasks and `notes` notes each, `workers`
    projects at once; the counts written. Same seed, same data."""
    rngs = [random.Random(f"{seed_value}:{n}") for n in range(projects)]  # noqa: S311
    totals = {"projects": 0, "tasks": 0, "notes": 0}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [
            pool.submit(seed_project, api_url, token, rng, tasks, notes, advance) for rng in rngs
        ]
        for future in futures:
            for key, value in future.result().items():
                totals[key] += value
    return totals
