"""Profile builder: the events table's stream in, merged profiles out; the track events that
destinations receive queued for the deliverer."""

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
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.profiles.builder import BuildOutcome, build_profiles
from cdp.profiles.identity import ANONYMOUS_ID, EMAIL, IdentityLimits
from cdp.runtime.clock import utc_now
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings.profile_builder import ProfileBuilderSettings
from cdp.segments.definitions import in_force, settle
from cdp.sharing.destinations import DESTINATION, DestinationDefinition, event_deliveries
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.deliveries import DeliveryQueue
from cdp.storage.profiles import ProfileStore
from cdp.storage.streams import hold_back, read_event_records
from cdp.storage.suppressions import SuppressionList

logger, tracer, metrics = powertools("profile_builder")


@lru_cache(maxsize=1)
def _queue() -> DeliveryQueue:
    return DeliveryQueue(
        ProfileBuilderSettings.from_env().deliveries_queue_url, client=clients.sqs()
    )


@lru_cache(maxsize=1)
def _dependencies() -> tuple[ProfileStore, ConfigStore, IdentityLimits, SuppressionList]:
    settings = ProfileBuilderSettings.from_env()
    client = clients.dynamodb()
    limits = IdentityLimits(
        per_type={ANONYMOUS_ID: settings.max_anonymous_ids, EMAIL: settings.max_emails},
        external=settings.max_external_ids,
    )
    return (
        ProfileStore.from_settings(settings, client=client),
        # The version before the writes at half the cost: `settle` checks it exactly after.
        ConfigStore(settings.config_table, client=client, consistent=False),
        limits,
        SuppressionList.from_settings(settings, client=client),
    )


def _forward(outcome: BuildOutcome, config: ConfigStore) -> None:
    """The events destinations receive (read at the version `in_force` read: no extra read),
    queued once the profiles are written. If the queue cannot take them, the records are not
    retried (their profiles are written: a retry would be a replay, and send nothing); the
    events not forwarded are counted."""
    stored = config.as_last_read(DESTINATION)
    if not any(item.get("events") for item in stored):
        return
    destinations = [DestinationDefinition.model_validate(item) for item in stored]
    found = [
        delivery
        for profile, applied in outcome.applied
        for delivery in event_deliveries(
            profile.profile_id,
            profile.to_state(),
            [event.message for event in applied],
            destinations,
        )
    ]
    if not found:
        return
    try:
        _queue().send(found)
        metrics.add_metric("EventsForwarded", MetricUnit.Count, len(found))
    except Exception as error:  # the profiles are written; say what was lost, and why
        metrics.add_metric("EventsNotForwarded", MetricUnit.Count, len(found))
        logger.error("events not forwarded", count=len(found), error=type(error).__name__)


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    store, config, limits, suppressions = _dependencies()
    events, unreadable = read_event_records(event.get("Records", []))
    events, held = hold_back(events, unreadable)
    definitions = in_force(config)  # as they are now: a change applies to the next batch
    outcome = build_profiles(
        events,
        store=store,
        definitions=definitions.computed,
        segments=definitions.segments,
        suppressed=suppressions.suppressed,
        limits=limits,
        clock=utc_now,
    )
    settle(store, outcome.written, definitions, config, utc_now())
    _forward(outcome, config)
    failures = {**unreadable, **held, **outcome.failures}
    metrics.add_metric("EventsApplied", MetricUnit.Count, outcome.events_applied)
    metrics.add_metric("ProfilesWritten", MetricUnit.Count, outcome.profiles_written)
    metrics.add_metric("ProfilesMerged", MetricUnit.Count, outcome.merges)
    metrics.add_metric("WriteConflictsRetried", MetricUnit.Count, outcome.conflicts_retried)
    metrics.add_metric("RecordsFailed", MetricUnit.Count, len(failures))
    for sequence, error in failures.items():
        # The kind of error only: messages could quote personal data.
        logger.warning("record failed", sequence=sequence, error=type(error).__name__)

    def record_handler(record: DynamoDBRecord) -> None:
        failure = failures.get(record.dynamodb.sequence_number or "") if record.dynamodb else None
        if failure is not None:
            raise failure

    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(
            event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
        ),
        context=context,
    )


end_of_init()
