"""The lake's tables and the catalog they are registered in.

Three Iceberg (format v2) tables in one namespace, the same names in `cdp dev` (DuckDB) and in
Athena, so a query written for one runs on the other:

- `events`: every stored event; common fields as typed columns, the variable parts
  (`properties`, `traits`, `context`) as JSON text. Partitioned by `day(timestamp)` (a late
  event lands in its own day's partition) and `source`.
- `profiles`: the current state of every profile, one row each (`version` is the profile
  item's, which only grows: the writer keeps the highest).
- `identities`: identity -> profile id, so events (filed under an identity) join to profiles
  with plain SQL.

Times are Iceberg `timestamp` without zone, holding UTC: Athena's Iceberg DDL takes no other.

Every table has `commit.retry.num-retries=0`: pyiceberg's own retry rebuilds an append on top
of whatever was committed meanwhile, which would append a batch that another writer has just
committed (what the writer read to leave out committed rows is not read again). Our writers
read again and retry themselves (`cdp.lake.writer`, `cdp.lake.upkeep`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

NAMESPACE = "cdp"
EVENTS = "events"
PROFILES = "profiles"
IDENTITIES = "identities"
TABLES = (EVENTS, PROFILES, IDENTITIES)

# Where a catalog keeps the namespace (Glue database) it was opened for.
DATABASE_PROPERTY = "cdp.database"
PROFILE_BUCKETS = 16  # an upsert rewrites only the buckets its profiles fall in

_COMMON_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
    "commit.retry.num-retries": "0",
    # Old metadata files go as new ones are written (they name manifest lists only; still,
    # erasure wants as little of the past lying around as possible).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "5",
}


def _quiet(*columns: str) -> dict[str, str]:
    """Column statistics of counts only: min/max bounds of personal identifiers would copy
    them into manifests, and random ids prune nothing anyway."""
    return {f"write.metadata.metrics.column.{column}": "counts" for column in columns}


def events_schema() -> Schema:
    from pyiceberg.schema import Schema
    from pyiceberg.types import DoubleType, NestedField, StringType, TimestampType

    fields = [
        ("message_id", StringType(), True),
        ("identity", StringType(), True),
        ("type", StringType(), True),
        ("event", StringType(), False),
        ("user_id", StringType(), False),
        ("anonymous_id", StringType(), False),
        ("source", StringType(), True),
        ("channel", StringType(), False),
        ("library", StringType(), False),
        ("timestamp", TimestampType(), True),
        ("received_at", TimestampType(), False),
        ("revenue", DoubleType(), False),
        ("currency", StringType(), False),
        ("properties", StringType(), False),
        ("traits", StringType(), False),
        ("context", StringType(), False),
        # The stream record's sequence number, 40 digits: what makes a write exactly once.
        ("stream_sequence", StringType(), False),
    ]
    return Schema(
        *(
            NestedField(number, name, kind, required=required)
            for number, (name, kind, required) in enumerate(fields, start=1)
        )
    )


def profiles_schema() -> Schema:
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType, TimestampType

    fields = [
        ("profile_id", StringType(), True),
        ("version", LongType(), True),
        ("updated_at", TimestampType(), False),
        ("created_at", TimestampType(), False),
        ("first_seen", TimestampType(), False),
        ("last_seen", TimestampType(), False),
        ("event_count", LongType(), False),
        ("identities", StringType(), False),  # JSON: ["user_id:42", ...]
        ("traits", StringType(), False),  # JSON: name -> current value
        ("trait_sources", StringType(), False),  # JSON: name -> provenance
        ("computed", StringType(), False),  # JSON: computed trait -> value
        ("segments", StringType(), False),  # JSON: segment id -> when it entered
        ("consent", StringType(), False),  # JSON: purpose -> decision
        ("groups", StringType(), False),  # JSON: [group id, ...]
    ]
    return Schema(
        *(
            NestedField(number, name, kind, required=required)
            for number, (name, kind, required) in enumerate(fields, start=1)
        ),
        identifier_field_ids=[1],
    )


def identities_schema() -> Schema:
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField, StringType, TimestampType

    return Schema(
        NestedField(1, "identity", StringType(), required=True),
        NestedField(2, "type", StringType(), required=True),
        NestedField(3, "profile_id", StringType(), required=True),
        NestedField(4, "linked_at", TimestampType(), required=False),
    )


def _spec(schema: Schema, *fields: tuple[str, str, object]) -> PartitionSpec:
    from pyiceberg.partitioning import PartitionField, PartitionSpec

    return PartitionSpec(
        *(
            PartitionField(
                source_id=schema.find_field(column).field_id,
                field_id=1000 + number,
                transform=transform,  # type: ignore[arg-type]
                name=name,
            )
            for number, (column, name, transform) in enumerate(fields)
        )
    )


def _definitions() -> dict[str, tuple[Schema, PartitionSpec, dict[str, str]]]:
    from pyiceberg.transforms import BucketTransform, DayTransform, IdentityTransform

    events, profiles, identities = events_schema(), profiles_schema(), identities_schema()
    return {
        EVENTS: (
            events,
            _spec(
                events,
                ("timestamp", "timestamp_day", DayTransform()),
                ("source", "source", IdentityTransform()),
            ),
            {
                **_COMMON_PROPERTIES,
                **_quiet("message_id", "identity", "user_id", "anonymous_id"),
            },
        ),
        PROFILES: (
            profiles,
            _spec(profiles, ("profile_id", "profile_bucket", BucketTransform(PROFILE_BUCKETS))),
            {**_COMMON_PROPERTIES, **_quiet("profile_id")},
        ),
        IDENTITIES: (
            identities,
            _spec(identities, ("profile_id", "profile_bucket", BucketTransform(PROFILE_BUCKETS))),
            {**_COMMON_PROPERTIES, **_quiet("identity", "profile_id")},
        ),
    }


def open_catalog(warehouse: str, database: str = NAMESPACE) -> Catalog:
    """The lake's catalog: Glue with S3 (through pyarrow, not s3fs) for an `s3://` warehouse,
    else a SQLite catalog in that local directory (`cdp dev`, tests), whose commits are a
    compare-and-swap on the metadata location as Glue's are on the table version."""
    properties = {DATABASE_PROPERTY: database, "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO"}
    if warehouse.startswith("s3://"):
        from pyiceberg.catalog.glue import GlueCatalog

        region = os.environ.get("AWS_REGION")
        if region:
            properties["s3.region"] = region
        return GlueCatalog("cdp", warehouse=warehouse.rstrip("/"), **properties)

    from pyiceberg.catalog.sql import SqlCatalog
    from sqlalchemy.exc import OperationalError

    directory = Path(warehouse.removeprefix("file://")).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):
        try:
            return SqlCatalog(
                "cdp",
                uri=f"sqlite:///{directory / 'catalog.db'}",
                warehouse=directory.as_uri(),
                **properties,
            )
        except OperationalError:  # another process creating the catalog's tables just now
            if attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def namespace(catalog: Catalog) -> str:
    return str(catalog.properties.get(DATABASE_PROPERTY, NAMESPACE))


def ensure_tables(catalog: Catalog) -> None:
    """Create the namespace and whichever tables are missing; idempotent, and safe when two
    processes race: whatever a create raises, it is fine if the thing now exists (the SQLite
    catalog reports a lost race on a namespace as a unique-constraint error, not as
    `NamespaceAlreadyExistsError`)."""
    database = namespace(catalog)
    # Asked first (Glue: GetDatabase), so that where the stack made the database nothing
    # needs the right to create one.
    if not catalog.namespace_exists(database):
        try:
            catalog.create_namespace(database)
        except Exception:
            if not catalog.namespace_exists(database):
                raise
    for name, (schema, spec, properties) in _definitions().items():
        identifier = (database, name)
        if catalog.table_exists(identifier):
            continue
        try:
            catalog.create_table(identifier, schema, partition_spec=spec, properties=properties)
        except Exception:
            if not catalog.table_exists(identifier):
                raise


def load(catalog: Catalog, name: str) -> Table:
    return catalog.load_table((namespace(catalog), name))
