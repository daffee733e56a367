"""Lake upkeep: erasures reach the data lake (sent on by the erasure sweep), and on a schedule
the lake's retention, compaction and file clean-up."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.privacy.erasure import SweepTask
from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings.lake_upkeep import LakeUpkeepSettings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

logger, tracer, metrics = powertools("lake_upkeep")


@lru_cache(maxsize=1)
def _settings() -> LakeUpkeepSettings:
    return LakeUpkeepSettings.from_env()


@lru_cache(maxsize=1)
def _catalog() -> Catalog:
    from cdp.lake.tables import ensure_tables, open_catalog

    settings = _settings()
    catalog = open_catalog(settings.lake_warehouse, settings.lake_database)
    ensure_tables(catalog)
    return catalog


def erase_in_lake(record: SQSRecord) -> None:
    """One erasure: the person's rows out of every lake table, and the files that held them
    out of storage (`cdp.lake.upkeep.erase`). Erasing again finds nothing, so a redelivered
    task is harmless."""
    from cdp.lake import upkeep

    task = SweepTask.from_json(record.body)
    removed = upkeep.erase(_catalog(), task.identities, profile_ids=task.profile_ids)
    metrics.add_metric("LakeRowsErased", MetricUnit.Count, removed)


def keep_the_lake() -> dict[str, int]:
    """Events past retention dropped (whole days), crowded days compacted, expired snapshots
    and the files only they held removed, and orphans of crashed writes after a guard."""
    from cdp.lake import upkeep

    catalog = _catalog()
    now = utc_now()
    outcome = {
        "dropped": upkeep.drop_before(
            catalog, now - timedelta(days=_settings().event_retention_days)
        ),
        "compacted": upkeep.compact(catalog),
    }
    outcome["files_removed"] = upkeep.tidy(catalog)  # (on the real clock: see `tidy`)
    metrics.add_metric("LakeEventsDropped", MetricUnit.Count, outcome["dropped"])
    metrics.add_metric("LakePartitionsCompacted", MetricUnit.Count, outcome["compacted"])
    metrics.add_metric("LakeFilesRemoved", MetricUnit.Count, outcome["files_removed"])
    return outcome


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse | dict[str, int]:
    if "Records" not in event:  # EventBridge Scheduler's
        return keep_the_lake()
    return process_partial_response(
        event=event,
        record_handler=erase_in_lake,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )


end_of_init()
