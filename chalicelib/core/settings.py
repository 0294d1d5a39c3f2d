"""Core's settings, read from the environment when first asked for, never at import.

A service reads its own settings from the `Setting`s of its declaration (its infra.py);
these are the ones core's mechanisms read (declared in core/infra.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import infra

STAGES = ("local", "dev", "prod")
STAGE_ENV = "TANDEM_STAGE"
MAX_BODY_BYTES = infra.BODY_CAP


@dataclass(frozen=True)
class Settings:
    stage: str
    idempotency_table: str
    user_pool_id: str
    user_pool_client_id: str
    max_body_bytes: int
    tombstone_days: int
    idempotency_hours: int
    cors_allowed_origins: frozenset[str]


def get_settings() -> Settings:
    """Builds settings from the environment.

    Not cached: it is a handful of dict lookups, and the Chalice test client swaps the
    environment per stage, so a cache would serve the wrong stage's names.
    """
    stage = os.environ.get(STAGE_ENV, "dev")
    if stage not in STAGES:
        raise RuntimeError(f"{STAGE_ENV} must be one of {STAGES}, not {stage!r}")
    return Settings(
        stage=stage,
        idempotency_table=infra.IDEMPOTENCY_TABLE.value(),
        user_pool_id=infra.USER_POOL_ID.value(),
        user_pool_client_id=infra.USER_POOL_CLIENT_ID.value(),
        max_body_bytes=infra.MAX_BODY_BYTES.number(),
        tombstone_days=infra.TOMBSTONE_DAYS.number(),
        idempotency_hours=infra.IDEMPOTENCY_HOURS.number(),
        cors_allowed_origins=frozenset(
            origin.strip()
            for origin in infra.CORS_ALLOWED_ORIGINS.value().split(",")
            if origin.strip()
        ),
    )
