"""Structured JSON logs (Powertools Logger) carrying the correlation id."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger


@lru_cache(maxsize=1)
def logger() -> Logger:
    return Logger(service="tandem")
