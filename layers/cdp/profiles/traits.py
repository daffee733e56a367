"""Traits with provenance, and which value of a trait is the one that counts.

Every trait keeps, per kind of source, the newest value it was given:

- *declared*: the person said it (a form, the preference center);
- *imported*: from another system of record (a CRM);
- *observed*: seen in behaviour or sent by a website or server without further claim;
- *computed*: derived by the platform.

The value that counts is the one of the highest-ranked kind whose value has not expired; a
stated preference outranks an inferred one. Within one kind the newer value wins by *event*
time (ties broken by message id), not by arrival: events arrive late and out of order. That
choice is a maximum over a total order, so the outcome does not depend on the order in which
events are applied. A `null` is a value too (a removal): if it wins, the trait is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["declared", "imported", "observed", "computed"]
KINDS: tuple[Kind, ...] = ("declared", "imported", "observed", "computed")  # highest rank first

# Bounds that keep a profile item small (documented in the README).
MAX_TRAITS = 100
MAX_NAME_LENGTH = 128
MAX_VALUE_BYTES = 512


@dataclass(frozen=True, slots=True)
class TraitValue:
    value: Any  # None means "removed"
    source: str
    at: str  # event time, ISO 8601 UTC
    message_id: str
    expires_at: str | None = None

    def beats(self, other: TraitValue) -> bool:
        return (self.at, self.message_id) > (other.at, other.message_id)

    def live(self, now_iso: str) -> bool:
        return self.expires_at is None or self.expires_at > now_iso

    def to_json(self) -> list[Any]:
        compact = [self.value, self.source, self.at, self.message_id]
        return [*compact, self.expires_at] if self.expires_at else compact

    @classmethod
    def from_json(cls, data: list[Any]) -> TraitValue:
        return cls(*data)


# name -> kind -> newest value of that kind
TraitTable = dict[str, dict[str, TraitValue]]


def offer(table: TraitTable, name: str, kind: str, candidate: TraitValue) -> bool:
    """Record `candidate` if it is the newest of its kind; answer whether anything changed."""
    if kind not in KINDS or not _acceptable(name, candidate.value):
        return False
    by_kind = table.get(name)
    if by_kind is None:
        if len(table) >= MAX_TRAITS:
            return False
        table[name] = {kind: candidate}
        return True
    current = by_kind.get(kind)
    if current is None or candidate.beats(current):
        by_kind[kind] = candidate
        return True
    return False


def combine(into: TraitTable, other: TraitTable) -> None:
    """Merge another profile's traits (the union, newest of each kind wins)."""
    for name, by_kind in other.items():
        for kind, value in by_kind.items():
            offer(into, name, kind, value)


def effective(by_kind: dict[str, TraitValue], now_iso: str) -> tuple[str, TraitValue] | None:
    """The kind and value that count: highest rank first, expired values skipped."""
    for kind in KINDS:
        value = by_kind.get(kind)
        if value is not None and value.live(now_iso):
            return kind, value
    return None


def current_traits(table: TraitTable, now_iso: str) -> dict[str, tuple[str, TraitValue]]:
    """Trait name -> (kind, value) for every trait that has a live, non-null value."""
    answer = {}
    for name, by_kind in table.items():
        winner = effective(by_kind, now_iso)
        if winner is not None and winner[1].value is not None:
            answer[name] = winner
    return answer


def next_expiry(table: TraitTable, now_iso: str) -> str | None:
    """The earliest future moment at which a trait's value that counts could change."""
    moments = [
        value.expires_at
        for by_kind in table.values()
        for value in by_kind.values()
        if value.expires_at is not None and value.expires_at > now_iso
    ]
    return min(moments) if moments else None


def _acceptable(name: str, value: Any) -> bool:
    if not name or len(name) > MAX_NAME_LENGTH:
        return False
    if value is None or isinstance(value, bool | int | float):
        return True
    try:
        return len(json.dumps(value, separators=(",", ":"), default=str)) <= MAX_VALUE_BYTES
    except (TypeError, ValueError):
        return False
