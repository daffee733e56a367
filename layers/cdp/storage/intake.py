"""Storing accepted events and quarantined messages with BatchWriteItem.

The event item is `cdp.storage.events`' (`event_item`); the quarantine item is this module's.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cdp.intake.messages import Intake, Rejection
from cdp.runtime.codec import dumps
from cdp.runtime.errors import StorageBusyError
from cdp.storage.events import event_item

BATCH_LIMIT = 25  # BatchWriteItem's maximum number of requests per call
MAX_QUARANTINE_PAYLOAD = 256 * 1024  # stays well inside DynamoDB's 400 KB item limit


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for UnprocessedItems: full jitter, doubling, bounded in attempts.

    The default budget (about 1.5 s of waiting at most) keeps an API answer fast; past it the
    collector answers 503 so the client retries later, which is safe because writes are
    idempotent.
    """

    attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 0.8

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311


class IntakeSettings(Protocol):
    """The settings of a function that stores events (collector, forms, webhooks, importer)."""

    @property
    def events_table(self) -> str: ...
    @property
    def quarantine_table(self) -> str: ...
    @property
    def event_retention_days(self) -> int: ...
    @property
    def quarantine_retention_days(self) -> int: ...


class IntakeStore:
    @classmethod
    def from_settings(cls, settings: IntakeSettings, *, client: Any) -> IntakeStore:
        return cls(
            settings.events_table,
            settings.quarantine_table,
            client=client,
            event_retention=timedelta(days=settings.event_retention_days),
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
        self.event_retention = event_retention
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
                item,
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
                item,
            )
        self._write(list(requests.values()))

    def _write(self, puts: list[tuple[str, dict[str, Any]]]) -> None:
        for start in range(0, len(puts), BATCH_LIMIT):
            pending: dict[str, list[dict[str, Any]]] = {}
            for table, item in puts[start : start + BATCH_LIMIT]:
                pending.setdefault(table, []).append({"PutRequest": {"Item": item}})
            self._write_with_retries(pending)

    def _write_with_retries(self, pending: dict[str, list[dict[str, Any]]]) -> None:
        for attempt in range(self.retry.attempts):
            answer = self.client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                return
            if attempt + 1 < self.retry.attempts:
                self.sleep(self.retry.delay(attempt))
        raise StorageBusyError("the event store is busy; retry this request in a moment")


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
