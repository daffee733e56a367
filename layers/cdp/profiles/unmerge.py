"""Undoing a merge: a chosen set of identities splits out of a profile into a new one, with
the events filed under them, and both people are built again from their own events.

Why rebuild: a profile is a fold of its events (traits by precedence, consent by time,
computed traits by sums and windows), and a fold cannot be taken apart; the events can. Each
event goes with the identity it is filed under. Both profiles are then built from their events
in time order, so traits, consent, computed traits and segments follow each person's own
history. The events are the events table's: those of the hot window (`event_hot_days`);
older ones are only in the lake (until `event_retention_days`), which an unmerge does not
read. What no held event explains any more (events past the hot window) stays with the
profile that keeps the id: facts are not invented for the new one, nor dropped silently.

The two sides are kept apart from then on (`apart`, each naming the other's profile id): an
event carrying identities of both never links them again, and says so on the profile (a
conflict). Neither profile holds the other's identifiers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cdp.profiles.builder import WriteConflictError
from cdp.profiles.identity import identities_of
from cdp.profiles.profile import MAX_APART, Profile, apply_event, tidy, update_segments
from cdp.profiles.timeline import PartitionReader, StoredEvent, StreamEvent
from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError, NotFoundError, StorageBusyError
from cdp.segments.definitions import Definitions

MAX_SPLIT = 95  # the split identities move in one transaction with both profiles (100 items)
MAX_UNMERGES = 20


@dataclass
class Unmerge:
    kept: Profile  # keeps the profile id and what no held event explains
    split: Profile  # the new profile of the identities split out
    identities: list[str] = field(default_factory=list)  # what moved
    # (identity, partition): events that went to one side name an identity of the other
    mentions: list[tuple[str, str]] = field(default_factory=list)


def choose_split(profile: Profile, identities: Iterable[str] | None, merge: str | None) -> set[str]:
    """The identities to split out: the ones named, or those of a recorded merge."""
    if merge is not None:
        record = next((m for m in profile.merges if m.get("profile_id") == merge), None)
        if record is None:
            raise InvalidRequestError(f"merge: no merge of profile {merge} is recorded here")
        chosen = set(record["identities"]) & set(profile.identities)
    else:
        chosen = set(identities or ())
        unknown = sorted(chosen - set(profile.identities))
        if unknown:
            raise InvalidRequestError(
                f"identities: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} "
                "not identities of this profile"
            )
    if not chosen:
        raise InvalidRequestError("identities: name at least one identity to split out")
    if chosen >= set(profile.identities):
        raise InvalidRequestError(
            "identities: the profile must keep at least one identity; to remove a person "
            "entirely, erase them"
        )
    if len(chosen) > MAX_SPLIT:
        raise InvalidRequestError(f"identities: at most {MAX_SPLIT} at a time")
    return chosen


def plan_unmerge(
    profile: Profile,
    split: set[str],
    stored: list[StoredEvent],
    *,
    definitions: Definitions,
    now: datetime,
    new_profile_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> Unmerge:
    """Both profiles after splitting `split` out of `profile`, from the events `stored` under
    the profile's identities and where they are named in other people's partitions.

    Each event goes to the side of its strongest identity, as the builder applied it: an
    event filed under a split identity but naming a stronger one of the kept side belongs to
    the kept side, and one whose strongest identity is nobody's here (applied to another
    profile, its link to this one refused) belongs to neither."""
    now_iso = iso(now)
    kept = _fresh(profile, profile.profile_id, profile.created_at, set(profile.identities) - split)
    out = _fresh(profile, new_profile_id(), now_iso, split)
    mentions: set[tuple[str, str]] = set()
    explained: set[str] = set()
    unique = {(e.partition, e.message_id): e for e in stored}.values()
    for stored_event in sorted(unique, key=lambda e: (e.timestamp, e.message_id)):
        message = stored_event.message()
        named = identities_of(message).keys or (stored_event.partition,)
        side = out if named[0] in split else kept if named[0] in kept.identities else None
        filed = stored_event.partition
        if filed in profile.identities:  # ours: what it names may now be the other side's
            crossing = (key for key in named if key in profile.identities)
            mentions |= {(key, filed) for key in crossing if (key in split) != (filed in split)}
        if side is None:
            continue
        explained.add(stored_event.message_id)
        event = StreamEvent(stored_event.partition, 0, message, stored_event.source)
        apply_event(side, event, definitions.computed, now_iso)
    _keep_the_unexplained(profile, kept, explained)
    for side, other in ((kept, out), (out, kept)):
        side.watermarks = {
            p: list(m) for p, m in profile.watermarks.items() if p in side.identities
        }
        side.apart = sorted({*side.apart, other.profile_id})[:MAX_APART]
        tidy(side, definitions.computed, now)
        update_segments(side, definitions.segments, definitions.computed, now)
    kept.unmerges = [
        *profile.unmerges,
        {"at": now_iso, "profile_id": out.profile_id, "identities_moved": len(split)},
    ][-MAX_UNMERGES:]
    out.unmerges = [{"at": now_iso, "split_from": profile.profile_id, "identities": sorted(split)}]
    out.merges = [m for m in profile.merges if set(m.get("identities", ())) & split]
    kept.merges = [m for m in profile.merges if not set(m.get("identities", ())) & split]
    return Unmerge(kept=kept, split=out, identities=sorted(split), mentions=sorted(mentions))


def _fresh(profile: Profile, profile_id: str, created_at: str, identities: set[str]) -> Profile:
    """An empty profile holding `identities` (as linked in `profile`), version kept."""
    return Profile(
        profile_id=profile_id,
        created_at=created_at,
        identities={key: profile.identities[key] for key in sorted(identities)},
        conflicts=list(profile.conflicts) if profile_id == profile.profile_id else [],
        merged_from=list(profile.merged_from) if profile_id == profile.profile_id else [],
        apart=list(profile.apart) if profile_id == profile.profile_id else [],
        version=profile.version if profile_id == profile.profile_id else 0,
    )


def _keep_the_unexplained(profile: Profile, kept: Profile, explained: set[str]) -> None:
    """Traits and consent decisions whose events are no longer held stay where they were."""
    for name, by_kind in profile.traits.items():
        for kind, value in by_kind.items():
            if value.message_id not in explained and kind not in kept.traits.get(name, {}):
                kept.traits.setdefault(name, {})[kind] = value
    for purpose, decision in profile.consent.items():
        if decision.get("message_id") not in explained and purpose not in kept.consent:
            kept.consent[purpose] = decision
    known = {(d.get("purpose"), d.get("message_id")) for d in kept.consent_history}
    for decision in profile.consent_history:
        key = (decision.get("purpose"), decision.get("message_id"))
        if decision.get("message_id") not in explained and key not in known:
            kept.consent_history.append(decision)
    kept.consent_history.sort(key=lambda d: (d["at"], d["message_id"], d["purpose"]))


def unmerge_answer(result: Unmerge) -> dict[str, Any]:
    return {
        "success": True,
        "kept": {
            "profile_id": result.kept.profile_id,
            "identities": sorted(result.kept.identities),
        },
        "split": {"profile_id": result.split.profile_id, "identities": result.identities},
    }


class UnmergeStore(Protocol):
    def get(self, profile_id: str, *, consistent: bool = True) -> Profile | None: ...

    def named_in(self, identities: Iterable[str]) -> set[str]: ...

    def record_mentions(self, mentions: Iterable[tuple[str, str]]) -> None: ...

    def save_unmerge(self, kept: Profile, split: Profile, identities: list[str]) -> None: ...


ATTEMPTS = 4


def unmerge_profile(
    profile_id: str,
    *,
    identities: Iterable[str] | None,
    merge: str | None,
    store: UnmergeStore,
    read: PartitionReader,
    definitions: Callable[[], Definitions],
    now: Callable[[], datetime],
) -> Unmerge:
    """Split identities out of a profile and write both people, re-reading and planning again
    when the profile changed meanwhile (an event for it, a merge)."""
    for _ in range(ATTEMPTS):
        profile = store.get(profile_id)
        if profile is None:
            raise NotFoundError(
                "the profile is gone (merged or erased meanwhile); look it up again"
            )
        split = choose_split(profile, identities, merge)
        partitions = sorted({*profile.identities, *store.named_in(profile.identities)})
        stored = [event for partition in partitions for event in read(partition)]
        result = plan_unmerge(profile, split, stored, definitions=definitions(), now=now())
        store.record_mentions(result.mentions)  # first: harmless if the unmerge fails
        try:
            store.save_unmerge(result.kept, result.split, result.identities)
        except WriteConflictError:
            continue
        return result
    raise StorageBusyError("the profile keeps changing; try the unmerge again in a moment")
