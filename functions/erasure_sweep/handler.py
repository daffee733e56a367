"""Erasure sweep: a few minutes after an erasure, erase again what arrived meanwhile."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.privacy.erasure import SweepTask, sweep
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings import ErasureSweepSettings
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


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    metrics.add_metric("RecordsReceived", MetricUnit.Count, len(event.get("Records", [])))
    return process_partial_response(
        event=event,
        record_handler=run_sweep,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )


end_of_init()
