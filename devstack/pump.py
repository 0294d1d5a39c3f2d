"""The event pump: what Lambda's event source mappings do in AWS, done against moto.

It reads DynamoDB stream records and SQS messages (after moto's own SNS fan-out with the
real filter policies) and calls the app's own handlers with Lambda-shaped events, on a
pool of worker threads, concurrently as Lambda does:
- streams: as the deployed mapping's ParallelizationFactor says, a shard's records are
  spread over lanes by partition key, and each lane has one batch with its handler at a
  time, so each key's records stay in order while lanes, shards and streams run side by
  side; batches of up to the handler's batch size, after its batching window; a partial
  batch failure or an exception retries (that lane) from the failed record, at most
  `max_stream_attempts` times, then the rest of the batch goes to the mapping's
  on-failure queue, as a stream mapping with bounded retries does;
- SQS: up to `queue_concurrency` batches of one queue with its handler at once (Lambda's
  pollers), of up to the handler's batch size (filled during its batching window); a
  message is deleted when its record succeeded and left on failure, so redrive to the DLQ
  happens as in AWS, and partial batch responses are honoured.
One handler's exception is logged and never stops the pump.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config
from chalice.app import Chalice, DynamoDBEventConfig, SQSEventConfig

from chalicelib.core import registry
from deploy.functions import STREAM_PARALLELIZATION

from .infra import Context

log = logging.getLogger("tandem.pump")

Invoke = Callable[[str, dict[str, Any]], Any]

# How often a batch in its batching window looks for more messages.
WINDOW_POLL_SECONDS = 0.05


# The Lambda function Chalice makes for each websocket route (`chalice package` names).
WEBSOCKET_FUNCTIONS = {
    "$connect": "websocket_connect",
    "$default": "websocket_message",
    "$disconnect": "websocket_disconnect",
}


def lambda_invoker(app: Chalice, stage: str, project_dir: str | None = None) -> Invoke:
    """Calls a handler as Lambda would: with a context whose deadline is the function's
    configured timeout in `.chalice/config.json` for `stage`. (chalice.test's client
    always gives 3 s, which would make every bounded handler stop early.)"""
    from chalice.cli.factory import CLIFactory
    from chalice.local import LambdaContext

    from .infra import ROOT

    config = CLIFactory(str(project_dir or ROOT)).create_config_obj(chalice_stage_name=stage)
    # Websocket handlers are Lambda functions under names Chalice gives them.
    functions = {
        handler.name: WEBSOCKET_FUNCTIONS[handler.route_key_handled]
        for handler in app.websocket_handlers.values()
    }

    def invoke(name: str, event: dict[str, Any]) -> Any:
        function = functions.get(name, name)
        scoped = config.scope(stage, function)
        context = LambdaContext(
            function,
            memory_size=scoped.lambda_memory_size or 128,
            max_runtime_ms=(scoped.lambda_timeout or 60) * 1000,
        )
        return app.handler_map[name](event, context)

    return invoke


def _trigger_of(function: str) -> registry.Trigger:
    """The stream or queue `function` is declared to be triggered by."""
    trigger = registry.functions()[function].trigger
    if trigger is None:
        raise LookupError(f"{function} has an event source but declares no trigger")
    return trigger


def _as_lambda_json(value: Any) -> Any:
    """Lambda's JSON for what botocore parsed: Binary (B) values are base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """moto's GetRecords output in the shape Lambda delivers it."""
    shaped: dict[str, Any] = json.loads(json.dumps(record, default=_as_lambda_json))
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    shaped["dynamodb"] = json.loads(json.dumps(change, default=_as_lambda_json))
    shaped.update(eventSource="aws:dynamodb", eventSourceARN=stream_arn, awsRegion=region)
    return shaped


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS ReceiveMessage message in the shape Lambda delivers it."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class _Lane:
    """The records of one shard whose partition keys hash to it, in stream order: Lambda's
    ParallelizationFactor runs one batch per lane at a time, so each key keeps its order.
    While a batch is with its handler (`busy`), only that batch's worker changes
    `attempts`; `pending` changes under the shard's lock (the reader appends to it)."""

    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    busy: bool = False
    pending_since: float | None = None  # time.monotonic() the oldest pending record came


@dataclass
class _Shard:
    key: str  # "<stream ARN> <shard id>", as in Pump.positions
    iterator: str | None
    lanes: list[_Lane]
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Sequence numbers read and not yet done with, in stream order, and those done with
    # out of that order (lanes finish at their own pace): the shard's position is the
    # last record before which everything is done.
    unfinished: deque[str] = field(default_factory=deque)
    finished: set[str] = field(default_factory=set)


@dataclass
class StreamSource:
    function: str
    stream_arn: str
    batch_size: int
    on_failure_url: str | None
    window: float = 0.0  # the mapping's MaximumBatchingWindowInSeconds
    parallelization: int = 1  # the mapping's ParallelizationFactor
    partition_key: str = ""  # the table's hash key: records are spread over lanes by it
    shards: dict[str, _Shard] = field(default_factory=dict)
    described_at: float | None = None  # time.monotonic() of the last DescribeStream


@dataclass
class QueueSource:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    window: float = 0.0  # the mapping's MaximumBatchingWindowInSeconds
    in_flight: int = 0  # batches with the handler now


@dataclass
class Pump:
    session: Any
    ctx: Context
    app: Chalice
    invoke: Invoke
    max_stream_attempts: int = 5
    # Seconds a failed SQS message stays invisible; None keeps the queue's own timeout.
    # Tests shorten it to 0 so that redelivery does not wait minutes.
    retry_visibility: int | None = None
    # Seconds between DescribeStream calls of a stream (new shards); 0: every pass. The
    # local stack's pump runs a pass every 0.2 s and sets this higher.
    describe_every: float = 0.0
    # Batches of one queue with its handler at once: Lambda's SQS mapping starts with
    # five pollers, each invoking with its own batch.
    queue_concurrency: int = 5
    # Called (from a worker thread) whenever a batch is done: the stack's pump thread
    # then looks for more at once instead of at its next tick.
    on_batch_done: Callable[[], None] | None = None
    streams: list[StreamSource] = field(default_factory=list)
    queues: list[QueueSource] = field(default_factory=list)
    # "<stream ARN> <shard id>" -> the sequence number of the last record done with
    # (handled or given up on) with every record before it done too. A shard first seen
    # resumes after it: a restarted stack delivers what was committed before the stop and
    # not yet delivered, once.
    positions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # botocore >= 1.38 sends ARN-addressed calls to account-based hostnames
        # (<account>.streams-ddb...), which moto's in-process stubber does not route.
        self._dynamodb_streams = self.session.client(
            "dynamodbstreams",
            region_name=self.ctx.region,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        self._sqs = self.session.client("sqs", region_name=self.ctx.region)
        self._lock = threading.Lock()
        self._in_flight: set[Future[None]] = set()
        self._executor: ThreadPoolExecutor | None = None
        for source in self.app.event_sources:
            window = float(getattr(source, "maximum_batching_window_in_seconds", 0) or 0)
            if isinstance(source, DynamoDBEventConfig):
                trigger = _trigger_of(source.name)
                # Where the stream mapping sends what it gave up on (as in the deployment).
                failure = registry.functions()[source.name].on_failure
                self.streams.append(
                    StreamSource(
                        source.name,
                        self.ctx.attributes[(trigger.resource, trigger.attribute)],
                        source.batch_size,
                        self.ctx.names.get(failure) if failure else None,
                        window,
                        STREAM_PARALLELIZATION,
                    )
                )
            elif isinstance(source, SQSEventConfig) and source.queue_arn:
                logical = _trigger_of(source.name).resource
                self.queues.append(
                    QueueSource(
                        source.name,
                        self.ctx.names[logical],
                        self.ctx.attributes[(logical, "Arn")],
                        source.batch_size,
                        window,
                    )
                )

    # ---- running -------------------------------------------------------------------

    def dispatch(self) -> int:
        """Hands every batch that is ready to a worker, without waiting for any: one per
        shard with no batch in flight, and per queue up to `queue_concurrency` in flight.
        The number of records handed out."""
        handed = 0
        for stream in self.streams:
            handed += self._dispatch_stream(stream)
        for queue in self.queues:
            handed += self._dispatch_queue(queue)
        return handed

    def wait(self) -> None:
        """Until no batch is with a handler."""
        while True:
            with self._lock:
                in_flight = set(self._in_flight)
            if not in_flight:
                return
            futures.wait(in_flight)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._in_flight)

    def run_once(self) -> int:
        """One pass: dispatch, then wait for what it handed out (and anything else in
        flight). The number of records delivered."""
        handed = self.dispatch()
        self.wait()
        return handed

    def drain(self, max_passes: int = 10_000) -> int:
        """Runs until a pass delivers nothing; the number of passes it took."""
        for passes in range(1, max_passes + 1):
            if self.run_once() == 0:
                return passes
        raise RuntimeError(f"the pump did not settle in {max_passes} passes")

    def close(self, timeout: float | None = None) -> bool:
        """Stops taking work and waits (at most `timeout` s) for the batches in flight;
        False if some are still with their handler."""
        with self._lock:
            executor, self._executor = self._executor, None
            in_flight = set(self._in_flight)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        _, left = futures.wait(in_flight, timeout)
        return not left

    def _submit(self, work: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._executor is None:
                # Enough workers for every lane at once: a lane never waits for a worker.
                lanes = sum(s.parallelization for s in self.streams)
                lanes += len(self.queues) * self.queue_concurrency
                self._executor = ThreadPoolExecutor(max(lanes, 1), thread_name_prefix="pump")
            future = self._executor.submit(work, *args)
            self._in_flight.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("a pump worker failed", exc_info=future.exception())
        if self.on_batch_done is not None:
            self.on_batch_done()

    # ---- streams -------------------------------------------------------------------

    def _pump_stream(self, stream: StreamSource) -> int:
        """One pass over one stream only (tests: publish without consuming)."""
        handed = self._dispatch_stream(stream)
        self.wait()
        return handed

    def _dispatch_stream(self, stream: StreamSource) -> int:
        now = time.monotonic()
        if stream.described_at is None or now - stream.described_at >= self.describe_every:
            stream.described_at = now
            self._describe_shards(stream)
        handed = 0
        for shard in list(stream.shards.values()):
            self._read(stream, shard)
            for lane in shard.lanes:
                with shard.lock:
                    if lane.busy or not lane.pending or not self._batch_ready(stream, lane, now):
                        continue
                    count = min(len(lane.pending), stream.batch_size)
                    lane.busy = True
                handed += count
                self._submit(self._deliver_stream_batch, stream, shard, lane, count)
        return handed

    @staticmethod
    def _batch_ready(stream: StreamSource, lane: _Lane, now: float) -> bool:
        """A full batch, or the batching window of the oldest record is over (a retry
        after a failure is ready at once: its window passed before its first try)."""
        if stream.window <= 0 or len(lane.pending) >= stream.batch_size:
            return True
        return lane.pending_since is None or now - lane.pending_since >= stream.window

    def _read(self, stream: StreamSource, shard: _Shard) -> None:
        if shard.iterator is None:
            return
        page = self._dynamodb_streams.get_records(ShardIterator=shard.iterator, Limit=1000)
        shard.iterator = page.get("NextShardIterator")
        now = time.monotonic()
        with shard.lock:
            for raw in page["Records"]:
                record = lambda_stream_record(raw, stream.stream_arn, self.ctx.region)
                shard.unfinished.append(record["dynamodb"]["SequenceNumber"])
                key = json.dumps(record["dynamodb"].get("Keys", {}).get(stream.partition_key))
                lane = shard.lanes[zlib.crc32(key.encode()) % len(shard.lanes)]
                if not lane.pending:
                    lane.pending_since = now
                lane.pending.append(record)

    def _describe_shards(self, stream: StreamSource) -> None:
        description = self._dynamodb_streams.describe_stream(StreamArn=stream.stream_arn)
        for key in description["StreamDescription"].get("KeySchema", []):
            if key["KeyType"] == "HASH":
                stream.partition_key = key["AttributeName"]
        for shard in description["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in stream.shards:
                key = f"{stream.stream_arn} {shard_id}"
                after = self.positions.get(key)
                start: dict[str, str] = (
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                )
                iterator = self._dynamodb_streams.get_shard_iterator(
                    StreamArn=stream.stream_arn, ShardId=shard_id, **start
                )["ShardIterator"]
                lanes = [_Lane() for _ in range(max(1, stream.parallelization))]
                stream.shards[shard_id] = _Shard(key, iterator, lanes)

    def _deliver_stream_batch(
        self, stream: StreamSource, shard: _Shard, lane: _Lane, count: int
    ) -> None:
        """In a worker: one batch of one lane, then the lane is free for the next."""
        try:
            with shard.lock:
                batch = lane.pending[:count]
            failed_from = self._call_stream_handler(stream, batch)
            if failed_from is None:
                done, lane.attempts = count, 0
            else:
                done = failed_from
                lane.attempts += 1
                if lane.attempts >= self.max_stream_attempts:
                    self._give_up(stream, batch[failed_from:])
                    done, lane.attempts = count, 0
            with shard.lock:
                del lane.pending[:done]
            self._done_with(shard, batch[:done])
        finally:
            with shard.lock:
                if not lane.pending:
                    lane.pending_since = None
                lane.busy = False

    def _done_with(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        """Moves the shard's position past every record done with, in stream order."""
        if not records:
            return
        with shard.lock:
            shard.finished.update(r["dynamodb"]["SequenceNumber"] for r in records)
            position = None
            while shard.unfinished and shard.unfinished[0] in shard.finished:
                position = shard.unfinished.popleft()
                shard.finished.discard(position)
            if position is not None:
                self.positions[shard.key] = position

    def _call_stream_handler(self, stream: StreamSource, batch: list[dict[str, Any]]) -> int | None:
        """None on success, else the index in `batch` to retry from."""
        try:
            result = self.invoke(stream.function, {"Records": batch})
        except Exception:
            log.exception("stream handler %s raised", stream.function)
            return 0
        failures = (result or {}).get("batchItemFailures") or []
        if not failures:
            return None
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        failed = {f["itemIdentifier"] for f in failures}
        return min(i for i, sequence in enumerate(sequences) if sequence in failed)

    def _give_up(self, stream: StreamSource, records: list[dict[str, Any]]) -> None:
        log.error("stream handler %s gave up on %d records", stream.function, len(records))
        if stream.on_failure_url is None or not records:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        self._sqs.send_message(
            QueueUrl=stream.on_failure_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {
                        "functionName": stream.function,
                        "condition": "RetryAttemptsExhausted",
                    },
                    "DDBStreamBatchInfo": {
                        "streamArn": stream.stream_arn,
                        "startSequenceNumber": first["SequenceNumber"],
                        "endSequenceNumber": last["SequenceNumber"],
                        "batchSize": len(records),
                    },
                }
            ),
        )

    # ---- queues --------------------------------------------------------------------

    def _dispatch_queue(self, queue: QueueSource) -> int:
        handed = 0
        while True:
            with self._lock:
                if queue.in_flight >= self.queue_concurrency:
                    return handed
            messages = self._receive(queue, queue.batch_size)
            if not messages:
                return handed
            with self._lock:
                queue.in_flight += 1
            handed += len(messages)
            self._submit(self._deliver_queue_batch, queue, messages)

    def _receive(self, queue: QueueSource, wanted: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._sqs.receive_message(
            QueueUrl=queue.queue_url,
            MaxNumberOfMessages=max(1, min(10, wanted)),
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        return messages

    def _fill(self, queue: QueueSource, messages: list[dict[str, Any]]) -> None:
        """With a batching window, as Lambda does: more messages until the batch is full
        or the window is over."""
        deadline = time.monotonic() + queue.window
        while len(messages) < queue.batch_size:
            more = self._receive(queue, queue.batch_size - len(messages))
            if more:
                messages.extend(more)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, WINDOW_POLL_SECONDS))

    def _deliver_queue_batch(self, queue: QueueSource, messages: list[dict[str, Any]]) -> None:
        try:
            if queue.window > 0:
                self._fill(queue, messages)
            self._call_queue_handler(queue, messages)
        finally:
            with self._lock:
                queue.in_flight -= 1

    def _call_queue_handler(self, queue: QueueSource, messages: list[dict[str, Any]]) -> None:
        records = [lambda_sqs_record(m, queue.queue_arn, self.ctx.region) for m in messages]
        try:
            result = self.invoke(queue.function, {"Records": records})
            failures = (result or {}).get("batchItemFailures") or []
            failed = {f["itemIdentifier"] for f in failures}
        except Exception:
            log.exception("queue handler %s raised", queue.function)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                for number, message in enumerate(done[start : start + 10])
            ]
            answer = self._sqs.delete_message_batch(QueueUrl=queue.queue_url, Entries=entries)
            if answer.get("Failed"):
                log.error("deleting handled messages failed: %s", answer["Failed"])
        if self.retry_visibility is None:
            return
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=queue.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_visibility,
                )
