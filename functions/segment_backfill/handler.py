"""Segment backfill worker: one page of one part of the profiles table per task (SQS)."""

from __future__ import annotations

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

from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings import BackfillSettings
from cdp.segments.backfill import BackfillTask, run_page
from cdp.segments.definitions import in_force, settle
from cdp.storage import clients
from cdp.storage.config import BackfillProgress, ConfigStore
from cdp.storage.profiles import ProfileStore
from cdp.storage.queue import TaskQueue

logger, tracer, metrics = powertools("segment_backfill")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ProfileStore, ConfigStore, BackfillProgress, TaskQueue]:
    settings = BackfillSettings.from_env()
    client = clients.dynamodb()
    return (
        ProfileStore.from_settings(settings, client=client),
        ConfigStore(settings.config_table, client=client),
        BackfillProgress(settings.config_table, client=client),
        TaskQueue(settings.backfill_queue_url, client=clients.sqs()),
    )


def run_task(record: SQSRecord) -> None:
    store, config, progress, queue = _dependencies()
    task = BackfillTask.from_json(record.body)
    current = progress.get(task.segment_id)
    if current is None or current["version"] != task.version:
        return  # the segment was deleted or changed again: a newer backfill covers it
    definitions = in_force(config)
    outcome = run_page(task, store, definitions=definitions, now=utc_now())
    settle(store, outcome.written, definitions, config, utc_now())
    if outcome.next_task is not None:
        queue.send([outcome.next_task.to_json()])
    progress.record(
        task.segment_id,
        task.version,
        part=task.part,
        evaluated=outcome.evaluated,
        finished=outcome.next_task is None,
    )
    metrics.add_metric("ProfilesEvaluated", MetricUnit.Count, outcome.evaluated)
    metrics.add_metric("MembershipsChanged", MetricUnit.Count, outcome.changed)


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    metrics.add_metric("RecordsReceived", MetricUnit.Count, len(event.get("Records", [])))
    return process_partial_response(
        event=event,
        record_handler=run_task,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )


end_of_init()
