"""Writing the lake: stream batches of events, exactly once in effect; profiles by upsert.

Events. Each commit is one Iceberg transaction: the rows, and for every stream shard in the
batch a table property `cdp.ingest.<shard>` = the highest sequence number committed from it
(with when, to prune marks of shards closed long ago). Before appending, the writer drops
the records at or below their shard's mark. Lambda reads a shard in order, one batch at a
time (ParallelizationFactor 1), and retries a failed batch, or its first half when it bisects,
before anything after it, so a redelivered, bisected or overlapping batch adds only what was
never committed. The marks live in the table's metadata, so they survive snapshot expiry and
compaction, and they are read and written in the same atomic commit as the rows.

Two writers with the same batch (a redrive racing a retry): both build a commit on the same
table version; the catalog takes one (a compare-and-swap: Glue's table version, the SQLite
catalog's metadata location) and refuses the other with `CommitFailedException`. pyiceberg's
own retry would rebuild the append on the new version without re-reading the marks, so the
tables have it off (`commit.retry.num-retries=0`) and `retrying` reloads the table and
filters again instead: the loser then finds its records committed and adds nothing.

A batch that Lambda gave up on (its on-failure destination) is below the mark once later
records of the shard are committed: feeding it again later adds nothing. Replay such a batch
under another name (any `shard` text not used by the stream, e.g. `redrive:<shard>`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from cdp.lake.filters import is_in
from cdp.lake.tables import EVENTS, IDENTITIES, PROFILES, load

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

T = TypeVar("T")

MARK_PREFIX = "cdp.ingest."
# A stream record lives 24 hours: a shard's mark is needed no longer than that after its
# last commit. Twice that, to be safe.
MARK_KEPT = timedelta(hours=48)
ATTEMPTS = 8


def retrying(
    catalog: Catalog,
    name: str,
    attempt: Callable[[Table], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `attempt` on the table as it is now, again on a fresh copy whenever its commit
    lost a race (`CommitFailedException`; `ValidationException` when a concurrent change
    touched what it rewrites). `attempt` must decide from the table it is given, nothing else:
    that is what makes the retry safe."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    for number in range(attempts):
        try:
            return attempt(load(catalog, name))
        except (CommitFailedException, ValidationException):
            if number == attempts - 1:
                raise
            sleep(random.uniform(0, min(1.0, 0.05 * 2**number)))  # noqa: S311
    raise AssertionError("unreachable")


def mark_key(shard: str) -> str:
    return MARK_PREFIX + shard


def committed_marks(table: Table) -> dict[str, int]:
    """The highest committed sequence number per shard."""
    return {
        key.removeprefix(MARK_PREFIX): int(value.partition("@")[0])
        for key, value in table.properties.items()
        if key.startswith(MARK_PREFIX)
    }


def append_events(
    catalog: Catalog,
    batch: Sequence[tuple[str, int, dict[str, Any]]],
    *,
    now: datetime | None = None,
) -> int:
    """Append a batch of (shard id, sequence number, events row); how many rows it added.
    Records already committed (at or below their shard's mark) are left out, and so is a
    record given twice in the batch."""
    moment = now or datetime.now(UTC)

    def attempt(table: Table) -> int:
        marks = committed_marks(table)
        fresh: dict[tuple[str, int], dict[str, Any]] = {}
        for shard, sequence, row in batch:
            if sequence > marks.get(shard, -1):
                fresh.setdefault((shard, sequence), row)
        if not fresh:
            return 0
        highest: dict[str, int] = {}
        lowest: dict[str, int] = {}
        for shard, sequence in fresh:
            highest[shard] = max(highest.get(shard, sequence), sequence)
            lowest[shard] = min(lowest.get(shard, sequence), sequence)
        stamp = int(moment.timestamp())
        stale = [
            key
            for key, value in table.properties.items()
            if key.startswith(MARK_PREFIX)
            and key.removeprefix(MARK_PREFIX) not in highest
            and int(value.partition("@")[2] or 0) < stamp - MARK_KEPT.total_seconds()
        ]
        rows = [fresh[key] for key in sorted(fresh)]
        transaction = table.transaction()
        transaction.set_properties(
            {mark_key(shard): f"{sequence}@{stamp}" for shard, sequence in highest.items()}
        )
        if stale:
            transaction.remove_properties(*stale)
        transaction.append(
            _arrow(table, rows),
            snapshot_properties={
                "cdp.batch": ",".join(
                    f"{shard}:{lowest[shard]}-{highest[shard]}" for shard in sorted(highest)
                )
            },
        )
        transaction.commit_transaction()
        return len(rows)

    return retrying(catalog, EVENTS, attempt)


def upsert_profiles(
    catalog: Catalog, rows: Sequence[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> None:
    """Write profiles' current states (a profiles row and its identities rows each).

    Idempotent and order-free: a state replaces the stored one only when its `version` is
    higher (profile items' versions only grow), so a redelivered or late older state changes
    nothing. A profile's identities rows are replaced with its new ones. The identities
    table is written first: a crash between the two commits leaves the profile's row older
    than its identities, and the next delivery (still newer than the stored row) writes both.
    """
    latest: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for row, identities in rows:
        known = latest.get(row["profile_id"])
        if known is None or row["version"] > known[0]["version"]:
            latest[row["profile_id"]] = (row, identities)
    if not latest:
        return

    def newer() -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
        table = load(catalog, PROFILES)
        stored = _stored_versions(table, list(latest))
        return {
            profile_id: state
            for profile_id, state in latest.items()
            if state[0]["version"] > stored.get(profile_id, -1)
        }

    def replace_identities(table: Table) -> None:
        wanted = newer()
        if not wanted:
            return
        rows = [identity for _, identities in wanted.values() for identity in identities]
        transaction = table.transaction()
        transaction.overwrite(_arrow(table, rows), overwrite_filter=is_in("profile_id", wanted))
        transaction.commit_transaction()

    def replace_profiles(table: Table) -> None:
        stored = _stored_versions(table, list(latest))
        wanted = [
            row for row, _ in latest.values() if row["version"] > stored.get(row["profile_id"], -1)
        ]
        if not wanted:
            return
        ids = [row["profile_id"] for row in wanted]
        transaction = table.transaction()
        transaction.overwrite(_arrow(table, wanted), overwrite_filter=is_in("profile_id", ids))
        transaction.commit_transaction()

    _quietly(lambda: retrying(catalog, IDENTITIES, replace_identities))
    _quietly(lambda: retrying(catalog, PROFILES, replace_profiles))


def remove_profiles(catalog: Catalog, profile_ids: Collection[str]) -> int:
    """Remove profiles (merged away or deleted) and their identities rows; how many profiles
    rows went. Profiles first: a crash in between leaves identities rows of no profile, which
    the next call (a redelivery) removes."""
    if not profile_ids:
        return 0
    ids = sorted(set(profile_ids))
    removed = _quietly(
        lambda: retrying(catalog, PROFILES, lambda t: delete_rows(t, is_in("profile_id", ids)))
    )
    _quietly(
        lambda: retrying(catalog, IDENTITIES, lambda t: delete_rows(t, is_in("profile_id", ids)))
    )
    return removed


def delete_rows(table: Table, condition: Any) -> int:
    """Delete (copy-on-write: files holding a match are rewritten without it, files of
    nothing else dropped) in one commit; how many rows went. They are counted on the same
    table version the delete commits on (a snapshot summary's `total-records` is not to be
    trusted here: a delete that both drops and rewrites files makes two snapshots, and
    pyiceberg 0.12 counts the second's totals from the first's parent)."""
    field = table.schema().fields[0].name
    matching: int = table.scan(row_filter=condition, selected_fields=(field,)).to_arrow().num_rows
    if not matching:
        return 0
    transaction = table.transaction()
    transaction.delete(condition)
    transaction.commit_transaction()
    return matching


def _stored_versions(table: Table, profile_ids: Iterable[str]) -> dict[str, int]:
    found = table.scan(
        row_filter=is_in("profile_id", profile_ids), selected_fields=("profile_id", "version")
    ).to_arrow()
    versions: dict[str, int] = {}
    for profile_id, version in zip(
        found.column("profile_id").to_pylist(), found.column("version").to_pylist(), strict=True
    ):
        versions[profile_id] = max(version, versions.get(profile_id, -1))
    return versions


def _arrow(table: Table, rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=table.schema().as_arrow())


def _quietly(call: Callable[[], T]) -> T:
    """pyiceberg warns when a delete matches nothing: expected here (a first write)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        return call()
