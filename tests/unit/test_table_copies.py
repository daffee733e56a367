"""What makes moto quicker in the tests changes nothing it answers. The tests' tables are
copies of moto's, made once per process (`create_tables_once` in tests/conftest.py): a copy
must be what `create_tables` makes through moto's API, and empty whatever the tests before it
wrote. A queue's ARN is read from its URL instead of asked. Requests go unsigned (moto
checks no signature; every other test shows it answers all the same)."""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import dynamodb_backends

from tests.conftest import REGION, create_tables_once
from workbench.local.aws import create_tables
from workbench.local.invocation import ACCOUNT_ID


def described(dynamodb: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        env: (
            dynamodb.describe_table(TableName=name)["Table"],
            dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
        )
        for env, name in names.items()
    }


def test_a_copied_table_is_described_as_one_made_through_the_api(dynamodb: Any) -> None:
    copied = create_tables_once(dynamodb)  # the first in this process makes them through the API
    copies = described(dynamodb, copied)
    dynamodb_backends[ACCOUNT_ID][REGION].tables.clear()

    made = create_tables(dynamodb, prefix="test")

    assert made == copied
    fresh = described(dynamodb, made)
    for env, (table, ttl) in copies.items():
        # (moto stamps a table with the moment it was made, and its stream's label with it)
        for moment in ("CreationDateTime", "LatestStreamLabel", "LatestStreamArn"):
            table.pop(moment, None)
            fresh[env][0].pop(moment, None)
        assert (table, ttl) == fresh[env], env


def test_what_one_test_writes_is_not_in_the_next_ones_tables(dynamodb: Any) -> None:
    names = create_tables_once(dynamodb)
    events = names["EVENTS_TABLE"]
    dynamodb.put_item(TableName=events, Item={"pk": {"S": "user_id:a"}, "sk": {"S": "m-1"}})

    dynamodb_backends[ACCOUNT_ID][REGION].tables.clear()  # the next test's fresh moto
    names = create_tables_once(dynamodb)

    assert dynamodb.scan(TableName=events)["Items"] == []
    shard = dynamodb_backends[ACCOUNT_ID][REGION].tables[events].stream_shard
    assert len(shard.items) == 0


def test_a_queues_arn_is_read_from_its_url_as_sqs_names_it(dynamodb: Any) -> None:
    import boto3

    from workbench.local.aws import create_queues, queue_arn

    sqs = boto3.client("sqs", region_name=REGION)
    urls, arns = create_queues(sqs, prefix="test")
    assert urls.keys() == arns.keys()
    for env, url in urls.items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        assert arns[env] == attributes["Attributes"]["QueueArn"] == queue_arn(url)


def test_requests_to_moto_go_unsigned_from_boto3_and_the_handlers_clients(dynamodb: Any) -> None:
    from cdp.storage import clients

    clients.dynamodb.cache_clear()
    handlers = clients.dynamodb()
    sent: list[dict[str, str]] = []
    for client in (dynamodb, handlers):
        client.meta.events.register(
            "before-send", lambda request, **_: sent.append(dict(request.headers))
        )
        client.list_tables()
    clients.dynamodb.cache_clear()
    assert len(sent) == 2
    assert all("Authorization" not in headers for headers in sent)
