"""devstack.chaos: its spec, and that its faults are seeded, at their rates, and only
where they belong (the e2e run under chaos is tests/e2e/test_chaos.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from devstack.chaos import Chaos, ChaosError, InjectedFailure


def test_the_spec():
    assert Chaos.parse("") is None
    assert Chaos.parse("off") is None
    default = Chaos.parse("1")
    assert default is not None
    assert (default.fail, default.duplicate, default.throttle_write) == (0.05, 0.1, 0.05)
    chosen = Chaos.parse("seed=7,fail=0.5,max_delay=0")
    assert chosen == Chaos(seed=7, fail=0.5, max_delay=0.0)
    assert Chaos.parse(chosen.spec()) == chosen  # the printed spec replays the run


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fail=2", "fail=2 is not a rate between 0 and 1"),
        ("fail=x", "fail='x' is not a number"),
        ("chaos", "'chaos' is not name=value"),
        ("boom=0.1", "'boom=0.1' is not name=value"),
        ("max_delay=100", "max_delay=100 is not 0 to 60 seconds"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec: str, message: str):
    with pytest.raises(ChaosError, match=message.replace("(", r"\(")):
        Chaos.parse(spec)


def _deliveries(chaos: Chaos, batches: int) -> list[Any]:
    calls: list[Any] = []

    def invoke(name: str, event: dict[str, Any]) -> None:
        calls.append((name, [r["messageId"] for r in event["Records"]]))

    chaotic = chaos.wrap_invoke(invoke)
    outcomes: list[Any] = []
    for n in range(batches):
        records = [{"eventSource": "aws:sqs", "messageId": f"{n}-{i}"} for i in range(5)]
        try:
            chaotic("consumer", {"Records": records})
            outcomes.append("ok")
        except InjectedFailure:
            outcomes.append("failed")
    return [outcomes, calls]


def test_pump_faults_are_seeded_and_at_their_rates():
    chaos = Chaos(seed=11, duplicate=0.2, reorder=0.3, delay=0, fail=0.1)
    first = _deliveries(chaos, 400)
    assert first == _deliveries(chaos, 400)  # the same seed, the same run
    assert first != _deliveries(Chaos(seed=12, duplicate=0.2, reorder=0.3, delay=0, fail=0.1), 400)
    outcomes, calls = first
    failed = outcomes.count("failed")
    assert 20 <= failed <= 65  # 10 % of 400
    duplicated = len(calls) - (400 - failed)
    assert 40 <= duplicated <= 110  # 20 % of the delivered
    shuffled = [ids for _, ids in calls if ids != sorted(ids, key=lambda i: int(i.split("-")[1]))]
    assert 50 <= len(shuffled) <= 160


def test_stream_records_keep_their_order():
    chaos = Chaos(seed=3, reorder=1.0, delay=0, fail=0, duplicate=0)
    seen: list[list[int]] = []
    chaotic = chaos.wrap_invoke(lambda name, event: seen.append([r["n"] for r in event["Records"]]))
    for _ in range(20):
        chaotic(
            "publisher", {"Records": [{"eventSource": "aws:dynamodb", "n": i} for i in range(5)]}
        )
    assert seen == [list(range(5))] * 20


def _request(target: str = "", body: bytes = b"", service: str = "dynamodb") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "HTTP_X_AMZ_TARGET": target,
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential=x/20261202/us-east-1/{service}/aws4_request"
        ),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }


def test_the_embedded_aws_throttles_writes_and_publishes_only():
    passed: list[bytes] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        passed.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"{}"]

    statuses: list[str] = []
    app = Chaos(seed=5, throttle_write=1.0, throttle_publish=1.0).wsgi(moto)
    start = lambda status, headers: statuses.append(status)  # noqa: E731
    app(_request("DynamoDB_20120810.PutItem"), start)
    app(_request("DynamoDB_20120810.TransactWriteItems"), start)
    app(_request("DynamoDB_20120810.Query"), start)
    app(_request(body=b"Action=Publish&TopicArn=x", service="sns"), start)
    app(_request(body=b"Action=ListTopics", service="sns"), start)
    app(_request(body=b"Action=SendMessage", service="sqs"), start)
    assert (
        statuses
        == ["400 Bad Request", "400 Bad Request", "200 OK", "400 Bad Request"] + ["200 OK"] * 2
    )
    # What reached moto is intact, bodies included (the publish check reads them).
    assert passed == [b"", b"Action=ListTopics", b"Action=SendMessage"]
