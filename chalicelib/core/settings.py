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
    "TANDEM_PROJECTS_TOPIC_ARN": "ProjectsTopic",
    "TANDEM_TASKS_TOPIC_ARN": "TasksTopic",
    "TANDEM_NOTES_TOPIC_ARN": "NotesTopic",
    "TANDEM_PROJECT_UPSERTS_DLQ_URL": "TasksProjectUpsertsDLQ",
    "TANDEM_PROJECT_DELETIONS_QUEUE_URL": "TasksProjectDeletionsQueue",
    "TANDEM_PROJECT_DELETIONS_DLQ_URL": "TasksProjectDeletionsDLQ",
    "TANDEM_CONNECTIONS_TABLE": "ConnectionsTable",
    "TANDEM_REALTIME_DLQ_URL": "RealtimePushDLQ",
    # The websocket $connect checks ID tokens itself: the pool's id and the app client's.
    "TANDEM_USER_POOL_ID": "UserPool",
    "TANDEM_USER_POOL_CLIENT_ID": "UserPoolClient",
}

# Event sources Chalice needs as ARNs when handlers are declared (import time), as
# env var -> (logical id, attribute). Packaging points them at the template's resources.
EVENT_SOURCE_ENV: dict[str, tuple[str, str]] = {
    "TANDEM_PROJECTS_STREAM_ARN": ("ProjectsTable", "StreamArn"),
    "TANDEM_TASKS_STREAM_ARN": ("TasksTable", "StreamArn"),
    "TANDEM_NOTES_STREAM_ARN": ("NotesTable", "StreamArn"),
    "TANDEM_PROJECT_UPSERTS_QUEUE_ARN": ("TasksProjectUpsertsQueue", "Arn"),
    "TANDEM_PROJECT_DELETIONS_QUEUE_ARN": ("TasksProjectDeletionsQueue", "Arn"),
    "TANDEM_REALTIME_QUEUE_ARN": ("RealtimePushQueue", "Arn"),
}

# Resources that Chalice itself generates from the app (not in infra/), as env var ->
# logical id in the packaged template. The websocket API's id lets a handler that is not
# a websocket handler (the realtime push) post to connections; its stage comes with it.
GENERATED_RESOURCE_ENV: dict[str, str] = {
    "TANDEM_WEBSOCKET_API_ID": "WebsocketAPI",
}
WEBSOCKET_STAGE_ENV = "TANDEM_WEBSOCKET_STAGE"

STAGES = ("local", "dev", "prod")
MAX_BODY_BYTES = 1280 * 1024


@dataclass(frozen=True)
class Settings:
    stage: str
    projects_table: str
    tasks_table: str
    task_projects_table: str
    notes_table: str
    idempotency_table: str
    projects_topic_arn: str
    tasks_topic_arn: str
    notes_topic_arn: str
    project_upserts_dlq_url: str
    project_deletions_queue_url: str
    project_deletions_dlq_url: str
    connections_table: str
    realtime_dlq_url: str
    user_pool_id: str
    user_pool_client_id: str
    websocket_api_id: str
    websocket_stage: str
    connection_ttl_seconds: int
    cascade_max_tasks: int
    cascade_sweep_delay: int
    cascade_time_margin: int
    max_body_bytes: int
    tombstone_days: int
    idempotency_hours: int
    cors_allowed_origins: frozenset[str]


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
        projects_topic_arn=env.get("TANDEM_PROJECTS_TOPIC_ARN", ""),
        tasks_topic_arn=env.get("TANDEM_TASKS_TOPIC_ARN", ""),
        notes_topic_arn=env.get("TANDEM_NOTES_TOPIC_ARN", ""),
        project_upserts_dlq_url=env.get("TANDEM_PROJECT_UPSERTS_DLQ_URL", ""),
        project_deletions_queue_url=env.get("TANDEM_PROJECT_DELETIONS_QUEUE_URL", ""),
        project_deletions_dlq_url=env.get("TANDEM_PROJECT_DELETIONS_DLQ_URL", ""),
        connections_table=env.get("TANDEM_CONNECTIONS_TABLE", ""),
        realtime_dlq_url=env.get("TANDEM_REALTIME_DLQ_URL", ""),
        user_pool_id=env.get("TANDEM_USER_POOL_ID", ""),
        user_pool_client_id=env.get("TANDEM_USER_POOL_CLIENT_ID", ""),
        websocket_api_id=env.get("TANDEM_WEBSOCKET_API_ID", ""),
        websocket_stage=env.get(WEBSOCKET_STAGE_ENV, ""),
        # API Gateway closes a websocket after 2 h at most; a connection whose $disconnect
        # never arrived is stale after that, and TTL removes it.
        connection_ttl_seconds=_int("TANDEM_CONNECTION_TTL_SECONDS", 2 * 3600 + 600),
        cascade_max_tasks=_int("TANDEM_CASCADE_MAX_TASKS", 2000),
        cascade_sweep_delay=_int("TANDEM_CASCADE_SWEEP_DELAY_SECONDS", 60),
        # A cascade round stops taking new tasks when less than this is left of its
        # Lambda's time (the function's timeout is 120 s).
        cascade_time_margin=_int("TANDEM_CASCADE_TIME_MARGIN_SECONDS", 30),
        # The largest legal body, a note at every limit sent as \uXXXX escapes (12 bytes
        # per astral character), is about 1.22 MB; see docs/decisions.md.
        max_body_bytes=_int("TANDEM_MAX_BODY_BYTES", MAX_BODY_BYTES),
        tombstone_days=_int("TANDEM_TOMBSTONE_DAYS", 30),
        idempotency_hours=_int("TANDEM_IDEMPOTENCY_HOURS", 24),
        # Origins a browser build may call the API from, per stage (comma-separated, or *).
        # None by default: a browser gets no CORS answer.
        cors_allowed_origins=frozenset(
            origin.strip()
            for origin in env.get("TANDEM_CORS_ALLOWED_ORIGINS", "").split(",")
            if origin.strip()
        ),
    )
