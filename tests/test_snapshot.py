"""devstack/snapshot.py against moto in-process: a saved state restores tables, streams,
queues, the user pool and its users under the same ids; shard iterators are not saved;
a state this version cannot use is a clear error."""

from __future__ import annotations

import pickle

import pytest
from moto.core.base_backend import BackendDict

from devstack import snapshot
from tests.conftest import PASSWORD


def _empty_moto(aws) -> None:
    """moto as a restarted stack finds it: nothing."""
    BackendDict.reset()
    assert aws.client("dynamodb").list_tables()["TableNames"] == []


def test_a_saved_state_comes_back_with_the_same_ids(aws, stack, user_pool, tmp_path):
    user = user_pool.new_user("kept")
    dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
    table = stack.names["ProjectsTable"]
    dynamodb.put_item(TableName=table, Item={"userId": {"S": "u"}, "projectId": {"S": "p"}})
    queue = stack.names["RealtimePushQueue"]
    sqs.send_message(QueueUrl=queue, MessageBody="kept")
    streams = aws.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    path = tmp_path / "state.pickle"
    snapshot.save(path, {"pump": "position"})

    _empty_moto(aws)
    assert snapshot.restore(path) == {"pump": "position"}
    item = dynamodb.get_item(TableName=table, Key={"userId": {"S": "u"}, "projectId": {"S": "p"}})
    assert item["Item"]["projectId"] == {"S": "p"}
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "kept"
    records = streams.get_records(
        ShardIterator=streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    cognito = aws.client("cognito-idp")
    # The old access token is still one of this pool's, and the password still works.
    assert cognito.get_user(AccessToken=user.access_token)["Username"]
    cognito.initiate_auth(
        ClientId=user_pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.email, "PASSWORD": PASSWORD},
    )


def test_shard_iterators_are_not_saved(aws, stack, tmp_path):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    dynamodb, streams = aws.client("dynamodb"), aws.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=stack.names["TasksTable"])["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")
    path = tmp_path / "state.pickle"
    snapshot.save(path, {})
    _empty_moto(aws)
    snapshot.restore(path)
    for regions in dynamodbstreams_backends.values():
        for backend in regions.values():
            assert backend.shard_iterators == {}


@pytest.mark.parametrize("damage", ["garbage", "other moto", "other format"])
def test_a_state_it_cannot_use_is_a_clear_error(aws, stack, tmp_path, damage):
    path = tmp_path / "state.pickle"
    snapshot.save(path, {})
    if damage == "garbage":
        path.write_bytes(b"not a pickle")
    else:
        state = pickle.loads(path.read_bytes())
        state["moto" if damage == "other moto" else "format"] = "0.0"
        path.write_bytes(pickle.dumps(state))
    with pytest.raises(snapshot.StateError, match="make run FRESH=1"):
        snapshot.restore(path)
