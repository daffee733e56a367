"""The 360° profile: everything stored about one person on one page, with where each fact
came from. Pure: no AWS, no clock of its own; `now` decides what has expired and what the
computed traits and segment conditions read.

The document (`profile_sheet`), times as the platform writes them (`cdp.runtime.clock.iso`):

- `profile_id`, `masked` (false here; `cdp.console.mask.masked_sheet` makes it true),
  `as_of` (`now`), `created_at`, `first_seen`, `last_seen`, `event_count`.
- `identities`: `[{type, value, linked_at, via}]`, by type and value. `linked_at` is the time of
  the first event that linked it; `via` says how it came to this profile:
  `{"how": "first_seen"}` (an event of this profile carried it),
  `{"how": "merge", "at", "profile_id", "message_id", "event_time"}` (the merge of another
  profile that held it, and the event that caused the merge: `message_id` and `event_time` are
  absent when none is recorded), or `{"how": "unmerge", "at", "split_from"}` (it was split out
  of another profile). After merges of merges, the latest one is the one that brought it here.
- `ignored_identities`: `[{type, value, reason, first_seen}]`, placeholders events carried
  ("undefined") that were never linked.
- `traits`: `{"declared": {...}, "imported": {...}, "observed": {...}}`, every value each kind
  of source gave, by name: `{value, source, set_at, message_id, expires_at, expired, counts}`.
  `counts` marks the one value per trait that is the trait (highest-ranked kind, not expired;
  a `null` that counts is a removal); declared values also have `ask_again`: the person's
  statement has expired and is to be asked again.
- `computed`: `{name: value}`, the computed traits at `now`, as the Profile API answers them.
- `segments`: `[{id, name, since, explanation}]`, by id, for each segment the profile is in:
  `name` from the definitions in force (null for a segment no longer defined), `since` when it
  entered, `explanation` why (`cdp.segments.conditions.explain_membership`: each condition
  with the profile's actual value at `now`; `pending` when the stored membership is about to
  change), null for a segment no longer defined.
- `consent`: `{"current": {purpose: {state, at, version, source}}, "history": [...]}`, history
  oldest first, each `{purpose, state, at, source, message_id, version}`.
- `merges`, `unmerges`, `conflicts`: the profile's records as stored, oldest first. They name
  identities in their text form (`email:ada@example.com`): `merges[].identities` and
  `filed_under`, `unmerges[].identities`, `conflicts[].identity`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cdp.profiles.computed import ComputedTraitDefinition
from cdp.profiles.identity import split_identity
from cdp.profiles.profile import PROVENANCE_KINDS, Profile, facts_of, profile_view
from cdp.profiles.traits import KINDS, TraitValue, effective
from cdp.runtime.clock import iso
from cdp.segments.conditions import CompiledSegment, evaluate, explain_membership


def profile_sheet(
    profile: Profile,
    *,
    definitions: tuple[ComputedTraitDefinition, ...],
    segments: tuple[CompiledSegment, ...],
    now: datetime,
) -> dict[str, Any]:
    """The 360° profile at `now` (the module's docstring describes every field).
    `segments` are the definitions in force, in dependency order (`load_segments`)."""
    view = profile_view(profile, definitions, now)
    return {
        "profile_id": profile.profile_id,
        "masked": False,
        "as_of": iso(now),
        "created_at": profile.created_at,
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "event_count": profile.event_count,
        "identities": _identities(profile),
        "ignored_identities": view["ignored_identities"],
        "traits": _traits(profile, iso(now)),
        "computed": view["computed"],
        "segments": _segments(profile, definitions, segments, now),
        "consent": {
            "current": view["consent"],
            "history": copy.deepcopy(profile.consent_history),
        },
        "merges": copy.deepcopy(profile.merges),
        "unmerges": copy.deepcopy(profile.unmerges),
        "conflicts": copy.deepcopy(profile.conflicts),
    }


def _identities(profile: Profile) -> list[dict[str, Any]]:
    arrivals = _arrivals(profile.merges, profile.unmerges)
    answer = []
    for key in sorted(profile.identities):
        kind, value = split_identity(key)
        answer.append(
            {
                "type": kind,
                "value": value,
                "linked_at": profile.identities[key],
                "via": dict(arrivals.get(key, {"how": "first_seen"})),
            }
        )
    return answer


def _arrivals(
    merges: Iterable[Mapping[str, Any]], unmerges: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Identity -> the latest merge or unmerge that brought it (records of merges into an
    absorbed profile travel with it, so one identity can be in several)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    records = [
        *((record, _merge_via(record)) for record in merges),
        *(
            (record, {"how": "unmerge", "at": record.get("at"), "split_from": split_from})
            for record in unmerges
            if (split_from := record.get("split_from")) is not None
        ),
    ]
    for record, via in records:
        at = str(record.get("at", ""))
        for key in record.get("identities", ()):
            known = found.get(key)
            if known is None or at >= known[0]:
                found[key] = (at, via)
    return {key: via for key, (_, via) in found.items()}


def _merge_via(record: Mapping[str, Any]) -> dict[str, Any]:
    via = {"how": "merge", "at": record.get("at"), "profile_id": record.get("profile_id")}
    for field in ("message_id", "event_time"):
        if field in record:
            via[field] = record[field]
    return via


def _traits(profile: Profile, now_iso: str) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in PROVENANCE_KINDS}
    for name, by_kind in sorted(profile.traits.items()):
        winner = effective(by_kind, now_iso)
        for kind in KINDS:  # highest rank first, as `effective` reads them
            value = by_kind.get(kind)
            if value is not None:
                counts = winner is not None and winner[0] == kind
                groups.setdefault(kind, {})[name] = _trait(kind, value, now_iso, counts)
    return {kind: groups[kind] for kind in sorted(groups, key=KINDS.index)}


def _trait(kind: str, value: TraitValue, now_iso: str, counts: bool) -> dict[str, Any]:
    expired = not value.live(now_iso)
    entry = {
        "value": copy.deepcopy(value.value),
        "source": value.source,
        "set_at": value.at,
        "message_id": value.message_id,
        "expires_at": value.expires_at,
        "expired": expired,
        "counts": counts,
    }
    if kind == "declared":
        entry["ask_again"] = expired
    return entry


def _segments(
    profile: Profile,
    definitions: tuple[ComputedTraitDefinition, ...],
    segments: tuple[CompiledSegment, ...],
    now: datetime,
) -> list[dict[str, Any]]:
    if not profile.segments:
        return []
    defined = {segment.id: segment for segment in segments}
    facts = facts_of(profile, definitions, now)
    if segments:
        evaluate(segments, facts)
    answer = []
    for segment_id, since in sorted(profile.segments.items()):
        segment = defined.get(segment_id)
        answer.append(
            {
                "id": segment_id,
                "name": segment.definition.name if segment is not None else None,
                "since": since,
                "explanation": (
                    # the actual values it shows are the profile's own: a copy, not them
                    copy.deepcopy(explain_membership(segment, facts, profile, None, now=now))
                    if segment is not None
                    else None
                ),
            }
        )
    return answer
