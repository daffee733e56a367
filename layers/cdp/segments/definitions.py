"""The definitions in force (computed traits and segments), and keeping profiles true to them
when they change while a profile is being written.

Definitions are versioned (see `cdp.storage.config`): whatever reads them gets them as they
are now, with their version. A definition change is counted before its backfill starts, so a
writer that read the old definitions and writes a profile has one race to close: the backfill
may have evaluated that profile before the write. Every writer therefore checks the version
once more after its writes (`settle`); if it moved, it evaluates what it wrote again with the
new definitions. Either the writer sees the change, or the change (and its backfill) came
after the write and sees the profile as written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cdp.profiles.builder import WriteConflictError
from cdp.profiles.computed import ComputedTraitDefinition, load_definitions
from cdp.profiles.profile import Profile, update_segments
from cdp.segments.conditions import CompiledSegment, load_segments

COMPUTED_TRAIT = "computed_trait"
SEGMENT = "segment"
ATTEMPTS = 4


@dataclass(frozen=True)
class Definitions:
    version: int
    computed: tuple[ComputedTraitDefinition, ...]
    segments: tuple[CompiledSegment, ...]


class VersionedDefinitions(Protocol):
    def version(self, *, consistent: bool = True) -> int: ...

    def current(self, *kinds: str) -> tuple[int, dict[str, list[dict[str, Any]]]]: ...


class ProfilesToEvaluate(Protocol):
    def get(self, profile_id: str, *, consistent: bool = True) -> Profile | None: ...

    def put(self, profile: Profile) -> None: ...


def in_force(config: VersionedDefinitions) -> Definitions:
    version, found = config.current(COMPUTED_TRAIT, SEGMENT)
    return Definitions(
        version=version,
        computed=load_definitions(found[COMPUTED_TRAIT]),
        segments=load_segments(found[SEGMENT]),
    )


@dataclass(frozen=True)
class Evaluated:
    written: bool
    entered: int = 0
    exited: int = 0


def reevaluate(
    store: ProfilesToEvaluate,
    profile_id: str,
    definitions: Definitions,
    now: datetime,
    profile: Profile | None = None,
) -> Evaluated:
    """Evaluate one profile's segments at `now` and write it if its memberships or due time
    changed (conditionally: a profile changed meanwhile is read again and evaluated again)."""
    for _ in range(ATTEMPTS):
        profile = profile or store.get(profile_id)
        if profile is None:
            return Evaluated(written=False)
        change, moved = update_segments(profile, definitions.segments, definitions.computed, now)
        if not change and not moved:
            return Evaluated(written=False)
        try:
            store.put(profile)
        except WriteConflictError:
            profile = None
            continue
        return Evaluated(True, len(change.entered), len(change.exited))
    return Evaluated(written=False)


def settle(
    store: ProfilesToEvaluate,
    written: Iterable[str],
    used: Definitions,
    config: VersionedDefinitions,
    now: datetime,
) -> int:
    """After writing profiles with `used`: if the definitions changed meanwhile, evaluate the
    written profiles again with the current ones. Answers how many that rewrote.

    The check reads the version strongly consistently, whatever `used` was read with: so a
    writer may read definitions eventually consistently before writing, and a change it
    missed still reaches what it wrote."""
    written = list(written)
    if not written or config.version(consistent=True) == used.version:
        return 0
    current = in_force(config)
    return sum(reevaluate(store, profile_id, current, now).written for profile_id in written)
