"""Publisher: the profiles table's stream in; segment and profile events out to EventBridge,
the segment membership index kept current, and each segment's entries and exits per day."""

from __future__ import annotations

import base64
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

from cdp.runtime.clock import iso, utc_now
from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings import PublisherSettings
from cdp.segments.history import DayTally
from cdp.sharing.changes import changes
from cdp.storage import clients
from cdp.storage.bus import EventBus
from cdp.storage.members import MembershipIndex
from cdp.storage.profiles import IdentityLinks, decode_state

logger, tracer, metrics = powertools("publisher")
_days = DayTally()  # the batch's entries and exits, written once per day


@lru_cache(maxsize=1)
def _dependencies() -> tuple[EventBus, MembershipIndex, IdentityLinks]:
    settings = PublisherSettings.from_env()
    return (
        EventBus(settings.event_bus_name, client=clients.events()),
        MembershipIndex(settings.members_table, client=clients.dynamodb()),
        IdentityLinks(settings.identities_table, client=clients.dynamodb()),
    )


def _state(image: dict[str, Any]) -> dict[str, Any] | None:
    data = image.get("state", {}).get("B")
    if data is None:
        return None
    return decode_state(data if isinstance(data, bytes) else base64.b64decode(data))


def publish_record(record: DynamoDBRecord) -> None:
    """One profile change: the index first (idempotent), then the events (at least once)."""
    bus, index, links = _dependencies()
    change = record.raw_event["dynamodb"]
    old_image, new_image = change.get("OldImage") or {}, change.get("NewImage") or {}
    image = new_image or old_image
    written_at = new_image.get("updated_at", {}).get("S") or iso(utc_now())
    events, membership = changes(
        image["profile_id"]["S"],
        _state(old_image),
        _state(new_image),
        merged_into=new_image.get("merged_into", {}).get("S"),
        version=int(image.get("version", {}).get("N", "0")),
        now_iso=written_at,
        old_at=old_image.get("updated_at", {}).get("S"),
    )
    for segment_id, profile_id, at in membership.entered:
        if index.enter(segment_id, profile_id, at):
            _days.entered(segment_id, at)
    for segment_id, profile_id in membership.exited:
        if index.leave(segment_id, profile_id):
            _days.exited(segment_id, written_at)
    old_state = _state(old_image)
    if record.event_name and record.event_name.name == "REMOVE" and old_state is not None:
        # Expired for inactivity (TTL), or erased: no identity may lead to it any more.
        links.forget(old_state.get("identities", {}), image["profile_id"]["S"])
    if events:
        bus.publish(events)
    metrics.add_metric("EventsPublished", MetricUnit.Count, len(events))


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    metrics.add_metric("RecordsReceived", MetricUnit.Count, len(event.get("Records", [])))
    response = process_partial_response(
        event=event,
        record_handler=publish_record,
        processor=BatchProcessor(
            event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
        ),
        context=context,
    )
    _, index, _ = _dependencies()
    for day, moved in _days.drain().items():
        index.add_day(day, moved)
    # Each is retried by Lambda, then kept in the failure queue: the console's overview shows them.
    metrics.add_metric("RecordsFailed", MetricUnit.Count, len(response["batchItemFailures"]))
    return response


end_of_init()
