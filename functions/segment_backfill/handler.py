"""Segment backfill worker: one page of one part of the profiles table per task (SQS)."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools, task_queue_handler
from cdp.runtime.settings.segment_backfill import SegmentBackfillSettings
from cdp.segments.backfill import BackfillTask, run_page
from cdp.segments.definitions import in_force, settle
from cdp.storage import clients
from cdp.storage.config import BackfillProgress, ConfigStore
from cdp.storage.profiles import ProfileStore
from cdp.storage.queue import TaskQueue

logger, tracer, metrics = powertools("segment_backfill")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ProfileStore, ConfigStore, BackfillProgress, TaskQueue]:
    settings = SegmentBackfillSettings.from_env()
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


handler = task_queue_handler(run_task, logger=logger, tracer=tracer, metrics=metrics)


end_of_init()
