"""moto's item answers written with `json` (`workbench.local.answers`) are the serializer's,
byte for byte, with the same status and headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from workbench.local import answers

ITEM = {
    "pk": {"S": "p1"},
    "sk": {"S": "001"},
    "b": {"B": bytes([0, 255, 7])},
    "n": {"N": "3.5"},
    "ss": {"SS": ["a", "b"]},
    "bs": {"BS": [b"\xff\xfe"]},
    "m": {"M": {"inner": {"L": [{"N": "1"}, {"B": b"\xff"}, {"NULL": True}]}}},
    "t": {"BOOL": True},
}
KEY = {"pk": {"S": "p1"}, "sk": {"S": "001"}}
OTHER_KEY = {"pk": {"S": "p2"}, "sk": {"S": "002"}}

# Each operation on a fresh table holding ITEM, asked in each way the platform asks and more.
OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "get": lambda c: c.get_item(TableName="t", Key=KEY),
    "get missing": lambda c: c.get_item(TableName="t", Key=OTHER_KEY),
    "get projected": lambda c: c.get_item(
        TableName="t", Key=KEY, ProjectionExpression="b, m.inner", ReturnConsumedCapacity="TOTAL"
    ),
    "get indexes": lambda c: c.get_item(
        TableName="t", Key=KEY, ConsistentRead=True, ReturnConsumedCapacity="INDEXES"
    ),
    "put": lambda c: c.put_item(TableName="t", Item={**ITEM, "n": {"N": "4"}}),
    "put old": lambda c: c.put_item(
        TableName="t", Item=ITEM, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL"
    ),
    "update new": lambda c: c.update_item(
        TableName="t",
        Key=KEY,
        UpdateExpression="ADD n :one SET s = :s",
        ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "é"}},
        ReturnValues="ALL_NEW",
        ReturnConsumedCapacity="INDEXES",
    ),
    "update updated": lambda c: c.update_item(
        TableName="t",
        Key=OTHER_KEY,
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"B": b"\x01"}},
        ReturnValues="UPDATED_NEW",
    ),
    "delete": lambda c: c.delete_item(TableName="t", Key=KEY),
    "delete old": lambda c: c.delete_item(
        TableName="t", Key=KEY, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL"
    ),
    "delete missing": lambda c: c.delete_item(TableName="t", Key=OTHER_KEY, ReturnValues="ALL_OLD"),
    "batch get": lambda c: c.batch_get_item(
        RequestItems={"t": {"Keys": [KEY, OTHER_KEY], "ProjectionExpression": "pk, b"}},
        ReturnConsumedCapacity="TOTAL",
    ),
    "batch write": lambda c: c.batch_write_item(
        RequestItems={
            "t": [
                {"PutRequest": {"Item": {**ITEM, **OTHER_KEY}}},
                {"DeleteRequest": {"Key": KEY}},
            ]
        },
        ReturnConsumedCapacity="TOTAL",
    ),
    "scan": lambda c: c.scan(TableName="t", ReturnConsumedCapacity="TOTAL"),
    "scan page": lambda c: c.scan(TableName="t", Limit=1, FilterExpression="attribute_exists(b)"),
    "transact get": lambda c: c.transact_get_items(
        TransactItems=[{"Get": {"TableName": "t", "Key": KEY}}], ReturnConsumedCapacity="TOTAL"
    ),
    "transact write": lambda c: c.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {**ITEM, **OTHER_KEY}}},
            {"Delete": {"TableName": "t", "Key": KEY}},
        ],
        ReturnConsumedCapacity="TOTAL",
    ),
    "refused": lambda c: c.put_item(
        TableName="t", Item=ITEM, ConditionExpression="attribute_not_exists(pk)"
    ),
}


@pytest.fixture
def written() -> Iterator[list[tuple[str, Any]]]:
    """What moto answers to each request (status, headers, body), as it leaves the handler."""
    from moto.dynamodb.responses import DynamoHandler

    seen: list[tuple[str, Any]] = []
    call_action = DynamoHandler.call_action

    def kept(handler: Any) -> Any:
        status, headers, body = call_action(handler)
        headers = {k: v for k, v in headers.items() if k not in ("date", "x-amzn-requestid")}
        seen.append((handler._get_action(), (status, headers, body)))
        return status, headers, body

    DynamoHandler.call_action = kept  # type: ignore[method-assign]
    yield seen
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def answered(operation: str, written: list[tuple[str, Any]]) -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        client.put_item(TableName="t", Item=ITEM)
        written.clear()
        try:
            parsed = OPERATIONS[operation](client)
            parsed.pop("ResponseMetadata")
        except client.exceptions.ConditionalCheckFailedException as refused:
            parsed = refused.response["Error"]
        return parsed, list(written)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_item_answer_is_the_serializers(operation: str, written: Any) -> None:
    whole = answered(operation, written)
    restore = answers.install()
    try:
        in_json = answered(operation, written)
    finally:
        restore()

    assert in_json == whole
    assert whole[1], "moto answered nothing"
