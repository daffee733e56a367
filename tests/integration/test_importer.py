"""Server-side imports on moto: a file dropped into the import bucket is imported by the
importer function, continued across runs when time runs short, with progress and rejected
rows beside it, and nothing doubled when S3 delivers a notification twice."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from cdp.storage import clients
from tests.integration.conftest import stored_events
from workbench.local.invocation import LambdaContext

BUCKET = "test-imports"
MAPPING = {
    "kind": "people",
    "identities": {"user_id": "customer_id", "email": "email"},
    "traits": {"plan": "plan", "lifetime_value": "ltv"},
    "consent": {"marketing": "newsletter", "analytics": "tracking"},
}

Invoke = Callable[[str], dict[str, Any]]


@pytest.fixture
def s3(table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("IMPORT_BUCKET", BUCKET)
    clients.s3.cache_clear()
    return client


@pytest.fixture
def importer(s3: Any) -> Iterator[Invoke]:
    """The importer as S3 invokes it: one notification for one new object."""
    from functions.importer import handler

    def invoke(key: str) -> dict[str, Any]:
        record = {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key)}},
        }
        # every invocation has its own request id, as in Lambda
        context = LambdaContext(aws_request_id=str(uuid.uuid4()))
        answer: dict[str, Any] = handler.handler({"Records": [record]}, context)
        return answer

    handler._dependencies.cache_clear()
    clients.dynamodb.cache_clear()
    yield invoke
    handler._dependencies.cache_clear()


def crm_export(rows: int, bad: dict[int, dict[str, str]] | None = None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["customer_id", "email", "plan", "ltv", "newsletter", "tracking"])
    writer.writeheader()
    for number in range(1, rows + 1):
        row = {
            "customer_id": f"c-{number}",
            "email": f"person{number}@example.com",
            "plan": "pro" if number % 2 else "free",
            "ltv": f"{number * 1.5}",
            "newsletter": "yes" if number % 3 else "no",
            "tracking": "yes" if number % 4 else "",
        }
        writer.writerow({**row, **(bad or {}).get(number, {})})
    return out.getvalue()


def drop(s3: Any, key: str, body: str, mapping: dict[str, Any] | None = MAPPING) -> None:
    if mapping is not None:
        s3.put_object(Bucket=BUCKET, Key="imports/crm/mapping.json", Body=json.dumps(mapping))
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def read(s3: Any, key: str) -> str:
    body: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body.decode()


def run_to_the_end(importer: Invoke, s3: Any, key: str) -> int:
    """Invoke for the file, then for each continue marker it leaves, as S3 would."""
    runs, answer = 1, importer(key)
    while not answer["imports"][0]["finished"]:
        runs += 1
        answer = importer(key + ".continue.json")
    return runs


BAD_ROWS = {
    7: {"customer_id": "", "email": ""},
    600: {"email": "not-an-address"},
    1100: {"newsletter": "maybe"},
}


def test_a_dropped_file_is_imported_across_runs_with_progress_and_rejects_beside_it(
    importer: Invoke, s3: Any, dynamodb: Any, table_names: dict[str, str]
) -> None:
    key = "imports/crm/november export.csv"
    drop(s3, key, crm_export(1_200, BAD_ROWS))

    runs = run_to_the_end(importer, s3, key)

    assert runs == 3  # 500 rows a run: the test context says time is short after each batch
    stored = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert len(stored) == 1_197
    assert len({m["messageId"] for m in stored}) == 1_197
    progress = json.loads(read(s3, key + ".progress.json"))
    assert {k: progress[k] for k in ("status", "rows_done", "stored", "rejected")} == {
        "status": "done",
        "rows_done": 1_200,
        "stored": 1_197,
        "rejected": 3,
    }
    rejects = [json.loads(line) for line in read(s3, key + ".rejected.jsonl").splitlines()]
    assert [(r["row"], r["reason"]) for r in rejects] == [
        (7, "no user id, anonymous id or e-mail address in this row"),
        (600, "email: 'not-an-address' is not an e-mail address"),
        (1100, "newsletter: 'maybe' is not a yes or no"),
    ]
    assert rejects[1]["values"]["customer_id"] == "c-600"


def test_imported_rows_carry_traits_consent_and_the_imported_provenance(
    importer: Invoke, s3: Any, dynamodb: Any, table_names: dict[str, str]
) -> None:
    drop(s3, "imports/crm/small.csv", crm_export(3))

    run_to_the_end(importer, s3, "imports/crm/small.csv")

    by_user = {m["userId"]: m for m in stored_events(dynamodb, table_names["EVENTS_TABLE"])}
    third = by_user["c-3"]
    assert third["type"] == "identify"
    assert third["traits"] == {"plan": "pro", "lifetime_value": 4.5,
                               "email": "person3@example.com"}  # fmt: skip
    assert third["context"]["cdp"] == {"provenance": "imported"}
    assert third["context"]["consent"] == {
        "categoryPreferences": {"marketing": False, "analytics": True}
    }
    items = dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    assert {item["source"]["S"] for item in items} == {"crm"}


def test_notifications_delivered_twice_run_once(
    importer: Invoke, s3: Any, dynamodb: Any, table_names: dict[str, str]
) -> None:
    key = "imports/crm/export.csv"
    drop(s3, key, crm_export(700))
    run_to_the_end(importer, s3, key)

    # S3 notifications are at least once: the file's and the marker's come again
    again = [importer(key), importer(key + ".continue.json")]

    assert [answer["imports"][0]["skipped"] for answer in again] == [
        "claimed or done by another run",
        "claimed or done by another run",
    ]
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 700
    progress = json.loads(read(s3, key + ".progress.json"))
    assert (progress["status"], progress["stored"]) == ("done", 700)


def test_of_two_runs_racing_for_the_same_stretch_one_wins(s3: Any) -> None:
    from cdp.intake.bulk import claim
    from cdp.storage.objects import Bucket

    drop(s3, "imports/crm/export.csv", crm_export(10))
    bucket = Bucket(BUCKET, client=s3)
    now = datetime.now(UTC)

    first = claim(bucket, "imports/crm/export.csv", run_id="run-a", now=now)
    second = claim(bucket, "imports/crm/export.csv", run_id="run-b", now=now)

    assert not isinstance(first, str)
    assert second == "claimed or done by another run"
    # the same run, retried by Lambda after a failure, takes its own claim again
    assert not isinstance(claim(bucket, "imports/crm/export.csv", run_id="run-a", now=now), str)


def test_a_run_that_died_is_taken_over_when_its_lease_runs_out(
    importer: Invoke, s3: Any, dynamodb: Any, table_names: dict[str, str]
) -> None:
    from cdp.intake.bulk import LEASE_SECONDS, claim
    from cdp.storage.objects import Bucket

    key = "imports/crm/export.csv"
    drop(s3, key, crm_export(300))
    long_ago = datetime.now(UTC) - timedelta(seconds=LEASE_SECONDS + 1)
    assert not isinstance(claim(Bucket(BUCKET, client=s3), key, run_id="dead", now=long_ago), str)

    run_to_the_end(importer, s3, key)  # a later delivery of the notification

    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 300


def test_uploading_the_file_again_imports_it_again(
    importer: Invoke, s3: Any, dynamodb: Any, table_names: dict[str, str]
) -> None:
    key = "imports/crm/export.csv"
    drop(s3, key, crm_export(3))
    run_to_the_end(importer, s3, key)
    time.sleep(1)  # S3 times have whole seconds: a new upload, a new time

    drop(s3, key, crm_export(3).replace("pro", "enterprise"))
    run_to_the_end(importer, s3, key)

    # the new upload is history too: its rows are newer identifies, which the profile follows
    newest: dict[str, dict[str, Any]] = {}
    for message in sorted(
        stored_events(dynamodb, table_names["EVENTS_TABLE"]), key=lambda m: m["timestamp"]
    ):
        newest[message["userId"]] = message
    assert {user: m["traits"]["plan"] for user, m in newest.items()} == {
        "c-1": "enterprise",
        "c-2": "free",
        "c-3": "enterprise",
    }
    assert json.loads(read(s3, key + ".progress.json"))["stored"] == 3


def test_json_lines_with_a_mapping_beside_the_file(
    importer: Invoke, s3: Any, dynamodb: Any, table_names: dict[str, str]
) -> None:
    key = "imports/shop/orders.jsonl"
    lines = [
        {"id": "o-1", "customer": "c-1", "total": 30, "at": "2026-10-01T10:00:00Z"},
        {"id": "o-2", "customer": "c-2", "total": 45, "at": "2026-10-02T10:00:00Z"},
        "not an object",
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n{broken\n"
    body += '{"id": "o-3", "customer": "c-3", "total": NaN}\n'  # json.dumps writes; JSON has none
    mapping = {
        "kind": "events",
        "identities": {"user_id": "customer"},
        "event_name": "Order Completed",
        "properties": {"order_id": "id", "revenue": "total"},
        "timestamp": "at",
    }
    s3.put_object(Bucket=BUCKET, Key=key + ".mapping.json", Body=json.dumps(mapping))
    drop(s3, key, body, mapping=None)

    run_to_the_end(importer, s3, key)

    stored = sorted(stored_events(dynamodb, table_names["EVENTS_TABLE"]), key=lambda m: m["userId"])
    assert [(m["event"], m["properties"]["revenue"], m["timestamp"]) for m in stored] == [
        ("Order Completed", 30, "2026-10-01T10:00:00.000Z"),
        ("Order Completed", 45, "2026-10-02T10:00:00.000Z"),
    ]
    reasons = [
        json.loads(line)["reason"] for line in read(s3, key + ".rejected.jsonl").splitlines()
    ]
    assert reasons[0] == "not a JSON object"
    assert reasons[1].startswith("the line is not valid JSON: Expecting property name")
    assert reasons[2] == "the line is not valid JSON: NaN is not a JSON number"


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        (None, "no mapping: put imports/crm/export.csv.mapping.json"),
        ({"kind": "people", "identities": {}}, "map at least one identity column"),
    ],
)
def test_a_file_without_a_usable_mapping_fails_with_the_reason_and_stores_nothing(
    importer: Invoke,
    s3: Any,
    dynamodb: Any,
    table_names: dict[str, str],
    mapping: dict[str, Any] | None,
    reason: str,
) -> None:
    drop(s3, "imports/crm/export.csv", crm_export(5), mapping=mapping)

    answer = importer("imports/crm/export.csv")

    assert answer["imports"][0]["failed"] is True
    progress = json.loads(read(s3, "imports/crm/export.csv.progress.json"))
    assert progress["status"] == "failed"
    assert reason in progress["error"]
    assert stored_events(dynamodb, table_names["EVENTS_TABLE"]) == []


def test_files_that_are_not_imports_are_left_alone(importer: Invoke, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="imports/crm/readme.txt", Body=b"hello")

    [answer] = importer("imports/crm/readme.txt")["imports"]

    assert answer["skipped"].startswith("not an import file")


def test_when_consent_is_required_only_rows_with_analytics_consent_are_stored_in_full(
    importer: Invoke,
    s3: Any,
    dynamodb: Any,
    table_names: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENT_REQUIRED", "true")
    drop(s3, "imports/crm/export.csv", crm_export(8))

    run_to_the_end(importer, s3, "imports/crm/export.csv")

    stored = {m["userId"]: m for m in stored_events(dynamodb, table_names["EVENTS_TABLE"])}
    with_consent = {f"c-{n}" for n in range(1, 9) if n % 4}
    assert {u for u, m in stored.items() if "traits" in m} == with_consent
    # of the others only their consent decisions are kept
    assert {u for u, m in stored.items() if "traits" not in m} == {"c-4", "c-8"}
