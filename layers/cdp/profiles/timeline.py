"""A person's timeline: their events across every identity they are filed under, newest
first, in pages.

Events are stored per identity (`user_id:42`, `anonymous_id:abc`) under their message id, so
that a resent message can never be stored twice whatever times it carries. Time order is
therefore made here: a page reads the person's events (one query per identity, each item's
`timestamp` beside its still compressed body), sorts them by event time and opens only the
bodies it hands out. The cursor is the position of the last event handed out.

What that costs: the person's stored events are read for each page, a few read units for a
typical person (an event item is well under 1 KB); never a scan.

The events table holds the hot window (`event_hot_days`, counted from arrival); the lake's
`events` table holds every event for the whole retention. When the two differ, a timeline
says where the older events are (`HotWindow.older_events`): the timeline itself never reads
the lake (a query there takes seconds and is billed by the bytes it scans).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from cdp.runtime.clock import iso
from cdp.runtime.codec import decompress
from cdp.runtime.errors import InvalidRequestError

MAX_PAGE = 100
MessageType = Literal["identify", "track", "page", "screen", "group", "alias"]
MESSAGE_TYPES: tuple[str, ...] = get_args(MessageType)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event item as the events table holds it: its time, id and compressed body."""

    partition: str
    timestamp: str
    message_id: str
    body: bytes
    source: str = "unknown"

    @property
    def key(self) -> tuple[str, str]:
        """Its key in the events table: identity and message id."""
        return (self.partition, self.message_id)

    @property
    def position(self) -> tuple[str, str, str]:
        """Where it stands in a timeline (newest first): time, then identity, then id."""
        return (self.timestamp, self.partition, self.message_id)

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = decompress(self.body)
        return message


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An event as the profile builder receives it from the events table's stream."""

    partition: str  # the events table's partition key: the identity the event is filed under
    sequence: int
    message: dict[str, Any]
    source: str

    @property
    def record_id(self) -> str:
        return str(self.sequence)


# partition -> every event stored under it (with or without bodies: see `read_page`)
PartitionReader = Callable[[str], list[StoredEvent]]
# events -> their compressed bodies, by `StoredEvent.key`
BodyReader = Callable[[list[StoredEvent]], dict[tuple[str, str], bytes]]


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    cursor: str | None


@dataclass(frozen=True)
class HotWindow:
    """How long events stay in the events table (`days`) and in the lake (`retention_days`)."""

    days: int
    retention_days: int

    def older_events(self, identities: list[str], now: datetime) -> dict[str, str] | None:
        """Where a person's events that arrived before the hot window are: the lake's
        `events` table, with a query for them (the same text in `cdp sql` locally, with
        DuckDB, and in AWS, with Athena); none when the events table keeps the whole
        retention. DynamoDB's TTL deletes an expired item within a few days, so around the
        window's start an event may be in both for a while."""
        if self.days >= self.retention_days:
            return None
        start = now - timedelta(days=self.days)
        listed = ", ".join(_sql_text(identity) for identity in partitions_of(identities))
        moment = start.strftime("%Y-%m-%d %H:%M:%S")
        return {
            "before": iso(start),
            "table": "events",
            "sql": (  # handed to the client, never run here; the identities quoted as text
                f"select * from events where identity in ({listed}) "  # noqa: S608
                f"and received_at < timestamp '{moment}' order by timestamp desc"
            ),
        }


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def partitions_of(identities: list[str]) -> list[str]:
    """Events are filed under the identity they carry: a user id, else an anonymous id; the
    events of e-mail tools (inbound webhooks) under the e-mail address."""
    return sorted(identities)


def all_events(identities: list[str], read: PartitionReader) -> list[StoredEvent]:
    """Every stored event of a person, newest first."""
    found = [event for partition in partitions_of(identities) for event in read(partition)]
    found.sort(key=lambda event: event.position, reverse=True)
    return found


def read_page(
    identities: list[str],
    read: PartitionReader,
    *,
    limit: int,
    cursor: str | None,
    kind: str | None = None,
    bodies: BodyReader | None = None,
) -> Page:
    """One page of the timeline: the `limit` newest events past the cursor; of one `kind`
    (`track`, `page`, ...) only, when given. With `bodies`, `read` hands out positions only
    (time, identity, id: a small part of each item) and `bodies` reads the bodies of the
    events a page shows; a kind is in the body, so filtering reads bodies a few pages' worth
    at a time until the page is full."""
    if kind is not None and kind not in MESSAGE_TYPES:
        raise InvalidRequestError(f"type: one of {', '.join(MESSAGE_TYPES)}")
    after = decode_cursor(cursor)
    events = all_events(identities, read)
    if after is not None:
        events = [event for event in events if event.position < after]
    wanted = limit + 1  # one more than shown: whether there is a next page
    step = wanted if kind is None else max(4 * wanted, 100)
    page: list[tuple[StoredEvent, dict[str, Any]]] = []
    for start in range(0, len(events), step):
        chunk = events[start : start + step]
        if kind is None:
            chunk = chunk[:limit]  # the one more is known to exist: no need to open it
        for event, message in _opened(chunk, bodies):
            if kind is None or message.get("type") == kind:
                page.append((event, message))
        if len(page) >= wanted or kind is None:
            break
    more = len(page) > limit or (kind is None and len(events) > limit)
    page = page[:limit]
    return Page(
        events=[message for _, message in page],
        cursor=encode_cursor(page[-1][0].position) if more and page else None,
    )


def _opened(
    events: list[StoredEvent], bodies: BodyReader | None
) -> list[tuple[StoredEvent, dict[str, Any]]]:
    if bodies is None:
        return [(event, event.message()) for event in events]
    found = bodies(events)
    # An event erased since its position was read is left out.
    return [(event, decompress(found[event.key])) for event in events if event.key in found]


def encode_cursor(position: tuple[str, str, str]) -> str:
    text = json.dumps(list(position), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, str, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequestError("cursor: is not a cursor this API handed out") from None
    if (
        not isinstance(position, list)
        or len(position) != 3
        or not all(isinstance(part, str) for part in position)
    ):
        raise InvalidRequestError("cursor: is not a cursor this API handed out")
    return (position[0], position[1], position[2])
