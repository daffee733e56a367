"""Keeping the lake: erasure, retention, compaction, snapshot expiry and file garbage.

pyiceberg 0.12 deletes copy-on-write (a file holding a deleted row is rewritten without it)
but never deletes a file from storage: expiring a snapshot only drops it from the metadata.
So the files a delete replaced stay on S3 until something removes them; that is ours to do.

Two ways a file goes:

- **At once, exactly the files the expired snapshots held** (`purge`): after a commit and
  the expiry of every snapshot but the current one, whatever the expired snapshots
  referenced (data files, manifests, manifest lists) and the current one does not is read by
  no reader of the table from now on. Nothing in flight can need it either: a write in
  flight builds on the head it loaded, and if that head is one of the expired snapshots its
  commit is refused (a compare-and-swap on the table version), so it reloads. These files
  were all committed once, so none can be a write in flight. Erasure and retention use
  this, so an erased row leaves storage within the erasure's own run, with no guard time.
  The one cost: a query planned on an older snapshot that is still reading fails.
- **Orphans, after a guard** (`collect_garbage`): files under the table's location that no
  snapshot, manifest or metadata file names (a writer that crashed between writing its
  files and committing them). A writer in flight has exactly such files until it commits,
  so only files older than the guard go. The guard must exceed the longest a write can take
  (the lake writer's timeout is 300 s): `GC_GUARD` is 10 minutes. Such an orphan can hold an
  erased person's rows only if it was written before the erasure, so with the erasure sweep
  every 300 s the lake holds no file with an erased row after GC_GUARD plus one sweep
  (15 minutes) at the most, and in the common case right after the erasure.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from cdp.lake.filters import any_of, before, from_on, is_in, named
from cdp.lake.tables import EVENTS, IDENTITIES, PROFILES, TABLES, load
from cdp.lake.writer import ATTEMPTS, delete_rows, retrying

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import ManifestFile
    from pyiceberg.table import Table

GC_GUARD = timedelta(minutes=10)
SNAPSHOTS_KEPT = timedelta(hours=1)  # time travel for an hour; queries planned before, too


class ErasureIncompleteError(Exception):
    """A delete committed, yet rows it was to remove are still read: never expected (it is
    checked because a library's delete once kept rows it matched; see `erase`)."""


def erase(
    catalog: Catalog,
    identities: Collection[str],
    message_ids: Collection[str] = (),
    profile_ids: Collection[str] = (),
) -> int:
    """Remove a person from every table; how many rows went (all tables together).

    Events filed under any of `identities` or carrying one of them as `userId` or
    `anonymousId`, and those of `message_ids` (other people's events that name the person);
    the profiles of `profile_ids` and of whatever profiles the identities belong to; their
    identities rows. Then `purge`: the files that held the rows are gone from storage when
    this returns (see the module's docstring for the orphans of writes in flight)."""
    from pyiceberg.expressions import AlwaysFalse

    wanted = sorted(set(identities))
    profiles = set(profile_ids)
    if wanted:
        owners = load(catalog, IDENTITIES).scan(
            row_filter=is_in("identity", wanted), selected_fields=("profile_id",)
        )
        profiles.update(owners.to_arrow().column("profile_id").to_pylist())

    by_kind: dict[str, list[str]] = {}
    for identity in wanted:
        kind, _, value = identity.partition(":")
        by_kind.setdefault(kind, []).append(value)
    terms: list[BooleanExpression] = []
    if wanted:
        terms.append(is_in("identity", wanted))
    for kind in ("user_id", "anonymous_id"):
        if by_kind.get(kind):
            # `named`, not `is_in`: pyiceberg 0.12 keeps, in a file it rewrites, every row with
            # a null in a column the condition names without testing it for null (its
            # complement of `a OR b` is `NOT(a OR b) OR a IS NULL OR b IS NULL`), so an event
            # without a `userId` would survive a delete that names `user_id`.
            terms.append(named(kind, by_kind[kind]))
    if message_ids:
        terms.append(is_in("message_id", message_ids))
    ids = sorted(profiles)
    conditions: dict[str, BooleanExpression] = {
        EVENTS: any_of(terms),
        PROFILES: is_in("profile_id", ids) if ids else AlwaysFalse(),
        IDENTITIES: any_of(
            [
                *([is_in("identity", wanted)] if wanted else []),
                *([is_in("profile_id", ids)] if ids else []),
            ]
        ),
    }
    removed = 0
    for name, condition in conditions.items():
        if isinstance(condition, AlwaysFalse):
            continue
        removed += _quiet_delete(catalog, name, condition)
        table = load(catalog, name)
        if table.scan(row_filter=condition).to_arrow().num_rows:
            raise ErasureIncompleteError(f"rows to erase are left in the {name} table")
        purge(table)
    return removed


def drop_before(catalog: Catalog, cutoff: datetime) -> int:
    """Retention: remove the events of the days before `cutoff`'s (UTC) day; how many rows
    went. Whole day partitions: their files are dropped, none rewritten. The files leave
    storage at once (`purge`)."""
    day = _utc(cutoff).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    removed = _quiet_delete(catalog, EVENTS, before("timestamp", day.isoformat()))
    purge(load(catalog, EVENTS))
    return removed


def compact(catalog: Catalog, *, min_files: int = 8) -> int:
    """Rewrite each day partition of the events table that has `min_files` data files or
    more into one file per source; how many partitions were rewritten. (The profiles and
    identities tables need none: each write leaves a bucket in one file, `cdp.lake.writer`.)

    A late event appended meanwhile makes the commit fail; the partition is then read and
    rewritten again (never a row lost: what is replaced is exactly what was read). The
    replaced files stay until `tidy` expires the snapshot that held them."""
    from pyiceberg.expressions import And

    rewritten = 0
    events = load(catalog, EVENTS)
    counts: dict[int, int] = {}
    for task in events.scan().plan_files():
        day = task.file.partition[0]
        counts[day] = counts.get(day, 0) + 1
    epoch = datetime(1970, 1, 1)
    for day, files in sorted(counts.items()):
        if files < min_files:
            continue
        start = epoch + timedelta(days=day)
        condition = And(
            from_on("timestamp", start.isoformat()),
            before("timestamp", (start + timedelta(days=1)).isoformat()),
        )
        retrying(catalog, EVENTS, partial(_rewrite, condition=condition))
        rewritten += 1
    return rewritten


def tidy(catalog: Catalog, *, keep: timedelta = SNAPSHOTS_KEPT, guard: timedelta = GC_GUARD) -> int:
    """The scheduled upkeep of every table: expire snapshots older than `keep`, remove the
    files only they held, and orphans older than `guard`; how many files went.

    Ages are taken on the real clock, never the platform's (`cdp.runtime.clock`, which
    `cdp dev` and tests move forward): snapshots and files are stamped with real time, and
    the guard is real time a write takes. With the clock a day ahead, a write in flight's
    files looked a day old, and a commit made during the run lost its new metadata file."""
    moment = datetime.now(UTC)
    removed = 0
    for name in TABLES:
        table = load(catalog, name)
        removed += purge(table, older_than=moment - keep)
        removed += collect_garbage(load(catalog, name), moment - guard)
    return removed


def purge(table: Table, *, older_than: datetime | None = None) -> int:
    """Expire the snapshots older than `older_than` (by default every one), never the current
    one, and delete at once the files that only they referenced; how many files went. See the
    module's docstring."""
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(ATTEMPTS):
        current = table.current_snapshot()
        expiring = [
            snapshot.snapshot_id
            for snapshot in table.snapshots()
            if (current is None or snapshot.snapshot_id != current.snapshot_id)
            and (older_than is None or snapshot.timestamp_ms < _utc(older_than).timestamp() * 1e3)
        ]
        if not expiring:
            return 0
        held = _referenced(table)
        try:
            table.maintenance.expire_snapshots().by_ids(expiring).commit()
        except CommitFailedException:
            if attempt == ATTEMPTS - 1:
                raise
            table = table.refresh()
            continue
        gone = held - _referenced(table.refresh())
        for path in sorted(gone):
            _delete(table, path)
        return len(gone)
    raise AssertionError("unreachable")


def collect_garbage(table: Table, older_than: datetime) -> int:
    """Delete the files under the table's location that the table's metadata does not name
    (no snapshot, manifest, statistics or metadata file), last modified before
    `older_than`; how many went. The guard is what keeps writes in flight safe: see the
    module's docstring."""
    from pyarrow.fs import FileSelector, FileType

    cutoff = _utc(older_than)
    referenced = _referenced(table)
    filesystem, root = _filesystem(table, table.location())
    removed = 0
    for info in filesystem.get_file_info(FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type != FileType.File or info.path in referenced or info.mtime is None:
            continue
        modified = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
        if modified >= cutoff:
            continue
        filesystem.delete_file(info.path)
        removed += 1
    return removed


def data_files(table: Table) -> list[str]:
    """The data files of the current snapshot, as URIs (for readers such as DuckDB)."""
    return [task.file.file_path for task in table.scan().plan_files()]


def _rewrite(table: Table, condition: BooleanExpression) -> None:
    rows = table.scan(row_filter=condition).to_arrow()
    transaction = table.transaction()
    transaction.overwrite(rows, overwrite_filter=condition)
    transaction.commit_transaction()


def _quiet_delete(catalog: Catalog, name: str, condition: BooleanExpression) -> int:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        return retrying(catalog, name, lambda table: delete_rows(table, condition))


def _referenced(table: Table) -> set[str]:
    """Every file the table's metadata names, as paths of its filesystem."""
    io = table.io
    metadata = table.metadata
    names: set[str] = set()
    if table.metadata_location:
        names.add(table.metadata_location)
    names.update(entry.metadata_file for entry in metadata.metadata_log)
    names.update(statistics.statistics_path for statistics in metadata.statistics)
    names.update(statistics.statistics_path for statistics in metadata.partition_statistics)
    # Snapshots share most of their manifests (an append adds one and keeps the rest): each
    # is looked at once, not once per snapshot that lists it.
    manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        names.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path not in manifests:
                manifests.add(manifest.manifest_path)
                names.update(_named_by(manifest, io))
    names.update(manifests)
    return {_path(table, name) for name in names}


# A manifest never changes once written, so what it names is remembered between runs of a
# warm function (the hourly upkeep would otherwise read the hour's manifests again each time).
# File paths only; the oldest forgotten first.
_NAMED_BY_MANIFEST: dict[str, tuple[str, ...]] = {}
MANIFESTS_REMEMBERED = 10_000


def _named_by(manifest: ManifestFile, io: FileIO) -> tuple[str, ...]:
    """The data files a manifest names."""
    named = _NAMED_BY_MANIFEST.get(manifest.manifest_path)
    if named is None:
        named = tuple(entry.data_file.file_path for entry in manifest.fetch_manifest_entry(io))
        while len(_NAMED_BY_MANIFEST) >= MANIFESTS_REMEMBERED:
            del _NAMED_BY_MANIFEST[next(iter(_NAMED_BY_MANIFEST))]
        _NAMED_BY_MANIFEST[manifest.manifest_path] = named
    return named


def _filesystem(table: Table, location: str) -> tuple[Any, str]:
    from pyiceberg.io.pyarrow import PyArrowFileIO

    io = table.io
    if not isinstance(io, PyArrowFileIO):
        raise TypeError("the lake's tables are read through PyArrowFileIO")
    scheme, netloc, path = PyArrowFileIO.parse_location(location, io.properties)
    return io.fs_by_scheme(scheme, netloc), path


def _path(table: Table, location: str) -> str:
    from pyiceberg.io.pyarrow import PyArrowFileIO

    return PyArrowFileIO.parse_location(location, table.io.properties)[2]


def _delete(table: Table, path: str) -> None:
    filesystem, _ = _filesystem(table, table.location())
    with suppress(FileNotFoundError):  # gone already (a purge running at the same time)
        filesystem.delete_file(path)


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
