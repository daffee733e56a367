"""Reading DynamoDB stream records (as Lambda receives them) into domain events."""

from __future__ import annotations

import base64
from typing import Any

from cdp.codec import decompress
from cdp.profile import StreamEvent


class UnreadableRecordError(Exception):
    """A stream record that cannot be turned into an event (reported as a batch failure)."""


def read_event_records(
    records: list[dict[str, Any]],
) -> tuple[list[StreamEvent], dict[str, Exception]]:
    """New events from the events table's stream, and the records that could not be read.

    Only INSERTs are events. A MODIFY is a client's retry overwriting its own message, and a
    REMOVE is retention (TTL) or erasure: neither changes what a profile has seen.
    """
    events: list[StreamEvent] = []
    unreadable: dict[str, Exception] = {}
    for record in records:
        change = record.get("dynamodb") or {}
        sequence = str(change.get("SequenceNumber", ""))
        if record.get("eventName") != "INSERT":
            continue
        try:
            image = change["NewImage"]
            events.append(
                StreamEvent(
                    partition=image["pk"]["S"],
                    sequence=int(sequence),
                    message=decompress(_binary(image["body"]["B"])),
                    source=image.get("source", {}).get("S", "unknown"),
                )
            )
        except Exception as error:  # any unreadable record is reported, never fatal
            unreadable[sequence] = UnreadableRecordError(f"{type(error).__name__}: {error}")
    return events, unreadable


def _binary(value: Any) -> bytes:
    """Lambda delivers binary attributes base64-encoded; boto3 hands over bytes."""
    return value if isinstance(value, bytes) else base64.b64decode(value)
