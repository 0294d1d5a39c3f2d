"""The event pump of the local stack: devstack.pump.Pump and the schedules, driven by one
background thread.

Every TANDEM_PUMP_INTERVAL seconds (0.2), and at once whenever a batch is done, the thread
hands what is ready to the pump's workers (which call the handlers concurrently, per
shard and per queue, as Lambda does; it never waits for them), then fires the schedules
that are due. After two seconds with nothing to deliver and nothing in flight it polls
every TANDEM_PUMP_IDLE_INTERVAL seconds (1) instead, and goes back to the short interval
as soon as something is delivered: an idle stack costs a few percent of a core rather
than 15% (each pass is about ten calls to the embedded AWS).

A handler's exception is caught and logged by the pump or the scheduler; an error of the
pump itself (say, the embedded AWS answering 500) is logged too, and the next pass runs as
usual: nothing stops the thread but the stack stopping.

A failed SQS message is visible again after TANDEM_PUMP_RETRY_SECONDS (5) rather than the
queue's visibility timeout (minutes, sized for Lambda): the same redrive to the DLQ after
maxReceiveCount, without waiting an hour for it locally.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .stack import Stack, StackError

log = logging.getLogger("tandem.pump")

INTERVAL_ENV = "TANDEM_PUMP_INTERVAL"
IDLE_INTERVAL_ENV = "TANDEM_PUMP_IDLE_INTERVAL"
RETRY_ENV = "TANDEM_PUMP_RETRY_SECONDS"
DEFAULT_INTERVAL = 0.2
DEFAULT_IDLE_INTERVAL = 1.0
# Quiet rounds (nothing delivered) before the pump slows to the idle interval.
IDLE_AFTER_ROUNDS = 10
DEFAULT_RETRY_SECONDS = 5
# New shards are looked for this often (a table's stream keeps its shard in moto).
DESCRIBE_EVERY_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 30.0


def _number(name: str, default: float, env: Any = os.environ) -> float:
    raw = env.get(name) or ""
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise StackError(f"{name}={raw!r} is negative")
    return value


class EventPump:
    name = "pump"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()  # a batch is done, or the stack stops
        self._thread: threading.Thread | None = None
        self.interval = DEFAULT_INTERVAL
        self.idle_interval = DEFAULT_IDLE_INTERVAL
        self.quiet_rounds = 0
        self.pump: Any = None
        self.scheduler: Any = None
        self.passes = 0
        self.failures = 0
        self._save_positions: Any = None
        self._saved_positions: dict[str, str] = {}

    def start(self, stack: Stack) -> None:
        from .chaos import Chaos
        from .pump import Pump
        from .schedule import Scheduler

        self.interval = max(_number(INTERVAL_ENV, DEFAULT_INTERVAL), 0.01)
        self.idle_interval = max(_number(IDLE_INTERVAL_ENV, DEFAULT_IDLE_INTERVAL), self.interval)
        retry = int(_number(RETRY_ENV, DEFAULT_RETRY_SECONDS))
        ctx = stack.provisioned()
        invoke = stack.invoker()
        app = stack.loaded_app()
        chaos = Chaos.from_env()  # make run CHAOS=...: only the pump's deliveries
        if chaos is not None:
            stack.summary.append(("Chaos", f"{chaos.spec()} (replay: CHAOS={chaos.spec()})"))
        self.pump = Pump(
            stack.session,
            ctx,
            app,
            invoke if chaos is None else chaos.wrap_invoke(invoke),
            retry_visibility=retry,
            describe_every=DESCRIBE_EVERY_SECONDS,
            on_batch_done=self._wake.set,
            positions=dict(stack.pump_positions),
        )
        self._save_positions = stack.save_pump_positions
        self._saved_positions = dict(self.pump.positions)
        self.scheduler = Scheduler(
            app,
            invoke,
            region=stack.region,
            account=ctx.account_id,
            rule_prefix=stack.stack_name,
        )
        stack.pump, stack.scheduler = self.pump, self.scheduler
        stack.summary.append(("Event pump", self.describe()))
        self._thread = threading.Thread(target=self._run, name="event-pump", daemon=True)
        self._thread.start()

    def describe(self) -> str:
        schedules = len(self.scheduler.jobs)
        return (
            f"{len(self.pump.streams)} streams, {len(self.pump.queues)} queues, "
            f"{schedules} schedule{'' if schedules == 1 else 's'}, every {self.interval:g} s"
        )

    def run_once(self) -> int:
        """One round: what is ready goes to the pump's workers, then the due schedules
        fire; the number of records (and schedules) handed out."""
        delivered = 0
        try:
            self.passes += 1
            delivered += self.pump.dispatch()
        except Exception:
            self.failures += 1
            log.exception("an event pump pass failed; the pump goes on")
        try:
            delivered += len(self.scheduler.run_due())
        except Exception:
            self.failures += 1
            log.exception("the scheduler failed; it goes on")
        self._checkpoint()
        return delivered

    def _checkpoint(self) -> None:
        """Hands changed stream positions to the embedded AWS, which saves them with its
        state (so that a restart delivers exactly what was not delivered yet)."""
        if self._save_positions is None:
            return
        positions = dict(self.pump.positions)
        if positions != self._saved_positions:
            self._saved_positions = positions
            self._save_positions(positions)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            if self.run_once() or self.pump.busy():
                self.quiet_rounds = 0
            else:
                self.quiet_rounds += 1
            idle = self.quiet_rounds >= IDLE_AFTER_ROUNDS
            self._wake.wait(self.idle_interval if idle else self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                log.warning("a schedule is still running; the pump thread is left behind")
        if self.pump is not None:
            if not self.pump.close(timeout=STOP_TIMEOUT_SECONDS):
                log.warning("a handler is still running; its batch is left behind")
            self._checkpoint()  # what the last batches did, before the state is saved
