"""Writing the lake (cdp.lake.writer) on a local SQLite catalog: exactly once in effect
whatever the stream redelivers, late events in their own day, racing writers, profiles by
version."""

from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cdp.lake import writer
from cdp.lake.tables import (
    EVENTS,
    IDENTITIES,
    PROFILE_BUCKETS,
    PROFILES,
    ensure_tables,
    load,
    namespace,
    open_catalog,
)

DAY = datetime(2026, 11, 20, 10)


def event(message_id: str, *, at: datetime = DAY, source: str = "web") -> dict[str, Any]:
    return {
        "message_id": message_id,
        "identity": f"anonymous_id:{message_id}",
        "type": "track",
        "event": "Viewed",
        "user_id": None,
        "anonymous_id": message_id,
        "source": source,
        "channel": "web",
        "library": None,
        "timestamp": at,
        "received_at": at,
        "revenue": None,
        "currency": None,
        "properties": "{}",
        "traits": None,
        "context": None,
    }


def message_ids(catalog: Any) -> list[str]:
    rows = load(catalog, EVENTS).scan(selected_fields=("message_id",)).to_arrow()
    return sorted(rows.column("message_id").to_pylist())


@pytest.fixture
def catalog(tmp_path: Path) -> Any:
    lake = open_catalog(str(tmp_path / "lake"))
    ensure_tables(lake)
    return lake


# -- events: exactly once in effect -----------------------------------------------------------

# Two shards' records: increasing (not consecutive) sequence numbers, unique in the stream,
# on three days (a late event's day is before those of records read before it).
RECORDS = [(10 + 7 * n, f"a{n}", DAY + timedelta(hours=5 * n)) for n in range(8)] + [
    (1_000 + 5 * n, f"b{n}", DAY - timedelta(days=n % 2)) for n in range(6)
]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_delivery_of_the_stream_stores_each_message_exactly_once(data: st.DataObject) -> None:
    """However records come: again after they were committed (a redelivery), partly (a
    bisection, an overlap), in any order or long after (a redrive), each message is stored
    once, and what was never delivered is not there."""
    with tempfile.TemporaryDirectory() as directory:
        lake = open_catalog(directory)
        ensure_tables(lake)
        delivered: set[str] = set()
        added = 0
        for _ in range(data.draw(st.integers(1, 5), label="batches")):
            chosen = data.draw(st.lists(st.sampled_from(RECORDS), min_size=1, max_size=10))
            batch = [(sequence, event(m, at=at)) for sequence, m, at in chosen]
            delivered.update(m for _, m, _ in chosen)
            added += writer.append_events(lake, batch)

        assert message_ids(lake) == sorted(delivered)
        assert added == len(delivered)


def test_a_redelivered_batch_adds_nothing(catalog: Any) -> None:
    batch = [(n, event(f"m{n}")) for n in range(1, 4)]

    assert writer.append_events(catalog, batch) == 3
    assert writer.append_events(catalog, batch) == 0
    assert writer.append_events(catalog, [*batch, batch[0]]) == 0
    assert message_ids(catalog) == ["m1", "m2", "m3"]


def test_two_writers_racing_the_same_batch_add_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two writers (each with its own catalog connection) that both read the table
    # before either commits
    warehouse = str(tmp_path / "lake")
    ensure_tables(open_catalog(warehouse))
    both_read = threading.Barrier(2, timeout=30)
    first_reads: set[int] = set()
    real_load = writer.load

    def load_then_wait(catalog: Any, name: str) -> Any:
        table = real_load(catalog, name)
        if threading.get_ident() not in first_reads:
            first_reads.add(threading.get_ident())
            both_read.wait()
        return table

    monkeypatch.setattr(writer, "load", load_then_wait)
    batch = [(n, event(f"m{n}")) for n in range(1, 6)]
    added: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            added.append(writer.append_events(open_catalog(warehouse), batch))
        except BaseException as error:  # reported below
            failures.append(error)

    # when
    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one commit won, and the other found its records committed
    assert failures == []
    assert sorted(added) == [0, 5]
    assert message_ids(open_catalog(warehouse)) == ["m1", "m2", "m3", "m4", "m5"]


def test_two_processes_making_the_tables_at_once_both_end_up_with_them(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "lake")
    start = threading.Barrier(2, timeout=30)
    failures: list[BaseException] = []

    def make() -> None:
        try:
            start.wait()
            lake = open_catalog(warehouse)
            ensure_tables(lake)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    lake = open_catalog(warehouse)
    ensure_tables(lake)  # and again: nothing to do
    assert sorted(name for _, name in lake.list_tables("cdp")) == [EVENTS, IDENTITIES, PROFILES]


def test_late_events_land_in_their_own_day(catalog: Any) -> None:
    # given one batch holding two days' events and a late one from weeks before
    days = [DAY, DAY + timedelta(days=1), DAY - timedelta(days=17)]
    batch = [
        (n, event(f"m{n}", at=day, source=source))
        for n, (day, source) in enumerate(
            [(days[0], "web"), (days[1], "web"), (days[2], "web"), (days[2], "app")]
        )
    ]

    writer.append_events(catalog, batch)

    # then each data file is of one day and one source, and holds only that day's events
    seen = set()
    for task in load(catalog, EVENTS).scan().plan_files():
        day_number, source = task.file.partition[0], task.file.partition[1]
        rows = pq.read_table(task.file.file_path.removeprefix("file://"))
        moments = rows.column("timestamp").to_pylist()
        assert {(m - datetime(1970, 1, 1)).days for m in moments} == {day_number}
        assert set(rows.column("source").to_pylist()) == {source}
        seen.add((day_number, source))
    epoch_days = [(day - datetime(1970, 1, 1)).days for day in days]
    assert seen == {
        (epoch_days[0], "web"),
        (epoch_days[1], "web"),
        (epoch_days[2], "web"),
        (epoch_days[2], "app"),
    }


def test_a_redelivery_reads_only_the_files_of_its_days(catalog: Any) -> None:
    # given a day of events, then one of another day
    writer.append_events(catalog, [(n, event(f"m{n}")) for n in range(1, 4)])
    writer.append_events(catalog, [(9, event("late", at=DAY - timedelta(days=3)))])

    # then the check of a redelivery of the first day plans only that day's file
    table = load(catalog, EVENTS)
    fresh = {writer.sequence_text(n): {"timestamp": DAY} for n in range(1, 4)}
    planned = [
        task.file.partition[0]
        for task in table.scan(row_filter=writer.events_of(fresh)).plan_files()
    ]
    assert planned == [(DAY - datetime(1970, 1, 1)).days]
    assert writer.append_events(catalog, [(2, event("m2"))]) == 0


# -- profiles ---------------------------------------------------------------------------------


def profile(profile_id: str, version: int, *identities: str) -> tuple[dict[str, Any], list[Any]]:
    row = {
        "profile_id": profile_id,
        "version": version,
        "updated_at": DAY,
        "created_at": DAY,
        "first_seen": None,
        "last_seen": None,
        "event_count": version,
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


def stored(catalog: Any) -> tuple[dict[str, int], set[tuple[str, str]]]:
    profiles = load(catalog, PROFILES).scan().to_arrow().to_pylist()
    identities = load(catalog, IDENTITIES).scan().to_arrow().to_pylist()
    assert len({p["profile_id"] for p in profiles}) == len(profiles)  # one row per profile
    return (
        {p["profile_id"]: p["version"] for p in profiles},
        {(i["identity"], i["profile_id"]) for i in identities},
    )


def test_the_newest_state_of_a_profile_wins_whatever_the_order(catalog: Any) -> None:
    v1 = profile("p1", 1, "anonymous_id:a")
    v2 = profile("p1", 2, "anonymous_id:a", "user_id:42")
    other = profile("p2", 1, "user_id:7")

    writer.upsert_profiles(catalog, [v2, other])
    writer.upsert_profiles(catalog, [v1])  # late and older: changes nothing
    writer.upsert_profiles(catalog, [v2, v1])  # redelivered

    assert stored(catalog) == (
        {"p1": 2, "p2": 1},
        {("anonymous_id:a", "p1"), ("user_id:42", "p1"), ("user_id:7", "p2")},
    )


def test_a_newer_state_replaces_the_identities_rows(catalog: Any) -> None:
    writer.upsert_profiles(catalog, [profile("p1", 1, "anonymous_id:a", "user_id:42")])
    writer.upsert_profiles(catalog, [profile("p1", 2, "user_id:42")])  # an unmerge took one

    assert stored(catalog) == ({"p1": 2}, {("user_id:42", "p1")})


def test_removed_profiles_leave_both_tables(catalog: Any) -> None:
    writer.upsert_profiles(catalog, [profile("p1", 1, "user_id:1"), profile("p2", 1, "user_id:2")])

    assert writer.remove_profiles(catalog, ["p1", "gone"]) == 1
    assert writer.remove_profiles(catalog, ["p1"]) == 0
    assert stored(catalog) == ({"p2": 1}, {("user_id:2", "p2")})


def test_two_writers_racing_on_one_bucket_both_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two writers of two profiles of one bucket that both read the identities table's
    # bucket before either commits (each rewrites the bucket whole: a blind second commit
    # would drop the first one's rows)
    warehouse = str(tmp_path / "lake")
    ensure_tables(open_catalog(warehouse))
    first, second = sharing_buckets(buckets=1, each=2)
    both_read = threading.Barrier(2, timeout=30)
    waited: set[int] = set()
    real_load = writer.load

    def load_then_wait(catalog: Any, name: str) -> Any:
        table = real_load(catalog, name)
        if name == IDENTITIES and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_read.wait()
        return table

    monkeypatch.setattr(writer, "load", load_then_wait)
    failures: list[BaseException] = []

    def write(profile_id: str) -> None:
        try:
            state = profile(profile_id, 1, f"user_id:{profile_id}")
            writer.upsert_profiles(open_catalog(warehouse), [state])
        except BaseException as error:  # reported below
            failures.append(error)

    # when
    threads = [threading.Thread(target=write, args=(pid,)) for pid in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then the loser read the bucket again and kept the winner's rows
    assert failures == []
    assert stored(open_catalog(warehouse)) == (
        {first: 1, second: 1},
        {(f"user_id:{first}", first), (f"user_id:{second}", second)},
    )


def files_by_bucket(table: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for task in table.scan().plan_files():
        counts[task.file.partition[0]] = counts.get(task.file.partition[0], 0) + 1
    return counts


def sharing_buckets(buckets: int = 3, each: int = 4) -> list[str]:
    """Profile ids, `each` to a bucket in `buckets` buckets: writes meet stored rows."""
    from pyiceberg.transforms import BucketTransform
    from pyiceberg.types import StringType

    bucket_of = BucketTransform(PROFILE_BUCKETS).transform(StringType())
    by_bucket: dict[int, list[str]] = {}
    for number in range(10_000):
        by_bucket.setdefault(bucket_of(f"p{number}"), []).append(f"p{number}")
    full = [ids[:each] for ids in by_bucket.values() if len(ids) >= each]
    return [profile_id for ids in full[:buckets] for profile_id in ids]


class ProfilesStream(RuleBasedStateMachine):
    """The profiles stream as Lambda hands it to the lake: batches of states, redelivered,
    late (an older state after a newer one), a profile merged away or deleted. Whatever
    the sequence, the lake holds each live profile once, at the highest version written,
    with exactly that version's identities, and each bucket in one file."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="lake-profiles-")
        self.catalog = open_catalog(self.directory)
        ensure_tables(self.catalog)
        self.history: dict[str, list[tuple[str, ...]]] = {}  # profile -> identities by version
        self.written: dict[str, int] = {}  # the highest version written
        self.removed: set[str] = set()

    @rule(
        profile_id=st.sampled_from(sharing_buckets()),
        identities=st.lists(st.sampled_from(["user_id:1", "email:a@x", "anonymous_id:z"]),
                            max_size=3, unique=True),
    )  # fmt: skip
    def change(self, profile_id: str, identities: list[str]) -> None:
        """The profile store writes a new version (not yet delivered)."""
        if profile_id not in self.removed:
            self.history.setdefault(profile_id, []).append(tuple(identities))

    @precondition(lambda self: any(p not in self.removed for p in self.history))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """A batch of states, any of each live profile's versions (late ones and repeats)."""
        live = sorted(p for p in self.history if p not in self.removed)
        batch = []
        for profile_id in data.draw(st.lists(st.sampled_from(live), min_size=1, max_size=6)):
            version = data.draw(st.integers(1, len(self.history[profile_id])))
            batch.append(profile(profile_id, version, *self.history[profile_id][version - 1]))
            self.written[profile_id] = max(version, self.written.get(profile_id, 0))
        writer.upsert_profiles(self.catalog, batch)

    @precondition(lambda self: bool(self.written))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        """Merged away or deleted: its last record; a redelivery removes it again."""
        profile_id = data.draw(st.sampled_from(sorted(self.written)))
        expected = 0 if profile_id in self.removed else 1
        assert writer.remove_profiles(self.catalog, [profile_id, "never-written"]) == expected
        self.removed.add(profile_id)

    @invariant()
    def the_lake_holds_each_live_profile_at_its_highest_version(self) -> None:
        live = {p: v for p, v in self.written.items() if p not in self.removed}
        identities = {(identity, p) for p, v in live.items() for identity in self.history[p][v - 1]}
        assert stored(self.catalog) == (live, identities)

    @invariant()
    def each_bucket_is_one_file(self) -> None:
        for name in (PROFILES, IDENTITIES):
            counts = files_by_bucket(load(self.catalog, name))
            assert set(counts.values()) <= {1}, (name, counts)

    def teardown(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


test_any_sequence_of_profile_states_leaves_the_newest = ProfilesStream.TestCase
test_any_sequence_of_profile_states_leaves_the_newest.settings = settings(
    max_examples=8, stateful_step_count=8, deadline=None, database=None
)


def test_an_s3_warehouse_opens_the_glue_catalog_reading_s3_through_pyarrow(
    aws_credentials: None,
) -> None:
    from pyiceberg.catalog.glue import GlueCatalog

    # no call to AWS is made here: the catalog only makes its client
    lake = open_catalog("s3://lake-bucket/tables/", database="cdp_test")

    assert isinstance(lake, GlueCatalog)
    assert lake.properties["warehouse"] == "s3://lake-bucket/tables"
    assert lake.properties["py-io-impl"] == "pyiceberg.io.pyarrow.PyArrowFileIO"  # never s3fs
    assert lake.properties["s3.region"] == "us-east-1"
    assert namespace(lake) == "cdp_test"
