"""Keeping the lake (cdp.lake.upkeep) on a local SQLite catalog: erasure that reaches the
files on disk, retention by day, compaction that keeps every row, garbage collection that
spares writes in flight."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdp.lake import upkeep, writer
from cdp.lake.tables import EVENTS, IDENTITIES, PROFILES, TABLES, ensure_tables, load, open_catalog

DAY = datetime(2026, 11, 20, 10)
ADA = ("user_id:ada-42", "anonymous_id:anon-ada")  # the person to erase


def event(
    message_id: str,
    identity: str,
    *,
    at: datetime = DAY,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: str = "{}",
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "identity": identity,
        "type": "track",
        "event": "Viewed",
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "source": "web",
        "channel": None,
        "library": None,
        "timestamp": at,
        "received_at": at,
        "revenue": None,
        "currency": None,
        "properties": properties,
        "traits": None,
        "context": None,
    }


def profile(profile_id: str, *identities: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = {
        "profile_id": profile_id,
        "version": 1,
        "updated_at": DAY,
        "created_at": DAY,
        "first_seen": DAY,
        "last_seen": DAY,
        "event_count": 1,
        "identities": str(sorted(identities)),
        "traits": "{}",
        "trait_sources": "{}",
        "computed": "{}",
        "segments": "{}",
        "consent": "{}",
        "groups": "[]",
    }
    rows = [
        {"identity": i, "type": i.partition(":")[0], "profile_id": profile_id, "linked_at": DAY}
        for i in identities
    ]
    return row, rows


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def catalog(warehouse: Path) -> Any:
    lake = open_catalog(str(warehouse))
    ensure_tables(lake)
    return lake


def count(catalog: Any, name: str = EVENTS) -> int:
    return load(catalog, name).scan().to_arrow().num_rows


def ids(catalog: Any) -> list[str]:
    rows = load(catalog, EVENTS).scan(selected_fields=("message_id",)).to_arrow()
    return sorted(rows.column("message_id").to_pylist())


def parquet_files(warehouse: Path) -> list[Path]:
    return sorted(warehouse.rglob("*.parquet"))


def texts(table: pa.Table) -> list[str]:
    """Every text value in a Parquet file's rows."""
    return [
        value
        for column in table.columns
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        for value in column.to_pylist()
        if value is not None
    ]


# -- erasure ----------------------------------------------------------------------------------


def test_erasure_leaves_no_trace_of_the_person_in_any_file(catalog: Any, warehouse: Path) -> None:
    # given Ada's events in several commits and days, other people's events in the same
    # files, one of them naming Ada (a shared device), and both profiles
    others = [event(f"o{n}", f"user_id:other-{n}", user_id=f"other-{n}") for n in range(6)]
    adas = [
        event("a1", ADA[0], user_id="ada-42"),
        event("a2", ADA[1], anonymous_id="anon-ada", at=DAY - timedelta(days=30)),
        event("a3", "user_id:other-0", user_id="other-0", anonymous_id="anon-ada"),
    ]
    mention = event("o9", "user_id:other-1", properties='{"referred_by": "ada-42"}')
    for number, rows in enumerate(
        [[*others[:3], adas[0]], [adas[1], *others[3:]], [adas[2], mention]]
    ):
        writer.append_events(catalog, [(number * 10 + n, row) for n, row in enumerate(rows)])
    writer.upsert_profiles(catalog, [profile("p-ada", *ADA), profile("p-other", "user_id:other-0")])
    assert any("ada-42" in t for f in parquet_files(warehouse) for t in texts(pq.read_table(f)))

    # when
    removed = upkeep.erase(catalog, ADA, message_ids=["o9"])

    # then the rows are gone from every table: 4 events, her profile and 2 identities rows
    assert removed == 4 + 1 + 2
    assert ids(catalog) == ["o0", "o1", "o2", "o3", "o4", "o5"]
    assert load(catalog, PROFILES).scan().to_arrow().column("profile_id").to_pylist() == ["p-other"]
    assert count(catalog, IDENTITIES) == 1
    # and no Parquet file left on disk holds her, in any column
    for path in parquet_files(warehouse):
        for text in texts(pq.read_table(path)):
            assert "ada" not in text, path
    # nor is any file left that the tables do not name
    for name in TABLES:
        assert upkeep.collect_garbage(load(catalog, name), datetime.now(UTC)) == 0
    # and the tables still read, and take new events
    assert writer.append_events(catalog, [(99, event("o10", "user_id:x"))]) == 1
    assert count(catalog) == 7


def test_erasing_someone_unknown_changes_nothing(catalog: Any) -> None:
    writer.append_events(catalog, [(1, event("o1", "user_id:other"))])

    assert upkeep.erase(catalog, ["user_id:nobody"]) == 0
    assert upkeep.erase(catalog, []) == 0
    assert ids(catalog) == ["o1"]


# -- retention --------------------------------------------------------------------------------


def test_retention_drops_whole_days_and_their_files(catalog: Any, warehouse: Path) -> None:
    days = [DAY - timedelta(days=n) for n in (3, 2, 1)]
    for number, day in enumerate(days):
        writer.append_events(catalog, [(number, event(f"m{number}", "user_id:1", at=day))])
    oldest = f"timestamp_day={days[0].date().isoformat()}"
    assert any(oldest in str(path) for path in parquet_files(warehouse))

    # when events before the second day's are dropped (the cutoff's time of day is ignored)
    removed = upkeep.drop_before(catalog, days[1].replace(hour=15, tzinfo=UTC))

    # then
    assert removed == 1
    assert ids(catalog) == ["m1", "m2"]
    assert not any(oldest in str(path) for path in parquet_files(warehouse))


# -- compaction -------------------------------------------------------------------------------


def test_compaction_rewrites_a_day_of_small_files_and_keeps_every_row(
    catalog: Any, warehouse: Path
) -> None:
    # given a day of ten small commits from two sources, and a day of two
    busy, quiet = DAY, DAY - timedelta(days=1)
    for n in range(10):
        row = event(f"b{n}", "user_id:1", at=busy + timedelta(minutes=n))
        row["source"] = "web" if n % 2 else "app"
        writer.append_events(catalog, [(n, row)])
    for n in range(2):
        writer.append_events(catalog, [(100 + n, event(f"q{n}", "user_id:1", at=quiet))])
    before = load(catalog, EVENTS).scan().to_arrow().sort_by("message_id")

    # when
    assert upkeep.compact(catalog, min_files=8) == 1

    # then the busy day is one file per source, the quiet one untouched, every row kept
    files: dict[int, int] = {}
    for task in load(catalog, EVENTS).scan().plan_files():
        files[task.file.partition[0]] = files.get(task.file.partition[0], 0) + 1
    epoch = datetime(1970, 1, 1)
    assert files == {(busy - epoch).days: 2, (quiet - epoch).days: 2}
    assert load(catalog, EVENTS).scan().to_arrow().sort_by("message_id").equals(before)
    # and the sequence numbers are still there: a redelivery still adds nothing
    assert writer.append_events(catalog, [(3, event("b3", "user_id:1"))]) == 0
    # and once the replaced files' snapshots are expired, the small files leave the disk
    assert upkeep.compact(catalog, min_files=8) == 0
    upkeep.tidy(catalog, keep=timedelta(0), guard=timedelta(0))
    assert len(parquet_files(warehouse)) == 4
    assert load(catalog, EVENTS).scan().to_arrow().sort_by("message_id").equals(before)


def test_a_late_event_committed_while_compacting_is_kept(
    catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a day of eight small files, and a late event for that day that the stream
    # delivers after compaction read the day and before it commits
    for n in range(8):
        writer.append_events(catalog, [(n, event(f"b{n}", "user_id:1"))])
    real_rewrite = upkeep._rewrite
    calls = []

    def rewrite_after_a_late_commit(table: Any, condition: Any) -> None:
        calls.append(table)
        if len(calls) == 1:
            writer.append_events(catalog, [(50, event("late", "user_id:1"))])
        real_rewrite(table, condition)  # `table` is as it was before the late commit

    monkeypatch.setattr(upkeep, "_rewrite", rewrite_after_a_late_commit)

    # when
    assert upkeep.compact(catalog, min_files=8) == 1

    # then the first rewrite was refused, the second took the late event along
    assert len(calls) == 2
    assert ids(catalog) == [*(f"b{n}" for n in range(8)), "late"]
    assert len(list(load(catalog, EVENTS).scan().plan_files())) == 1


# -- garbage ----------------------------------------------------------------------------------


def test_garbage_collection_spares_young_files_and_everything_the_table_names(
    catalog: Any, warehouse: Path
) -> None:
    # given a table, and two files no snapshot names: one left by a crashed write an hour
    # ago, one a write in flight has just made
    writer.append_events(catalog, [(n, event(f"m{n}", "user_id:1")) for n in range(3)])
    named = parquet_files(warehouse)
    data = named[0].parent
    crashed, in_flight = data / "crashed.parquet", data / "in-flight.parquet"
    shutil.copy(named[0], crashed)
    shutil.copy(named[0], in_flight)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    for path in [*warehouse.rglob("*"), crashed]:
        if path.is_file() and path != in_flight:
            os.utime(path, (an_hour_ago, an_hour_ago))  # the table's own files are old too

    # when
    removed = upkeep.collect_garbage(load(catalog, EVENTS), datetime.now(UTC) - upkeep.GC_GUARD)

    # then only the old orphan went
    assert removed == 1
    assert not crashed.exists()
    assert in_flight.exists()
    assert ids(catalog) == ["m0", "m1", "m2"]
