"""`@app.schedule` handlers, run locally as EventBridge would run them.

- `rate(N minute|minutes|hour|hours|day|days)` fires every N units, the first time N units
  after the stack starts (as a new EventBridge rule does);
- `cron(Minutes Hours Day-of-month Month Day-of-week Year)` fires at the times the
  expression names, in UTC, computed here with EventBridge's rules: names (JAN-DEC,
  SUN-SAT; day 1 is Sunday), `* , - /`, `?` in exactly one of the two day fields, `L`,
  `W` and `LW` in the day of month, `L` and `#` in the day of week.
An expression EventBridge would refuse is refused here too, so a schedule that would fail
to deploy fails locally first. Every scheduled function can also be invoked on demand.
A fire that was missed (the machine slept) is not caught up: the next one is computed
from now, as EventBridge does not replay missed rules either.
"""

from __future__ import annotations

import calendar
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalice.app import Chalice, ScheduledEventConfig

log = logging.getLogger("tandem.schedule")

Invoke = Callable[[str, dict[str, Any]], Any]

MAX_YEAR = 2199
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


class ScheduleError(ValueError):
    """An expression EventBridge would not accept."""


class Schedule(Protocol):
    expression: str

    def next_after(self, moment: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class Rate:
    expression: str
    seconds: int

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class _Field:
    """One cron field: the plain values it allows, plus the day fields' special forms."""

    values: frozenset[int]
    last: bool = False  # L (day of month): the month's last day
    last_weekday: bool = False  # LW: the month's last weekday
    nearest_weekday: frozenset[int] = frozenset()  # nW: the weekday nearest day n
    last_of: frozenset[int] = frozenset()  # dL (day of week): the month's last day d
    nth: frozenset[tuple[int, int]] = frozenset()  # d#k: the k-th day d of the month


def _number(text: str, low: int, high: int, names: dict[str, int], what: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"{what}: {text!r} is not a value")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"{what}: {value} is outside {low}-{high}")
    return value


def _plain(item: str, low: int, high: int, names: dict[str, int], what: str) -> set[int]:
    """`*`, `a`, `a-b`, `*/n`, `a/n`, `a-b/n`."""
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ScheduleError(f"{what}: bad step in {item!r}")
        step = int(step_text)
    if base == "*":
        first, last = low, high
    elif "-" in base:
        start_text, _, end_text = base.partition("-")
        first = _number(start_text, low, high, names, what)
        last = _number(end_text, low, high, names, what)
        if first > last:
            raise ScheduleError(f"{what}: range {item!r} runs backwards")
    else:
        first = _number(base, low, high, names, what)
        last = high if slash else first
    return set(range(first, last + 1, step))


def _field(
    text: str, low: int, high: int, what: str, names: dict[str, int] | None = None
) -> _Field:
    values: set[int] = set()
    for item in text.split(","):
        values |= _plain(item, low, high, names or {}, what)
    return _Field(frozenset(values))


def _day_of_month(text: str) -> _Field:
    values: set[int] = set()
    last = last_weekday = False
    nearest: set[int] = set()
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            last = True
        elif upper == "LW":
            last_weekday = True
        elif upper.endswith("W"):
            nearest.add(_number(upper[:-1], 1, 31, {}, "day of month"))
        else:
            values |= _plain(item, 1, 31, {}, "day of month")
    return _Field(frozenset(values), last, last_weekday, frozenset(nearest))


def _day_of_week(text: str) -> _Field:
    values: set[int] = set()
    last_of: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            values.add(7)  # the last day of the week: Saturday
        elif upper.endswith("L"):
            last_of.add(_number(upper[:-1], 1, 7, _DAYS, "day of week"))
        elif "#" in upper:
            day_text, _, which = upper.partition("#")
            day = _number(day_text, 1, 7, _DAYS, "day of week")
            nth.add((day, _number(which, 1, 5, {}, "day of week (#)")))
        else:
            values |= _plain(item, 1, 7, _DAYS, "day of week")
    return _Field(frozenset(values), last_of=frozenset(last_of), nth=frozenset(nth))


def aws_weekday(day: datetime) -> int:
    """1 = Sunday ... 7 = Saturday, as EventBridge counts."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    length = calendar.monthrange(year, month)[1]
    if day > length:
        return None
    weekday = calendar.weekday(year, month, day)  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, or Monday if that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or Friday if that leaves the month
        return day + 1 if day < length else day - 2
    return day


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: _Field
    hours: _Field
    day_of_month: _Field | None  # None: "?"
    months: _Field
    day_of_week: _Field | None  # None: "?"
    years: _Field

    def days(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        chosen: set[int] = set()
        dom, dow = self.day_of_month, self.day_of_week
        if dom is not None:
            chosen |= {d for d in dom.values if d <= length}
            if dom.last:
                chosen.add(length)
            if dom.last_weekday:
                chosen.add(
                    next(d for d in range(length, 0, -1) if calendar.weekday(year, month, d) < 5)
                )
            for day in dom.nearest_weekday:
                nearest = _nearest_weekday(year, month, day)
                if nearest is not None:
                    chosen.add(nearest)
        if dow is not None:
            for d in range(1, length + 1):
                weekday = aws_weekday(datetime(year, month, d))
                if weekday in dow.values:
                    chosen.add(d)
                if weekday in dow.last_of and d + 7 > length:
                    chosen.add(d)
                if (weekday, (d - 1) // 7 + 1) in dow.nth:
                    chosen.add(d)
        return sorted(chosen)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first time strictly after `moment` (UTC, whole minutes), or None."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for year in sorted(y for y in self.years.values if y >= start.year):
            for month in sorted(self.months.values):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    for hour in sorted(self.hours.values):
                        for minute in sorted(self.minutes.values):
                            candidate = datetime(year, month, day, hour, minute, tzinfo=UTC)
                            if candidate >= start:
                                return candidate
        return None


def parse_schedule(expression: str) -> Rate | Cron:
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value == 0:
            raise ScheduleError(f"{expression}: the rate must be at least 1")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(
                f"{expression}: EventBridge wants '1 {unit.rstrip('s')}' or 'N {unit.rstrip('s')}s'"
            )
        return Rate(text, value * _UNIT_SECONDS[unit.rstrip("s")])
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleError(f"{expression!r} is neither rate(...) nor cron(...)")
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ScheduleError(f"{expression}: cron takes 6 fields, not {len(parts)}")
    minutes, hours, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week is '?'")
    return Cron(
        text,
        _field(minutes, 0, 59, "minutes"),
        _field(hours, 0, 23, "hours"),
        None if dom == "?" else _day_of_month(dom),
        _field(month, 1, 12, "month", _MONTHS),
        None if dow == "?" else _day_of_week(dow),
        _field(year, 1970, MAX_YEAR, "year"),
    )


def expression_of(config: ScheduledEventConfig) -> str:
    """Chalice keeps a string, or a Rate/Cron object that renders itself."""
    expression = config.schedule_expression
    return expression if isinstance(expression, str) else expression.to_string()


def scheduled_event(rule_arn: str, region: str, account: str, at: datetime) -> dict[str, Any]:
    """The event EventBridge gives a scheduled Lambda."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass
class Job:
    function: str
    schedule: Rate | Cron
    next_fire: datetime | None
    fired: int = 0


@dataclass
class Scheduler:
    """The app's scheduled functions, each with its next fire time."""

    app: Chalice
    invoke: Invoke
    region: str = "us-east-1"
    account: str = "123456789012"
    rule_prefix: str = "tandem-local"
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    jobs: dict[str, Job] = field(default_factory=dict)

    def __post_init__(self) -> None:
        started = self.now()
        for source in self.app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                schedule = parse_schedule(expression_of(source))
                self.jobs[source.name] = Job(source.name, schedule, schedule.next_after(started))

    def run_due(self) -> list[str]:
        """Fires every job whose time has come; the functions fired. A handler's exception
        is logged; it never stops the other jobs or the next fire."""
        now = self.now()
        fired = []
        for job in self.jobs.values():
            if job.next_fire is None or job.next_fire > now:
                continue
            self._fire(job, job.next_fire)
            fired.append(job.function)
            following = job.schedule.next_after(job.next_fire)
            # Missed fires are not caught up: the next one is in the future.
            job.next_fire = (
                following if following is None or following > now else job.schedule.next_after(now)
            )
        return fired

    def invoke_now(self, function: str) -> Any:
        """Runs a scheduled function once, now; its schedule is unchanged."""
        job = self.jobs.get(function)
        if job is None:
            raise KeyError(function)
        return self._fire(job, self.now(), raise_errors=True)

    def _fire(self, job: Job, at: datetime, raise_errors: bool = False) -> Any:
        rule = f"arn:aws:events:{self.region}:{self.account}:rule/{self.rule_prefix}-{job.function}"
        job.fired += 1
        try:
            return self.invoke(job.function, scheduled_event(rule, self.region, self.account, at))
        except Exception:
            if raise_errors:
                raise
            log.exception("scheduled function %s raised", job.function)
            return None

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "function": job.function,
                "expression": job.schedule.expression,
                "nextFire": job.next_fire.strftime("%Y-%m-%dT%H:%M:%SZ") if job.next_fire else None,
                "fired": job.fired,
            }
            for job in self.jobs.values()
        ]
