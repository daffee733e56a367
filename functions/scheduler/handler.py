"""Scheduler: every few minutes, re-evaluate the profiles whose segments time alone may have
changed since the last run (EventBridge Scheduler in AWS, a timer in `cdp dev`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings.scheduler import SchedulerSettings
from cdp.segments.definitions import in_force, settle
from cdp.segments.due import reevaluate_due
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.profiles import ProfileStore

logger, tracer, metrics = powertools("scheduler")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ProfileStore, ConfigStore]:
    settings = SchedulerSettings.from_env()
    client = clients.dynamodb()
    return (
        ProfileStore.from_settings(settings, client=client),
        ConfigStore(settings.config_table, client=client),
    )


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, config = _dependencies()
    definitions = in_force(config)
    outcome = reevaluate_due(store, now=utc_now(), definitions=definitions)
    settle(store, outcome.written, definitions, config, utc_now())
    metrics.add_metric("DueProfilesEvaluated", MetricUnit.Count, outcome.profiles)
    metrics.add_metric("SegmentsEntered", MetricUnit.Count, outcome.entered)
    metrics.add_metric("SegmentsExited", MetricUnit.Count, outcome.exited)
    return {
        "profiles": outcome.profiles,
        "changed": outcome.changed,
        "entered": outcome.entered,
        "exited": outcome.exited,
    }


end_of_init()
