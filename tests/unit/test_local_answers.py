"""moto's item answers written with `json` (`workbench.local.answers`) are the serializer's,
byte for byte, with the same status and headers."""

from __future__ import annotations

import json
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
    "query": lambda c: c.query(
        TableName="t",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "p1"}},
        ReturnConsumedCapacity="TOTAL",
    ),
    "query page": lambda c: c.query(
        TableName="t",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": "p1"}, ":sk": {"S": "0"}},
        ProjectionExpression="pk, m",
        ScanIndexForward=False,
        Limit=1,
    ),
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
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    seen: list[tuple[str, Any]] = []
    call_action = DynamoHandler.call_action
    streams_call_action = DynamoDBStreamsHandler.call_action

    def keeping(call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def kept(handler: Any) -> Any:
            status, headers, body = call(handler)
            headers = {k: v for k, v in headers.items() if k not in ("date", "x-amzn-requestid")}
            seen.append((handler._get_action(), (status, headers, body)))
            return status, headers, body

        return kept

    DynamoHandler.call_action = keeping(call_action)  # type: ignore[method-assign]
    DynamoDBStreamsHandler.call_action = keeping(streams_call_action)  # type: ignore[method-assign]
    yield seen
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    del DynamoDBStreamsHandler.call_action


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


def test_a_streams_records_are_the_serializers(written: Any) -> None:
    # (a stream record has a random id and its time: the same records are read both ways)
    from botocore.config import Config

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.put_item(TableName="t", Item={k: v for k, v in ITEM.items() if k != "sk"})
        client.put_item(TableName="t", Item={"pk": {"S": "p1"}, "n": {"N": "7"}})  # a MODIFY
        client.delete_item(TableName="t", Key={"pk": {"S": "p1"}})  # a REMOVE
        streams = boto3.client(
            "dynamodbstreams",
            region_name="us-east-1",
            config=Config(account_id_endpoint_mode="disabled"),
        )
        arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]

        def records() -> Any:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            written.clear()
            parsed = streams.get_records(ShardIterator=iterator)
            parsed.pop("ResponseMetadata")
            parsed.pop("NextShardIterator")  # (a new one for each read)
            [(action, (status, headers, body))] = written[-1:]
            return parsed, (action, status, headers, json.loads(body)["Records"])

        whole = records()
        restore = answers.install()
        try:
            in_json = records()
        finally:
            restore()

    assert in_json == whole
    assert [r["eventName"] for r in whole[0]["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
