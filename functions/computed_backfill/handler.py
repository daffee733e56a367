"""Computed-trait backfill worker: one part of a new or changed computed trait's past per task
(SQS): its identities' events received before the definition counted, read from the lake,
added to their profiles once (`cdp.profiles.past`)."""

from __future__ import annotations

import math
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.profiles.past import PastTask, add_pasts, fold, ready_at
from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools, task_queue_handler
from cdp.runtime.settings.computed_backfill import ComputedBackfillSettings
from cdp.segments.definitions import in_force, settle
from cdp.storage import clients
from cdp.storage.config import BackfillProgress, ConfigStore
from cdp.storage.profiles import ProfileStore
from cdp.storage.queue import TaskQueue

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

logger, tracer, metrics = powertools("computed_backfill")


@lru_cache(maxsize=1)
def _settings() -> ComputedBackfillSettings:
    return ComputedBackfillSettings.from_env()


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ProfileStore, ConfigStore, BackfillProgress, TaskQueue]:
    settings = _settings()
    client = clients.dynamodb()
    return (
        ProfileStore.from_settings(settings, client=client),
        ConfigStore(settings.config_table, client=client),
        BackfillProgress(settings.config_table, client=client, kind=BackfillProgress.COMPUTED),
        TaskQueue(settings.computed_backfill_queue_url, client=clients.sqs()),
    )


@lru_cache(maxsize=1)
def _catalog() -> Catalog:
    """pyiceberg is loaded by the first task, not at a cold start."""
    from cdp.lake.tables import open_catalog

    settings = _settings()
    return open_catalog(settings.lake_warehouse, settings.lake_database)


def run_task(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """One task, or back to the queue until the lake holds the past. (Powertools passes the
    context to a record handler with a `lambda_context` parameter: the time left.)"""
    from cdp.lake.reading import definition_events

    store, config, progress, queue = _dependencies()
    task = PastTask.from_json(record.body)
    current = progress.get(task.trait_id)
    if not task.identities and (current is None or current["version"] != task.counts_from):
        return  # a newer backfill of the trait covers this one
    definitions = in_force(config)
    definition = next((d for d in definitions.computed if d.id == task.trait_id), None)
    if definition is None or definition.counts_from != task.counts_from:
        return  # deleted, switched off or changed since: a change starts its own count
    settle_for = timedelta(seconds=_settings().lake_settle_seconds)
    wait = (ready_at(task.counts_from, settle_for) - utc_now()).total_seconds()
    if wait > 0:  # the lake may not hold every event received before yet
        queue.send([record.body], delay_seconds=min(900, math.ceil(wait)))
        return
    rows = definition_events(_catalog(), definition, task.counts_from, identities=task.identities)
    mine = (row for row in rows if task.holds(row["identity"]))
    outcome = add_pasts(
        task,
        fold(definition, mine),
        store,
        definitions=definitions,
        now=utc_now(),
        time_left=lambda: timedelta(milliseconds=lambda_context.get_remaining_time_in_millis()),
    )
    settle(store, outcome.written, definitions, config, utc_now())
    if outcome.next_task is not None:
        queue.send([outcome.next_task.to_json()])
    metrics.add_metric("PastsAdded", MetricUnit.Count, outcome.added)
    metrics.add_metric("ProfilesWritten", MetricUnit.Count, len(outcome.written))
    if not task.identities:  # (an unmerge's two people are not a part of the progress)
        progress.record(
            task.trait_id,
            task.counts_from,
            part=task.part,
            evaluated=outcome.identities,
            finished=outcome.next_task is None,
        )


handler = task_queue_handler(run_task, logger=logger, tracer=tracer, metrics=metrics)


end_of_init()
