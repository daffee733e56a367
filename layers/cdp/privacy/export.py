"""A person's data in one document: the right of access (and of portability)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cdp.profiles.computed import ComputedTraitDefinition
from cdp.profiles.profile import Profile, profile_view
from cdp.profiles.timeline import (
    HotWindow,
    PartitionReader,
    all_events,
    encode_cursor,
    partitions_of,
)
from cdp.runtime.clock import iso

MAX_EVENT_BYTES = 4 * 1024 * 1024  # an API answer stays under Lambda's 6 MB

# The lake's events of these partitions (the events table's keys) as messages, newest first,
# less those of the message ids given (`cdp.lake.reading.person_events`).
LakeReader = Callable[[list[str], set[str]], list[dict[str, Any]]]


def export_document(
    profile: Profile,
    read: PartitionReader,
    definitions: tuple[ComputedTraitDefinition, ...],
    now: datetime,
    *,
    hot_window: HotWindow | None = None,
    lake: LakeReader | None = None,
) -> dict[str, Any]:
    """Profile, every trait value with its provenance (all kinds, not only the one that
    counts), consent and its history, segments, and every stored event, newest first: the
    events table's (the hot window), then, where the lake keeps older ones, the lake's (read
    with `lake`; `older_events` says where they are). Past 4 MB of events the document says
    so: within the table's events with the timeline cursor to read on, within the lake's
    without (the lake's query in `older_events` reads them all)."""
    events: list[dict[str, Any]] = []
    size = 0
    cursor: str | None = None
    truncated = False

    def fits(message: dict[str, Any]) -> bool:
        nonlocal size
        size += len(json.dumps(message, separators=(",", ":")))
        return not events or size <= MAX_EVENT_BYTES

    for stored in all_events(list(profile.identities), read):
        message = stored.message()
        if not fits(message):
            truncated = True  # the timeline continues from the last event included
            break
        events.append(message)
        cursor = encode_cursor(stored.position)
    older = hot_window and hot_window.older_events(list(profile.identities), now)
    if older and lake and not truncated:
        held = {str(message.get("messageId")) for message in events}
        for message in lake(partitions_of(list(profile.identities)), held):
            if not fits(message):
                truncated, cursor = True, None
                break
            events.append(message)
    return {
        "exported_at": iso(now),
        "profile": profile_view(profile, definitions, now),
        "trait_values": {
            name: {
                kind: {
                    "value": value.value,
                    "source": value.source,
                    "set_at": value.at,
                    "message_id": value.message_id,
                    "expires_at": value.expires_at,
                }
                for kind, value in by_kind.items()
            }
            for name, by_kind in sorted(profile.traits.items())
        },
        "consent_history": profile.consent_history,
        "segments": profile.segments,
        "events": events,
        "events_truncated": truncated,
        **({"events_cursor": cursor} if truncated and cursor else {}),
        "older_events": older,
    }
