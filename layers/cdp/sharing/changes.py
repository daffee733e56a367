"""What changed about a person, as events for the systems that act on it.

The publisher compares the old and new images of a profile (the profiles table's stream) and
emits, to the event bus:

- `segment.entered` / `segment.exited`: one per segment joined or left;
- `profile.updated`: when identities, trait values that count, or consent changed (computed
  values alone change with nearly every event and are not announced: look them up);
- `profile.merged`: a profile was merged into another (its id is now a redirect);
- `profile.deleted`: a profile was erased;
- `profile.unmerged`: identities merged by mistake were split out into another profile (which
  announces itself with `profile.updated` and its segment entries).

Nothing is emitted when nothing a consumer cares about changed (a page view that only moved a
counter). Every event carries a deterministic `id` (the same on a redelivery, so consumers can
drop duplicates: delivery is at least once), the profile's identities, and the consent
purposes it has granted.

Routing follows consent: `for_purposes` names the purposes whose destinations receive the
event (each destination's rule matches its purpose there). It is what the person has granted;
and, once, in the change that withdraws a purpose, that purpose too, for the events that say
so: the segments left, and a `profile.updated` carrying only the withdrawal. After that the
purpose's destinations hear nothing more of the person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cdp.profiles import traits
from cdp.profiles.identity import EMAIL, USER_ID, split_identity
from cdp.profiles.traits import TraitValue

SOURCE = "cdp"


@dataclass(frozen=True)
class Published:
    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class MembershipChanges:
    """What the membership index must record: (segment, profile, entered at) and exits."""

    entered: list[tuple[str, str, str]]
    exited: list[tuple[str, str]]


def changes(
    profile_id: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    *,
    merged_into: str | None,
    version: int,
    now_iso: str,
    old_at: str | None = None,
) -> tuple[list[Published], MembershipChanges]:
    """Events and index changes for one profile item change. `old`/`new` are profile states
    (None when the item held none: created, deleted, or a redirect); `now_iso` is when the new
    one was written, `old_at` when the old one was (what counted then: a fact that expired in
    between is a change)."""
    old_segments: dict[str, str] = (old or {}).get("segments", {})
    new_segments: dict[str, str] = (new or {}).get("segments", {})
    state = new or old or {}
    granted = _granted(state)
    withdrawn = sorted(set(_granted(old or {})) - set(granted)) if new is not None else []
    common = {
        "profile_id": profile_id,
        "version": version,
        "identities": _identities(state),
        "consented_purposes": granted,
        "for_purposes": granted,
    }
    # The events that tell a withdrawn purpose's destinations that the person is gone from
    # them; nothing else reaches those destinations.
    leaving = {**common, "for_purposes": sorted({*granted, *withdrawn})}
    if withdrawn:
        leaving["withdrawn_purposes"] = withdrawn
    events: list[Published] = []
    if merged_into is not None and old is not None:
        events.append(_event("profile.merged", {**common, "merged_into": merged_into}))
    elif new is None and old is not None:
        events.append(_event("profile.deleted", {"profile_id": profile_id, "version": version}))
    index = MembershipChanges(
        entered=[
            (segment, profile_id, at)
            for segment, at in sorted(new_segments.items())
            if segment not in old_segments
        ],
        exited=[
            (segment, profile_id) for segment in sorted(old_segments) if segment not in new_segments
        ],
    )
    if new is not None:
        for segment, _, at in index.entered:
            events.append(_event("segment.entered", {**common, "segment_id": segment, "at": at}))
        for segment, _ in index.exited:
            events.append(
                _event("segment.exited", {**leaving, "segment_id": segment, "at": now_iso})
            )
        moved = _typed(
            [key for key in (old or {}).get("identities", {}) if key not in state["identities"]]
        )
        for split in new.get("unmerges", [])[len((old or {}).get("unmerges", [])) :]:
            if "profile_id" in split:
                events.append(
                    _event(
                        "profile.unmerged",
                        {**common, "split_into": split["profile_id"], "identities_moved": moved},
                    )
                )
        updated = _profile_changes(old, new, old_at or now_iso, now_iso)
        if updated:
            events.append(_event("profile.updated", {**common, "changed": updated}))
        if withdrawn:
            notice = {**leaving, "for_purposes": withdrawn, "changed": {"consent": new["consent"]}}
            events.append(_event("profile.updated", notice, part="withdrawal"))
    return events, index


def _event(detail_type: str, detail: dict[str, Any], part: str = "") -> Published:
    basis = (
        f"{detail_type}|{detail['profile_id']}|{detail['version']}|{detail.get('segment_id', '')}"
        + (f"|{part}" if part else "")
    )
    event_id = hashlib.sha256(basis.encode()).hexdigest()[:32]
    return Published(detail_type, {"id": event_id, "type": detail_type, **detail})


def _identities(state: dict[str, Any]) -> dict[str, Any]:
    """The identifiers destinations match people by (user id, e-mails), not device ids."""
    user_id = None
    emails = []
    for key in sorted(state.get("identities", {})):
        kind, value = split_identity(key)
        if kind == USER_ID:
            user_id = value
        elif kind == EMAIL:
            emails.append(value)
    return {"user_id": user_id, "emails": emails}


def _typed(keys: list[str]) -> list[dict[str, str]]:
    return [{"type": kind, "value": value} for kind, value in map(split_identity, keys)]


def _granted(state: dict[str, Any]) -> list[str]:
    consent = state.get("consent", {})
    return sorted(
        purpose
        for purpose, decision in consent.items()
        if isinstance(decision, dict) and decision.get("state") == "granted"
    )


def traits_now(state: dict[str, Any] | None, now_iso: str) -> dict[str, Any]:
    """The trait values that count at `now_iso`."""
    table = {
        name: {kind: TraitValue.from_json(value) for kind, value in by_kind.items()}
        for name, by_kind in (state or {}).get("traits", {}).items()
    }
    return {name: value.value for name, (_, value) in traits.current_traits(table, now_iso).items()}


def _profile_changes(
    old: dict[str, Any] | None, new: dict[str, Any], old_at: str, new_at: str
) -> dict[str, Any]:
    before, after = traits_now(old, old_at), traits_now(new, new_at)
    changed: dict[str, Any] = {}
    trait_changes = {
        name: after.get(name)
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }
    if trait_changes:
        changed["traits"] = trait_changes
    old_ids = sorted((old or {}).get("identities", {}))
    new_ids = sorted(new.get("identities", {}))
    if old_ids != new_ids:
        changed["identities_added"] = [
            {"type": kind, "value": value}
            for kind, value in (split_identity(key) for key in new_ids if key not in old_ids)
        ]
        removed = [key for key in old_ids if key not in new_ids]
        if removed:  # an unmerge moved them to another profile
            changed["identities_removed"] = _typed(removed)
    if _choices((old or {}).get("consent", {})) != _choices(new.get("consent", {})):
        changed["consent"] = new.get("consent", {})
    return changed


def _choices(consent: dict[str, Any]) -> dict[str, Any]:
    """What a person chose, per purpose: the state and the consent text's version. Trackers
    repeat the same choice on every message; a repeat only moves the decision's time, and
    is no change to announce (it would be an EventBridge event for nearly every event)."""
    return {
        purpose: (decision.get("state"), decision.get("version"))
        for purpose, decision in consent.items()
        if isinstance(decision, dict)
    }
