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
        for n in range(14):  # items of about 150 KB: a page ends at 1 MB, not at a count
            client.put_item(
                TableName="t",
                Item={"pk": {"S": "big"}, "sk": {"S": f"{n:03d}"}, "v": {"S": "é" * 75_000}},
            )
        yield client


def every_page(client: Any, **arguments: Any) -> list[Any]:
    pages = []
    while len(pages) < 100:  # an answer that never ends fails rather than hangs
        answer = client.query(TableName="t", **arguments)
        answer.pop("ResponseMetadata")
        pages.append(_sets_sorted(answer))
        if "LastEvaluatedKey" not in answer:
            return pages
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    raise AssertionError("the query's pages did not end")


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


SORT_KEY_CONDITIONS = {
    None: {},
    "sk > :from": {":from": {"S": "021"}},
    "sk <= :to": {":to": {"S": "033"}},
    "sk BETWEEN :from AND :to": {":from": {"S": "005"}, ":to": {"S": "044"}},
    "begins_with(sk, :prefix)": {":prefix": {"S": "01"}},
}
FILTERS = {
    None: {},
    "t = :yes": {":yes": {"BOOL": True}},
    "attribute_exists(b) AND n > :n": {":n": {"N": "3"}},
}


@settings(max_examples=40, deadline=None)
@given(
    partition=st.sampled_from(["p0", "p1", "p3", "big", "nobody"]),
    limit=st.none() | st.integers(1, 20),
    forward=st.booleans(),
    projection=st.sampled_from([None, "sk, b", "sk, m, bs, t, n", "sk, m.inner", "m.inner[1], v"]),
    count=st.booleans(),
    sort_key=st.sampled_from(list(SORT_KEY_CONDITIONS)),
    filtered=st.sampled_from(list(FILTERS)),
)
def test_a_query_answers_the_same_from_its_partition(
    table: Any,
    partition: str,
    limit: int | None,
    forward: bool,
    projection: str | None,
    count: bool,
    sort_key: str | None,
    filtered: str | None,
) -> None:
    asked: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk" + (f" AND {sort_key}" if sort_key else ""),
        "ExpressionAttributeValues": {
            ":pk": {"S": partition},
            **SORT_KEY_CONDITIONS[sort_key],
            **FILTERS[filtered],
        },
        "ScanIndexForward": forward,
        "ReturnConsumedCapacity": "TOTAL",
    }
    if limit is not None:
        asked["Limit"] = limit
    if filtered:
        asked["FilterExpression"] = filtered
    if count:
        asked["Select"] = "COUNT"  # (DynamoDB takes no projection with it)
    elif projection:
        asked["ProjectionExpression"] = projection
    whole = every_page(table, **asked)
    restore = partitions.install()
    try:
        narrowed = every_page(table, **asked)
        pages = table.get_paginator("scan").paginate(TableName="t")
        scanned = sum(page["Count"] for page in pages)
    finally:
        restore()

    assert narrowed == whole
    assert scanned == 74  # a scan still reads every partition


def test_an_item_is_as_large_as_moto_counts_it(table: Any) -> None:
    from moto.backends import get_backend

    stored = get_backend("dynamodb")["123456789012"]["us-east-1"].get_table("t")
    items = [item for partition in stored.items.values() for item in partition.values()]
    assert len(items) == 74
    assert [partitions._size(item) for item in items] == [item.size() for item in items]
