"""Traces and metrics (core.observability): what each function reports, through a
recording metric sink and a recording tracer (core.wiring.override), and the EMF lines
the real sink prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib.core import observability, wiring
from chalicelib.core.batch import BatchFailed
from chalicelib.core.consumer import consume
from tests.test_batch_mode import _event, _fail_second, _no_dead_letters


class Metrics:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, str, dict[str, str]]] = []

    def __call__(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
        self.points.append((name, value, unit, dict(dimensions)))

    def of(self, name: str) -> list[tuple[float, dict[str, str]]]:
        return [(value, dims) for n, value, _, dims in self.points if n == name]


class Tracer:
    """Powertools' Tracer as the code uses it: enabled, subsegments and annotations."""

    disabled = False

    def __init__(self) -> None:
        self.subsegments: list[str] = []
        self.annotations: list[tuple[str, str, str]] = []
        self.provider = self

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[None]:
        self.subsegments.append(name)
        try:
            yield
        finally:
            self.subsegments.append(f"end {name}")

    def put_annotation(self, key: str, value: str) -> None:
        open_ = [s for s in self.subsegments if not s.startswith("end ")]
        closed = {s[4:] for s in self.subsegments if s.startswith("end ")}
        current = next((s for s in reversed(open_) if s not in closed), "")
        self.annotations.append((current, key, value))


@pytest.fixture
def metrics() -> Metrics:
    recorder = Metrics()
    wiring.override("metric_sink", recorder)
    return recorder


@pytest.fixture
def tracer() -> Tracer:
    recorder = Tracer()
    wiring.override("tracer", recorder)
    return recorder


def test_requests_are_counted_by_status(api, alice, metrics):
    assert api.post("/projects", alice, {"name": "counted"}).status == 201
    assert api.get("/projects/01JNOPE0000000000000000000", alice).status == 404
    assert api.post("/projects", alice, {"name": ""}).status == 400
    statuses = [dims["status"] for value, dims in metrics.of("Requests") if value == 1]
    assert statuses == ["201", "404", "400"]


def test_the_correlation_id_annotates_the_invocations_subsegment(api, alice, tracer):
    response = api.post("/projects", alice, {"name": "traced"}, headers={"X-Request-Id": "req-42"})
    assert response.status == 201
    assert tracer.subsegments[0].startswith("## ")
    assert tracer.subsegments[-1] == f"end {tracer.subsegments[0]}"
    assert (tracer.subsegments[0], "correlationId", "req-42") in tracer.annotations


def test_events_published_are_counted_by_type(api, alice, pump, metrics):
    project = api.post("/projects", alice, {"name": "p"}).json
    api.patch(f"/projects/{project['projectId']}", alice, {"name": "q"})
    pump.drain()
    published: dict[str, float] = {}
    for value, dims in metrics.of("EventsPublished"):
        published[dims["type"]] = published.get(dims["type"], 0) + value
    assert published["project-created"] == 1
    assert published["project-updated"] == 1


def test_consumer_failures_are_counted(metrics, monkeypatch):
    monkeypatch.setenv("TANDEM_BATCH_ITEM_FAILURES", "true")
    consume(_event("m1", "m2", "m3"), _fail_second, _no_dead_letters)
    monkeypatch.delenv("TANDEM_BATCH_ITEM_FAILURES")
    with pytest.raises(BatchFailed):
        consume(_event("m2"), _fail_second, _no_dead_letters)
    assert [(v, d["kind"]) for v, d in metrics.of("ConsumerFailures")] == [
        (1, "retried"),
        (1, "retried"),
    ]


def test_cascade_rounds_report_their_size(api, alice, pump, metrics):
    project = api.post("/projects", alice, {"name": "doomed"}).json
    for i in range(3):
        api.post("/tasks", alice, {"title": f"t{i}", "projectId": project["projectId"]})
    pump.drain()
    assert api.delete(f"/projects/{project['projectId']}", alice).status == 204
    pump.drain()
    tasks = [value for value, dims in metrics.of("CascadeSize") if dims["cascade"] != "unlink"]
    assert sum(tasks) == 3
    assert tasks[-1] == 0  # the sweep that found nothing


def test_the_real_sink_prints_one_emf_line(capsys):
    observability.count("Requests", status="200")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Tandem"
    assert directive["Metrics"] == [{"Name": "Requests", "Unit": "Count"}]
    assert line["Requests"] == [1.0] or line["Requests"] == 1.0
    assert line["status"] == "200"


def test_tracing_is_off_outside_lambda():
    # Powertools disables itself without AWS_LAMBDA_FUNCTION_NAME: nothing is sent.
    assert observability.tracer().disabled
    with observability.traced("anything"):
        observability.annotate_correlation_id("x")


def test_job_outcomes_are_counted(api, alice, pump, metrics):
    from app import app
    from chalicelib.jobs import service as jobs
    from chalicelib.jobs.workers import Done, JobRun, PermanentFailure, Registry, discover
    from devstack.lambda_api import InProcessLambda
    from devstack.pump import lambda_invoker

    from .conftest import STAGE

    wiring.override("aws.lambda", InProcessLambda(app, lambda_invoker(app, STAGE)))

    def works(run: JobRun) -> Done:
        return Done({"ok": True})

    def breaks(run: JobRun) -> Done:
        raise PermanentFailure("never")

    real = discover()
    added = {("test", "works"): works, ("test", "breaks"): breaks}
    wiring.override("jobs.workers", Registry({**real.workers, **added}, real.presenters))
    jobs.submit(alice.sub, "test", "test", "works", {}, "corr-1")
    jobs.submit(alice.sub, "test", "test", "breaks", {}, "corr-2")
    pump.drain()
    outcomes = sorted((d["action"], d["outcome"]) for _, d in metrics.of("JobOutcomes"))
    assert outcomes == [("breaks", "failed"), ("works", "succeeded")]
