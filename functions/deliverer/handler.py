"""Deliverer: the deliveries queue in (SQS FIFO, a destination's group of people per message
group); each message's deliveries through the destination's connector to its tool; what
became of them into the deliveries table and the destination's metrics. A resync's pages come
through the same queue: each adds a page of a segment's members again."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from functools import lru_cache
from typing import Any, NoReturn

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.runtime.clock import iso, parse, utc_now
from cdp.runtime.observability import NAMESPACE, end_of_init, powertools
from cdp.runtime.settings.deliverer import DelivererSettings
from cdp.sharing.changes import traits_now
from cdp.sharing.connectors import transport
from cdp.sharing.delivering import deliver
from cdp.sharing.destinations import (
    DESTINATION,
    RESYNC_SETTLE_SECONDS,
    DestinationDefinition,
    resync,
)
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.deliveries import (
    DeliveryLog,
    DeliveryQueue,
    ResyncPage,
    Tally,
    decode_message,
    destination_of,
)
from cdp.storage.members import MembershipIndex
from cdp.storage.profiles import live_profiles
from cdp.storage.secrets import secret

logger, tracer, metrics = powertools("deliverer")
MAX_WAIT_SECONDS = 12 * 3600  # SQS's longest visibility timeout
BACKOFF_CAP_SECONDS = 900
RESYNC_PAGE = 500  # members a resync page adds (one query, five BatchGetItems)


class RetryLaterError(Exception):
    """The tool asked to wait: the message comes back after the wait (its visibility)."""


@lru_cache(maxsize=1)
def _dependencies() -> tuple[DelivererSettings, ConfigStore, DeliveryLog]:
    settings = DelivererSettings.from_env()
    client = clients.dynamodb()
    # Eventually consistent: a changed destination takes effect within a second or so.
    config = ConfigStore(settings.config_table, client=client, consistent=False)
    return settings, config, DeliveryLog(settings.deliveries_table, client=client)


@lru_cache(maxsize=1)
def _resync_dependencies() -> tuple[MembershipIndex, DeliveryQueue]:
    settings = _dependencies()[0]
    return (
        MembershipIndex(settings.members_table, client=clients.dynamodb()),
        DeliveryQueue(settings.deliveries_queue_url, client=clients.sqs()),
    )


@lru_cache(maxsize=64)
def _secret(name: str) -> Any:
    return secret(name)


_tallies: dict[str, Tally] = {}
_destinations: dict[str, dict[str, Any]] = {}  # as defined when the invocation began


def deliver_message(record: SQSRecord) -> None:
    settings, _, _ = _dependencies()
    destination_id = destination_of(record.attributes.message_group_id or "")
    stored = _destinations.get(destination_id)
    destination = DestinationDefinition.model_validate(stored) if stored else None
    message = decode_message(record.body)
    if isinstance(message, ResyncPage):
        # Until every publisher knows the destination as it is, entries may still be missed.
        settled = parse(message.started) + timedelta(seconds=RESYNC_SETTLE_SECONDS)
        wait = (settled - utc_now()).total_seconds()
        if wait > 0:
            _wait(record, settings.deliveries_queue_url, wait, f"{destination_id}: a resync")
        if destination is not None and destination.enabled:
            resync_page(message, destination)
        return
    tally = _tallies.setdefault(destination_id, Tally())
    has_secret = destination is not None and destination.has_secret
    attempt = deliver(
        message,
        destination,
        # Tools without one (SES: the function's own role) are given an empty secret.
        secret=_secret(settings.destination_secret_prefix + destination_id) if has_secret else str,
        send=lambda request: transport.send(request, aws=_aws),
        tally=tally,
        now_iso=iso(utc_now()),
        base_url=settings.connector_endpoints.get(destination.connector) if destination else None,
    )
    if attempt.retry_after is not None:
        # The tool's wait, and at least a backoff that doubles with each receive (5 s, 10 s,
        # ... 15 min): the queue's 24 receives span about four and a half hours.
        receives = int(record.attributes.approximate_receive_count or 1)
        backoff = min(BACKOFF_CAP_SECONDS, 5 * 2 ** (receives - 1))
        wait = max(attempt.retry_after, backoff)
        _wait(record, settings.deliveries_queue_url, wait, destination_id)


def _wait(record: SQSRecord, queue_url: str, seconds: float, what: str) -> NoReturn:
    """The message comes back after `seconds` (its visibility), and holds back its group."""
    wait = min(MAX_WAIT_SECONDS, max(1, math.ceil(seconds)))
    clients.sqs().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=wait
    )
    raise RetryLaterError(f"{what}: waits {wait} s")


def resync_page(page: ResyncPage, destination: DestinationDefinition) -> None:
    """One page of a resync: its members who granted the purpose queued as additions, and the
    next page after them (a page whose additions were queued and whose next page was not is
    done again: additions are safe to repeat)."""
    settings = _dependencies()[0]
    index, queue = _resync_dependencies()
    members, after = index.members(page.segment_id, limit=RESYNC_PAGE, after=page.after)
    found = live_profiles(
        settings.profiles_table, [m["profile_id"] for m in members], client=clients.dynamodb()
    )
    at = iso(utc_now())
    additions = resync(
        destination,
        page.segment_id,
        {pid: (profile.version, profile.to_state()) for pid, profile in found.items()},
        at=at,
        traits_of=lambda state: traits_now(dict(state), at),
    )
    queue.send(additions)
    metrics.add_metric("ResyncAdditionsQueued", MetricUnit.Count, len(additions))
    if after is not None:
        queue.send_resync(replace(page, after=after))


@lru_cache(maxsize=8)
def _aws(service: str) -> Any:
    """A client for a connector that calls AWS (SES), made once per warm function: making one
    loads the service's API description."""
    return clients.session().create_client(service)


def _record_tallies() -> None:
    _, _, log = _dependencies()
    now = utc_now()
    for destination_id, tally in _tallies.items():
        if tally.empty():
            continue
        log.record(destination_id, tally, now=now)
        # One metric each (EMF's single metrics hold one name), per destination: its alarms
        # (made with it by the admin API) watch Failed and Retried.
        for state, number in tally.counts.items():
            with single_metric(
                name=state.capitalize(),
                unit=MetricUnit.Count,
                value=number,
                namespace=NAMESPACE,
                default_dimensions={"destination": destination_id},
            ):
                pass
    _tallies.clear()


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _, config, _ = _dependencies()
    _destinations.clear()
    _destinations.update((d["id"], d) for d in config.definitions(DESTINATION))
    # A failed message holds back the rest of its group (one destination's people), never
    # another group's.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # A batch whose every tool asked to wait is reported like any other: each message comes
    # back after its wait, and the function has not failed.
    processor.raise_on_entire_batch_failure = False
    try:
        return process_partial_response(
            event=event, record_handler=deliver_message, processor=processor, context=context
        )
    finally:
        _record_tallies()


end_of_init()
