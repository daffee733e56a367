"""Erasure sweep: a few minutes after an erasure, erase again what arrived meanwhile."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cdp.privacy.erasure import SweepTask, sweep
from cdp.runtime.observability import end_of_init, powertools, task_queue_handler
from cdp.runtime.settings.erasure_sweep import ErasureSweepSettings
from cdp.storage import clients
from cdp.storage.erasure import Eraser
from cdp.storage.queue import TaskQueue

logger, tracer, metrics = powertools("erasure_sweep")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[Eraser, TaskQueue]:
    settings = ErasureSweepSettings.from_env()
    eraser = Eraser(
        events_table=settings.events_table,
        quarantine_table=settings.quarantine_table,
        identities_table=settings.identities_table,
        profiles_table=settings.profiles_table,
        profile_retention=timedelta(days=settings.profile_retention_days),
        client=clients.dynamodb(),
    )
    return eraser, TaskQueue(settings.lake_erasures_queue_url, client=clients.sqs())


def run_sweep(record: SQSRecord) -> None:
    eraser, lake_erasures = _dependencies()
    counts = sweep(SweepTask.from_json(record.body), eraser)
    metrics.add_metric("LateEventsErased", MetricUnit.Count, counts.events)
    metrics.add_metric("LateProfilesErased", MetricUnit.Count, counts.profiles)
    # Then the lake (lake_upkeep): what the person sent before the erasure is there by now.
    # Sent again when a sweep is retried; erasing the lake twice finds nothing the second time.
    lake_erasures.send([record.body])


handler = task_queue_handler(run_sweep, logger=logger, tracer=tracer, metrics=metrics)


end_of_init()
