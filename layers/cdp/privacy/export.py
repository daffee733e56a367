"""A person's data in one document: the right of access (and of portability)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cdp.profiles.computed import ComputedTraitDefinition
from cdp.profiles.profile import Profile, profile_view
from cdp.profiles.timeline import HotWindow, PartitionReader, all_events, encode_cursor
from cdp.runtime.clock import iso

MAX_EVENT_BYTES = 4 * 1024 * 1024  # an API answer stays under Lambda's 6 MB


def export_document(
    profile: Profile,
    read: PartitionReader,
    definitions: tuple[ComputedTraitDefinition, ...],
    now: datetime,
    hot_window: HotWindow | None = None,
) -> dict[str, Any]:
    """Profile, every trait value with its provenance (all kinds, not only the one that
    counts), consent and its history, segments, and every stored event, newest first. Past
    4 MB of events the document says so and gives the timeline cursor to read on. The events
    are the events table's (the hot window): where the lake keeps older ones, the document
    says where they are and how to read them (`older_events`, as the timeline does)."""
    events: list[dict[str, Any]] = []
    size = 0
    cursor: str | None = None
    truncated = False
    for stored in all_events(list(profile.identities), read):
        message = stored.message()
        size += len(json.dumps(message, separators=(",", ":")))
        if events and size > MAX_EVENT_BYTES:
            truncated = True  # the timeline continues from the last event included
            break
        events.append(message)
        cursor = encode_cursor(stored.position)
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
        **({"events_cursor": cursor} if truncated else {}),
        "older_events": hot_window and hot_window.older_events(list(profile.identities), now),
    }
