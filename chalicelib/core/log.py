"""Structured JSON logs (Powertools Logger) carrying the correlation id."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from aws_lambda_powertools import Logger

from . import context
from .observability import annotate_correlation_id
from .wiring import Dependency


class _CurrentStdout(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stdout is when a record is emitted, not when the logger was
    built: in Lambda that is the same stream; under a test runner it is swapped per test."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


# One Logger per process: each one would add its handler to the same logging logger.
logger = Dependency(
    "logger", lambda: Logger(service="tandem", logger_handler=_CurrentStdout()), per_process=True
)


def bind_correlation_id(value: str) -> None:
    """The correlation id of what this thread handles now: for the events it writes
    (core.context), on every log line it emits, and on its X-Ray trace. Context-local, not Logger.
    set_correlation_id, which is process-wide: the local stack serves requests and
    event batches on many threads of one process, and each line must carry its own."""
    context.set_correlation_id(value)
    logger().thread_safe_append_keys(correlation_id=value)
    annotate_correlation_id(value)
