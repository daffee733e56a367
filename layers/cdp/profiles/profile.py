"""The merged profile of one person: identities, traits with provenance, computed traits.

`Profile` is the stored state; `apply_event` folds one event into it, `absorb` merges another
profile into it, and `profile_view` renders what the Profile API answers at a given moment.
All three are pure: no AWS, no clock of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress
from typing import Any

from cdp.profiles import computed, consent, traits
from cdp.profiles.computed import ComputedTraitDefinition, EventFacts
from cdp.profiles.identity import identity_type, ignored_identities, split_identity
from cdp.profiles.timeline import StreamEvent
from cdp.profiles.traits import TraitTable, TraitValue
from cdp.runtime.clock import from_epoch, iso, parse
from cdp.segments.conditions import CompiledSegment, Facts, evaluate, next_change

MAX_CONFLICTS = 20
MAX_IGNORED = 20
MAX_MERGES = 50
MAX_APART = 200
MAX_MERGED_FROM = 200
MAX_GROUPS = 20
WATERMARK_DAYS = 2  # stream records live 24 hours; older watermarks can never be needed
PROVENANCE_KINDS = ("declared", "imported", "observed")


@dataclass
class Profile:
    profile_id: str
    created_at: str
    identities: dict[str, str] = field(default_factory=dict)  # identity -> linked at
    traits: TraitTable = field(default_factory=dict)
    computed: dict[str, computed.State] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # groupId -> last seen in a group call
    first_seen: str | None = None
    last_seen: str | None = None
    last_received: str | None = None  # when the newest event arrived: retention counts from it
    event_count: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # Placeholder identifiers its events carried ("undefined"), never linked: key -> first seen
    ignored: dict[str, str] = field(default_factory=dict)
    # Events-table partition -> [highest applied stream sequence number, when]: what makes a
    # replayed stream batch a no-op. A partition's records reach the builder in sequence order
    # (one shard at a time, parents before children), and the builder never applies a record
    # after one of the same profile that failed, so everything at or below the mark is applied.
    watermarks: dict[str, list[Any]] = field(default_factory=dict)
    consent: dict[str, Any] = field(default_factory=dict)  # purpose -> newest decision
    consent_history: list[dict[str, Any]] = field(default_factory=list)
    merged_from: list[str] = field(default_factory=list)  # profile ids merged into this one
    # Each merge into this profile: when, which profile and identities, the event that did it
    merges: list[dict[str, Any]] = field(default_factory=list)
    # Each unmerge of this profile (identities split out into another), newest last
    unmerges: list[dict[str, Any]] = field(default_factory=list)
    # Profiles an unmerge split from this person (ids): never joined with it again
    apart: list[str] = field(default_factory=list)
    segments: dict[str, str] = field(default_factory=dict)  # segment id -> when it entered
    # The next moment time alone could change a segment membership (see cdp.segments.conditions).
    due_at: str | None = None
    version: int = 0  # optimistic concurrency; stored beside the state, not in it

    @property
    def retained_from(self) -> str:
        """What the retention (TTL) counts from: the arrival of the person's newest event,
        as the events' own retention does (an imported record of 2019 arrives today)."""
        return self.last_received or self.last_seen or self.created_at

    @property
    def user_ids(self) -> set[str]:
        return {key for key in self.identities if key.startswith("user_id:")}

    def applied(self, event: StreamEvent) -> bool:
        mark = self.watermarks.get(event.partition)
        return mark is not None and event.sequence <= int(mark[0])

    def to_state(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "identities": self.identities,
            "traits": {
                name: {kind: value.to_json() for kind, value in by_kind.items()}
                for name, by_kind in self.traits.items()
            },
            "computed": self.computed,
            "groups": self.groups,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "last_received": self.last_received,
            "event_count": self.event_count,
            "conflicts": self.conflicts,
            "ignored": self.ignored,
            "watermarks": self.watermarks,
            "consent": self.consent,
            "consent_history": self.consent_history,
            "merged_from": self.merged_from,
            "merges": self.merges,
            "unmerges": self.unmerges,
            "apart": self.apart,
            "segments": self.segments,
            "due_at": self.due_at,
        }

    @classmethod
    def from_state(cls, profile_id: str, state: Mapping[str, Any], version: int) -> Profile:
        return cls(
            profile_id=profile_id,
            created_at=state["created_at"],
            identities=dict(state.get("identities", {})),
            traits={
                name: {kind: TraitValue.from_json(value) for kind, value in by_kind.items()}
                for name, by_kind in state.get("traits", {}).items()
            },
            computed={key: dict(value) for key, value in state.get("computed", {}).items()},
            groups=dict(state.get("groups", {})),
            first_seen=state.get("first_seen"),
            last_seen=state.get("last_seen"),
            last_received=state.get("last_received"),
            event_count=state.get("event_count", 0),
            conflicts=list(state.get("conflicts", [])),
            ignored=dict(state.get("ignored", {})),
            watermarks={key: list(mark) for key, mark in state.get("watermarks", {}).items()},
            consent=dict(state.get("consent", {})),
            consent_history=list(state.get("consent_history", [])),
            merged_from=list(state.get("merged_from", [])),
            merges=list(state.get("merges", [])),
            unmerges=list(state.get("unmerges", [])),
            apart=list(state.get("apart", [])),
            segments=dict(state.get("segments", {})),
            due_at=state.get("due_at"),
            version=version,
        )


def apply_event(
    profile: Profile,
    event: StreamEvent,
    definitions: Iterable[ComputedTraitDefinition],
    processed_at: str,
) -> None:
    """Fold one event into the profile. The caller has checked `profile.applied(event)`."""
    message = event.message
    timestamp = message["timestamp"]
    kind = message.get("type", "")
    profile.event_count += 1
    profile.first_seen = min(profile.first_seen or timestamp, timestamp)
    profile.last_seen = max(profile.last_seen or timestamp, timestamp)
    received = message.get("receivedAt")
    if isinstance(received, str):
        profile.last_received = max(profile.last_received or received, received)
    mark = profile.watermarks.get(event.partition)
    if mark is None or event.sequence > int(mark[0]):
        profile.watermarks[event.partition] = [str(event.sequence), processed_at]

    for key in ignored_identities(message):
        if key in profile.ignored or len(profile.ignored) < MAX_IGNORED:
            profile.ignored[key] = min(profile.ignored.get(key, timestamp), timestamp)
    decisions, version = consent.decisions_of(message)
    if decisions:
        consent.record(
            profile.consent,
            profile.consent_history,
            decisions,
            at=timestamp,
            message_id=str(message.get("messageId", "")),
            source=event.source,
            version=version,
        )
    if kind == "identify":
        _offer_traits(profile, message, event.source, timestamp)
    elif kind == "group":
        group_id = message.get("groupId")
        if isinstance(group_id, str) and (
            group_id in profile.groups or len(profile.groups) < MAX_GROUPS
        ):
            profile.groups[group_id] = max(profile.groups.get(group_id, timestamp), timestamp)

    name = message.get("event") if kind == "track" else message.get("name")
    facts: EventFacts | None = None
    for definition in definitions:
        if (
            definition.type == "days_since"
            or not definition.matches(kind, name)
            or not computed.counts(definition, received)
        ):
            continue
        facts = facts or EventFacts(kind, name, timestamp, message.get("properties"))
        computed.update(definition, computed.state_to_update(definition, profile.computed), facts)


def identify_traits(message: dict[str, Any]) -> dict[str, Any]:
    """The traits an identify sets: `traits`, over `context.traits`, where RudderStack's
    libraries put them (its server libraries only there)."""
    values = message.get("traits")
    values = values if isinstance(values, dict) else {}
    context = message.get("context")
    shared = context.get("traits") if isinstance(context, dict) else None
    return {**shared, **values} if isinstance(shared, dict) and shared else values


def _offer_traits(profile: Profile, message: dict[str, Any], source: str, at: str) -> None:
    values = identify_traits(message)
    if not values:
        return
    context = message.get("context")
    extension = context.get("cdp") if isinstance(context, dict) else None
    extension = extension if isinstance(extension, dict) else {}
    kind = extension.get("provenance")
    kind = kind if kind in PROVENANCE_KINDS else "observed"
    expiries = extension.get("expires")
    expiries = expiries if isinstance(expiries, dict) else {}
    message_id = message.get("messageId", "")
    for name, value in values.items():
        expires = expiries.get(name)
        traits.offer(
            profile.traits,
            name,
            kind,
            TraitValue(
                value=value,
                source=source,
                at=at,
                message_id=message_id,
                expires_at=_expiry(expires),
            ),
        )


def _expiry(sent: Any) -> str | None:
    """An expiry as a time of ours; none when it is not a time (the forms API writes them,
    but any sender can put anything in `context.cdp`)."""
    moment = _moment(sent)
    return iso(moment) if moment is not None else None


def _moment(text: Any) -> datetime | None:
    """A time with its offset, or None: expiries stored before they were checked may be
    anything, and a profile must still build."""
    if not isinstance(text, str):
        return None
    try:
        moment = parse(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def absorb(
    survivor: Profile, other: Profile, definitions: Mapping[str, ComputedTraitDefinition]
) -> None:
    """Merge `other` into `survivor`: identities united, traits by precedence, computed traits
    combined, the earliest first sign of life and the latest last one."""
    for key, linked_at in other.identities.items():
        current = survivor.identities.get(key)
        survivor.identities[key] = linked_at if current is None else min(current, linked_at)
    traits.combine(survivor.traits, other.traits)
    for trait_id, state in other.computed.items():
        definition = definitions.get(trait_id)
        if definition is None:
            survivor.computed.setdefault(trait_id, state)
        else:
            into = computed.state_to_update(definition, survivor.computed)
            computed.combine(definition, into, state)
    for group_id, at in other.groups.items():
        if group_id in survivor.groups or len(survivor.groups) < MAX_GROUPS:
            survivor.groups[group_id] = max(survivor.groups.get(group_id, at), at)
    firsts = [moment for moment in (survivor.first_seen, other.first_seen) if moment]
    lasts = [moment for moment in (survivor.last_seen, other.last_seen) if moment]
    survivor.first_seen = min(firsts) if firsts else None
    survivor.last_seen = max(lasts) if lasts else None
    arrivals = [moment for moment in (survivor.last_received, other.last_received) if moment]
    survivor.last_received = max(arrivals) if arrivals else None
    survivor.event_count += other.event_count
    survivor.created_at = min(survivor.created_at, other.created_at)
    survivor.conflicts = (survivor.conflicts + other.conflicts)[-MAX_CONFLICTS:]
    for key, seen in other.ignored.items():
        if key in survivor.ignored or len(survivor.ignored) < MAX_IGNORED:
            survivor.ignored[key] = min(survivor.ignored.get(key, seen), seen)
    for partition, mark in other.watermarks.items():
        mine = survivor.watermarks.get(partition)
        if mine is None or int(mark[0]) > int(mine[0]):
            survivor.watermarks[partition] = list(mark)
    consent.merge(survivor.consent, survivor.consent_history, other.consent, other.consent_history)
    survivor.merged_from = [*survivor.merged_from, other.profile_id, *other.merged_from][
        -MAX_MERGED_FROM:
    ]
    survivor.merges = [*survivor.merges, *other.merges][-MAX_MERGES:]
    survivor.apart = sorted({*survivor.apart, *other.apart})[:MAX_APART]


def record_merge(survivor: Profile, other: Profile, cause: StreamEvent | None, at: str) -> None:
    """Remember a merge with the event that caused it, so it can be looked at and undone."""
    entry: dict[str, Any] = {
        "at": at,
        "profile_id": other.profile_id,
        "identities": sorted(other.identities),
    }
    if cause is not None:
        entry["message_id"] = str(cause.message.get("messageId", ""))
        entry["event_time"] = cause.message.get("timestamp")
        entry["filed_under"] = cause.partition
    survivor.merges = [*survivor.merges, entry][-MAX_MERGES:]


def record_conflict(
    profile: Profile, *, identity: str, refused: str, reason: str, at: str, message_id: str
) -> bool:
    """Remember a link that was refused, for an operator to look at; True if it is new.

    The refused identity may be another person's: only its type is kept (the event, by its
    message id, says more to whoever may read it), so that no profile holds another person's
    identifiers, in an export or after that person's erasure. The same refusal repeated (a
    shared device, each visit) is counted, not listed again."""
    kind = identity_type(refused)
    for entry in profile.conflicts:
        if (entry.get("identity"), entry.get("refused"), entry.get("reason")) == (
            identity,
            kind,
            reason,
        ):
            if entry.get("last_at", entry["at"]) >= at:
                return False
            entry["last_at"], entry["count"] = at, int(entry.get("count", 1)) + 1
            return True
    entry = {"at": at, "identity": identity, "refused": kind, "reason": reason,
             "message_id": message_id}  # fmt: skip
    profile.conflicts = [*profile.conflicts, entry][-MAX_CONFLICTS:]
    return True


def tidy(profile: Profile, definitions: Iterable[ComputedTraitDefinition], now: datetime) -> None:
    """Keep the item bounded: trim daily buckets and watermarks nothing can need any more."""
    for definition in definitions:
        state = profile.computed.get(definition.id)
        if state is not None:
            computed.trim(definition, state, now)
    oldest = from_epoch(now.timestamp() - WATERMARK_DAYS * 86400)
    profile.watermarks = {
        partition: mark for partition, mark in profile.watermarks.items() if mark[1] >= oldest
    }


def profile_view(
    profile: Profile,
    definitions: Iterable[ComputedTraitDefinition],
    now: datetime,
) -> dict[str, Any]:
    """What the Profile API answers: plain values, with the provenance beside them."""
    current = traits.current_traits(profile.traits, iso(now))
    computed_values = _computed_values(profile, definitions, now)
    return {
        "profile_id": profile.profile_id,
        "identities": [
            {"type": kind, "value": value}
            for kind, value in (split_identity(key) for key in sorted(profile.identities))
        ],
        "traits": {name: value.value for name, (_, value) in sorted(current.items())},
        "trait_sources": {
            name: {
                "kind": kind,
                "source": value.source,
                "set_at": value.at,
                **({"expires_at": value.expires_at} if value.expires_at else {}),
            }
            for name, (kind, value) in sorted(current.items())
        },
        "computed": computed_values,
        "groups": sorted(profile.groups),
        "segments": sorted(profile.segments),
        "segment_memberships": dict(sorted(profile.segments.items())),
        "consent": consent.public_state(profile.consent),
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "event_count": profile.event_count,
        "conflicts": profile.conflicts,
        "merges": profile.merges,
        "unmerges": profile.unmerges,
        "ignored_identities": [
            _ignored(key, seen) for key, seen in sorted(profile.ignored.items())
        ],
        "created_at": profile.created_at,
    }


def _ignored(key: str, first_seen: str) -> dict[str, str]:
    kind, value = split_identity(key)
    reason = "a placeholder, not an identifier"
    return {"type": kind, "value": value, "reason": reason, "first_seen": first_seen}


def _times(
    profile: Profile, definitions: Iterable[ComputedTraitDefinition]
) -> dict[str, str | None]:
    """The moments `days_since` traits may refer to."""
    times: dict[str, str | None] = {
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
    }
    for definition in definitions:
        if definition.type in ("first_occurrence", "last_occurrence"):
            times[definition.id] = computed.state_of(definition, profile.computed).get("t")
    return times


def _computed_values(
    profile: Profile, definitions: Iterable[ComputedTraitDefinition], now: datetime
) -> dict[str, Any]:
    definitions = tuple(definitions)
    times = _times(profile, definitions)
    values: dict[str, Any] = {}
    for definition in definitions:
        values.update(
            computed.values(definition, computed.state_of(definition, profile.computed), now, times)
        )
    return values


def facts_of(
    profile: Profile, definitions: tuple[ComputedTraitDefinition, ...], now: datetime
) -> Facts:
    """What segment conditions read from the profile at `now`."""
    now_iso = iso(now)
    current = traits.current_traits(profile.traits, now_iso)
    times = _times(profile, definitions)
    changes: dict[str, datetime] = {}
    for definition in definitions:
        changes.update(
            computed.changes_at(
                definition, computed.state_of(definition, profile.computed), now, times
            )
        )
    expiries = {
        name: expiry
        for name, by_kind in profile.traits.items()
        if (expiry := traits.next_expiry({name: by_kind}, now_iso)) is not None
    }
    identities: dict[str, list[str]] = {}
    for key in sorted(profile.identities):
        kind, value = split_identity(key)
        identities.setdefault(kind, []).append(value)
    return Facts(
        now=now,
        traits={name: value.value for name, (_, value) in current.items()},
        trait_set_at={name: value.at for name, (_, value) in current.items()},
        trait_expiry=expiries,
        computed=_computed_values(profile, definitions, now),
        computed_changes_at=changes,
        profile={
            "first_seen": profile.first_seen,
            "last_seen": profile.last_seen,
            "event_count": profile.event_count,
            "created_at": profile.created_at,
        },
        identities=identities,
        consent={
            purpose: str(state.get("state"))
            for purpose, state in profile.consent.items()
            if isinstance(state, dict)
        },
    )


def _next_expiry(facts: Facts) -> datetime | None:
    moments = (_moment(text) for text in facts.trait_expiry.values())
    future = [moment for moment in moments if moment is not None and moment > facts.now]
    return min(future) if future else None


@dataclass(frozen=True)
class MembershipChange:
    entered: tuple[str, ...]
    exited: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.entered or self.exited)


def update_segments(
    profile: Profile,
    segments: tuple[CompiledSegment, ...],
    definitions: tuple[ComputedTraitDefinition, ...],
    now: datetime,
) -> tuple[MembershipChange, bool]:
    """Re-evaluate every segment; record entries (with their time) and exits, and when time
    alone could next change a membership. Answers the change and whether `due_at` moved."""
    facts = facts_of(profile, definitions, now)
    members = evaluate(segments, facts)
    now_iso = iso(now)
    current = set(compress(members, members.values()))
    entered = tuple(sorted(current.difference(profile.segments)))
    exited = tuple(sorted(profile.segments.keys() - current))
    for segment_id in exited:
        del profile.segments[segment_id]
    for segment_id in entered:
        profile.segments[segment_id] = now_iso
    # Besides what time alone changes in a segment, a fact expiring is a change to announce
    # (`profile.updated`): the profile is due then too.
    moments = [moment for moment in (next_change(segments, facts), _next_expiry(facts)) if moment]
    due = min(moments) if moments else None
    due_at = iso(due) if due is not None else None
    moved = due_at != profile.due_at
    profile.due_at = due_at
    return MembershipChange(entered, exited), moved
