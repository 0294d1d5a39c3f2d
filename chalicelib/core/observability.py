"""Traces and metrics: AWS X-Ray through Powertools' Tracer, CloudWatch metrics in the
embedded metric format (EMF) through Powertools' Metrics. Both built on first use
(core.wiring), never at import.

Traces: every function runs with active tracing (deploy: `xray` in .chalice/config.json,
so both deploy paths set it); `traced` opens one subsegment per invocation, and the
correlation id (core.log.bind_correlation_id) is its annotation `correlationId`, so
X-Ray's console finds every function's part of one request or event by it. Tracer
disables itself outside Lambda (tests, the local stack).

Metrics: one EMF line on stdout per data point, which CloudWatch Logs turns into a metric
in the namespace `Tandem` with no API call (so no permission beyond the function's own
log group). What is counted: REST answers by status (`Requests`), events published by type
(`EventsPublished`), records a consumer failed by kind (`ConsumerFailures`), the size of
each cascade round (`CascadeSize`), and job outcomes (`JobOutcomes`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from .wiring import Dependency

NAMESPACE = "Tandem"
CORRELATION_ANNOTATION = "correlationId"


class MetricSink(Protocol):
    def __call__(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None: ...


def _emf(name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    """One EMF line, written whole: Powertools' own `single_metric` prints the line and its
    newline as two writes, which a log line from another thread (the local stack serves on
    many) can land between."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    provider = AmazonCloudWatchEMFProvider(
        namespace=NAMESPACE, service=os.environ.get("POWERTOOLS_SERVICE_NAME", "tandem")
    )
    provider.add_metric(name=name, unit=MetricUnit(unit), value=value)
    for key, dimension in dimensions.items():
        provider.add_dimension(name=key, value=dimension)
    line = json.dumps(provider.serialize_metric_set(), separators=(",", ":"))
    sys.stdout.write(line + "\n")


def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service="tandem")


# One Tracer per process (it patches botocore once); the metric sink tests replace.
tracer = Dependency("tracer", _tracer, per_process=True)
metric_sink: Dependency[MetricSink] = Dependency("metric_sink", lambda: _emf)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    metric_sink()(name, value, "Count", dimensions)


def annotate_correlation_id(value: str) -> None:
    tracer().put_annotation(key=CORRELATION_ANNOTATION, value=value)


@contextmanager
def traced(name: str) -> Iterator[None]:
    """One subsegment around an invocation: X-Ray's Lambda segment takes no annotations."""
    active = tracer()
    if active.disabled:
        yield
        return
    with active.provider.in_subsegment(name=f"## {name}"):
        yield


def tracing_middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every function (`register_middleware(..., "all")`)."""
    context = getattr(event, "context", None)
    with traced(getattr(context, "function_name", None) or "handler"):
        return get_response(event)
