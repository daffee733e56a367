"""The right to be forgotten: erase a person everywhere, keep them out, sweep once more.

An erasure suppresses the person's identities first (keyed hashes; late events for them are
then dropped at the collector and skipped by the profile builder), deletes their events,
refused messages, identity links, profile and merged-away profiles, and queues a sweep for a
few minutes later: collectors learn of a suppression within a minute, so the sweep deletes
whatever arrived in that minute, including a profile a late event may have started again.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from cdp.profiles.identity import comparable, split_identity
from cdp.profiles.profile import Profile

SWEEP_DELAY_SECONDS = 300


@dataclass
class ErasureCounts:
    events: int = 0
    events_redacted: int = 0  # other people's events that named the person
    profiles_redacted: int = 0  # and the profiles those events built
    quarantined: int = 0
    identities: int = 0
    profiles: int = 0

    def add(self, other: ErasureCounts) -> None:
        self.events += other.events
        self.events_redacted += other.events_redacted
        self.profiles_redacted += other.profiles_redacted
        self.quarantined += other.quarantined
        self.identities += other.identities
        self.profiles += other.profiles


class Eraser(Protocol):
    def erase_data(self, identities: Iterable[str]) -> ErasureCounts: ...

    def erase_profiles(self, profile_ids: Iterable[str]) -> int: ...

    def owner(self, identity: str) -> str | None: ...


@dataclass(frozen=True)
class SweepTask:
    identities: list[str]
    profile_ids: list[str]
    erased_at: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SweepTask:
        return cls(**json.loads(text))


def erase_person(
    profile: Profile,
    *,
    suppress: Callable[[list[str]], None],
    eraser: Eraser,
    queue_sweep: Callable[[SweepTask], None],
    now_iso: str,
) -> ErasureCounts:
    identities = sorted(profile.identities)
    profile_ids = [profile.profile_id, *profile.merged_from]
    suppress(identities)
    counts = eraser.erase_data(identities)
    counts.profiles = eraser.erase_profiles(profile_ids)
    queue_sweep(SweepTask(identities=identities, profile_ids=profile_ids, erased_at=now_iso))
    return counts


def sweep(task: SweepTask, eraser: Eraser) -> ErasureCounts:
    """Erase again what may have arrived since the erasure."""
    started_again = {owner for identity in task.identities if (owner := eraser.owner(identity))}
    counts = eraser.erase_data(task.identities)
    counts.profiles = eraser.erase_profiles({*task.profile_ids, *started_again})
    return counts


def mentions(payload: str, identities: Iterable[str]) -> bool:
    """Whether a refused message names one of the identities, in any form: any case, Unicode
    form or spacing, as text or as a number, in any field (the quarantine keeps what clients
    sent, unnormalised, and even what is not JSON at all)."""
    wanted = {comparable(split_identity(identity)[1]) for identity in identities}
    wanted.discard("")
    addresses = {value for value in wanted if "@" in value}
    try:
        texts: Iterable[str] = _texts(json.loads(payload))
    except ValueError:
        texts = [*_quoted(payload), payload]
    for text in texts:
        found = comparable(text)
        if found in wanted or any(address in found for address in addresses):
            return True
    return False


ERASED = "[erased]"


def scrub(value: Any, identities: Iterable[str]) -> Any:
    """A copy of a message with every value that is one of the identities, in any form, or
    holds one of their e-mail addresses, replaced by `[erased]`."""
    hit = _finder(identities)

    def clean(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: clean(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [clean(inner) for inner in item]
        return ERASED if hit(item) else item

    return clean(value)


def forget_in_profile(profile: Profile, identities: Iterable[str]) -> bool:
    """Take erased identifiers out of another person's profile, built from events of theirs
    that named them (a shared device, a mistaken merge the erasure took apart): traits that
    hold one go, as do notes that list one. Answers whether anything changed."""
    erased = list(identities)
    named = _finder(erased)
    before = copy.deepcopy(profile.to_state())
    for name, by_kind in list(profile.traits.items()):
        kept = {kind: value for kind, value in by_kind.items() if not _holds(value.value, named)}
        if kept:
            profile.traits[name] = kept
        else:
            del profile.traits[name]
    profile.identities = {key: at for key, at in profile.identities.items() if not named(key)}
    profile.watermarks = {key: mark for key, mark in profile.watermarks.items() if not named(key)}
    profile.conflicts = [entry for entry in profile.conflicts if not _holds(entry, named)]
    profile.merges = scrub([_without(entry, named) for entry in profile.merges], erased)
    profile.unmerges = scrub([_without(entry, named) for entry in profile.unmerges], erased)
    return profile.to_state() != before


def _without(note: dict[str, Any], named: Callable[[Any], bool]) -> dict[str, Any]:
    """A merge or unmerge note without the identities it lists that are erased."""
    if "identities" not in note:
        return note
    return {**note, "identities": [key for key in note["identities"] if not named(key)]}


def _finder(identities: Iterable[str]) -> Callable[[Any], bool]:
    """Whether a scalar is one of the identities' values, in any form (`email:…` too), or
    holds one of their e-mail addresses."""
    wanted = {comparable(split_identity(identity)[1]) for identity in identities}
    wanted.discard("")
    addresses = {text for text in wanted if "@" in text}

    def hit(item: Any) -> bool:
        if isinstance(item, str):
            found = comparable(item)
            return (
                found in wanted
                or comparable(found.partition(":")[2]) in wanted
                or any(address in found for address in addresses)
            )
        if isinstance(item, int | float) and not isinstance(item, bool):
            return next(_texts(item)) in wanted
        return False

    return hit


def _holds(value: Any, named: Callable[[Any], bool]) -> bool:
    if isinstance(value, dict):
        return any(named(key) or _holds(inner, named) for key, inner in value.items())
    if isinstance(value, list):
        return any(_holds(inner, named) for inner in value)
    return named(value)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield str(int(value)) if float(value).is_integer() else str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?)')


def _quoted(text: str) -> Iterator[str]:
    """The strings and numbers of a text that is not valid JSON, as well as they can be read."""
    for quoted, number in _QUOTED.findall(text):
        if number:
            yield number
            continue
        try:
            yield json.loads(f'"{quoted}"')
        except ValueError:
            yield quoted
