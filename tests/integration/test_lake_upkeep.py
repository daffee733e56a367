"""The lake's upkeep function on moto: an erasure, sent on by the erasure sweep, takes the
person out of the lake's tables and out of every file under them, and leaves everyone else;
the scheduled run keeps the lake (retention, compaction, clean-up)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from cdp.intake.messages import read_request
from cdp.runtime import clock
from cdp.storage.intake import IntakeStore
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, TableStream, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def sqs_records(queue_url: str) -> dict[str, Any]:
    """What Lambda hands the queue's consumer: the messages waiting, as records."""
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "body": message["Body"],
                "receiptHandle": message["ReceiptHandle"],
                "eventSource": "aws:sqs",
                "attributes": {},
                "messageAttributes": {},
            }
            for message in messages.get("Messages", [])
        ]
    }


def lake_text(lake: Path) -> str:
    """Every value of every row of every Parquet file under the lake, as text."""
    return "\n".join(
        str(pq.read_table(path).to_pylist()) for path in sorted(lake.rglob("*.parquet"))
    )


def lake_user_ids() -> list[str]:
    """The `user_id` of every row of the lake's events table, as the upkeep reads it, sorted."""
    from cdp.lake.tables import EVENTS, load
    from functions.lake_upkeep import handler

    table = load(handler._catalog(), EVENTS)
    return sorted(table.scan(selected_fields=("user_id",)).to_arrow().column(0).to_pylist())


def test_an_erasure_reaches_the_lake_and_no_file_there_holds_the_person(
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    erasure_sweep: Handler,
    lake_writer: Handler,
    lake_upkeep: Handler,
    lake: Path,
    table_names: dict[str, str],
    queues: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given Ada, known from two devices and an e-mail address, and Grace, in the lake
    events = TableStream(table_names["EVENTS_TABLE"])
    batch = [
        {"type": "page", "anonymousId": "ada-phone-77", "name": "Home"},
        {
            "type": "identify",
            "anonymousId": "ada-laptop-77",
            "userId": "ada-77",
            "traits": {"email": "ada77@example.com"},
        },
        {"type": "identify", "anonymousId": "ada-phone-77", "userId": "ada-77"},
        {"type": "track", "userId": "ada-77", "event": "Order Completed"},
        {"type": "track", "userId": "grace-12", "event": "Order Completed"},
    ]
    answer = collector(
        http_event(path="/v1/batch", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
    )
    assert answer_json(answer) == {"success": True}
    assert lake_writer(events.new_records()) == {"batchItemFailures": []}
    pipeline()
    secrets = ("ada-77", "ada-phone-77", "ada-laptop-77", "ada77@example.com")
    assert all(secret in lake_text(lake) for secret in secrets)

    # when she is erased, and the sweep runs (here at once, not minutes later)
    monkeypatch.setenv("SUPPRESSION_CACHE_SECONDS", "0")  # so the sweep may run at once
    monkeypatch.setenv("ERASURE_SWEEP_DELAY_SECONDS", "0")
    erased = privacy_api(http_event("DELETE", "/v1/profiles/user_id:ada-77", headers=bearer()))
    assert erased["statusCode"] == 200, erased["body"]
    assert erasure_sweep(sqs_records(queues["ERASURE_QUEUE_URL"])) == {"batchItemFailures": []}

    # then the sweep sent the erasure on to the lake, which takes it (twice: SQS may deliver
    # a message again, and the second finds nothing)
    erasures = sqs_records(queues["LAKE_ERASURES_QUEUE_URL"])
    assert len(erasures["Records"]) == 1
    assert lake_upkeep(erasures) == {"batchItemFailures": []}
    assert lake_upkeep(erasures) == {"batchItemFailures": []}

    # and no file under the lake holds anything of hers; Grace's event is there
    text = lake_text(lake)
    assert [secret for secret in secrets if secret in text] == []
    assert "grace-12" in text

    # and an event of hers stored by a collector that had not heard of the erasure yet,
    # handed to the lake writer afterwards, does not bring her back
    slipped = read_request(
        {"userId": "ada-77", "event": "Slipped In"},
        "track",
        source="website",
        received_at=clock.utc_now(),
    )
    IntakeStore(
        table_names["EVENTS_TABLE"],
        table_names["QUARANTINE_TABLE"],
        client=boto3.client("dynamodb"),
        event_retention=timedelta(days=1),
        quarantine_retention=timedelta(days=1),
    ).save(slipped, source="website", received_at=clock.utc_now(), request_id="r")
    # (a writer asks whether anyone was erased once a minute, and the sweep runs minutes after
    # the erasure: a fresh writer instance learns of it at once)
    from functions.lake_writer import handler as writer

    writer._suppressions.cache_clear()
    late = events.new_records()  # the erasure's removals, then her event
    assert late["Records"][-1]["eventName"] == "INSERT"
    assert lake_writer(late) == {"batchItemFailures": []}
    assert "ada-77" not in lake_text(lake)


def test_the_scheduled_run_keeps_the_lake(
    collector: Handler, lake_writer: Handler, lake_upkeep: Handler, table_names: dict[str, str]
) -> None:

    # given a year-and-a-half-old event (past the 395 days) and today's, in the lake
    events = TableStream(table_names["EVENTS_TABLE"])
    batch = [
        {
            "type": "track",
            "userId": "old-1",
            "event": "Viewed",
            "timestamp": "2025-03-01T10:00:00Z",
        },
        {"type": "track", "userId": "new-1", "event": "Viewed"},
    ]
    answer = collector(
        http_event(path="/v1/import", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
    )
    assert answer_json(answer) == {"success": True}
    assert lake_writer(events.new_records()) == {"batchItemFailures": []}

    # when the schedule runs the upkeep
    outcome = lake_upkeep({"source": "aws.scheduler", "detail-type": "Scheduled Event"})

    # then the old day is gone, today's event kept
    assert outcome["dropped"] == 1
    assert lake_user_ids() == ["new-1"]


def test_the_scheduled_run_spares_a_write_in_flight_when_the_clock_is_moved_forward(
    collector: Handler,
    lake_writer: Handler,
    lake_upkeep: Handler,
    lake: Path,
    table_names: dict[str, str],
) -> None:
    # given events in the lake, and two files no snapshot names yet: one a write in flight
    # has just made, one a crashed write left an hour ago (real time)
    events = TableStream(table_names["EVENTS_TABLE"])
    batch = [{"type": "track", "userId": f"u-{n}", "event": "Viewed"} for n in range(3)]
    answer = collector(
        http_event(path="/v1/batch", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
    )
    assert answer_json(answer) == {"success": True}
    assert lake_writer(events.new_records()) == {"batchItemFailures": []}
    stored = sorted(lake.rglob("*.parquet"))
    in_flight, crashed = (
        stored[0].with_name("in-flight.parquet"),
        stored[0].with_name("crashed.parquet"),
    )
    shutil.copy(stored[0], in_flight)
    shutil.copy(stored[0], crashed)
    an_hour_ago = time.time() - 3600
    os.utime(crashed, (an_hour_ago, an_hour_ago))

    # when the platform's clock is a day ahead (as `cdp dev`'s clock is moved) and the
    # schedule runs the upkeep
    clock.advance(timedelta(days=1))
    outcome = lake_upkeep({"source": "aws.scheduler", "detail-type": "Scheduled Event"})

    # then the write in flight keeps its file, the crashed write's is gone, and the table
    # still reads
    assert in_flight.exists()
    assert not crashed.exists()
    assert outcome["files_removed"] >= 1
    assert lake_user_ids() == ["u-0", "u-1", "u-2"]


def test_other_peoples_events_that_named_the_person_are_redacted_in_the_lake(
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    erasure_sweep: Handler,
    lake_writer: Handler,
    lake_upkeep: Handler,
    lake: Path,
    table_names: dict[str, str],
    queues: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cdp.lake.tables import EVENTS, load
    from functions.lake_writer import handler as writer

    # given a shared laptop: Ada signs in on it, then Bob (his event names the laptop)
    events = TableStream(table_names["EVENTS_TABLE"])
    for user in ("ada-9c1d", "bob-9c1d"):
        body = {"userId": user, "anonymousId": "laptop-9c1d", "traits": {"email": f"{user}@x.io"}}
        collector(http_event(path="/v1/identify", headers=basic_auth(WRITE_KEY), body=body))
        pipeline()
    first = events.new_records()
    assert lake_writer(first) == {"batchItemFailures": []}
    first_stored = load(writer._catalog(), EVENTS).scan().to_arrow().to_pylist()

    # when Ada is erased: the stream says her events are removed and Bob's is redacted (a
    # change the writer takes within its window), then the sweep and the lake's erasure run
    monkeypatch.setenv("SUPPRESSION_CACHE_SECONDS", "0")  # so the sweep may run at once
    monkeypatch.setenv("ERASURE_SWEEP_DELAY_SECONDS", "0")
    erased = privacy_api(http_event("DELETE", "/v1/profiles/user_id:ada-9c1d", headers=bearer()))
    assert answer_json(erased)["erased"]["events_redacted"] == 1
    changes = events.new_records()
    assert "MODIFY" in [record["eventName"] for record in changes["Records"]]
    assert lake_writer(changes) == {"batchItemFailures": []}
    assert lake_writer(changes) == {"batchItemFailures": []}  # delivered again: the same
    assert erasure_sweep(sqs_records(queues["ERASURE_QUEUE_URL"])) == {"batchItemFailures": []}
    assert lake_upkeep(sqs_records(queues["LAKE_ERASURES_QUEUE_URL"])) == {"batchItemFailures": []}

    # then no lake file holds her identifiers or the laptop; Bob keeps his one event,
    # redacted, under the sequence number it was first stored with
    text = lake_text(lake)
    assert [value for value in ("ada-9c1d", "laptop-9c1d") if value in text] == []
    [bob] = load(writer._catalog(), EVENTS).scan().to_arrow().to_pylist()
    assert (bob["user_id"], bob["anonymous_id"]) == ("bob-9c1d", "[erased]")
    [before] = [row for row in first_stored if row["user_id"] == "bob-9c1d"]
    assert bob["stream_sequence"] == before["stream_sequence"]
    # and a redelivery of the first batch, later (a writer learns of erasures within a
    # minute: a fresh instance at once), adds nothing: not Bob's again, not Ada's back
    writer._suppressions.cache_clear()
    assert lake_writer(first) == {"batchItemFailures": []}
    assert len(load(writer._catalog(), EVENTS).scan().to_arrow()) == 1
