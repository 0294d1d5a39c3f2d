"""Chaos mode of the local stack (`make run CHAOS=...`): the faults AWS hands a deployed
Tandem now and then, on purpose, at chosen rates, from a seed.

- the event pump delivers some batches twice (`duplicate`), some SQS batches with their
  records shuffled (`reorder`), some late (`delay`, up to `max_delay` seconds), and some
  invocations fail before the handler runs (`fail`; the pump retries them as Lambda does);
- the embedded AWS answers some DynamoDB writes (`throttle_write`) and SNS publishes
  (`throttle_publish`) with a throttling error (the SDK's retries, then the app's own
  handling, must absorb them).

The spec is `1` (every fault at its default rate, a random seed) or comma-separated
`name=value` pairs over those defaults, e.g. `seed=42,fail=0.1,throttle_write=0`. The
seed is printed at start: the same seed makes the same sequence of decisions in each
component (thread timing can still interleave them differently). Stream records are
never reordered: Lambda keeps a shard's order per key, and so does the pump.

Hooks: devstack.pump_thread wraps the pump's invoker (`wrap_invoke`); devstack.moto_server
wraps the embedded AWS's WSGI app (`wsgi`). Nothing else knows about chaos.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qs

from .stack import StackError

log = logging.getLogger("tandem.chaos")

ENV = "TANDEM_CHAOS"
_DYNAMODB_WRITES = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
}


class ChaosError(StackError):
    """A spec that does not parse (said in one line at start)."""


class InjectedFailure(RuntimeError):
    """An invocation chaos failed on purpose (the pump treats it as the handler's)."""


@dataclass(frozen=True)
class Chaos:
    seed: int
    duplicate: float = 0.1
    reorder: float = 0.2
    delay: float = 0.1
    max_delay: float = 2.0
    fail: float = 0.05
    throttle_write: float = 0.05
    throttle_publish: float = 0.05

    @classmethod
    def parse(cls, spec: str) -> Chaos | None:
        spec = spec.strip()
        if spec.lower() in ("", "0", "off", "false", "no"):
            return None
        chaos = cls(seed=random.SystemRandom().randrange(1, 2**31))
        if spec.lower() in ("1", "on", "true", "yes", "default"):
            return chaos
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for pair in spec.split(","):
            name, equals, raw = pair.strip().partition("=")
            if not equals or name not in known:
                raise ChaosError(
                    f"{ENV}: {pair.strip()!r} is not name=value with a name of {sorted(known)}"
                )
            try:
                value = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ChaosError(f"{ENV}: {name}={raw!r} is not a number") from None
            if name not in ("seed", "max_delay") and not 0 <= value <= 1:
                raise ChaosError(f"{ENV}: {name}={raw} is not a rate between 0 and 1")
            if name == "max_delay" and not 0 <= value <= 60:
                raise ChaosError(f"{ENV}: max_delay={raw} is not 0 to 60 seconds")
            values[name] = value
        return replace(chaos, **values)

    @classmethod
    def from_env(cls, env: Any = os.environ) -> Chaos | None:
        return cls.parse(env.get(ENV, ""))

    def spec(self) -> str:
        """The spec that replays this run."""
        return ",".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in asdict(self).items()
        )

    # ---- the event pump ---------------------------------------------------------------

    def wrap_invoke(self, invoke: Callable[[str, dict[str, Any]], Any]) -> Callable[..., Any]:
        """`invoke` with the pump's faults."""
        dice = _Dice(self.seed, "pump")
        counts = Counter[str]()

        def chaotic(name: str, event: dict[str, Any]) -> Any:
            records = event.get("Records") or []
            from_queue = bool(records) and records[0].get("eventSource") == "aws:sqs"
            with dice.lock:
                late = dice.roll(self.delay)
                wait = dice.rng.uniform(0, self.max_delay)
                shuffle = from_queue and len(records) > 1 and dice.roll(self.reorder)
                order = dice.rng.sample(range(len(records)), len(records))
                fail = dice.roll(self.fail)
                twice = dice.roll(self.duplicate)
            if late:
                counts["delayed"] += 1
                time.sleep(wait)
            if shuffle:
                counts["reordered"] += 1
                event = {**event, "Records": [records[i] for i in order]}
            if fail:
                counts["failed"] += 1
                log.info("chaos: %s fails before it runs (%s)", name, dict(counts))
                raise InjectedFailure(f"chaos: {name} failed on purpose")
            result = invoke(name, event)
            if twice:
                counts["duplicated"] += 1
                try:
                    invoke(name, event)  # the same batch again, as an at-least-once source may
                except Exception:
                    log.exception("chaos: the duplicate delivery to %s raised", name)
            return result

        return chaotic

    # ---- the embedded AWS -------------------------------------------------------------

    def wsgi(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """moto's WSGI app, throttling some DynamoDB writes and SNS publishes."""
        dice = _Dice(self.seed, "aws")
        counts = Counter[str]()

        def throttling(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            service, _, operation = target.partition(".")
            if service.startswith("DynamoDB_") and operation in _DYNAMODB_WRITES:
                with dice.lock:
                    throttle = dice.roll(self.throttle_write)
                if throttle:
                    counts["dynamodb"] += 1
                    log.info("chaos: DynamoDB %s throttled (%s)", operation, dict(counts))
                    return _json_error(
                        start_response,
                        "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                        "chaos: rate of requests exceeds the allowed throughput",
                    )
            elif self.throttle_publish and _is_sns_publish(environ, target):
                with dice.lock:
                    throttle = dice.roll(self.throttle_publish)
                if throttle:
                    counts["sns"] += 1
                    log.info("chaos: SNS Publish throttled (%s)", dict(counts))
                    return _query_error(start_response, "Throttling", "chaos: Rate exceeded")
            return app(environ, start_response)

        return throttling


class _Dice:
    def __init__(self, seed: int, component: str) -> None:
        self.rng = random.Random(f"{seed}:{component}")
        self.lock = threading.Lock()

    def roll(self, rate: float) -> bool:
        return self.rng.random() < rate


def _is_sns_publish(environ: dict[str, Any], target: str) -> bool:
    """SNS speaks the query protocol: the action is a form field of the body, which is
    read and put back for moto."""
    if target:
        return target.endswith(".Publish") and "SNS" in target.upper()
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    if "/sns/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return False
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
    return action in ("Publish", "PublishBatch")


def _json_error(start_response: Callable[..., Any], kind: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": kind, "message": message}).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _query_error(start_response: Callable[..., Any], code: str, message: str) -> list[bytes]:
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>chaos</RequestId></ErrorResponse>"
    ).encode()
    start_response(
        "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]
