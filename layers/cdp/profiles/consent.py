"""Consent per purpose: what a person allowed, when, from where, under which consent text.

Decisions arrive on any message as `context.consent.categoryPreferences` (the Segment
convention, e.g. `{"analytics": true, "marketing": false}`) with an optional
`context.consent.version` (of the consent text shown). A profile keeps, per purpose, the
newest decision by event time (ties by message id), so late events never overturn a newer
choice and the outcome does not depend on arrival order; and a bounded history of decisions.

Trackers repeat the visitor's standing choice on every message, so the history keeps one entry
per purpose, state, text version and day: the first of them (the earliest by time, whatever
the arrival order). Every decision is an event in the events table besides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DEFAULT_PURPOSES: tuple[str, ...] = ("analytics", "personalization", "marketing", "sharing")
ANALYTICS = "analytics"
MAX_PURPOSES = 20
MAX_HISTORY = 100
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def decisions_of(message: Mapping[str, Any]) -> tuple[dict[str, bool], str | None]:
    """The consent decisions a message carries, and the consent text version."""
    context = message.get("context")
    consent = context.get("consent") if isinstance(context, dict) else None
    if not isinstance(consent, dict):
        return {}, None
    preferences = consent.get("categoryPreferences")
    version = consent.get("version")
    decisions = {
        purpose: granted
        for purpose, granted in (preferences.items() if isinstance(preferences, dict) else [])
        if isinstance(purpose, str) and _PURPOSE.match(purpose) and isinstance(granted, bool)
    }
    return decisions, str(version)[:64] if isinstance(version, str | int) else None


def analytics_granted(message: Mapping[str, Any]) -> bool:
    decisions, _ = decisions_of(message)
    return decisions.get(ANALYTICS) is True


def record(
    consent: dict[str, Any],
    history: list[dict[str, Any]],
    decisions: Mapping[str, bool],
    *,
    at: str,
    message_id: str,
    source: str,
    version: str | None,
) -> bool:
    """Apply decisions to a profile's consent state and history; True if anything changed."""
    changed = False
    for purpose, granted in sorted(decisions.items()):
        entry = {
            "state": "granted" if granted else "denied",
            "at": at,
            "source": source,
            "message_id": message_id,
            **({"version": version} if version else {}),
        }
        current = consent.get(purpose)
        if current is None and len(consent) >= MAX_PURPOSES:
            continue
        if current is None or (at, message_id) > (current["at"], current["message_id"]):
            consent[purpose] = entry
            changed = True
        changed |= _remember(history, {"purpose": purpose, **entry})
    if changed:
        history.sort(key=lambda d: (d["at"], d["message_id"], d["purpose"]))
        del history[:-MAX_HISTORY]
    return changed


def merge(
    consent: dict[str, Any],
    history: list[dict[str, Any]],
    other_consent: Mapping[str, Any],
    other_history: list[dict[str, Any]],
) -> None:
    """Merge another profile's consent: per purpose the newest decision wins."""
    for purpose, entry in other_consent.items():
        current = consent.get(purpose)
        if current is None or (entry["at"], entry["message_id"]) > (
            current["at"],
            current["message_id"],
        ):
            consent[purpose] = entry
    for decision in other_history:
        _remember(history, decision)
    history.sort(key=lambda d: (d["at"], d["message_id"], d["purpose"]))
    del history[:-MAX_HISTORY]


def _remember(history: list[dict[str, Any]], decision: dict[str, Any]) -> bool:
    """Keep the decision unless the history holds an earlier one of the same purpose, state,
    version and day (it then takes that one's place if it is earlier itself)."""

    def kind(d: Mapping[str, Any]) -> tuple[Any, ...]:
        return d["purpose"], d["state"], d.get("version"), d["at"][:10]

    for index, known in enumerate(history):
        if kind(known) == kind(decision):
            if (decision["at"], decision["message_id"]) >= (known["at"], known["message_id"]):
                return False
            history[index] = decision
            return True
    history.append(decision)
    return True


def public_state(consent: Mapping[str, Any]) -> dict[str, Any]:
    """What the person and other systems see: state, when, and the consent text version."""
    return {
        purpose: {key: entry[key] for key in ("state", "at", "version", "source") if key in entry}
        for purpose, entry in sorted(consent.items())
    }
