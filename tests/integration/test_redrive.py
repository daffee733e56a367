"""A poison record: the profile builder reports it as a partial failure, Lambda parks where
it is in the on-failure queue, and `cdp redrive` gives it back once the bug is fixed — once,
however often it runs. On moto: the events table's real stream, SQS, CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cdp.storage.streams import UnreadableRecordError
from functions.profile_builder import handler as builder_module
from infra.wiring import REDRIVE_TAG
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, TableStream, bearer
from workbench.cli.redrive import function_of, redrive_stream_failures, tagged_queues

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def streams(table_names: dict[str, str]) -> Any:
    # moto answers Streams calls only without account-based endpoints
    return boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))


@pytest.fixture
def failures(table_names: dict[str, str]) -> tuple[Any, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="profile-builder-failures")["QueueUrl"]
    return sqs, url


@pytest.fixture
def poison(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """A bug: the builder cannot read orders over 1,000. Answers the fix."""
    real = builder_module.read_event_records

    def buggy(records: list[dict[str, Any]]) -> Any:
        events, unreadable = real(records)
        kept = []
        for event in events:
            if event.message.get("properties", {}).get("revenue", 0) > 1000:
                unreadable[str(event.sequence)] = UnreadableRecordError("a bug", event.partition)
            else:
                kept.append(event)
        return kept, unreadable

    monkeypatch.setattr(builder_module, "read_event_records", buggy)
    return lambda: monkeypatch.setattr(builder_module, "read_event_records", real)


def order(collector: Handler, number: int, revenue: float) -> None:
    body = {
        "userId": "u-ada",
        "event": "Order Completed",
        "messageId": f"order-{number}",
        "timestamp": f"2026-11-23T09:00:0{number}.000Z",
        "properties": {"revenue": revenue},
    }
    answer = collector(http_event(path="/v1/track", body=body, headers=basic_auth(WRITE_KEY)))
    assert answer["statusCode"] == 200


def park(
    batch: dict[str, Any], answer: dict[str, Any], failures: tuple[Any, str], table: str
) -> None:
    """What Lambda does once retries are exhausted: the failed part of the batch, as a
    `DDBStreamBatchInfo` on the on-failure queue (not the records themselves)."""
    [first_failed] = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    sequences = [r["dynamodb"]["SequenceNumber"] for r in batch["Records"]]
    shard = boto3.client(
        "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
    ).describe_stream(StreamArn=batch["Records"][0]["eventSourceARN"])["StreamDescription"][
        "Shards"
    ][0]["ShardId"]
    info = {
        "shardId": shard,
        "startSequenceNumber": first_failed,
        "endSequenceNumber": sequences[-1],
        "batchSize": len(sequences) - sequences.index(first_failed),
        "streamArn": batch["Records"][0]["eventSourceARN"],
    }
    body = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "version": "1.0",
        "DDBStreamBatchInfo": info,
    }
    sqs, url = failures
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def orders_of(profile_api: Handler) -> dict[str, Any]:
    answer = profile_api(http_event("GET", "/v1/profiles/user_id:u-ada", headers=bearer()))
    computed: dict[str, Any] = answer_json(answer)["computed"]
    return computed


def test_a_poison_record_is_parked_then_redriven_once_after_the_fix(
    collector: Handler,
    profile_builder: Handler,
    profile_api: Handler,
    table_names: dict[str, str],
    streams: Any,
    failures: tuple[Any, str],
    poison: Callable[[], None],
) -> None:
    stream = TableStream(table_names["EVENTS_TABLE"])
    order(collector, 1, 20.0)
    order(collector, 2, 5_000.0)  # the record the bug trips over
    order(collector, 3, 30.0)
    batch = stream.new_records()

    answer = profile_builder(batch)

    # the record the builder could not read is reported; so are the person's later ones,
    # which must not be applied before it
    assert (
        answer["batchItemFailures"][0]["itemIdentifier"]
        == (batch["Records"][1]["dynamodb"]["SequenceNumber"])
    )
    park(batch, {"batchItemFailures": answer["batchItemFailures"][:1]}, failures,
         table_names["EVENTS_TABLE"])  # fmt: skip
    sqs, url = failures

    # before the fix, a redrive changes nothing and keeps the message
    before = redrive_stream_failures(sqs, url, streams, profile_builder)
    assert (before.redriven, before.still_failing) == (0, 1)

    poison()  # the fix is deployed
    after = redrive_stream_failures(sqs, url, streams, profile_builder)

    assert (after.redriven, after.records, after.still_failing) == (1, 2, 0)
    assert orders_of(profile_api)["orders"] == 3
    assert orders_of(profile_api)["revenue"] == 5_050.0
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None

    # the same failure parked twice (queues deliver at least once) changes nothing more
    park(batch, {"batchItemFailures": answer["batchItemFailures"][:1]}, failures,
         table_names["EVENTS_TABLE"])  # fmt: skip
    again = redrive_stream_failures(sqs, url, streams, profile_builder)
    assert again.redriven == 1
    assert orders_of(profile_api)["orders"] == 3


def test_records_no_longer_in_the_stream_are_reported_and_kept(
    streams: Any, failures: tuple[Any, str], table_names: dict[str, str]
) -> None:
    sqs, url = failures
    arn = boto3.client("dynamodb").describe_table(TableName=table_names["EVENTS_TABLE"])["Table"][
        "LatestStreamArn"
    ]
    info = {  # the stream of a table since replaced (say, restored from a backup)
        "shardId": "shardId-00000001795430000000-0000dead",
        "startSequenceNumber": "100000000000000000001",
        "endSequenceNumber": "100000000000000000002",
        "streamArn": arn.replace("test-events", "test-events-old"),
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"DDBStreamBatchInfo": info}))

    outcome = redrive_stream_failures(sqs, url, streams, lambda event: {})

    assert (outcome.redriven, outcome.expired) == (0, 1)


STACK = {
    "Resources": {
        "FunctionsprofilebuilderfailuresEC0590C5": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"Tags": [{"Key": REDRIVE_TAG, "Value": "stream:profile_builder"}]},
        },
        "FunctionsBackfilldeadletters0A1B2C3D": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"Tags": [{"Key": REDRIVE_TAG, "Value": "queue:Backfill"}]},
        },
        "SomeOtherQueue1A2B3C4D": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }
}


def test_the_failure_queues_of_a_stack_are_found_by_their_tags(table_names: dict[str, str]) -> None:
    cloudformation, sqs = boto3.client("cloudformation"), boto3.client("sqs")
    cloudformation.create_stack(StackName="Cdp-prod", TemplateBody=json.dumps(STACK))

    found = {(q.kind, q.name) for q in tagged_queues(cloudformation, sqs, "Cdp-prod")}

    assert found == {("stream", "profile_builder"), ("queue", "Backfill")}


def test_the_function_of_a_stream_is_found_among_look_alikes() -> None:
    class Stack:
        def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
            rows = [
                ("FunctionsprofilebuilderEB7B2C13", "AWS::Lambda::Function", "cdp-builder"),
                ("Functionsprofilebuilderrole6A8D21C3", "AWS::IAM::Role", "role"),
                ("FunctionsprofileapiA1B2C3D4", "AWS::Lambda::Function", "cdp-profile-api"),
            ]
            return {"StackResources": [
                {"LogicalResourceId": a, "ResourceType": b, "PhysicalResourceId": c}
                for a, b, c in rows
            ]}  # fmt: skip

    assert function_of(Stack(), "Cdp-prod", "profile_builder") == "cdp-builder"
    assert function_of(Stack(), "Cdp-prod", "profile_api") == "cdp-profile-api"
