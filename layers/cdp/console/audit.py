"""The audit log: what the console's people did with a person's data.

Each unmasked view of a person (a search match, their profile, each page of their timeline),
each export and each erasure is one entry: who (the signed-in person, as their token names
them), when, what, which person and why (where the console asked). Each page of a segment's
members given with their identifiers whole is one entry too (`export_members`), naming the
segment and the identity types instead of a person.
The person is named by their profile id and the kind of identifier asked for, never its value:
the log itself holds no one's data but the console user's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["search", "view_profile", "view_events", "export", "erase", "export_members"]
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: str
    actor: str  # the console user's e-mail address or user name
    actor_id: str  # their token's subject: stays the same if the address changes
    action: Action
    profile_id: str | None  # None when nobody matched what was asked for
    asked_for: str  # the kind of identifier asked for (`email`, `user_id`, ...; `search`)
    reason: str | None = None
    segment_id: str | None = None  # whose members were exported (`export_members`)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "at": self.at,
            "actor": self.actor,
            "actor_id": self.actor_id,
            "action": self.action,
            "profile_id": self.profile_id,
            "asked_for": self.asked_for,
        }
        if self.reason:
            entry["reason"] = self.reason
        if self.segment_id:
            entry["segment_id"] = self.segment_id
        return entry


def reason_given(text: str | None) -> str | None:
    """The reason a person gave, as kept: trimmed, bounded, none when blank."""
    if text is None or not text.strip():
        return None
    return text.strip()[:MAX_REASON]
