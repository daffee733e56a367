"""Reading DynamoDB stream records (as Lambda receives them) into domain events."""

from __future__ import annotations

from typing import Any

from cdp.profiles.timeline import StreamEvent
from cdp.storage.events import stream_event


class UnreadableRecordError(Exception):
    """A stream record that cannot be turned into an event (reported as a batch failure)."""

    def __init__(self, reason: str, partition: str | None = None) -> None:
        super().__init__(reason)
        self.partition = partition  # whose record it is, when that much could be read


class WaitingForEarlierRecordError(Exception):
    """An event held back because an earlier record of the same person failed: applying it
    first would move the person's watermark past the failed one, which would then be lost."""


def read_event_records(
    records: list[dict[str, Any]],
) -> tuple[list[StreamEvent], dict[str, Exception]]:
    """New events from the events table's stream, and the records that could not be read.

    Only INSERTs are events. A MODIFY is a client's retry overwriting its own message, and a
    REMOVE is the end of the hot window (TTL; the lake keeps the event) or erasure: neither
    changes what a profile has seen, nor undoes or counts anything.
    """
    events: list[StreamEvent] = []
    unreadable: dict[str, Exception] = {}
    for record in records:
        change = record.get("dynamodb") or {}
        sequence = str(change.get("SequenceNumber", ""))
        if record.get("eventName") != "INSERT":
            continue
        partition = (change.get("NewImage") or {}).get("pk", {}).get("S")
        partition = partition if isinstance(partition, str) else None
        try:
            events.append(stream_event(change["NewImage"], int(sequence)))
        except Exception as error:  # any unreadable record is reported, never fatal
            unreadable[sequence] = UnreadableRecordError(
                f"{type(error).__name__}: {error}",
                partition if isinstance(partition, str) else None,
            )
    return events, unreadable


def hold_back(
    events: list[StreamEvent], failed: dict[str, Exception]
) -> tuple[list[StreamEvent], dict[str, Exception]]:
    """The events that may be applied now, and those that must wait: every event after a
    failed record of the same person, or after any failed record whose person is unknown.
    Lambda retries from the first failed record, so the held ones come again after it."""
    first_failed: dict[str | None, int] = {}
    for sequence, error in failed.items():
        partition = error.partition if isinstance(error, UnreadableRecordError) else None
        first_failed[partition] = min(int(sequence), first_failed.get(partition, int(sequence)))
    anyone = first_failed.get(None)
    ready: list[StreamEvent] = []
    held: dict[str, Exception] = {}
    for event in events:
        mine = first_failed.get(event.partition)
        if (mine is not None and event.sequence > mine) or (
            anyone is not None and event.sequence > anyone
        ):
            held[str(event.sequence)] = WaitingForEarlierRecordError(event.partition)
        else:
            ready.append(event)
    return ready, held
