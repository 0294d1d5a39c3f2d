"""Dead-letter queues: their depth, what is in them and why, and the redrive after a fix.

Two kinds (core.registry): a consumer queue's DLQ, where SQS moves a message after
maxReceiveCount failed receives (and where a consumer sends a poison message at once, with
the reason as the `failureReason` attribute); and a stream function's on-failure
destination, where Lambda puts a record of the stream batch it gave up on (the records
stay in the stream, 24 hours).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .target import CliError, Target, dead_letter_queues, declared

PEEK_VISIBILITY = 30
MOVE_BATCH = 10


def resolve(name: str) -> tuple[str, str | None]:
    """(logical id, source queue) of the DLQ `name` names: its logical id or its queue
    name without the stack prefix, in any case."""
    queues = dead_letter_queues()
    wanted = name.lower()
    for logical, source in queues.items():
        suffix = declared("AWS::SQS::Queue")[logical]["Properties"]["QueueName"]["Fn::Sub"]
        if wanted in (logical.lower(), suffix.split("-", 1)[1].lower()):
            return logical, source
    raise CliError(f"no dead-letter queue {name!r}; known: {', '.join(queues)}")


def stream_function(logical: str) -> str:
    """The stream function whose on-failure destination `logical` is."""
    from chalicelib.core import registry

    for name, function in registry.functions().items():
        if function.on_failure == logical and function.trigger is not None:
            return name
    raise CliError(f"{logical} is no stream function's on-failure destination")


def depths(target: Target) -> list[dict[str, Any]]:
    sqs = target.client("sqs")
    rows = []
    for logical, source in dead_letter_queues().items():
        url = target.physical(logical)
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        rows.append(
            {
                "dlq": logical,
                "failuresOf": source or f"stream: {stream_function(logical)}",
                "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
                "inFlight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            }
        )
    return rows


def _received(sqs: Any, url: str, wanted: int, visibility: int) -> list[dict[str, Any]]:
    messages: dict[str, dict[str, Any]] = {}
    while len(messages) < wanted:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, wanted - len(messages)),
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in messages]
        if not fresh:
            break
        messages.update((m["MessageId"], m) for m in fresh)
    return list(messages.values())


def reason(message: dict[str, Any], source: str | None) -> str:
    """Why the message is here, as far as it says."""
    attributes = message.get("MessageAttributes") or {}
    if "failureReason" in attributes:
        return f"poison: {attributes['failureReason'].get('StringValue', '')}"
    body = _json(message.get("Body", ""))
    if isinstance(body, dict) and "DDBStreamBatchInfo" in body:
        info, context = body["DDBStreamBatchInfo"], body.get("requestContext") or {}
        return (
            f"{context.get('functionName', 'stream function')} gave up "
            f"({context.get('condition', 'failed')}) on {info.get('batchSize', '?')} record(s) "
            f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')}"
        )
    if source:
        return f"failed every receive of {source} (maxReceiveCount)"
    return "unknown"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def peek(target: Target, name: str, count: int) -> list[dict[str, Any]]:
    """Up to `count` messages, left in the queue (visible again at once)."""
    logical, source = resolve(name)
    sqs = target.client("sqs")
    url = target.physical(logical)
    messages = _received(sqs, url, count, PEEK_VISIBILITY)
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    rows = []
    for message in messages:
        body = _json(message.get("Body", ""))
        envelope = body if isinstance(body, dict) and "eventId" in body else {}
        sent = int(message.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
        rows.append(
            {
                "messageId": message["MessageId"],
                "sentAt": datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds"),
                "receives": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                "reason": reason(message, source),
                "eventType": envelope.get("type"),
                "eventId": envelope.get("eventId"),
                "body": message.get("Body", ""),
            }
        )
    return rows


def redrive(target: Target, name: str) -> str:
    """Moves the DLQ's messages back to where they failed; a one-line account."""
    logical, source = resolve(name)
    if source is None:
        return _republish_stream_failures(target, logical)
    sqs = target.client("sqs")
    if target.moves_messages:
        dlq_arn, source_arn = target.queue_arn(logical), target.queue_arn(source)
        task = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=source_arn)
        return (
            f"move task {task['TaskHandle']} started: {logical} -> {source} "
            "(`tandem dlq list` shows the DLQ emptying)"
        )
    moved = _move(sqs, target.physical(logical), target.physical(source))
    return f"moved {moved} message(s): {logical} -> {source}"


def _move(sqs: Any, dlq_url: str, source_url: str) -> int:
    """Re-sends each message to the source queue, then deletes it from the DLQ (a crash
    in between sends it twice, which the consumers' event ids make harmless)."""
    moved = 0
    depth = int(
        sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    while moved < depth:
        batch = _received(sqs, dlq_url, MOVE_BATCH, 60)
        if not batch:
            break
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **(
                    {"MessageAttributes": _sendable(m["MessageAttributes"])}
                    if _sendable(m.get("MessageAttributes") or {})
                    else {}
                ),
            }
            for i, m in enumerate(batch)
        ]
        answer = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
        sent = {int(s["Id"]) for s in answer.get("Successful", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(batch)
            if i in sent
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
        if answer.get("Failed"):
            raise CliError(f"moved {moved}, then SQS refused: {answer['Failed'][0]['Message']}")
    return moved


def _sendable(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes to send again, without the reason it failed (it may fail anew)."""
    return {
        key: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for key, value in attributes.items()
        if key != "failureReason"
    }


def _republish_stream_failures(target: Target, logical: str) -> str:
    """A stream function's failures: the records are read again from the stream and the
    function is invoked with them (it publishes what they changed; consumers drop what
    they already applied). What the stream no longer has stays in the DLQ."""
    function = stream_function(logical)
    sqs = target.client("sqs")
    url = target.physical(logical)
    redriven, kept = 0, []
    for message in _received(sqs, url, 1000, 120):
        body = _json(message["Body"])
        info = body.get("DDBStreamBatchInfo") if isinstance(body, dict) else None
        if not info:
            kept.append(f"{message['MessageId']}: not a stream failure record")
            continue
        records = stream_records(target, info)
        if not records:
            kept.append(f"{message['MessageId']}: the stream no longer has its records")
            continue
        result = target.invoke(function, {"Records": records}) or {}
        if isinstance(result, dict) and result.get("batchItemFailures"):
            kept.append(f"{message['MessageId']}: {function} failed again")
            continue
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        redriven += 1
    account = f"re-published {redriven} failed batch(es) through {function}"
    if kept:
        account += f"; kept {len(kept)}: {kept[0]}" + (" ..." if len(kept) > 1 else "")
    return account


def stream_records(target: Target, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream's records from `startSequenceNumber` to `endSequenceNumber`, in the
    shape Lambda hands them to a function."""
    from devstack.pump import lambda_stream_record

    streams = target.client("dynamodbstreams")
    arn, start, end = info["streamArn"], info["startSequenceNumber"], info["endSequenceNumber"]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    for shard in shards:
        if "shardId" in info and shard["ShardId"] != info["shardId"]:
            continue
        try:
            iterator = streams.get_shard_iterator(
                StreamArn=arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=start,
            )["ShardIterator"]
        except Exception:  # noqa: S112 (not this shard's range, or trimmed)
            continue
        found: list[dict[str, Any]] = []
        for _ in range(100):
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page.get("Records", []):
                sequence = record["dynamodb"]["SequenceNumber"]
                if int(sequence) > int(end):
                    return found
                if int(sequence) >= int(start):
                    found.append(lambda_stream_record(record, arn, target.region))
            iterator = page.get("NextShardIterator")
            if not iterator or not page.get("Records"):
                break
        if found:
            return found
    return []
