"""Hot and cold events: the events table keeps an event for the hot window (`event_hot_days`,
DynamoDB TTL), the lake for the whole retention. The TTL's deletion reaches the stream's readers
as a REMOVE that changes nothing, and the timeline says where the older events are, with a
query `cdp sql` answers from the lake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cdp.runtime import clock
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import SECRET_KEY, WRITE_KEY, TableStream, bearer
from workbench.cli.sql import as_records, local_query

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def send(collector: Handler, message: dict[str, Any]) -> None:
    answer = collector(
        http_event(path="/v1/batch", body={"batch": [message]}, headers=basic_auth(WRITE_KEY))
    )
    assert answer_json(answer) == {"success": True}


def expire(dynamodb: Any, table: str) -> int:
    """What DynamoDB's TTL does (moto does not): delete the items whose `expires_at` is past."""
    now = clock.utc_now().timestamp()
    expired = [
        item
        for item in dynamodb.scan(TableName=table)["Items"]
        if int(item["expires_at"]["N"]) < now
    ]
    for item in expired:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    return len(expired)


def timeline(profile_api: Handler, identity: str) -> dict[str, Any]:
    answer = profile_api(
        http_event("GET", f"/v1/profiles/{identity}/events", headers=bearer(SECRET_KEY))
    )
    assert answer["statusCode"] == 200, answer["body"]
    page: dict[str, Any] = answer_json(answer)
    return page


def test_an_event_leaves_the_table_after_the_hot_window_and_the_timeline_points_to_the_lake(
    collector: Handler,
    profile_builder: Handler,
    lake_writer: Handler,
    profile_api: Handler,
    privacy_api: Handler,
    lake: Path,
    dynamodb: Any,
    table_names: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a hot window of 7 days in a retention of 395
    monkeypatch.setenv("EVENT_HOT_DAYS", "7")
    monkeypatch.setenv("EVENT_RETENTION_DAYS", "395")
    table = table_names["EVENTS_TABLE"]
    stream = TableStream(table)
    send(collector, {"type": "track", "userId": "o'neil", "event": "Old", "messageId": "m-old"})
    [item] = dynamodb.scan(TableName=table)["Items"]
    hot_until = clock.utc_now() + timedelta(days=7)
    assert abs(int(item["expires_at"]["N"]) - hot_until.timestamp()) < 60
    first = stream.new_records()
    assert profile_builder(first) == {"batchItemFailures": []}
    assert lake_writer(first) == {"batchItemFailures": []}
    profile_before = dynamodb.scan(TableName=table_names["PROFILES_TABLE"])["Items"]

    # when eight days pass: the TTL deletes the old item, and a new event arrives
    clock.advance(timedelta(days=8))
    assert expire(dynamodb, table) == 1
    later = stream.new_records()
    assert [record["eventName"] for record in later["Records"]] == ["REMOVE"]
    assert profile_builder(later) == {"batchItemFailures": []}
    assert lake_writer(later) == {"batchItemFailures": []}

    # then the removal undid and counted nothing: the profile is as it was, the lake keeps it
    assert dynamodb.scan(TableName=table_names["PROFILES_TABLE"])["Items"] == profile_before
    send(collector, {"type": "track", "userId": "o'neil", "event": "New", "messageId": "m-new"})
    newest = stream.new_records()
    assert profile_builder(newest) == {"batchItemFailures": []}
    assert lake_writer(newest) == {"batchItemFailures": []}
    in_lake = as_records(local_query(str(lake), "select message_id from events order by 1"))
    assert in_lake == [{"message_id": "m-new"}, {"message_id": "m-old"}]

    # and the timeline holds the hot window's event, and says where the older one is
    page = timeline(profile_api, "user_id:o'neil")
    assert [event["messageId"] for event in page["events"]] == ["m-new"]
    older = page["older_events"]
    window_start = clock.utc_now() - timedelta(days=7)
    assert abs((clock.parse(older["before"]) - window_start).total_seconds()) < 60
    assert older["table"] == "events"
    answer = as_records(local_query(str(lake), older["sql"]))
    assert [row["message_id"] for row in answer] == ["m-old"]
    assert answer[0]["identity"] == "user_id:o'neil"

    # and the person's export (the right of access) holds both: the table's event, then the
    # lake's, once (an event in both, before the TTL deletes its item, is not given twice)
    exported = privacy_api(
        http_event("GET", "/v1/profiles/user_id:o'neil/export", headers=bearer(SECRET_KEY))
    )
    assert exported["statusCode"] == 200, exported["body"]
    document = answer_json(exported)
    assert [event["messageId"] for event in document["events"]] == ["m-new", "m-old"]
    old_event = document["events"][1]
    assert (old_event["event"], old_event["userId"]) == ("Old", "o'neil")
    assert document["events_truncated"] is False
    # and says where the older events are, as the timeline does
    pointer = document["older_events"]
    assert pointer["table"] == "events"
    assert abs((clock.parse(pointer["before"]) - window_start).total_seconds()) < 60
    answer = as_records(local_query(str(lake), pointer["sql"]))
    assert [row["message_id"] for row in answer] == ["m-old"]


def test_with_the_whole_retention_hot_the_timeline_points_nowhere(
    collector: Handler,
    profile_builder: Handler,
    profile_api: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENT_HOT_DAYS", "30")
    monkeypatch.setenv("EVENT_RETENTION_DAYS", "30")
    table = table_names["EVENTS_TABLE"]
    stream = TableStream(table)
    send(collector, {"type": "track", "userId": "42", "event": "Only", "messageId": "m-1"})
    [item] = dynamodb.scan(TableName=table)["Items"]
    hot_until = clock.utc_now() + timedelta(days=30)
    assert abs(int(item["expires_at"]["N"]) - hot_until.timestamp()) < 60
    assert profile_builder(stream.new_records()) == {"batchItemFailures": []}

    page = timeline(profile_api, "user_id:42")

    assert [event["messageId"] for event in page["events"]] == ["m-1"]
    assert page["older_events"] is None


def test_the_openapi_document_describes_where_older_events_are(profile_api: Handler) -> None:
    document = answer_json(profile_api(http_event("GET", "/v1/openapi.json")))
    schemas = document["components"]["schemas"]
    assert "older_events" in schemas["EventsPage"]["properties"]
    assert set(schemas["OlderEvents"]["required"]) == {"before", "table", "sql"}


def test_every_function_that_stores_events_keeps_them_for_the_hot_window() -> None:
    # Event items are written only through cdp.storage.intake.IntakeStore, whose TTL is the
    # hot window: a function that may write the events table must have it in its settings.
    from cdp.runtime.tables import EVENTS
    from infra.wiring import FUNCTIONS

    writers = {
        spec.name
        for spec in FUNCTIONS
        for table, access in spec.tables
        if table is EVENTS and access in ("write", "read_write")
    }
    assert writers >= {"collector", "forms_api", "webhooks", "importer"}
    cleaners = {"privacy_api", "erasure_sweep"}  # they delete or redact, keeping the TTL
    for spec in FUNCTIONS:
        if spec.name in writers - cleaners:
            assert "event_hot_days" in spec.settings.model_fields, spec.name
