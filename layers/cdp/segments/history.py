"""A segment's entries and exits per day: the console's chart of how a segment moves.

The publisher adds up a batch's changes (`DayTally`) and writes each day once per batch, for
all its segments, not once per change. Only changes the membership index took count (an
entry that was not yet a member, an exit that was one), so a redelivered change never counts
twice; a batch that fails after its members were written and before its tally was adds
nothing when it is retried. The figures can fall short by such a batch, never exceed what
happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

MAX_DAYS = 400  # as many as are kept (`cdp.storage.members.DAYS_KEPT`)


class DayTally:
    """Entries and exits per (segment, day), added up until `drain`."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, date], list[int]] = {}

    def entered(self, segment_id: str, at_iso: str) -> None:
        self._count(segment_id, at_iso)[0] += 1

    def exited(self, segment_id: str, at_iso: str) -> None:
        self._count(segment_id, at_iso)[1] += 1

    def drain(self) -> dict[date, dict[str, tuple[int, int]]]:
        """Every day's entries and exits per segment added up so far; the tally starts again."""
        counted: dict[date, dict[str, tuple[int, int]]] = {}
        for (segment, day), (entries, exits) in self._counts.items():
            counted.setdefault(day, {})[segment] = (entries, exits)
        self._counts.clear()
        return counted

    def _count(self, segment_id: str, at_iso: str) -> list[int]:
        return self._counts.setdefault((segment_id, date.fromisoformat(at_iso[:10])), [0, 0])


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    entries: int
    exits: int


def every_day(found: Mapping[date, tuple[int, int]], *, last: date, days: int) -> list[Day]:
    """The `days` days up to `last`, oldest first, a day without changes as zeros."""
    first = last - timedelta(days=days - 1)
    return [
        Day(day, *found.get(day, (0, 0)))
        for day in (first + timedelta(days=n) for n in range(days))
    ]


def totals(days: Iterable[Mapping[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """Each segment's entries and exits added up over `days` (segment -> (entries, exits))."""
    found: dict[str, tuple[int, int]] = {}
    for moved in days:
        for segment, (entries, exits) in moved.items():
            before = found.get(segment, (0, 0))
            found[segment] = (before[0] + entries, before[1] + exits)
    return found
