"""devstack/moto_fixes/dynamodb.py, against moto in-process with concurrent threads: every
request atomic and in one order, and a cancelled transaction undoes only its own writes.
Each test fails on moto 5.2 without the fix."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

TABLE = "race"
REGION = "us-east-1"
WRITES = 150
# Enough items that moto's old whole-table copy spans many thread switches.
PRELOADED = 300


@pytest.fixture(autouse=True)
def _frequent_thread_switches() -> Iterator[None]:
    """Races show up in seconds, not by luck: the GIL changes hands every 10 µs."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


@pytest.fixture
def dynamodb(aws):
    client = aws.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return client


def _item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


def _preload(client: Any) -> None:
    for start in range(0, PRELOADED, 25):
        client.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": _item("filler", f"{i:05}", pad="x" * 200)}}
                    for i in range(start, min(start + 25, PRELOADED))
                ]
            }
        )


def _cancelled_transaction(client: Any, n: int) -> None:
    """A Put that is applied, then a ConditionCheck that fails: moto cancels it."""
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("loser", f"{n}")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "nobody"}, "sk": {"S": "x"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"


def _while(background: Callable[[int], None], foreground: Callable[[], None]) -> None:
    """Runs `background` in a loop on another thread for as long as `foreground` runs."""
    done = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        n = 0
        try:
            while not done.is_set():
                background(n)
                n += 1
        except BaseException as error:  # reported in the test's own thread
            errors.append(error)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        foreground()
    finally:
        done.set()
        thread.join(timeout=60)
    assert not errors, errors


def _stream_records(aws: Any, iterator: str) -> list[dict[str, Any]]:
    streams = aws.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    while True:
        page = streams.get_records(ShardIterator=iterator)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def _stream_start(aws: Any, client: Any) -> str:
    streams = aws.client("dynamodbstreams")
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    return str(
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
    )


def test_cancelled_transactions_keep_every_acknowledged_write_of_others(dynamodb):
    _preload(dynamodb)
    acknowledged: list[str] = []

    def writer() -> None:
        for n in range(WRITES):
            dynamodb.put_item(TableName=TABLE, Item=_item("winner", f"{n:04}"))
            acknowledged.append(f"{n:04}")
            updated = dynamodb.update_item(
                TableName=TABLE,
                Key={"pk": {"S": "winner"}, "sk": {"S": f"{n:04}"}},
                UpdateExpression="SET version = :v",
                ExpressionAttributeValues={":v": {"N": "2"}},
                ReturnValues="ALL_NEW",
            )
            assert updated["Attributes"]["version"] == {"N": "2"}

    _while(lambda n: _cancelled_transaction(dynamodb, n), writer)

    items = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "winner"}},
        ConsistentRead=True,
    )["Items"]
    assert sorted(item["sk"]["S"] for item in items) == acknowledged
    assert {item["version"]["N"] for item in items} == {"2"}
    # And the cancelled transactions left nothing behind.
    losers = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "loser"}},
    )["Items"]
    assert losers == []


def test_reads_never_fail_while_others_write(dynamodb):
    """moto iterated a table's dict while other threads added to it: 500s on queries."""
    _preload(dynamodb)

    def reader() -> None:
        for _ in range(60):
            dynamodb.query(
                TableName=TABLE,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "filler"}},
                Limit=5,
            )

    def writer(n: int) -> None:
        # A new partition each time: the table's dict grows while the reader walks it.
        dynamodb.put_item(TableName=TABLE, Item=_item(f"p{n}", "x"))

    _while(writer, reader)


def test_a_cancelled_transaction_restores_only_what_it_named(dynamodb, aws):
    dynamodb.put_item(TableName=TABLE, Item=_item("a", "1", state="old"))
    dynamodb.put_item(TableName=TABLE, Item=_item("b", "1", state="kept"))
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    table = backend.tables[TABLE]
    iterator = _stream_start(aws, dynamodb)

    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET #s = :new",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":new": {"S": "new"}},
                    }
                },
                {"Put": {"TableName": TABLE, "Item": _item("c", "1")}},
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "nobody"}, "sk": {"S": "x"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )

    # The same table object, so whoever holds its stream keeps reading it.
    assert backend.tables[TABLE] is table

    def get(pk: str) -> Any:
        key = {"pk": {"S": pk}, "sk": {"S": "1"}}
        return dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")

    assert get("a")["state"] == {"S": "old"}
    assert get("b")["state"] == {"S": "kept"}
    assert get("c") is None
    # A cancelled transaction emits no stream records.
    assert _stream_records(aws, iterator) == []


def test_the_stream_keeps_flowing_after_cancelled_transactions(dynamodb, aws):
    iterator = _stream_start(aws, dynamodb)
    for n in range(3):
        _cancelled_transaction(dynamodb, n)
    dynamodb.put_item(TableName=TABLE, Item=_item("after", "1"))
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": _item("after", "2")}}]
    )

    records = _stream_records(aws, iterator)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in records] == [
        ("INSERT", "1"),
        ("INSERT", "2"),
    ]


def test_shard_iterators_expire_instead_of_piling_up(dynamodb, aws):
    """moto kept every iterator GetRecords ever issued: a leak of ~2 KB per poll."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from devstack.moto_fixes.dynamodb import ITERATOR_LIFETIME_SECONDS

    streams = aws.client("dynamodbstreams")
    backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][REGION]
    iterator = _stream_start(aws, dynamodb)
    first = iterator
    for _ in range(20):
        iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    assert len(backend.shard_iterators) >= 20  # all younger than 15 minutes: all valid
    # Fifteen minutes later (the clock of the issue times moved back instead):
    issued_at: dict[str, float] = vars(backend)["_tandem_issued_at"]
    for arn in issued_at:
        issued_at[arn] -= ITERATOR_LIFETIME_SECONDS
    iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    assert list(backend.shard_iterators) == [iterator]
    with pytest.raises(ClientError) as expired:
        streams.get_records(ShardIterator=first)
    assert expired.value.response["Error"]["Code"] == "ExpiredIteratorException"
