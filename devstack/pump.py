"""The event pump: what Lambda's event source mappings do in AWS, done against moto.

It reads DynamoDB stream records and SQS messages (after moto's own SNS fan-out with the
real filter policies) and calls the app's own handlers with Lambda-shaped events:
- streams: in order per shard, in batches; a partial batch failure or an exception
  retries from the failed record, at most `max_stream_attempts` times, then the batch
  goes to the mapping's on-failure queue, as a stream mapping with bounded retries does;
- SQS: batches of up to the handler's batch size; a message is deleted when its record
  succeeded and left on failure, so redrive to the DLQ happens as in AWS, and partial
  batch responses are honoured.
One handler's exception is logged and never stops the pump.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config
from chalice.app import Chalice, DynamoDBEventConfig, SQSEventConfig

from chalicelib.core.settings import EVENT_SOURCE_ENV
from chalicelib.core.sources import ARNS

from .infra import Context

log = logging.getLogger("tandem.pump")

Invoke = Callable[[str, dict[str, Any]], Any]

# Where each publisher's stream mapping sends what it gave up on (as in the deployment).
ON_FAILURE_QUEUE = {
    "ProjectsTable": "ProjectsPublisherDLQ",
    "TasksTable": "TasksPublisherDLQ",
    "NotesTable": "NotesPublisherDLQ",
}


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


def _resource_of(declared_arn: str) -> tuple[str, str]:
    """The (logical id, attribute) a handler's declared ARN stands for."""
    for env, arn in ARNS.items():
        if arn == declared_arn:
            return EVENT_SOURCE_ENV[env]
    raise LookupError(f"{declared_arn} is not one of chalicelib.core.sources.ARNS")


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """moto's GetRecords output in the shape Lambda delivers it."""
    shaped: dict[str, Any] = json.loads(json.dumps(record, default=str))
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    shaped["dynamodb"] = json.loads(json.dumps(change, default=str))
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
class _Shard:
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


@dataclass
class StreamSource:
    function: str
    stream_arn: str
    batch_size: int
    on_failure_url: str | None
    shards: dict[str, _Shard] = field(default_factory=dict)
    described_at: float | None = None  # time.monotonic() of the last DescribeStream


@dataclass
class QueueSource:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int


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
    streams: list[StreamSource] = field(default_factory=list)
    queues: list[QueueSource] = field(default_factory=list)

    def __post_init__(self) -> None:
        # botocore >= 1.38 sends ARN-addressed calls to account-based hostnames
        # (<account>.streams-ddb...), which moto's in-process stubber does not route.
        self._dynamodb_streams = self.session.client(
            "dynamodbstreams",
            region_name=self.ctx.region,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        self._sqs = self.session.client("sqs", region_name=self.ctx.region)
        for source in self.app.event_sources:
            if isinstance(source, DynamoDBEventConfig):
                logical, attribute = _resource_of(source.stream_arn)
                failure = ON_FAILURE_QUEUE.get(logical)
                self.streams.append(
                    StreamSource(
                        source.name,
                        self.ctx.attributes[(logical, attribute)],
                        source.batch_size,
                        self.ctx.names.get(failure) if failure else None,
                    )
                )
            elif isinstance(source, SQSEventConfig) and source.queue_arn:
                logical, _ = _resource_of(source.queue_arn)
                self.queues.append(
                    QueueSource(
                        source.name,
                        self.ctx.names[logical],
                        self.ctx.attributes[(logical, "Arn")],
                        source.batch_size,
                    )
                )

    def run_once(self) -> int:
        """One pass over every source; the number of records handed to handlers."""
        delivered = 0
        for stream in self.streams:
            delivered += self._pump_stream(stream)
        for queue in self.queues:
            delivered += self._pump_queue(queue)
        return delivered

    def drain(self, max_passes: int = 10_000) -> int:
        """Runs until a pass delivers nothing; the number of passes it took."""
        for passes in range(1, max_passes + 1):
            if self.run_once() == 0:
                return passes
        raise RuntimeError(f"the pump did not settle in {max_passes} passes")

    # ---- streams -------------------------------------------------------------------

    def _read_shards(self, stream: StreamSource) -> None:
        now = time.monotonic()
        if stream.described_at is None or now - stream.described_at >= self.describe_every:
            stream.described_at = now
            self._describe_shards(stream)
        for shard in stream.shards.values():
            if shard.iterator is None:
                continue
            page = self._dynamodb_streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            shard.iterator = page.get("NextShardIterator")
            shard.pending.extend(
                lambda_stream_record(r, stream.stream_arn, self.ctx.region) for r in page["Records"]
            )

    def _describe_shards(self, stream: StreamSource) -> None:
        description = self._dynamodb_streams.describe_stream(StreamArn=stream.stream_arn)
        for shard in description["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in stream.shards:
                iterator = self._dynamodb_streams.get_shard_iterator(
                    StreamArn=stream.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
                stream.shards[shard_id] = _Shard(iterator)

    def _pump_stream(self, stream: StreamSource) -> int:
        self._read_shards(stream)
        delivered = 0
        for shard in stream.shards.values():
            if not shard.pending:
                continue
            batch = shard.pending[: stream.batch_size]
            delivered += len(batch)
            failed_from = self._call_stream_handler(stream, batch)
            if failed_from is None:
                del shard.pending[: len(batch)]
                shard.attempts = 0
                continue
            del shard.pending[:failed_from]
            shard.attempts += 1
            if shard.attempts >= self.max_stream_attempts:
                self._give_up(stream, shard.pending[: len(batch) - failed_from])
                del shard.pending[: len(batch) - failed_from]
                shard.attempts = 0
        return delivered

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

    def _pump_queue(self, queue: QueueSource) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=queue.queue_url,
            MaxNumberOfMessages=min(10, queue.batch_size),
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        records = [lambda_sqs_record(m, queue.queue_arn, self.ctx.region) for m in messages]
        try:
            result = self.invoke(queue.function, {"Records": records})
            failures = (result or {}).get("batchItemFailures") or []
            failed = {f["itemIdentifier"] for f in failures}
        except Exception:
            log.exception("queue handler %s raised", queue.function)
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(
                    QueueUrl=queue.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            elif self.retry_visibility is not None:
                self._sqs.change_message_visibility(
                    QueueUrl=queue.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_visibility,
                )
        return len(messages)
