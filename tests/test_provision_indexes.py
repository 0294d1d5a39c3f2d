"""A local stack restored from a saved state gets the indexes declared since, as a
CloudFormation update of the deployed tables would add them."""

from __future__ import annotations

import copy
from typing import Any

from devstack.infra import Context, load_template, provision


def test_provisioning_a_restored_table_adds_the_indexes_declared_since(aws: Any) -> None:
    template = load_template()
    older = copy.deepcopy(template)
    tasks = older["Resources"]["TasksTable"]["Properties"]
    tasks["GlobalSecondaryIndexes"] = [
        index for index in tasks["GlobalSecondaryIndexes"] if index["IndexName"] != "live"
    ]
    tasks["AttributeDefinitions"] = [
        d for d in tasks["AttributeDefinitions"] if d["AttributeName"] != "liveOwner"
    ]
    ctx = provision(aws, Context(stack_name="tandem-restored"), older)
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=ctx.names["TasksTable"])["Table"]
    assert "live" not in {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}

    provision(aws, Context(stack_name="tandem-restored"), template)
    table = dynamodb.describe_table(TableName=ctx.names["TasksTable"])["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        "live",
        "byProject",
        "byStatus",
        "byCompletion",
    }
    dynamodb.query(
        TableName=ctx.names["TasksTable"],
        IndexName="live",
        KeyConditionExpression="liveOwner = :u",
        ExpressionAttributeValues={":u": {"S": "someone"}},
    )
