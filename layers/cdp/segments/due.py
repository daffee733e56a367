"""Due times: how the scheduler finds the profiles whose segments time alone may change ("no
sign of life for 90 days", a declared fact expiring, an order leaving a 30-day window), and
re-evaluates them.

A profile with a due time carries two indexed attributes: a shard (`due_shard`, one of a few,
so that no index partition is hot) and the quarter hour after its due time (`due_quarter`,
rounded up). The scheduler asks each shard for every quarter that has begun: that finds all
overdue profiles however long ago they fell due (a paused scheduler, a clock moved on in
`cdp dev`), and a handled profile leaves the answer because its due time moves on.

Quarter hours rather than exact times keep index writes rare: an active visitor's next due
time moves with every event, its quarter hour seldom. A time-based change so takes effect at
most a quarter of an hour plus the scheduler's interval after its due time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cdp.runtime.clock import parse
from cdp.segments.definitions import Definitions, ProfilesToEvaluate, reevaluate

QUARTER = timedelta(minutes=15)
SHARDS = 8


def due_index(due_at: str, profile_id: str) -> tuple[str, str]:
    """(`due_shard`, `due_quarter`) for a profile due at `due_at`."""
    moment = parse(due_at).astimezone(UTC)
    floor = _floor(moment)
    ceiling = floor if floor == moment else floor + QUARTER
    return shard_of(profile_id), _label(ceiling)


def shards() -> list[str]:
    return [f"due#{number}" for number in range(SHARDS)]


def shard_of(profile_id: str) -> str:
    return f"due#{hashlib.sha256(profile_id.encode()).digest()[0] % SHARDS}"


def current_quarter(now: datetime) -> str:
    """The label of the quarter that has begun at `now`: everything up to it is due."""
    return _label(_floor(now.astimezone(UTC)))


def _floor(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


class DueProfiles(ProfilesToEvaluate, Protocol):
    def due(self, shard: str, until_quarter: str) -> list[str]: ...


@dataclass
class RescheduleOutcome:
    profiles: int = 0
    changed: int = 0
    entered: int = 0
    exited: int = 0
    written: list[str] = field(default_factory=list)


def reevaluate_due(
    store: DueProfiles, *, now: datetime, definitions: Definitions
) -> RescheduleOutcome:
    """Every due profile, re-evaluated at `now` and written if its segments or due time
    changed (conditionally: a profile the builder changed meanwhile is read again)."""
    outcome = RescheduleOutcome()
    until = current_quarter(now)
    for shard in shards():
        for profile_id in store.due(shard, until):
            outcome.profiles += 1
            evaluated = reevaluate(store, profile_id, definitions, now)
            if evaluated.written:
                outcome.changed += 1
                outcome.entered += evaluated.entered
                outcome.exited += evaluated.exited
                outcome.written.append(profile_id)
    return outcome
