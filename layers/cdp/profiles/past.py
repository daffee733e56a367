"""A computed trait's past, from the data lake: when a definition is added or changed, its
state counts the events received from `counts_from` as they arrive (`cdp.profiles.computed`);
a backfill adds those received before, so the trait counts the whole retention, each event
once.

The work is split by identity (a stable hash into `parts`), since the lake files each event
under one identity, and every event of an identity goes to the same task. A task folds its
identities' events into one state each, then adds each to the profile that holds the identity
now, once: the state keeps a mark per identity whose past it holds, a redelivered task finds
the mark and adds nothing, and a merge keeps both sides' marks (`computed.combine`). A task
that runs short of time hands the rest of its identities (those after the last one written)
to a task of its own part, which reads the lake again. An unmerge sends a task of its two
people's identities only: both are built again from the events table, without their pasts.

The lake must hold every event received before `counts_from`: a backfill starts once the
lake's writer has had time to commit them (`ready_at`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import TYPE_CHECKING, Any, Protocol

from cdp.profiles import computed
from cdp.profiles.computed import ComputedTraitDefinition, EventFacts, State
from cdp.runtime.clock import iso, parse
from cdp.runtime.errors import InvalidRequestError, StorageBusyError

if TYPE_CHECKING:  # the admin API starts backfills: it need not load the builder's code
    from cdp.profiles.profile import Profile
    from cdp.profiles.resolution import Known
    from cdp.segments.definitions import Definitions

PARTS = 4
PAGE = 100  # identities resolved and written together
ATTEMPTS = 4
# What a task must have left to start another page (a page writes up to PAGE profiles).
MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class PastTask:
    trait_id: str
    counts_from: str  # the definition's version: a newer one supersedes this backfill
    part: int
    parts: int
    after: str | None = None  # this part's identities up to this one are done
    # Only these identities, not a part of everyone's: the two people of an unmerge, each
    # built again from the events table, which holds only what arrived from `counts_from`.
    identities: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PastTask:
        fields = json.loads(text)
        return cls(**{**fields, "identities": tuple(fields.get("identities", ()))})

    def holds(self, identity: str) -> bool:
        if self.identities:
            return identity in self.identities
        return part_of(identity, self.parts) == self.part


def first_tasks(trait_id: str, counts_from: str, parts: int = PARTS) -> list[PastTask]:
    return [PastTask(trait_id, counts_from, part, parts) for part in range(parts)]


def tasks_for_people(
    definitions: Iterable[ComputedTraitDefinition], identities: Iterable[str]
) -> list[PastTask]:
    """The pasts of these identities for every trait that counts from a moment (an unmerge
    builds both people again from the events table: the pasts are to be added again)."""
    chosen = tuple(sorted(set(identities)))
    return [
        PastTask(d.id, d.counts_from, 0, 1, identities=chosen)
        for d in definitions
        if d.counts_from is not None
    ]


def ready_at(counts_from: str, settle: timedelta) -> datetime:
    """When the lake holds every event received before `counts_from`: its writer commits
    within its batching window, `settle` allowing for that and a retry."""
    return parse(counts_from) + settle


def part_of(identity: str, parts: int) -> int:
    return int.from_bytes(blake2b(identity.encode(), digest_size=4).digest(), "big") % parts


def fold(
    definition: ComputedTraitDefinition, rows: Iterable[Mapping[str, Any]]
) -> dict[str, State]:
    """Each identity's state from its events received before the definition counts from
    (lake rows: `identity`, `type`, `event`, `timestamp`, `received_at`, `properties`), the
    same fold the builder makes of events as they arrive."""
    states: dict[str, State] = {}
    for row in rows:
        received = row["received_at"]
        received_at = iso(received.replace(tzinfo=UTC)) if received is not None else None
        if not definition.matches(row["type"], row["event"]) or computed.counts(
            definition, received_at
        ):
            continue  # not the definition's, or counted as it arrived
        identity = row["identity"]
        state = states.get(identity)
        if state is None:
            state = states[identity] = computed.state_to_update(definition, {})
        properties = json.loads(row["properties"]) if row["properties"] else None
        timestamp = iso(row["timestamp"].replace(tzinfo=UTC))
        facts = EventFacts(row["type"], row["event"], timestamp, properties)
        computed.update(definition, state, facts)
    return states


class PastStore(Protocol):
    def load(self, identities: Iterable[str], *, consistent: bool = True) -> Known: ...

    def put(self, profile: Profile) -> None: ...


@dataclass
class PastOutcome:
    identities: int = 0  # whose past was folded
    added: int = 0  # pasts added to a profile now (not before)
    unowned: int = 0  # identities no profile holds now (erased, never built)
    written: list[str] = field(default_factory=list)  # profile ids
    next_task: PastTask | None = None


def add_pasts(
    task: PastTask,
    pasts: Mapping[str, State],
    store: PastStore,
    *,
    definitions: Definitions,
    now: datetime,
    time_left: Callable[[], timedelta] = lambda: timedelta.max,
) -> PastOutcome:
    """Add each identity's past to its profile, page by page in identity order, until done
    or short of time (then `next_task` holds the rest)."""
    definition = next(d for d in definitions.computed if d.id == task.trait_id)
    ordered = sorted(identity for identity in pasts if task.after is None or identity > task.after)
    outcome = PastOutcome(identities=len(ordered))
    for start in range(0, len(ordered), PAGE):
        if start and time_left() < MARGIN:
            outcome.next_task = replace(task, after=ordered[start - 1])
            outcome.identities = start
            return outcome
        page = {identity: pasts[identity] for identity in ordered[start : start + PAGE]}
        _add_page(definition, page, store, definitions=definitions, now=now, outcome=outcome)
    return outcome


def _add_page(
    definition: ComputedTraitDefinition,
    page: dict[str, State],
    store: PastStore,
    *,
    definitions: Definitions,
    now: datetime,
    outcome: PastOutcome,
) -> None:
    """Write the page's pasts into their profiles, each profile once; a profile changed
    meanwhile (an event, a merge) is read again with its identities' owners."""
    from cdp.profiles.builder import WriteConflictError
    from cdp.profiles.profile import tidy, update_segments

    waiting = dict(page)
    for _ in range(ATTEMPTS):
        known = store.load(waiting, consistent=True)
        by_profile: dict[str, list[str]] = {}
        for identity in waiting:
            owner = known.owner(identity)
            profile = known.profiles.get(owner) if owner else None
            if profile is None or identity not in profile.identities:
                outcome.unowned += 1
                continue
            by_profile.setdefault(profile.profile_id, []).append(identity)
        retry: dict[str, State] = {}
        for profile_id, identities in by_profile.items():
            profile = known.profiles[profile_id]
            state = computed.state_to_update(definition, profile.computed)
            added = sum(
                computed.add_past(definition, state, identity, waiting[identity])
                for identity in identities
            )
            if not added:
                continue
            tidy(profile, definitions.computed, now)
            update_segments(profile, definitions.segments, definitions.computed, now)
            try:
                store.put(profile)
            except WriteConflictError:
                retry |= {identity: waiting[identity] for identity in identities}
                continue
            outcome.added += added
            outcome.written.append(profile_id)
        if not retry:
            return
        waiting = retry
    raise StorageBusyError("profiles kept changing while their past was added; retried later")


class ProgressRecords(Protocol):
    def start(self, task_id: str, version: str, parts: int, *, at: str) -> None: ...

    def get(self, task_id: str) -> dict[str, Any] | None: ...


class Tasks(Protocol):
    def send(self, bodies: list[str], *, delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class PastProgress:
    trait_id: str
    counts_from: str
    status: str  # waiting (for the lake to hold the past), running or done
    starts_at: str
    parts: int
    parts_done: int
    identities: int
    started_at: str


class PastBackfills:
    """Backfills of computed traits' pasts as the admin API starts and shows them; the
    computed_backfill function runs their tasks."""

    def __init__(
        self,
        progress: ProgressRecords,
        tasks: Tasks,
        *,
        settle: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.progress, self.tasks, self.settle, self.clock = progress, tasks, settle, clock

    def start(self, definition: ComputedTraitDefinition) -> PastProgress:
        """Start one, unless one of this version of the definition is under way; one that is
        done may run again, and adds nothing it added before."""
        counts_from = _counts_from(definition)
        under_way = self.get(definition.id)
        if under_way and under_way.counts_from == counts_from and under_way.status != "done":
            return under_way
        self.progress.start(definition.id, counts_from, PARTS, at=iso(self.clock()))
        # A task that comes before the lake is ready waits in the queue (the worker says when)
        self.tasks.send([task.to_json() for task in first_tasks(definition.id, counts_from)])
        started = self.get(definition.id)
        assert started is not None  # just written
        return started

    def get(self, trait_id: str) -> PastProgress | None:
        found = self.progress.get(trait_id)
        if found is None:
            return None
        ready = ready_at(found["version"], self.settle)
        waiting = found["status"] == "running" and self.clock() < ready
        return PastProgress(
            trait_id=trait_id,
            counts_from=found["version"],
            status="waiting" if waiting else found["status"],
            starts_at=iso(ready),
            parts=found["parts"],
            parts_done=found["parts_done"],
            identities=found["evaluated"],
            started_at=found["started_at"],
        )


def _counts_from(definition: ComputedTraitDefinition) -> str:
    if definition.type == "days_since":
        raise InvalidRequestError(
            f"{definition.id} is worked out from other values when asked; it has no past to add"
        )
    if definition.counts_from is None:
        raise InvalidRequestError(
            f"{definition.id} is a default that has counted every event since the platform "
            "started; there is no past to add"
        )
    return definition.counts_from
