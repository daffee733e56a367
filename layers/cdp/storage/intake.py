"""Storing accepted events and quarantined messages with BatchWriteItem.

The event item is `cdp.storage.events`' (`event_item`); the quarantine item is this module's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from cdp.intake.messages import Intake, Rejection
from cdp.runtime.codec import dumps
from cdp.storage.batches import RetryPolicy, write_all
from cdp.storage.events import event_item

MAX_QUARANTINE_PAYLOAD = 256 * 1024  # stays well inside DynamoDB's 400 KB item limit


class IntakeSettings(Protocol):
    """The settings of a function that stores events (collector, forms, webhooks, importer)."""

    @property
    def events_table(self) -> str: ...
    @property
    def quarantine_table(self) -> str: ...
    @property
    def event_hot_days(self) -> int: ...
    @property
    def quarantine_retention_days(self) -> int: ...


class IntakeStore:
    @classmethod
    def from_settings(cls, settings: IntakeSettings, *, client: Any) -> IntakeStore:
        # An event item stays for the hot window; the lake keeps the event for the whole
        # retention (the TTL's deletion leaves the lake's row alone: functions/lake_writer).
        return cls(
            settings.events_table,
            settings.quarantine_table,
            client=client,
            event_retention=timedelta(days=settings.event_hot_days),
            quarantine_retention=timedelta(days=settings.quarantine_retention_days),
        )

    def __init__(
        self,
        events_table: str,
        quarantine_table: str,
        *,
        client: Any,
        event_retention: timedelta,
        quarantine_retention: timedelta,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.events_table = events_table
        self.quarantine_table = quarantine_table
        self.client = client
        self.event_retention = event_retention  # in the events table: the hot window
        self.quarantine_retention = quarantine_retention
        self.retry = retry or RetryPolicy()
        self.sleep = sleep

    def save(self, intake: Intake, *, source: str, received_at: datetime, request_id: str) -> None:
        """Write every event and every rejection; raise `StorageBusyError` if DynamoDB keeps
        throttling. Both tables go into the same BatchWriteItem calls."""
        event_expiry = _epoch(received_at + self.event_retention)
        quarantine_expiry = _epoch(received_at + self.quarantine_retention)
        requests: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
        # Keyed by table and key: BatchWriteItem refuses two requests for the same item, and
        # a batch that repeats a messageId is one event anyway (the last copy wins).
        for event in intake.events:
            item = event_item(event, event_expiry)
            requests[(self.events_table, item["pk"]["S"], item["sk"]["S"])] = (
                self.events_table,
                {"PutRequest": {"Item": item}},
            )
        for rejection in intake.rejections:
            item = quarantine_item(
                rejection,
                source=source,
                received_at=received_at,
                request_id=request_id,
                expires_at=quarantine_expiry,
            )
            requests[(self.quarantine_table, item["pk"]["S"], item["sk"]["S"])] = (
                self.quarantine_table,
                {"PutRequest": {"Item": item}},
            )
        write_all(self.client, list(requests.values()), retry=self.retry, sleep=self.sleep)


def quarantine_item(
    rejection: Rejection,
    *,
    source: str,
    received_at: datetime,
    request_id: str,
    expires_at: int,
) -> dict[str, Any]:
    """A refused message, readable by an operator (plain JSON text, not compressed).

    The key is derived from what was refused, where and why (source, route, reason, payload):
    a client resending the same refused message overwrites its entry instead of adding
    another, while two different refusals never share one. A payload that must not be kept
    (no analytics consent where it is required) leaves only the reason and when.
    """
    withheld = rejection.payload is None
    payload = (
        ""
        if withheld
        else rejection.payload
        if isinstance(rejection.payload, str)
        else dumps(rejection.payload)
    )
    basis = dumps([source, rejection.kind, rejection.reason, payload])
    if withheld:  # nothing of the payload to tell refusals apart by: the message id, else
        basis += rejection.message_id or f"{request_id}#{rejection.index}"  # the request
    digest = hashlib.sha256(basis.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]
    item: dict[str, Any] = {
        "pk": {"S": received_at.strftime("%Y-%m-%d")},
        "sk": {"S": digest},
        "received_at": {"S": received_at.isoformat()},
        "reason": {"S": rejection.reason},
        "source": {"S": source},
        "kind": {"S": rejection.kind},
        "request_id": {"S": request_id},
        "expires_at": {"N": str(expires_at)},
    }
    if withheld:
        item["payload_withheld"] = {"S": "no analytics consent: the payload is not kept"}
    else:
        item["payload"] = {"S": payload[:MAX_QUARANTINE_PAYLOAD]}
        if len(payload) > MAX_QUARANTINE_PAYLOAD:
            item["truncated"] = {"BOOL": True}
    if rejection.index is not None:
        item["batch_index"] = {"N": str(rejection.index)}
    if rejection.message_id is not None:
        item["message_id"] = {"S": rejection.message_id[:512]}
    return item


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
