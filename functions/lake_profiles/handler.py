"""Lake profiles: the profiles table's stream in, the lake's profiles and identities tables
out (cdp.lake): one row per profile, its current state, and a row per identity it holds.

A profile written is upserted; one merged into another (its item then only points there) or
deleted (erased, or expired for inactivity) leaves both tables. Per profile only the batch's
last record counts, and a state replaces the stored one only when its version is higher, so a
redelivered or reordered batch changes nothing (`cdp.lake.writer.upsert_profiles`). A batch
is written whole or fails whole, and is delivered again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings.lake_profiles import LakeProfilesSettings
from cdp.segments.definitions import in_force
from cdp.storage import clients
from cdp.storage.config import ConfigStore

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

logger, tracer, metrics = powertools("lake_profiles")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[Catalog, ConfigStore]:
    from cdp.lake.tables import ensure_tables, open_catalog

    settings = LakeProfilesSettings.from_env()
    catalog = open_catalog(settings.lake_warehouse, settings.lake_database)
    ensure_tables(catalog)
    return catalog, ConfigStore(settings.config_table, client=clients.dynamodb(), consistent=False)


def last_images(records: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Each profile's newest item in the batch, by profile id; None where it was removed."""
    latest: dict[str, dict[str, Any] | None] = {}
    for record in records:
        change = record["dynamodb"]
        image = change.get("NewImage") or change.get("OldImage") or change["Keys"]
        removed = record.get("eventName") == "REMOVE"
        latest[image["profile_id"]["S"]] = None if removed else change["NewImage"]
    return latest


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from cdp.lake.rows import is_live_profile, profile_rows
    from cdp.lake.writer import remove_profiles, upsert_profiles

    catalog, config = _dependencies()
    latest = last_images(event.get("Records", []))
    live = {pid: item for pid, item in latest.items() if item is not None and is_live_profile(item)}
    gone = [pid for pid in latest if pid not in live]
    if live:
        computed = in_force(config).computed  # the values shown are those of today's definitions
        upsert_profiles(catalog, [profile_rows(item, computed) for item in live.values()])
    removed = remove_profiles(catalog, gone) if gone else 0
    metrics.add_metric("LakeProfilesWritten", MetricUnit.Count, len(live))
    metrics.add_metric("LakeProfilesRemoved", MetricUnit.Count, removed)
    return {"batchItemFailures": []}


end_of_init()
