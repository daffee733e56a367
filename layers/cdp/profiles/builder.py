"""Building profiles from a batch of events: the profile builder's one domain function.

One batch, one read of the identities and profiles it touches, one conditional write per
person (a transaction when profiles merge). When another writer got there first (a parallel
shard, a concurrent merge) the affected people are re-read and re-planned, a bounded number
of times; what still fails is reported per record, so the stream retries just that.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cdp.profiles.computed import ComputedTraitDefinition
from cdp.profiles.identity import IdentityLimits, identities_of
from cdp.profiles.profile import Profile
from cdp.profiles.resolution import Known, Plan, batch_identities, plan_batch
from cdp.profiles.timeline import StreamEvent
from cdp.segments.conditions import CompiledSegment


class WriteConflictError(Exception):
    """A conditional write lost a race: someone else changed the profile or claimed an
    identity since it was read."""


class ProfileWriter(Protocol):
    def load(self, identities: set[str], *, consistent: bool = True) -> Known: ...

    def save(self, plan: Plan) -> None: ...


@dataclass
class BuildOutcome:
    failures: dict[str, Exception] = field(default_factory=dict)  # record id -> why
    written: list[str] = field(default_factory=list)  # ids of the profiles written
    # Each profile written, as written, with the events applied to it now (not replays): what
    # destinations that receive events are sent.
    applied: list[tuple[Profile, list[StreamEvent]]] = field(default_factory=list)
    profiles_written: int = 0
    events_applied: int = 0
    merges: int = 0
    conflicts_retried: int = 0


def build_profiles(
    events: list[StreamEvent],
    *,
    store: ProfileWriter,
    definitions: tuple[ComputedTraitDefinition, ...],
    limits: IdentityLimits,
    clock: Callable[[], datetime],
    segments: tuple[CompiledSegment, ...] = (),
    suppressed: Callable[[set[str]], set[str]] = lambda keys: set(),
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
) -> BuildOutcome:
    outcome = BuildOutcome()
    pending = sorted(not_erased(events, suppressed), key=lambda event: event.sequence)
    for attempt in range(attempts):
        if not pending:
            break
        # The first read is eventually consistent (half the read units): every write is
        # conditional on what was read, so a stale read can only cost a conflict, and the
        # people it concerns are read again, consistently.
        known = store.load(batch_identities(pending), consistent=attempt > 0)
        retry: list[StreamEvent] = []
        plans = plan_batch(
            pending, known, definitions, limits=limits, now=clock(), segments=segments
        )
        for plan in plans:
            if plan.failures:
                # Not written: re-plan the person with the events before the first failure.
                outcome.failures.update(plan.failures)
                retry += [event for event in plan.events if event.record_id not in plan.failures]
                continue
            if not plan.changed:
                continue  # a replay: everything was applied before
            try:
                store.save(plan)
            except WriteConflictError:
                outcome.conflicts_retried += 1
                retry += plan.events
                continue
            except Exception as error:  # throttled, timed out...: this person's records retry
                # Safe at any point of a save: see ProfileStore.save on the order of writes.
                outcome.failures.update({event.record_id: error for event in plan.events})
                continue
            outcome.profiles_written += 1
            outcome.written.append(plan.profile.profile_id)
            now_applied = set(plan.applied)
            outcome.applied.append(
                (plan.profile, [event for event in plan.events if event.record_id in now_applied])
            )
            outcome.events_applied += len(plan.applied)
            outcome.merges += len(plan.absorbed)
        pending = sorted(retry, key=lambda event: event.sequence)
        if pending and attempt + 1 < attempts:
            sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311
    for event in pending:
        outcome.failures.setdefault(
            event.record_id, RuntimeError("the profile kept changing under us; will retry")
        )
    return outcome


def not_erased(
    events: list[StreamEvent], suppressed: Callable[[set[str]], set[str]]
) -> list[StreamEvent]:
    """Events of erased people (stored before the erasure reached every collector, still in
    the stream) must not bring them back: they are skipped, and the erasure's sweep deletes
    them from the events table."""
    identities = {event.partition: _identities(event) for event in events}
    erased = suppressed(set().union(*identities.values()) if identities else set())
    if not erased:
        return events
    return [event for event in events if not identities[event.partition] & erased]


def _identities(event: StreamEvent) -> set[str]:
    return {event.partition, *identities_of(event.message).keys}
