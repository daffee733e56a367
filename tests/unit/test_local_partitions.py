"""`cdp dev`'s moto answers a query from its partition alone, with the same answer."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from workbench.local import partitions


@pytest.fixture(scope="module")
def table() -> Any:
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
        for n in range(60):
            client.put_item(
                TableName="t",
                Item={
                    "pk": {"S": f"p{n % 4}"},
                    "sk": {"S": f"{n:03d}"},
                    "v": {"S": "x" * n},
                    # every kind of value, as DynamoDB's JSON protocol writes it
                    "b": {"B": bytes([n, 0, 255])},
                    "n": {"N": str(n / 7)},
                    "ss": {"SS": ["a", f"s{n}"]},
                    "bs": {"BS": [b"\xff\xfe", bytes([n])]},
                    "m": {"M": {"inner": {"L": [{"N": "1"}, {"B": b"\xff"}, {"NULL": True}]}}},
                    "t": {"BOOL": n % 2 == 0},
                },
            )
        yield client


def every_page(client: Any, **arguments: Any) -> list[Any]:
    pages = []
    while True:
        answer = client.query(TableName="t", **arguments)
        answer.pop("ResponseMetadata")
        pages.append(_sets_sorted(answer))
        if "LastEvaluatedKey" not in answer:
            return pages
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _sets_sorted(value: Any) -> Any:
    """DynamoDB's sets have no order: compared as sorted lists."""
    if isinstance(value, dict):
        return {
            key: sorted(item) if key in ("SS", "NS", "BS") else _sets_sorted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_sets_sorted(item) for item in value]
    return value


@settings(max_examples=25, deadline=None)
@given(
    partition=st.sampled_from(["p0", "p1", "p3", "nobody"]),
    limit=st.integers(1, 20),
    forward=st.booleans(),
    projection=st.sampled_from([None, "sk, b", "sk, m, bs, t, n", "sk, m.inner", "m.inner[1], v"]),
    count=st.booleans(),
)
def test_a_query_answers_the_same_from_its_partition(
    table: Any, partition: str, limit: int, forward: bool, projection: str | None, count: bool
) -> None:
    asked: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "Limit": limit,
        "ScanIndexForward": forward,
        "ReturnConsumedCapacity": "TOTAL",
    }
    if count:
        asked["Select"] = "COUNT"  # (DynamoDB takes no projection with it)
    elif projection:
        asked["ProjectionExpression"] = projection
    whole = every_page(table, **asked)
    restore = partitions.install()
    try:
        narrowed = every_page(table, **asked)
        scanned = table.scan(TableName="t")["Count"]
    finally:
        restore()

    assert narrowed == whole
    assert scanned == 60  # a scan still reads every partition
