"""`cdp redrive --stack Cdp-prod`: give what failed back to the platform, once it is fixed.

Three kinds of queue hold failures, each tagged `cdp:redrive` in the stack:

- `stream:<function>`: a stream consumer's on-failure queue. Lambda puts there not the records
  but where they are (`DDBStreamBatchInfo`: stream, shard, first and last sequence number).
  The records are read again from the stream (DynamoDB keeps them 24 hours) and the function
  is invoked with them, exactly as its event source mapping would; the message is deleted only
  when the function took every record. Redriving twice is harmless: the consumers are
  idempotent (a redelivered stream record changes nothing twice).
- `queue:<name>`: a task queue's dead-letter queue. SQS's own redrive moves the messages back
  to the queue they came from (`StartMessageMoveTask`).
- `destination:<name>`: events a destination did not accept within 24 hours of retries. They
  are only counted here; the README says how to send them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.wiring import REDRIVE_TAG
from workbench.cli.client import CliError
from workbench.local.streams import lambda_record

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class StreamRedrive:
    """What a redrive of one on-failure queue did."""

    redriven: int = 0  # failure messages whose records the function now took
    records: int = 0
    still_failing: int = 0  # the function refused some record again: kept in the queue
    expired: int = 0  # the records are no longer in the stream: kept, see the README
    notes: list[str] = field(default_factory=list)


def redrive_stream_failures(
    sqs: Any, queue_url: str, streams: Any, invoke: Invoke, *, dry_run: bool = False
) -> StreamRedrive:
    """Each failure message of the queue: read its records again and invoke the function."""
    outcome = StreamRedrive()
    kept: dict[str, str] = {}  # message id -> receipt handle, released at the end
    try:
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in kept]
            if not fresh:
                return outcome
            for message in fresh:
                if _redrive_one(message, streams, invoke, outcome, dry_run=dry_run):
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    kept[message["MessageId"]] = message["ReceiptHandle"]
    finally:
        for handle in kept.values():  # visible again, for the next run
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )


def _redrive_one(
    message: dict[str, Any], streams: Any, invoke: Invoke, outcome: StreamRedrive, *, dry_run: bool
) -> bool:
    """Give one failed batch back to its function; answer whether it took every record."""
    info = json.loads(message["Body"]).get("DDBStreamBatchInfo")
    if info is None:
        outcome.notes.append(f"message {message['MessageId']}: not a stream failure")
        return False
    records = read_range(streams, info)
    if not records:
        outcome.expired += 1
        return False
    outcome.records += len(records)
    if dry_run:
        return False
    answer = invoke({"Records": [lambda_record(r, info["streamArn"]) for r in records]})
    if answer.get("batchItemFailures"):
        outcome.still_failing += 1
        return False
    outcome.redriven += 1
    return True


def read_range(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records from the start to the end sequence number of a failed batch."""
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except streams.exceptions.TrimmedDataAccessException:
        return []
    except streams.exceptions.ResourceNotFoundException:
        return []
    last = int(info["endSequenceNumber"])
    found: list[dict[str, Any]] = []
    while iterator:
        answer = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in answer["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return found
            found.append(record)
        if not answer["Records"]:
            return found
        iterator = answer.get("NextShardIterator")
    return found


@dataclass(frozen=True)
class TaggedQueue:
    url: str
    arn: str
    kind: str  # stream, queue, destination
    name: str


def tagged_queues(cloudformation: Any, sqs: Any, stack: str) -> list[TaggedQueue]:
    """The stack's queues that hold failures, by their `cdp:redrive` tag."""
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    except Exception as error:
        raise CliError(f"cannot read stack {stack}: {error}") from None
    found = []
    for resource in resources:
        if resource["ResourceType"] != "AWS::SQS::Queue":
            continue
        url = resource["PhysicalResourceId"]
        tag = sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get(REDRIVE_TAG)
        if not tag:
            continue
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        kind, _, name = tag.partition(":")
        found.append(TaggedQueue(url, arn, kind, name))
    return found


def function_of(cloudformation: Any, stack: str, name: str) -> str:
    """The deployed name of the function `name` (see infra: `Functions/<name>`)."""
    prefix = "Functions" + name.replace("_", "")
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    matches: list[str] = [
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::Lambda::Function"
        and r["LogicalResourceId"].startswith(prefix)
        and len(r["LogicalResourceId"]) == len(prefix) + 8  # and CDK's 8-character hash
    ]
    if len(matches) != 1:
        raise CliError(f"stack {stack}: cannot tell which function is {name}")
    return matches[0]


def lambda_invoker(lambda_client: Any, function_name: str) -> Invoke:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer = lambda_client.invoke(FunctionName=function_name, Payload=json.dumps(event))
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            # the whole batch failed: report it like a partial failure of its first record
            return {"batchItemFailures": [{"itemIdentifier": "function error"}]}
        return payload if isinstance(payload, dict) else {}

    return invoke


def run(
    *, cloudformation: Any, sqs: Any, streams: Any, lambda_client: Any, stack: str, dry_run: bool
) -> list[str]:
    """Redrive every failure queue of the stack; answer a line per queue."""
    lines = []
    for queue in tagged_queues(cloudformation, sqs, stack):
        if queue.kind == "stream":
            invoke = lambda_invoker(lambda_client, function_of(cloudformation, stack, queue.name))
            done = redrive_stream_failures(sqs, queue.url, streams, invoke, dry_run=dry_run)
            verb = "would redrive" if dry_run else "redriven"
            lines.append(
                f"{queue.name} stream failures: {done.redriven if not dry_run else done.records} "
                f"{verb} ({done.records} records), {done.still_failing} still failing, "
                f"{done.expired} past the stream's 24 hours"
            )
            lines += [f"  {note}" for note in done.notes]
        elif queue.kind == "queue":
            waiting = _depth(sqs, queue.url)
            if waiting and not dry_run:
                sqs.start_message_move_task(SourceArn=queue.arn)
            verb = "would move" if dry_run else "moving"
            lines.append(f"{queue.name} dead letters: {verb} {waiting} back to their queue")
        else:
            lines.append(
                f"{queue.name} destination failures: {_depth(sqs, queue.url)} waiting "
                "(see README, Recovery)"
            )
    return lines


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])
