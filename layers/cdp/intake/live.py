"""Live events: what a source sends while someone watches it in the console, message by
message, with what became of each (stored, stored as a consent decision only, not stored, or
refused with its reason).

Watching is a switch on the source's write keys that expires (`Sources.watch`): the collector
reads the key for every request anyway, so nobody watching costs nothing. What is kept is
masked before it is written (`cdp.console.mask`): the live view shows the shape of what
arrives, never a person, and its items expire within the hour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cdp.intake.messages import Intake
from cdp.profiles.consent import analytics_granted
from cdp.runtime.clock import iso

KEPT_SECONDS = 3600
MAX_SHOWN_BYTES = 8192  # a message shown longer than this is cut (its outcome never is)
Mask = Callable[[Mapping[str, Any]], dict[str, Any]]


def live_entries(
    sent: Intake,
    kept: Intake,
    *,
    consent_required: bool,
    received_at: datetime,
    mask: Mask,
) -> list[dict[str, Any]]:
    """One entry per message of a request, in the order sent: `sent` is the request as read,
    `kept` what was stored of it (`cdp.intake.collector.screen`)."""
    at = iso(received_at)
    # Screening keeps an event as it is, or replaces it with its consent decision alone; what
    # it keeps out (no consent, an erased person) is shown as no more than that: the live view
    # keeps nothing of a message the platform may not keep.
    kept_as = {event.message_id: event for event in kept.events}
    entries: list[tuple[int, dict[str, Any]]] = []
    for position, event in enumerate(sent.events):
        entry: dict[str, Any] = {"at": at, "type": event.type, "message_id": event.message_id}
        stored = kept_as.get(event.message_id)
        if stored is event:
            entry["outcome"] = "stored"
        elif stored is not None:
            entry["outcome"] = "consent_only"
            entry["reason"] = "no analytics consent: only the consent decision is kept"
        else:
            entry["outcome"] = "not_stored"
            entry["reason"] = (
                "no analytics consent"
                if consent_required and not analytics_granted(event.message)
                else "the person asked to be erased"
            )
        if stored is not None:
            if stored.name is not None:
                entry["event"] = stored.name
            entry["message"] = _shown(stored.message, mask)
        entries.append((_order(event.index, position), entry))
    for position, rejection in enumerate(kept.rejections):
        entry = {"at": at, "outcome": "refused", "reason": rejection.reason}
        if rejection.message_id is not None:
            entry["message_id"] = rejection.message_id
        payload = rejection.payload
        if isinstance(payload, dict):
            entry["type"] = str(payload.get("type", rejection.kind))[:40]
            if isinstance(payload.get("event"), str):
                entry["event"] = payload["event"][:200]
            entry["message"] = _shown(payload, mask)
        entries.append((_order(rejection.index, len(sent.events) + position), entry))
    return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]


def _order(index: int | None, position: int) -> int:
    return index if index is not None else position


def _shown(message: Mapping[str, Any], mask: Mask) -> dict[str, Any] | str:
    masked = mask(message)
    text = json.dumps(masked, separators=(",", ":"), default=str, ensure_ascii=False)
    if len(text.encode()) <= MAX_SHOWN_BYTES:
        return masked
    return text.encode()[:MAX_SHOWN_BYTES].decode(errors="ignore") + "…"
