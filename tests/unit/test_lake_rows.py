"""Rows of the lake's tables from the DynamoDB items they mirror (cdp.lake.rows), and the
lake's place in the package: nothing imports pyarrow until a lake function runs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from cdp.lake.rows import event_message, event_row, is_live_profile, profile_rows
from cdp.profiles.profile import Profile
from cdp.profiles.traits import TraitValue
from cdp.storage.profiles import encode_state
from tests.factories import stream_record

ROOT = Path(__file__).resolve().parents[2]


def test_an_event_row_has_typed_columns_and_json_for_the_rest() -> None:
    # given an order as the events stream delivers it (body compressed, base64-encoded)
    message = {
        "type": "track",
        "event": "Order Completed",
        "userId": "42",
        "anonymousId": "anon-1",
        "messageId": "m-1",
        "timestamp": "2026-11-03T23:59:59.500Z",
        "receivedAt": "2026-11-23T09:00:01.000Z",
        "properties": {"revenue": 19.9, "currency": "EUR", "items": [{"sku": "a"}]},
        "context": {"library": {"name": "analytics.js", "version": "5.0"}},
    }
    image = stream_record(message, source="shop")["dynamodb"]["NewImage"]

    # when
    row = event_row(image)

    # then
    assert row["message_id"] == "m-1"
    assert row["identity"] == "user_id:42"
    assert (row["type"], row["event"], row["source"]) == ("track", "Order Completed", "shop")
    assert (row["user_id"], row["anonymous_id"]) == ("42", "anon-1")
    assert row["timestamp"] == datetime(2026, 11, 3, 23, 59, 59, 500000)  # naive UTC
    assert row["received_at"] == datetime(2026, 11, 23, 9, 0, 1)
    assert (row["revenue"], row["currency"]) == (19.9, "EUR")
    assert json.loads(row["properties"]) == message["properties"]
    assert json.loads(row["context"]) == message["context"]
    assert row["traits"] is None


def test_an_event_row_reads_back_as_the_message_it_was_made_of() -> None:
    # (what an export shows of an event only the lake still holds)
    page = {
        "type": "page",
        "name": "Pricing",
        "anonymousId": "anon-9",
        "messageId": "m-9",
        "timestamp": "2026-11-03T23:59:59.500Z",
        "receivedAt": "2026-11-04T00:00:00.250Z",
        "properties": {"path": "/pricing", "nested": {"é": [1, None]}},
        "traits": {"email": "ada@example.com"},
        "context": {"page": {"path": "/pricing"}},
    }
    order = {
        "type": "track",
        "event": "Order Completed",
        "userId": "42",
        "messageId": "m-1",
        "timestamp": "2026-11-03T10:00:00.000Z",
        "receivedAt": "2026-11-03T10:00:01.000Z",
    }
    for message in (page, order):
        row = event_row(stream_record(message)["dynamodb"]["NewImage"])
        assert event_message(row) == message


def test_revenue_is_a_number_or_nothing() -> None:
    for sent, expected in ((12, 12.0), ("7.5", 7.5), ("free", None), (True, None)):
        image = stream_record({"type": "track", "userId": "1", "properties": {"revenue": sent}})
        assert event_row(image["dynamodb"]["NewImage"])["revenue"] == expected


def test_a_profile_row_holds_its_current_state_and_its_identities_rows() -> None:
    # given a profile item as the profiles table stores it
    profile = Profile(
        profile_id="p-1",
        created_at="2026-11-01T08:00:00.000Z",
        identities={
            "user_id:42": "2026-11-01T08:00:00.000Z",
            "email:ada@example.com": "2026-11-02T08:00:00.000Z",
        },
        first_seen="2026-11-01T08:00:00.000Z",
        last_seen="2026-11-20T08:00:00.000Z",
        event_count=3,
        segments={"vip": "2026-11-20T08:00:00.000Z"},
    )
    profile.traits["plan"] = {
        "declared": TraitValue(
            value="pro", source="crm", at="2026-11-02T08:00:00.000Z", message_id="m"
        )
    }
    item = {
        "profile_id": {"S": "p-1"},
        "version": {"N": "7"},
        "state": {"B": encode_state(profile.to_state())},
        "updated_at": {"S": "2026-11-20T08:00:01.000Z"},
    }

    # when
    row, identities = profile_rows(item)

    # then
    assert is_live_profile(item)
    assert not is_live_profile({"profile_id": {"S": "p-0"}, "merged_into": {"S": "p-1"}})
    assert (row["profile_id"], row["version"], row["event_count"]) == ("p-1", 7, 3)
    assert row["updated_at"] == datetime(2026, 11, 20, 8, 0, 1)
    assert json.loads(row["traits"]) == {"plan": "pro"}
    assert json.loads(row["trait_sources"])["plan"]["kind"] == "declared"
    assert json.loads(row["segments"]) == {"vip": "2026-11-20T08:00:00.000Z"}
    assert json.loads(row["identities"]) == ["email:ada@example.com", "user_id:42"]
    assert [(i["identity"], i["type"], i["profile_id"]) for i in identities] == [
        ("email:ada@example.com", "email", "p-1"),
        ("user_id:42", "user_id", "p-1"),
    ]


def test_importing_the_lake_loads_neither_pyarrow_nor_pyiceberg() -> None:
    # the lake writer's cold start pays for them on first use, and nothing else pays at all
    script = (
        "import sys; import cdp.lake.tables, cdp.lake.rows, cdp.lake.writer, cdp.lake.upkeep\n"
        "import cdp.lake.reading\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'pyiceberg')))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layers'}:{ROOT}"},
    )
    assert answer.stdout.strip() == "[]"


def test_nothing_outside_the_lake_imports_it_at_module_level() -> None:
    offenders = []
    for path in [*ROOT.glob("layers/cdp/**/*.py"), *ROOT.glob("functions/**/*.py")]:
        if any(part.startswith("lake") for part in path.relative_to(ROOT).parts):
            continue  # the lake itself, and the function that writes it
        for line in path.read_text().splitlines():
            if line.startswith(("import cdp.lake", "from cdp.lake")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
