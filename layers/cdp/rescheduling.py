"""Re-evaluating the profiles whose segments time alone may have changed ("no sign of life
for 90 days", a declared fact expiring, an order leaving a 30-day window)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cdp.definitions import Definitions, ProfilesToEvaluate, reevaluate
from cdp.schedule import current_quarter, shards


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
