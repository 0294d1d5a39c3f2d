"""The local scheduler (devstack.schedule) and the pump thread's resilience
(devstack.pump_thread), on a tiny app: Tandem itself declares no schedule yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.app import Chalice, Cron, Rate
from chalice.local import LambdaContext

from devstack.pump_thread import EventPump
from devstack.schedule import ScheduleError, Scheduler, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---- expressions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # EventBridge's documented examples, and the special forms.
        ("cron(0 10 * * ? *)", "2026-11-22 11:00", "2026-11-23 10:00"),
        ("cron(15 12 * * ? *)", "2026-11-22 12:14", "2026-11-22 12:15"),
        ("cron(15 12 * * ? *)", "2026-11-22 12:15", "2026-11-23 12:15"),  # strictly after
        ("cron(15 12 * * ? *)", "2026-11-22 12:14:59", "2026-11-22 12:15"),
        ("cron(0 18 ? * MON-FRI *)", "2026-11-21 19:00", "2026-11-23 18:00"),  # Sat -> Mon
        ("cron(0 8 1 * ? *)", "2026-11-22 00:00", "2026-12-01 08:00"),
        ("cron(0/15 * * * ? *)", "2026-11-22 10:07", "2026-11-22 10:15"),
        ("cron(0/10 * ? * MON-FRI *)", "2026-11-22 10:07", "2026-11-23 00:00"),  # Sunday
        ("cron(0/5 8-17 ? * MON-FRI *)", "2026-11-27 17:56", "2026-11-30 08:00"),  # Fri -> Mon
        ("cron(0 9 ? * 2#1 *)", "2026-11-22 00:00", "2026-12-07 09:00"),  # first Monday
        ("cron(0 0 L * ? *)", "2028-02-01 00:00", "2028-02-29 00:00"),  # leap year
        ("cron(0 0 LW * ? *)", "2025-11-01 00:00", "2025-11-28 00:00"),  # 30th is a Sunday
        ("cron(0 0 15W * ? *)", "2025-11-01 00:00", "2025-11-14 00:00"),  # 15th: Saturday
        ("cron(0 0 1W * ? *)", "2025-10-31 00:00", "2025-11-03 00:00"),  # 1st: Saturday
        ("cron(0 0 ? * 6L *)", "2025-11-01 00:00", "2025-11-28 00:00"),  # last Friday
        ("cron(30 9 ? JAN,JUL MON *)", "2026-11-22 00:00", "2027-01-04 09:30"),
        ("cron(0 12 * * ? 2030-2031)", "2026-11-22 00:00", "2030-01-01 12:00"),
        ("cron(0 12 * * ? 2027)", "2028-01-01 00:00", None),  # no time left
        ("cron(0 0 31 2 ? *)", "2026-11-22 00:00", None),  # February has no 31st
        ("cron(0 0 31 * ? *)", "2026-11-22 00:00", "2026-12-31 00:00"),  # skips short months
    ],
)
def test_cron_next_fire(expression: str, after: str, expected: str | None) -> None:
    fire = parse_schedule(expression).next_after(at(after))
    assert fire == (at(expected) if expected else None)


def test_rate_fires_every_interval() -> None:
    for expression, seconds in [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
    ]:
        start = at("2026-11-22 10:00:30")
        assert parse_schedule(expression).next_after(start) == start + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 minutes)",  # EventBridge wants the singular for 1...
        "rate(5 minute)",  # ...and the plural otherwise
        "rate(5 weeks)",
        "cron(0 10 * * *)",  # five fields
        "cron(0 10 * * * *)",  # neither day field is ?
        "cron(0 10 ? * ? *)",  # both are
        "cron(60 10 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 10 32 * ? *)",
        "cron(0 10 ? * 8 *)",
        "cron(0 10 * 13 ? *)",
        "cron(0 10 ? * FUNDAY *)",
        "cron(0 10 ? * 2#6 *)",
        "cron(0 10-8 * * ? *)",
        "cron(0/0 10 * * ? *)",
        "every day",
    ],
)
def test_what_eventbridge_refuses_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


# ---- the scheduler on a tiny app ------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def tiny_app(calls: list[tuple[str, dict[str, Any]]]) -> Chalice:
    app = Chalice(app_name="tiny")

    @app.schedule("rate(5 minutes)")
    def every_five(event: Any) -> None:
        calls.append(("every_five", event.to_dict()))

    @app.schedule(Cron(30, 9, "?", "*", "MON-FRI", "*"))
    def weekday_mornings(event: Any) -> None:
        calls.append(("weekday_mornings", event.to_dict()))

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def broken(event: Any) -> None:
        calls.append(("broken", event.to_dict()))
        raise RuntimeError("a handler's bug")

    @app.lambda_function()
    def not_scheduled(event: Any, context: Any) -> None:
        raise AssertionError("never fired by the scheduler")

    return app


def lambda_invoke(app: Chalice) -> Any:
    def invoke(name: str, event: dict[str, Any]) -> Any:
        return app.handler_map[name](event, LambdaContext(name, 128))

    return invoke


@pytest.fixture
def calls() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-11-21 09:00"))  # a Saturday


@pytest.fixture
def scheduler(calls: list[tuple[str, dict[str, Any]]], clock: Clock) -> Scheduler:
    app = tiny_app(calls)
    return Scheduler(app, lambda_invoke(app), rule_prefix="tiny-local", now=clock)


def test_only_scheduled_functions_are_jobs(scheduler: Scheduler) -> None:
    assert set(scheduler.jobs) == {"every_five", "weekday_mornings", "broken"}
    assert [job["expression"] for job in scheduler.describe()] == [
        "rate(5 minutes)",
        "cron(30 9 ? * MON-FRI *)",
        "rate(1 hour)",
    ]


def test_rates_fire_on_the_timer_and_cron_at_its_times(
    scheduler: Scheduler, calls: list[tuple[str, dict[str, Any]]], clock: Clock
) -> None:
    assert scheduler.run_due() == []
    clock.now += timedelta(minutes=4, seconds=59)
    assert scheduler.run_due() == []
    clock.now += timedelta(seconds=1)
    assert scheduler.run_due() == ["every_five"]
    assert scheduler.run_due() == []  # once per interval
    assert calls[-1][0] == "every_five"
    event = calls[-1][1]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-21T09:05:00Z"
    assert event["resources"] == [
        "arn:aws:events:us-east-1:123456789012:rule/tiny-local-every_five"
    ]
    # The weekday job skips the weekend: Monday 09:30 is its first fire.
    assert scheduler.jobs["weekday_mornings"].next_fire == at("2026-11-23 09:30")
    clock.now = at("2026-11-23 09:30")
    assert "weekday_mornings" in scheduler.run_due()
    assert scheduler.jobs["weekday_mornings"].next_fire == at("2026-11-24 09:30")


def test_a_failing_handler_does_not_stop_the_others_or_its_next_fire(
    scheduler: Scheduler, calls: list[tuple[str, dict[str, Any]]], clock: Clock
) -> None:
    clock.now += timedelta(hours=1)
    fired = scheduler.run_due()
    assert set(fired) == {"every_five", "broken"}
    assert scheduler.jobs["broken"].next_fire == clock.now + timedelta(hours=1)
    clock.now += timedelta(hours=1)
    assert "broken" in scheduler.run_due()
    assert [name for name, _ in calls].count("broken") == 2


def test_missed_fires_are_not_caught_up(
    scheduler: Scheduler, calls: list[tuple[str, dict[str, Any]]], clock: Clock
) -> None:
    clock.now += timedelta(hours=3, minutes=2)  # the laptop slept
    scheduler.run_due()
    assert [name for name, _ in calls].count("every_five") == 1
    assert scheduler.jobs["every_five"].next_fire == clock.now + timedelta(minutes=5)


def test_on_demand_runs_now_and_leaves_the_schedule(
    scheduler: Scheduler, calls: list[tuple[str, dict[str, Any]]], clock: Clock
) -> None:
    before = scheduler.jobs["weekday_mornings"].next_fire
    scheduler.invoke_now("weekday_mornings")
    assert calls[-1][0] == "weekday_mornings"
    assert calls[-1][1]["time"] == "2026-11-21T09:00:00Z"
    assert scheduler.jobs["weekday_mornings"].next_fire == before
    with pytest.raises(RuntimeError):  # on demand, a failure is the caller's to see
        scheduler.invoke_now("broken")
    with pytest.raises(KeyError):
        scheduler.invoke_now("not_scheduled")


# ---- the pump thread keeps going ------------------------------------------------------


class FailingPump:
    """A pump whose passes fail (say, the embedded AWS answers 500), then recover."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.passes = 0

    def dispatch(self) -> int:
        self.passes += 1
        if self.passes <= self.failures:
            raise ConnectionError("the embedded AWS is not answering")
        return 0


def test_a_failing_pass_is_logged_and_the_next_one_runs(
    scheduler: Scheduler, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    component = EventPump()
    component.pump, component.scheduler = FailingPump(failures=2), scheduler
    clock.now += timedelta(minutes=5)
    component.run_once()  # the pump fails; the due schedule still fires
    assert component.failures == 1
    assert scheduler.jobs["every_five"].fired == 1
    component.run_once()
    component.run_once()
    assert component.pump.passes == 3
    assert component.failures == 2
    assert "pump goes on" in caplog.text
