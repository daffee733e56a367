"""Re-evaluating the profiles whose segments time alone may have changed ("no sign of life
for 90 days", a declared fact expiring, an order leaving a 30-day window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cdp.builder import WriteConflictError
from cdp.computed import ComputedTraitDefinition
from cdp.profile import Profile, update_segments
from cdp.schedule import current_quarter, shards
from cdp.segments import CompiledSegment

ATTEMPTS = 4


class DueProfiles(Protocol):
    def due(self, shard: str, until_quarter: str) -> list[str]: ...

    def get(self, profile_id: str, *, consistent: bool = True) -> Profile | None: ...

    def put(self, profile: Profile) -> None: ...


@dataclass
class RescheduleOutcome:
    profiles: int = 0
    changed: int = 0
    entered: int = 0
    exited: int = 0


def reevaluate_due(
    store: DueProfiles,
    *,
    now: datetime,
    definitions: tuple[ComputedTraitDefinition, ...],
    segments: tuple[CompiledSegment, ...],
) -> RescheduleOutcome:
    """Every due profile, re-evaluated at `now` and written if its segments or due time
    changed (conditionally: a profile the builder changed meanwhile is read again)."""
    outcome = RescheduleOutcome()
    until = current_quarter(now)
    for shard in shards():
        for profile_id in store.due(shard, until):
            outcome.profiles += 1
            for _ in range(ATTEMPTS):
                profile = store.get(profile_id)
                if profile is None:
                    break
                change, moved = update_segments(profile, segments, definitions, now)
                if not change and not moved:
                    break
                try:
                    store.put(profile)
                except WriteConflictError:
                    continue
                outcome.changed += 1
                outcome.entered += len(change.entered)
                outcome.exited += len(change.exited)
                break
    return outcome
