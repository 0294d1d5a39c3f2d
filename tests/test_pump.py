"""The event pump delivers as Lambda's mappings do: batches of different shards and queues
are with their handlers at the same time (and several of one queue, as Lambda's pollers
are), while one shard's batches go one at a time and in order; batch sizes and batching
windows are the handlers'. The handlers here are stand-ins passed as the pump's `invoke`
(recording what they get); the pump, moto's streams and queues are real.

Concurrency is asserted as behaviour: a stand-in waits on a barrier for the others, which
only all arrive if their batches are in flight together (the barrier's timeout bounds a
failing run)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import pytest

from deploy.functions import STREAM_PARALLELIZATION
from devstack.pump import Pump, QueueSource, StreamSource

BOUND = 10.0  # seconds: how long a barrier waits for the others before the test fails


class Handlers:
    """A stand-in for the app's handlers: records every call, how many calls of each
    function overlap, and lets a test hold calls at a barrier."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.active: dict[str, int] = defaultdict(int)
        self.most_active: dict[str, int] = defaultdict(int)
        self.barrier: threading.Barrier | None = None
        # Calls wait until this many are with the handler at once (then none waits more).
        self.meet = 0
        self.met = threading.Event()
        self.hold_seconds = 0.0
        self.fail_once: set[str] = set()  # sequence numbers to report failed once
        self.fail_users: set[str] = set()  # records of these userIds always fail
        self._lock = threading.Lock()

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        with self._lock:
            self.active[function] += 1
            self.most_active[function] = max(self.most_active[function], self.active[function])
            if self.meet and self.active[function] >= self.meet:
                self.met.set()
        try:
            if self.meet and not self.met.wait(BOUND):
                raise TimeoutError("no other batch came while this one was in flight")
            if self.barrier is not None:
                self.barrier.wait()  # BrokenBarrierError if the others never come
            with self._lock:
                self.calls.append((function, event))
            if self.hold_seconds:
                time.sleep(self.hold_seconds)  # room for a wrong second batch to start
            for record in event["Records"]:
                sequence = record.get("dynamodb", {}).get("SequenceNumber")
                user = record.get("dynamodb", {}).get("Keys", {}).get("userId", {}).get("S")
                with self._lock:
                    if sequence in self.fail_once or user in self.fail_users:
                        self.fail_once.discard(sequence)
                        return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            return {"batchItemFailures": []}
        finally:
            with self._lock:
                self.active[function] -= 1

    def functions(self) -> list[str]:
        return [function for function, _ in self.calls]

    def batches_of(self, function: str) -> list[list[dict[str, Any]]]:
        return [event["Records"] for name, event in self.calls if name == function]


@pytest.fixture
def handlers(pump: Pump) -> Handlers:
    stand_in = Handlers()
    pump.invoke = stand_in
    return stand_in


def queue(pump: Pump, logical: str, stack: Any) -> QueueSource:
    return next(q for q in pump.queues if q.queue_url == stack.names[logical])


def stream(pump: Pump, function: str) -> StreamSource:
    return next(s for s in pump.streams if s.function == function)


def send(aws: Any, source: QueueSource, count: int) -> None:
    sqs = aws.client("sqs")
    for number in range(count):
        sqs.send_message(QueueUrl=source.queue_url, MessageBody=f'{{"n": {number}}}')


def put_projects(aws: Any, stack: Any, count: int, prefix: str = "p", user: str = "u") -> None:
    """Raw items in the projects table (partition key `user`): only their stream records
    matter here."""
    dynamodb = aws.client("dynamodb")
    for number in range(count):
        dynamodb.put_item(
            TableName=stack.names["ProjectsTable"],
            Item={"userId": {"S": user}, "projectId": {"S": f"{prefix}{number:04d}"}},
        )


def run_until_settled(pump: Pump) -> None:
    """Dispatches as the stack's pump thread does: again and again, without waiting for
    the batches in flight, until nothing is left (bounded)."""
    deadline = time.monotonic() + BOUND * 3
    quiet = 0
    while quiet < 3:
        assert time.monotonic() < deadline, "the pump did not settle"
        if pump.dispatch() or pump.busy():
            quiet = 0
        else:
            quiet += 1
        time.sleep(0.01)
    pump.wait()


def test_batches_of_different_queues_are_with_their_handlers_at_once(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    sources = [
        queue(pump, "TasksProjectUpsertsQueue", stack),
        queue(pump, "TasksProjectDeletionsQueue", stack),
        queue(pump, "RealtimePushQueue", stack),
    ]
    for source in sources:
        send(aws, source, 1)
    handlers.barrier = threading.Barrier(len(sources), timeout=BOUND)
    assert pump.run_once() == len(sources)
    assert sorted(handlers.functions()) == sorted(source.function for source in sources)
    assert pump.run_once() == 0  # every message succeeded, so every one was deleted


def test_several_batches_of_one_queue_are_with_its_handler_at_once(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    deletions = queue(pump, "TasksProjectDeletionsQueue", stack)
    assert deletions.batch_size == 1
    send(aws, deletions, 3)
    handlers.barrier = threading.Barrier(3, timeout=BOUND)
    assert pump.run_once() == 3
    assert [len(batch) for batch in handlers.batches_of(deletions.function)] == [1, 1, 1]


def test_a_queues_concurrency_is_bounded(pump: Pump, handlers: Handlers, aws: Any, stack: Any):
    deletions = queue(pump, "TasksProjectDeletionsQueue", stack)
    send(aws, deletions, 3 * pump.queue_concurrency)
    handlers.hold_seconds = 0.05
    run_until_settled(pump)
    assert len(handlers.batches_of(deletions.function)) == 3 * pump.queue_concurrency
    assert handlers.most_active[deletions.function] <= pump.queue_concurrency


def test_streams_of_different_tables_are_with_their_handlers_at_once(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    put_projects(aws, stack, 1)
    aws.client("dynamodb").put_item(
        TableName=stack.names["NotesTable"],
        Item={"userId": {"S": "u"}, "noteId": {"S": "n1"}},
    )
    handlers.barrier = threading.Barrier(2, timeout=BOUND)
    pump.run_once()
    assert sorted(handlers.functions()) == ["publish_note_changes", "publish_project_changes"]


def test_one_partition_key_is_delivered_one_batch_at_a_time_in_order_with_retries(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    projects = stream(pump, "publish_project_changes")
    projects.batch_size = 3
    put_projects(aws, stack, 10)
    written = [
        record["dynamodb"]["SequenceNumber"]
        for record in aws.client("dynamodbstreams").get_records(
            ShardIterator=aws.client("dynamodbstreams").get_shard_iterator(
                StreamArn=projects.stream_arn,
                ShardId=aws.client("dynamodbstreams").describe_stream(
                    StreamArn=projects.stream_arn
                )["StreamDescription"]["Shards"][0]["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        )["Records"]
    ]
    assert len(written) == 10
    handlers.fail_once = {written[4]}  # the 5th record fails once: retried from it
    handlers.hold_seconds = 0.05
    run_until_settled(pump)

    batches = handlers.batches_of(projects.function)
    delivered = [[r["dynamodb"]["SequenceNumber"] for r in batch] for batch in batches]
    assert all(len(batch) <= 3 for batch in delivered)
    # In order; after the failure, from the failed record on, never skipping past it.
    assert [s for batch in delivered for s in batch] == written[:6] + written[4:]
    assert handlers.most_active[projects.function] == 1


def test_batches_of_other_partition_keys_of_the_shard_are_with_the_handler_at_once(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    """The deployed mapping's ParallelizationFactor: one shard, several batches in flight,
    each key's records in their order."""
    projects = stream(pump, "publish_project_changes")
    assert projects.parallelization == STREAM_PARALLELIZATION > 1
    pump.streams = [projects]
    users = [f"user-{n}" for n in range(12)]
    for user in users:
        put_projects(aws, stack, 3, user=user)
    # The first batch waits for a second one: they only meet if both are in flight.
    handlers.meet = 2
    pump.drain()

    delivered: dict[str, list[str]] = defaultdict(list)
    for batch in handlers.batches_of(projects.function):
        for record in batch:
            key = record["dynamodb"]["Keys"]
            delivered[key["userId"]["S"]].append(key["projectId"]["S"])
    assert delivered == {user: ["p0000", "p0001", "p0002"] for user in users}
    assert handlers.most_active[projects.function] > 1


def test_a_stream_batching_window_waits_for_a_full_batch(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    projects = stream(pump, "publish_project_changes")
    projects.batch_size, projects.window = 3, 300.0
    put_projects(aws, stack, 2)
    assert pump.run_once() == 0  # inside the window, short of a batch
    put_projects(aws, stack, 1, prefix="q")
    assert pump.run_once() == 3
    assert [len(batch) for batch in handlers.batches_of(projects.function)] == [3]


def test_a_queue_batching_window_fills_a_batch_over_ten(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    """Lambda allows batches over SQS's 10 messages per receive only with a window, and
    fills them from several receives."""
    upserts = queue(pump, "TasksProjectUpsertsQueue", stack)
    upserts.batch_size, upserts.window = 25, 0.2
    pump.queue_concurrency = 1
    send(aws, upserts, 25)
    pump.drain()
    assert [len(batch) for batch in handlers.batches_of(upserts.function)] == [25]


def test_the_batch_sizes_are_the_handlers(pump: Pump) -> None:
    from app import app

    sources: list[Any] = app.event_sources
    declared = {source.name: source.batch_size for source in sources}
    assert {s.function: s.batch_size for s in pump.streams + pump.queues} == declared
    windows = {source.name: source.maximum_batching_window_in_seconds for source in sources}
    assert {s.function: s.window for s in pump.streams + pump.queues} == windows
    assert {s.parallelization for s in pump.streams} == {STREAM_PARALLELIZATION}


def sequences(aws: Any, source: StreamSource) -> list[str]:
    streams = aws.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=source.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [
        r["dynamodb"]["SequenceNumber"]
        for r in streams.get_records(ShardIterator=iterator)["Records"]
    ]


def test_the_shard_position_passes_only_what_every_lane_is_done_with(
    pump: Pump, handlers: Handlers, aws: Any, stack: Any
) -> None:
    """What a restart resumes after: never past a record still being retried in its
    lane, whatever other lanes finished after it."""
    projects = stream(pump, "publish_project_changes")
    pump.streams = [projects]
    put_projects(aws, stack, 1, user="b", prefix="b0")
    put_projects(aws, stack, 1, user="a", prefix="a1")
    put_projects(aws, stack, 2, user="b", prefix="b2")
    written = sequences(aws, projects)
    handlers.fail_users = {"a"}
    pump.run_once()
    ((key, position),) = pump.positions.items()
    assert position == written[0]  # b0 is done; a1 is not, so nothing after it counts
    pump.drain()  # a1 is retried, given up on (to the on-failure queue): done with
    assert pump.positions == {key: written[-1]}

    put_projects(aws, stack, 1, user="b", prefix="b4")
    resumed = Handlers()
    again = Pump(aws, stack, pump.app, invoke=resumed, positions=dict(pump.positions))
    try:
        again.streams = [s for s in again.streams if s.function == projects.function]
        again.drain()
    finally:
        again.close()
    delivered = [
        r["dynamodb"]["Keys"]["projectId"]["S"] for _, e in resumed.calls for r in e["Records"]
    ]
    assert delivered == ["b40000"]
