"""Segments on moto, through the deployed handlers: admin API, builder, publisher, scheduler,
backfill worker, and the Profile API's explain."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cdp.runtime import clock
from cdp.sharing.changes import Published
from cdp.storage.bus import BusUnavailableError, EventBus
from tests.factories import answer_json, http_event, stream_event, stream_record
from tests.integration.conftest import bearer
from workbench.local.invocation import LambdaContext
from workbench.local.streams import _as_lambda_json

Handler = Callable[[dict[str, Any]], dict[str, Any]]
BUYERS = {
    "id": "recent-buyers",
    "name": "Bought in the last 30 days",
    "condition": {"computed": "orders_30d", "gte": 1},
}


class ProfilesStream:
    """Reads the profiles table's stream (moto) and hands its records over as Lambda does."""

    def __init__(self, table: str) -> None:
        # moto answers Streams calls only without account-based endpoints
        self.streams = boto3.client(
            "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
        )
        arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_records(self) -> dict[str, Any]:
        answer = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        return {"Records": [_as_lambda_json(record) for record in answer["Records"]]}


@pytest.fixture
def segments_stack(
    admin_api: Handler,
    profile_builder: Handler,
    publisher: Handler,
    queues: dict[str, str],
    table_names: dict[str, str],
) -> Iterator[dict[str, Any]]:
    from functions.scheduler import handler as scheduler
    from functions.segment_backfill import handler as backfill

    scheduler._dependencies.cache_clear()
    backfill._dependencies.cache_clear()
    sqs = boto3.client("sqs")
    stream = ProfilesStream(table_names["PROFILES_TABLE"])

    def run_backfill() -> None:
        url = queues["BACKFILL_QUEUE_URL"]
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            records = [
                {
                    "messageId": m["MessageId"],
                    "body": m["Body"],
                    "receiptHandle": m["ReceiptHandle"],
                    "eventSource": "aws:sqs",
                    "attributes": {},
                    "messageAttributes": {},
                }
                for m in messages
            ]
            assert backfill.handler({"Records": records}, LambdaContext()) == {
                "batchItemFailures": []
            }
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def publish() -> dict[str, Any]:
        return publisher(stream.new_records())

    yield {
        "define": lambda segment: admin_api(
            http_event("PUT", f"/v1/segments/{segment['id']}", body=segment, headers=bearer())
        ),
        "backfill": run_backfill,
        "publish": publish,
        "schedule": lambda: scheduler.handler({"source": "aws.scheduler"}, LambdaContext()),
    }
    scheduler._dependencies.cache_clear()
    backfill._dependencies.cache_clear()


def order(user: str, **extra: Any) -> dict[str, Any]:
    return stream_record(
        {
            "type": "track",
            "userId": user,
            "event": "Order Completed",
            "properties": {"revenue": 10},
            **extra,
        }
    )


def test_entering_and_leaving_reach_the_bus_and_the_index(
    segments_stack: dict[str, Any],
    profile_builder: Handler,
    admin_api: Handler,
    bus: Callable[[], list[dict[str, Any]]],
) -> None:
    # given a segment of recent buyers
    assert segments_stack["define"](BUYERS)["statusCode"] == 200
    segments_stack["backfill"]()

    # when a person orders
    now = clock.iso(clock.utc_now())
    profile_builder(stream_event(order("u1", timestamp=now, traits={"email": "ada@x.nl"})))
    segments_stack["publish"]()

    # then they enter, consumers hear of it, and the index counts them
    [entered] = [e for e in bus() if e["detail-type"] == "segment.entered"]
    assert entered["source"] == "cdp"
    assert entered["detail"]["segment_id"] == "recent-buyers"
    assert entered["detail"]["identities"] == {"user_id": "u1", "emails": []}
    assert entered["detail"]["consented_purposes"] == []
    answer = answer_json(
        admin_api(http_event("GET", "/v1/segments/recent-buyers", headers=bearer()))
    )
    assert answer["members"] == 1
    members = answer_json(
        admin_api(http_event("GET", "/v1/segments/recent-buyers/members", headers=bearer()))
    )
    assert len(members["members"]) == 1
    assert members["cursor"] is None

    # when 31 days pass without an order, the scheduler notices
    clock.advance(timedelta(days=31))
    result = segments_stack["schedule"]()
    assert result["exited"] == 1
    segments_stack["publish"]()

    # then they leave, consumers hear of it, and the count follows
    [exited] = [e for e in bus() if e["detail-type"] == "segment.exited"]
    assert exited["detail"]["profile_id"] == entered["detail"]["profile_id"]
    answer = answer_json(
        admin_api(http_event("GET", "/v1/segments/recent-buyers", headers=bearer()))
    )
    assert answer["members"] == 0

    # and the segment's days show the entry on its day and the exit 31 days later
    changes = answer_json(
        admin_api(
            http_event(
                "GET",
                "/v1/segments/recent-buyers/changes",
                headers=bearer(),
                query={"days": "40"},
            )
        )
    )
    days = changes["days"]
    assert len(days) == 40
    assert days[-1]["day"] == clock.utc_now().date().isoformat()
    moved = {d["day"]: (d["entries"], d["exits"]) for d in days if d["entries"] or d["exits"]}
    assert moved == {now[:10]: (1, 0), days[-1]["day"]: (0, 1)}
    [listed] = answer_json(admin_api(http_event("GET", "/v1/segments", headers=bearer())))[
        "segments"
    ]
    assert listed["last_7_days"] == {"entries": 0, "exits": 1}  # the entry was 31 days ago


def test_profiles_rewritten_by_the_backfill_and_the_scheduler_keep_their_retention(
    segments_stack: dict[str, Any],
    profile_builder: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
) -> None:
    # given people who bought, one of them long ago
    now = clock.utc_now()
    profile_builder(
        stream_event(
            order("recent", timestamp=clock.iso(now)),
            order("early", timestamp=clock.iso(now - timedelta(days=29))),
        )
    )

    def expiries() -> dict[str, int]:
        items = dynamodb.scan(TableName=table_names["PROFILES_TABLE"])["Items"]
        assert all("expires_at" in item for item in items), items
        return {item["profile_id"]["S"]: int(item["expires_at"]["N"]) for item in items}

    before = expiries()
    # when a new segment is backfilled into them, and time passes with the scheduler
    assert segments_stack["define"](BUYERS)["statusCode"] == 200
    segments_stack["backfill"]()
    assert expiries() == before
    clock.advance(timedelta(days=2))
    assert segments_stack["schedule"]()["exited"] == 1
    # then every profile still expires when its retention says
    assert expiries() == before


def test_every_function_that_writes_profiles_knows_the_retention() -> None:
    # A profile item is only written through ProfileStore, which cannot be built without a
    # retention; a function that may write the profiles table must have it in its settings.
    from cdp.runtime.tables import PROFILES
    from infra.wiring import FUNCTIONS

    writers = {
        spec.name
        for spec in FUNCTIONS
        for table, access in spec.tables
        if table is PROFILES and access in ("write", "read_write")
    }
    assert writers >= {"profile_builder", "scheduler", "segment_backfill", "privacy_api"}
    for spec in FUNCTIONS:
        if spec.name in writers:
            assert "profile_retention_days" in spec.settings.model_fields, spec.name


def test_a_redelivered_profile_change_neither_counts_twice_nor_changes_event_ids(
    segments_stack: dict[str, Any],
    profile_builder: Handler,
    publisher: Handler,
    admin_api: Handler,
    bus: Callable[[], list[dict[str, Any]]],
    table_names: dict[str, str],
) -> None:
    segments_stack["define"](BUYERS)
    stream = ProfilesStream(table_names["PROFILES_TABLE"])
    profile_builder(stream_event(order("u1", timestamp=clock.iso(clock.utc_now()))))
    records = stream.new_records()

    publisher(records)
    publisher(records)  # the stream redelivers the batch

    entered = [e for e in bus() if e["detail-type"] == "segment.entered"]
    assert len(entered) == 2  # at least once ...
    assert entered[0]["detail"]["id"] == entered[1]["detail"]["id"]  # ... with one id to dedupe by
    answer = answer_json(
        admin_api(http_event("GET", "/v1/segments/recent-buyers", headers=bearer()))
    )
    assert answer["members"] == 1
    path = "/v1/segments/recent-buyers/changes"
    [today] = answer_json(
        admin_api(http_event("GET", path, headers=bearer(), query={"days": "1"}))
    )["days"]
    assert (today["entries"], today["exits"]) == (1, 0)


@pytest.mark.parametrize("days", ["0", "401", "week"])
def test_a_segments_days_are_asked_for_within_bounds(
    segments_stack: dict[str, Any], admin_api: Handler, days: str
) -> None:
    segments_stack["define"](BUYERS)
    path = "/v1/segments/recent-buyers/changes"
    answer = admin_api(http_event("GET", path, headers=bearer(), query={"days": days}))
    assert answer["statusCode"] == 400, answer
    assert "days" in answer_json(answer)["message"]
    missing = admin_api(http_event("GET", "/v1/segments/nobody/changes", headers=bearer()))
    assert missing["statusCode"] == 404


def test_existing_profiles_are_backfilled_into_a_new_segment(
    segments_stack: dict[str, Any], profile_builder: Handler, admin_api: Handler
) -> None:
    now = clock.iso(clock.utc_now())
    profile_builder(stream_event(*(order(f"buyer-{n}", timestamp=now) for n in range(5))))
    profile_builder(stream_event(stream_record({"type": "page", "anonymousId": "just-looking"})))
    segments_stack["publish"]()

    segments_stack["define"](BUYERS)
    segments_stack["backfill"]()
    segments_stack["publish"]()

    answer = answer_json(
        admin_api(http_event("GET", "/v1/segments/recent-buyers", headers=bearer()))
    )
    assert answer["members"] == 5
    assert answer["backfill"]["status"] == "done"
    assert answer["backfill"]["evaluated"] == 6


def test_explain_shows_why(
    segments_stack: dict[str, Any], profile_builder: Handler, profile_api: Handler
) -> None:
    segments_stack["define"](
        {
            "id": "big-spenders",
            "name": "Big spenders",
            "condition": {
                "all": [{"computed": "revenue", "gte": 100}, {"computed": "orders", "gte": 1}]
            },
        }
    )
    profile_builder(stream_event(order("u9", timestamp=clock.iso(clock.utc_now()))))

    answer = profile_api(
        http_event("GET", "/v1/profiles/user_id:u9/segments/big-spenders/explain", headers=bearer())
    )

    assert answer["statusCode"] == 200
    assert answer_json(answer) == {
        "segment": "big-spenders",
        "member": False,
        "condition": {
            "all": [
                {"computed": "revenue", "gte": 100, "actual": 10, "holds": False},
                {"computed": "orders", "gte": 1, "actual": 1, "holds": True},
            ],
            "holds": False,
        },
    }
    missing = profile_api(
        http_event("GET", "/v1/profiles/user_id:u9/segments/nope/explain", headers=bearer())
    )
    assert missing["statusCode"] == 404


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({**BUYERS, "condition": {"computed": "orders_30d", "gte": [1]}}, "condition.gte"),
        (
            {
                **BUYERS,
                "condition": {"all": [{"trait": "age", "lt": 25}, {"trait": "x", "almost": 1}]},
            },
            "condition.all[1]: unknown key 'almost'",
        ),
        ({**BUYERS, "condition": {"segment": "ghost"}}, "unknown segment 'ghost'"),
        ({**BUYERS, "id": "other"}, "id: the body says 'other'"),
    ],
)
def test_bad_segments_get_a_400_that_points_at_the_problem(
    segments_stack: dict[str, Any], admin_api: Handler, segment: dict[str, Any], message: str
) -> None:
    answer = admin_api(
        http_event("PUT", f"/v1/segments/{BUYERS['id']}", body=segment, headers=bearer())
    )
    assert answer["statusCode"] == 400
    assert message in answer_json(answer)["message"]
    assert admin_api(http_event("GET", "/v1/segments", headers=bearer()))["statusCode"] == 200


def test_a_segment_used_by_another_cannot_be_deleted(
    segments_stack: dict[str, Any], admin_api: Handler
) -> None:
    segments_stack["define"](BUYERS)
    segments_stack["define"](
        {
            "id": "young-buyers",
            "name": "Young buyers",
            "condition": {"all": [{"segment": "recent-buyers"}, {"trait": "age", "lt": 25}]},
        }
    )
    answer = admin_api(http_event("DELETE", "/v1/segments/recent-buyers", headers=bearer()))
    assert answer["statusCode"] == 400
    assert "used by young-buyers" in answer_json(answer)["message"]
    assert (
        admin_api(http_event("DELETE", "/v1/segments/young-buyers", headers=bearer()))["statusCode"]
        == 200
    )
    assert (
        admin_api(http_event("GET", "/v1/segments/young-buyers", headers=bearer()))["statusCode"]
        == 404
    )


class Flaky:
    """moto's EventBridge client, except that the first call refuses its first entry."""

    def __init__(self, client: Any, refusals: int) -> None:
        self.client = client
        self.refusals = refusals
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.refusals > 0:
            self.refusals -= 1
            answer = self.client.put_events(Entries=Entries[1:]) if len(Entries) > 1 else {}
            return {
                "FailedEntryCount": 1,
                "Entries": [
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
                    *answer.get("Entries", []),
                ],
            }
        result: dict[str, Any] = self.client.put_events(Entries=Entries)
        return result


def test_entries_the_bus_refuses_are_sent_again(bus: Callable[[], list[dict[str, Any]]]) -> None:
    import os

    flaky = Flaky(boto3.client("events"), refusals=2)
    events = [
        Published("segment.entered", {"id": str(n), "profile_id": "p", "version": 1})
        for n in range(3)
    ]
    EventBus(os.environ["EVENT_BUS_NAME"], client=flaky, sleep=lambda _: None).publish(events)
    assert flaky.calls == 3
    assert sorted(e["detail"]["id"] for e in bus()) == ["0", "1", "2"]

    refusing = Flaky(boto3.client("events"), refusals=100)
    with pytest.raises(BusUnavailableError):
        EventBus(os.environ["EVENT_BUS_NAME"], client=refusing, sleep=lambda _: None).publish(
            events
        )


def test_a_profile_change_the_bus_cannot_take_is_reported_for_retry(
    segments_stack: dict[str, Any],
    profile_builder: Handler,
    publisher: Handler,
    table_names: dict[str, str],
    capsys: Any,
) -> None:
    from functions.publisher import handler

    segments_stack["define"](BUYERS)
    stream = ProfilesStream(table_names["PROFILES_TABLE"])
    profile_builder(stream_event(order("u1", timestamp=clock.iso(clock.utc_now()))))
    records = stream.new_records()
    found = handler._dependencies()
    broken = EventBus(
        found.bus.name, client=Flaky(boto3.client("events"), refusals=100), sleep=lambda _: None
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handler, "_dependencies", lambda: dataclasses.replace(found, bus=broken))
        answer = publisher(records)

    assert answer["batchItemFailures"] == [
        {"itemIdentifier": records["Records"][0]["dynamodb"]["SequenceNumber"]}
    ]
    # and counted, for the console's overview
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert [m["RecordsFailed"] for m in metrics if m.get("service") == "publisher"] == [[1.0]]


def test_every_member_of_a_list_can_be_looked_up_by_its_profile_id(
    segments_stack: dict[str, Any],
    profile_builder: Handler,
    admin_api: Handler,
    profile_api: Handler,
) -> None:
    segments_stack["define"](BUYERS)
    now = clock.iso(clock.utc_now())
    profile_builder(stream_event(order("u1", timestamp=now), order("u2", timestamp=now)))
    segments_stack["publish"]()
    members = answer_json(
        admin_api(http_event("GET", "/v1/segments/recent-buyers/members", headers=bearer()))
    )["members"]
    assert len(members) == 2
    for member in members:
        found = profile_api(
            http_event("GET", f"/v1/profiles/profile_id:{member['profile_id']}", headers=bearer())
        )
        assert found["statusCode"] == 200, found["body"]
        assert answer_json(found)["profile_id"] == member["profile_id"]
    unknown = profile_api(http_event("GET", "/v1/profiles/profile_id:nobody", headers=bearer()))
    assert unknown["statusCode"] == 404
