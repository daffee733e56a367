"""Publisher: the profiles table's stream in; segment and profile events out to EventBridge,
the segment membership index kept current, each segment's entries and exits per day, and what
each destination must hear queued for the deliverer."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
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
from cdp.runtime.settings.publisher import PublisherSettings
from cdp.segments.history import DayTally
from cdp.sharing.changes import changes, traits_now
from cdp.sharing.connectors.base import Delivery
from cdp.sharing.destinations import (
    DESTINATION,
    DESTINATIONS_MAX_AGE,
    DestinationDefinition,
    deliveries,
)
from cdp.storage import clients
from cdp.storage.bus import EventBus
from cdp.storage.config import ConfigStore
from cdp.storage.deliveries import DeliveryQueue
from cdp.storage.members import MembershipIndex
from cdp.storage.profiles import IdentityLinks, decode_state

logger, tracer, metrics = powertools("publisher")
_days = DayTally()  # the batch's entries and exits, written once per day
_TTL_PRINCIPAL = "dynamodb.amazonaws.com"
_outbox: list[Delivery] = []  # the batch's deliveries, queued once at its end


@dataclass
class _Recent:
    """The destinations as read at most DESTINATIONS_MAX_AGE seconds ago (monotonic): one read
    every ten seconds per warm function, not one per batch. A destination's newly received
    segments are resynced once that has passed (`cdp.sharing.destinations`)."""

    read_at: float = float("-inf")
    destinations: list[DestinationDefinition] = field(default_factory=list)


@dataclass(frozen=True)
class _Dependencies:
    bus: EventBus
    index: MembershipIndex
    links: IdentityLinks
    config: ConfigStore
    queue: DeliveryQueue
    recent: _Recent = field(default_factory=_Recent)


@lru_cache(maxsize=1)
def _dependencies() -> _Dependencies:
    settings = PublisherSettings.from_env()
    dynamodb = clients.dynamodb()
    return _Dependencies(
        EventBus(settings.event_bus_name, client=clients.events()),
        MembershipIndex(settings.members_table, client=dynamodb),
        IdentityLinks(settings.identities_table, client=dynamodb),
        # Eventually consistent: a changed destination takes effect within a second or so.
        ConfigStore(settings.config_table, client=dynamodb, consistent=False),
        DeliveryQueue(settings.deliveries_queue_url, client=clients.sqs()),
    )


def _destinations_now() -> list[DestinationDefinition]:
    found = _dependencies()
    now = time.monotonic()
    if now - found.recent.read_at >= DESTINATIONS_MAX_AGE:
        stored = found.config.definitions(DESTINATION)
        found.recent.destinations = [DestinationDefinition.model_validate(d) for d in stored]
        found.recent.read_at = now
    return found.recent.destinations


def _state(image: dict[str, Any]) -> dict[str, Any] | None:
    data = image.get("state", {}).get("B")
    if data is None:
        return None
    return decode_state(data if isinstance(data, bytes) else base64.b64decode(data))


def publish_record(record: DynamoDBRecord) -> None:
    """One profile change: the index first (idempotent), then the events (at least once)."""
    found = _dependencies()
    bus, index, links = found.bus, found.index, found.links
    change = record.raw_event["dynamodb"]
    old_image, new_image = change.get("OldImage") or {}, change.get("NewImage") or {}
    image = new_image or old_image
    written_at = new_image.get("updated_at", {}).get("S") or iso(utc_now())
    old_state, new_state = _state(old_image), _state(new_image)
    events, membership = changes(
        image["profile_id"]["S"],
        old_state,
        new_state,
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
    removed = bool(record.event_name and record.event_name.name == "REMOVE")
    # DynamoDB's own deletions (TTL: no activity for the retention period) say so.
    expired = record.raw_event.get("userIdentity", {}).get("principalId") == _TTL_PRINCIPAL
    if removed and old_state is not None:
        # Expired for inactivity (TTL), or erased: no identity may lead to it any more.
        links.forget(old_state.get("identities", {}), image["profile_id"]["S"])
    if events:
        bus.publish(events)
        destinations = _destinations_now()
        if destinations:
            _outbox.extend(
                deliveries(
                    events,
                    profile_id=image["profile_id"]["S"],
                    version=int(image.get("version", {}).get("N", "0")),
                    at=written_at,
                    old=old_state,
                    new=new_state,
                    traits_now=traits_now(new_state, written_at) if new_state else {},
                    destinations=destinations,
                    erased=removed and not expired,
                )
            )
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
    found = _dependencies()
    for day, moved in _days.drain().items():
        found.index.add_day(day, moved)
    if _outbox:
        # Only what records that went through produced; a failed record is redelivered whole.
        metrics.add_metric("DeliveriesQueued", MetricUnit.Count, len(_outbox))
        found.queue.send(_outbox)
        _outbox.clear()
    # Each is retried by Lambda, then kept in the failure queue: the console's overview shows them.
    metrics.add_metric("RecordsFailed", MetricUnit.Count, len(response["batchItemFailures"]))
    return response


end_of_init()
