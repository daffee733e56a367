"""A person's timeline: their events across every identity they are filed under, newest
first, in pages.

Events are stored per identity (`user_id:42`, `anonymous_id:abc`), each partition sorted by
time. A page reads the newest `limit` events of each partition past the cursor and merges
them; the cursor remembers, per partition, the last event handed out. A page therefore costs
one query per partition (a profile's identities are bounded), never a scan.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cdp.errors import InvalidRequestError

MAX_PAGE = 100

# (partition, before sort key or None, limit) -> [(sort key, message)], newest first
PartitionReader = Callable[[str, str | None, int], list[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    cursor: str | None


def partitions_of(identities: list[str]) -> list[str]:
    """Events are filed under the identity they carry: a user id, else an anonymous id; the
    events of e-mail tools (inbound webhooks) under the e-mail address."""
    return sorted(identities)


def read_page(
    identities: list[str], read: PartitionReader, *, limit: int, cursor: str | None
) -> Page:
    """One page of the timeline. The cursor maps each partition to the sort key of the last
    event handed out from it, or to null once the partition has been handed out entirely."""
    positions = decode_cursor(cursor)
    partitions = [p for p in partitions_of(identities) if positions.get(p, "") is not None]
    candidates: list[tuple[str, str, dict[str, Any]]] = []
    complete: set[str] = set()
    for partition in partitions:
        items = read(partition, positions.get(partition) or None, limit)
        if len(items) < limit:
            complete.add(partition)  # nothing older is left beyond these
        candidates += [(sort_key, partition, message) for sort_key, message in items]
    candidates.sort(key=lambda candidate: candidate[0], reverse=True)
    page, rest = candidates[:limit], candidates[limit:]

    next_positions = dict(positions)
    for partition in partitions:
        taken = [sort_key for sort_key, owner, _ in page if owner == partition]
        if taken:
            next_positions[partition] = taken[-1]
        if partition in complete and not any(owner == partition for _, owner, _ in rest):
            next_positions[partition] = None
    more = any(next_positions.get(partition, "") is not None for partition in partitions)
    return Page(
        events=[message for _, _, message in page],
        cursor=encode_cursor(next_positions) if more else None,
    )


def encode_cursor(positions: dict[str, str | None]) -> str:
    text = json.dumps(positions, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, str | None]:
    if not cursor:
        return {}
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        positions = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequestError("cursor: is not a cursor this API handed out") from None
    if not isinstance(positions, dict) or not all(
        isinstance(key, str) and (value is None or isinstance(value, str))
        for key, value in positions.items()
    ):
        raise InvalidRequestError("cursor: is not a cursor this API handed out")
    return positions
