"""Identity resolution for a batch of events: who is who, which profiles merge, what to write.

Pure: the caller reads the identities and profiles tables (`Known`), this module decides, and
the caller writes the resulting `Plan`s, one per person touched by the batch.

How it decides. Every identity and every existing profile is a node; an identity owned by a
profile (per the identities table) starts in that profile's group. Each event then links its
identities, strongest first, unless linking would break a rule:

- merge protection: one group never holds two different user_ids;
- identity limits: at most N identities of a type per group (configurable);
- unmerges: identities an operator split apart are never linked again.

A refused link is recorded as a conflict on the profile the event went to. The event belongs
to the group of its strongest identity. A group with several existing profiles becomes one:
the survivor is the profile with a user_id, else the oldest; the others become redirects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cdp.profiles.computed import ComputedTraitDefinition
from cdp.profiles.identity import (
    ANONYMOUS_ID,
    USER_ID,
    IdentityLimits,
    identities_of,
    identity_key,
    identity_type,
    strength,
)
from cdp.profiles.profile import (
    MembershipChange,
    Profile,
    absorb,
    apply_event,
    record_conflict,
    record_merge,
    tidy,
    update_segments,
)
from cdp.profiles.timeline import StreamEvent
from cdp.runtime.clock import iso
from cdp.segments.conditions import CompiledSegment

MAX_REDIRECT_HOPS = 5


@dataclass
class Known:
    """What the identities and profiles tables hold for a batch's identities."""

    owners: dict[str, str]  # identity -> profile id, as stored in the identities table
    profiles: dict[str, Profile]  # live profiles by id
    redirects: dict[str, str] = field(default_factory=dict)  # merged profile -> where it went

    def owner(self, key: str) -> str | None:
        profile_id = self.owners.get(key)
        for _ in range(MAX_REDIRECT_HOPS):
            if profile_id is None or profile_id not in self.redirects:
                return profile_id
            profile_id = self.redirects[profile_id]
        return profile_id


@dataclass
class Plan:
    """Everything to write for one person after a batch."""

    profile: Profile  # the resulting state
    expected_version: int  # the survivor's version as read (0: the item does not exist yet)
    absorbed: list[Profile]  # profiles merged into it, each to become a redirect
    claims: list[str]  # identities no profile owns yet
    repoints: list[str]  # identities still owned by an absorbed profile, or stale
    events: list[StreamEvent]  # every event of the batch that belongs to this person
    applied: list[str] = field(default_factory=list)  # record ids applied now (not replays)
    membership: MembershipChange | None = None
    failures: dict[str, Exception] = field(default_factory=dict)  # record id -> why
    changed: bool = False
    # (identity, partition): an event filed under the partition names an identity that is
    # not linked with it (a refused link: a shared device). Erasing either person finds it.
    mentions: list[tuple[str, str]] = field(default_factory=list)


def batch_identities(events: Iterable[StreamEvent]) -> set[str]:
    """Every identity to look up for a batch (an alias's previousId both ways)."""
    keys: set[str] = set()
    for event in events:
        carried = identities_of(event.message)
        keys.update(carried.keys)
        if carried.previous_id:
            keys.add(identity_key(USER_ID, carried.previous_id))
            keys.add(identity_key(ANONYMOUS_ID, carried.previous_id))
    return keys


class _Groups:
    """Union-find over identities and profiles, tracking each group's identities, the profiles
    in it (and those they absorbed), and the profiles it must never be joined with."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}  # root -> identities in the group
        self.profiles: dict[str, set[str]] = {}  # root -> profile ids in the group
        self.apart: dict[str, set[str]] = {}  # root -> profile ids an unmerge split from it

    def add(
        self,
        node: str,
        identities: Iterable[str],
        *,
        profiles: Iterable[str] = (),
        apart: Iterable[str] = (),
    ) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.members[node], self.profiles[node], self.apart[node] = set(), set(), set()
        root = self.find(node)
        self.members[root].update(identities)
        self.profiles[root].update(profiles)
        self.apart[root].update(apart)

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> str:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return root_a
        keep, drop = sorted((root_a, root_b))
        self.parent[drop] = keep
        self.members[keep] |= self.members.pop(drop)
        self.apart[keep] |= self.apart.pop(drop)
        self.profiles[keep] |= self.profiles.pop(drop)
        return keep

    def refusal(self, a: str, b: str, limits: IdentityLimits) -> str | None:
        """Why groups `a` and `b` may not be joined, or None."""
        root_a, root_b = self.find(a), self.find(b)
        together = self.members[root_a] | self.members[root_b]
        if self.apart[root_a] & self.profiles[root_b] or self.apart[root_b] & self.profiles[root_a]:
            return "kept apart by an unmerge"
        if len({key for key in together if key.startswith("user_id:")}) > 1:
            return "different user_ids"
        counts: dict[str, int] = {}
        for key in together:
            kind = identity_type(key)
            counts[kind] = counts.get(kind, 0) + 1
            if counts[kind] > limits.limit(kind):
                return f"more than {limits.limit(kind)} {kind} identities"
        return None


@dataclass(frozen=True)
class _Conflict:
    anchor: str
    identity: str  # the person's own identity the event came with
    refused: str  # the identity that was not linked (another person's, perhaps)
    reason: str
    at: str
    message_id: str
    partition: str  # where the event is filed


@dataclass
class _Linking:
    """The outcome of linking a batch's identities: groups, and each event's anchor."""

    groups: _Groups
    profile_node: dict[str, str]
    anchors: list[tuple[StreamEvent, str]] = field(default_factory=list)
    conflicts: list[_Conflict] = field(default_factory=list)
    linked_at: dict[str, str] = field(default_factory=dict)
    # profile id -> the event that joined its group to another profile's (a merge)
    merged_by: dict[str, StreamEvent] = field(default_factory=dict)


def plan_batch(
    events: list[StreamEvent],
    known: Known,
    definitions: tuple[ComputedTraitDefinition, ...],
    *,
    limits: IdentityLimits,
    now: datetime,
    segments: tuple[CompiledSegment, ...] = (),
    new_profile_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> list[Plan]:
    linking = _link(events, known, limits, iso(now))
    by_root: dict[str, list[StreamEvent]] = {}
    for event, anchor in linking.anchors:
        by_root.setdefault(linking.groups.find(anchor), []).append(event)
    return [
        _plan_person(
            root,
            group_events,
            linking=linking,
            known=known,
            definitions=definitions,
            segments=segments,
            now=now,
            new_profile_id=new_profile_id,
        )
        for root, group_events in by_root.items()
    ]


def _link(
    events: list[StreamEvent], known: Known, limits: IdentityLimits, now_iso: str
) -> _Linking:
    groups = _Groups()
    linking = _Linking(groups=groups, profile_node={})
    for profile_id, profile in known.profiles.items():
        linking.profile_node[profile_id] = f"profile:{profile_id}"
        groups.add(
            linking.profile_node[profile_id],
            profile.identities,
            profiles=[profile_id, *profile.merged_from],
            apart=profile.apart,
        )

    def node_of(key: str) -> str:
        if key in groups.parent:
            return key
        groups.add(key, [key])
        owner = known.owner(key)
        if owner is not None:
            if owner not in known.profiles:
                # Claimed by a profile whose first write never happened (a crash between the
                # two writes): carry on with that profile id, from empty.
                known.profiles[owner] = Profile(profile_id=owner, created_at=now_iso)
                linking.profile_node[owner] = f"profile:{owner}"
                groups.add(linking.profile_node[owner], [key], profiles=[owner])
            groups.union(key, linking.profile_node[owner])
        return key

    for event in events:
        keys = _keys_of(event, known)
        if not keys:
            continue  # the collector guarantees an identity; there is nothing to attach to
        timestamp = str(event.message.get("timestamp", now_iso))
        anchor = node_of(keys[0])
        for key in keys:
            linking.linked_at[key] = min(linking.linked_at.get(key, timestamp), timestamp)
            node_of(key)
            if groups.find(key) == groups.find(anchor):
                continue
            reason = groups.refusal(anchor, key, limits)
            if reason is None:
                joined = groups.profiles[groups.find(anchor)], groups.profiles[groups.find(key)]
                if joined[0] and joined[1]:
                    for profile_id in joined[0] | joined[1]:
                        linking.merged_by.setdefault(profile_id, event)
                groups.union(anchor, key)
            else:
                message_id = str(event.message.get("messageId", ""))
                linking.conflicts.append(
                    _Conflict(anchor, keys[0], key, reason, timestamp, message_id, event.partition)
                )
        linking.anchors.append((event, anchor))
    return linking


def _keys_of(event: StreamEvent, known: Known) -> list[str]:
    """The event's identities, strongest first. An alias's previousId is a user id if the
    identities table knows it as one, else an anonymous id."""
    carried = identities_of(event.message)
    keys = list(carried.keys)
    if carried.previous_id:
        as_user = identity_key(USER_ID, carried.previous_id)
        as_anonymous = identity_key(ANONYMOUS_ID, carried.previous_id)
        keys.append(as_user if as_user in known.owners else as_anonymous)
        keys = sorted(dict.fromkeys(keys), key=strength)
    return keys


def _plan_person(
    root: str,
    events: list[StreamEvent],
    *,
    linking: _Linking,
    known: Known,
    definitions: tuple[ComputedTraitDefinition, ...],
    segments: tuple[CompiledSegment, ...],
    now: datetime,
    new_profile_id: Callable[[], str],
) -> Plan:
    groups = linking.groups
    members = sorted(
        (
            profile
            for profile_id, profile in known.profiles.items()
            if groups.find(linking.profile_node[profile_id]) == root
        ),
        key=lambda p: (not p.user_ids, p.created_at, p.profile_id),
    )
    if members:
        survivor, absorbed = members[0], members[1:]
    else:
        survivor, absorbed = Profile(profile_id=new_profile_id(), created_at=iso(now)), []
    plan = Plan(
        profile=survivor,
        expected_version=survivor.version,
        absorbed=absorbed,
        claims=[],
        repoints=[],
        events=events,
    )
    by_definition = {definition.id: definition for definition in definitions}
    for other in absorbed:
        absorb(survivor, other, by_definition)
        cause = linking.merged_by.get(other.profile_id)
        record_merge(survivor, other, cause, iso(now))
    for key in sorted(groups.members[root]):
        survivor.identities.setdefault(key, linking.linked_at.get(key, iso(now)))
        stored_owner = known.owners.get(key)
        if stored_owner is None and key in linking.linked_at:
            plan.claims.append(key)
        elif stored_owner is not None and stored_owner != survivor.profile_id:
            plan.repoints.append(key)
    new_conflict = False
    for conflict in linking.conflicts:
        if groups.find(conflict.anchor) != root:
            continue
        new_conflict |= record_conflict(
            survivor,
            identity=conflict.identity,
            refused=conflict.refused,
            reason=conflict.reason,
            at=conflict.at,
            message_id=conflict.message_id,
        )
    for event in events:
        filed = groups.find(event.partition) if event.partition in groups.parent else None
        for key in _keys_of(event, known):
            if filed is not None and groups.find(key) != filed:
                plan.mentions.append((key, event.partition))
    _apply_in_order(plan, definitions, iso(now))
    tidy(survivor, definitions, now)
    plan.changed = bool(absorbed or plan.claims or plan.repoints or plan.applied or new_conflict)
    if plan.changed:
        # Membership follows every change, in the same write. A replay changes nothing, so it
        # re-evaluates nothing: what time alone changes is the scheduler's work.
        plan.membership, _ = update_segments(survivor, segments, definitions, now)
    return plan


def _apply_in_order(
    plan: Plan, definitions: tuple[ComputedTraitDefinition, ...], now_iso: str
) -> None:
    """Apply the events not applied before, in stream order.

    If an event fails, the plan must not be written (the profile may be half-updated): the
    failing event and every later one of the person are reported as failures, and the
    builder re-plans the person with the events before it. That keeps the watermarks exact.
    """
    profile = plan.profile
    for event in sorted(plan.events, key=lambda e: e.sequence):
        if plan.failures:
            plan.failures[event.record_id] = RuntimeError("an earlier event of this person failed")
        elif not profile.applied(event):
            try:
                apply_event(profile, event, definitions, now_iso)
                plan.applied.append(event.record_id)
            except Exception as error:  # a poison event: reported; the rest of the batch goes on
                plan.failures[event.record_id] = error
