"""Destinations: the tools a segment's members, their traits and their erasure are sent to,
kept as definitions (the config table, `kind` = `destination`) and changed without a redeploy.

A destination names its connector (`cdp.sharing.connectors`), the consent purpose it serves,
which segments it receives as audiences (segment id -> the audience's name on the tool's
side), which traits (trait -> the tool's field) and the connector's settings. Its secret (API
key, token) is never part of the definition: Secrets Manager keeps it
(`cdp.storage.secrets.DestinationSecrets`), and the definition only says whether one is set.

`deliveries` turns what the publisher saw change about a person into what each destination
must hear, and is where consent per destination is kept. The tool should have the person in
the audiences of the segments they are in, if they granted the destination's purpose, and in
none otherwise; each change sends the difference:
- nothing is sent for a person who has not granted the purpose;
- when they withdraw it, they are removed from every audience of the destination at once,
  and nothing more is sent; when they grant it, they are added to the audiences they are in;
- an erasure reaches every destination, whatever the consent and paused or not (whether a
  tool heard of the person is not kept), with the deletion call of the tool where it has one.
A paused destination receives nothing else; a resync adds its segments' members when it is
resumed.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, ValidationError

from cdp.profiles.identity import EMAIL, USER_ID, split_identity
from cdp.runtime.models import Model
from cdp.sharing.connectors.base import Delivery, DeliveryKind, Identifiers

if TYPE_CHECKING:
    from cdp.sharing.changes import Published
    from cdp.sharing.connectors.base import Connector

DESTINATION = "destination"
PHONE = "phone"
CONNECTORS = ("mailchimp", "hubspot", "braze", "meta", "ga4", "ses", "webhook")
# How old the destinations the publisher works with may be (it reads them once per this many
# seconds); a resync waits this long and a little more before its first page, so that it adds
# whoever entered a segment while the publisher did not know the destination yet.
DESTINATIONS_MAX_AGE = 10.0
RESYNC_SETTLE_SECONDS = 15

DestinationId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class DestinationDefinition(Model):
    model_config = ConfigDict(extra="forbid")

    id: DestinationId
    name: Name
    connector: str = Field(description=f"one of: {', '.join(CONNECTORS)}")
    purpose: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="the consent purpose it serves: only people who granted it are sent",
    )
    enabled: bool = Field(default=True, description="false: paused, nothing is sent")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the connector's settings (account, list, region)"
    )
    audiences: dict[str, Name] = Field(
        default_factory=dict,
        max_length=100,
        description="segment id -> the audience on the tool's side (tag, list or audience id)",
    )
    traits: dict[str, Name] = Field(
        default_factory=dict, max_length=100, description="trait -> the tool's field for it"
    )
    events: dict[Name, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict,
        max_length=100,
        description="track event -> its name at the tool (empty: the same name); each such "
        "event of a person who granted the purpose is sent as it arrives",
    )
    has_secret: bool = Field(
        default=False, description="read only: whether the destination's secret is set"
    )


class DestinationError(ValueError):
    """A destination definition that cannot work, with the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def connector(name: str) -> Connector:
    """The connector of that name, imported when first asked for (a function that sends to
    one tool loads only that tool's code)."""
    if name not in CONNECTORS:
        raise DestinationError("connector", f"unknown connector {name!r}; one of {CONNECTORS}")
    module = importlib.import_module(f"cdp.sharing.connectors.{name}")
    found: Connector = module.CONNECTOR
    return found


def check_destination(
    definition: DestinationDefinition, *, segments: Iterable[str], purposes: Sequence[str]
) -> None:
    """Raises `DestinationError` for what would not work: an unknown connector, settings the
    connector does not take, audiences of segments that do not exist or that the connector
    refuses with these settings (its optional `audience_refusal`), or what the tool cannot
    receive."""
    tool = connector(definition.connector)
    try:
        settings = tool.settings.model_validate(definition.settings)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise DestinationError(
            f"settings.{where}" if where else "settings", problem["msg"]
        ) from None
    if definition.purpose not in purposes:
        raise DestinationError("purpose", f"not a purpose of this platform; one of {purposes}")
    known = set(segments)
    refusal = getattr(tool, "audience_refusal", None)
    for segment_id, audience in definition.audiences.items():
        if segment_id not in known:
            raise DestinationError(f"audiences.{segment_id}", "no segment has this id")
        reason = refusal(audience, settings) if refusal is not None else None
        if reason:
            raise DestinationError(f"audiences.{segment_id}", reason)
    if definition.audiences and "audience_add" not in tool.kinds:
        raise DestinationError("audiences", f"{tool.title} does not take audiences")
    if definition.traits and "traits" not in tool.kinds:
        raise DestinationError("traits", f"{tool.title} does not take traits")
    if definition.events and "event" not in tool.kinds:
        raise DestinationError("events", f"{tool.title} does not take events")


def destinations_receiving(segment_id: str, stored: Iterable[Mapping[str, Any]]) -> list[str]:
    """The destinations that receive the segment as an audience (it may not be deleted)."""
    return sorted(item["id"] for item in stored if segment_id in item.get("audiences", {}))


def newly_synced(before: DestinationDefinition | None, after: DestinationDefinition) -> list[str]:
    """The segments a saved destination receives now and did not before (all of them for a
    new or resumed one): what a resync must add, since the publisher only sends changes."""
    if not after.enabled:
        return []
    if before is None or not before.enabled:
        return sorted(after.audiences)
    return sorted(set(after.audiences) - set(before.audiences))


def load_destinations(stored: Iterable[Mapping[str, Any]]) -> list[DestinationDefinition]:
    return [DestinationDefinition.model_validate(item) for item in stored]


def identifiers(state: Mapping[str, Any] | None) -> Identifiers:
    """The identifiers destinations match people by, from a profile's state."""
    emails, phones, user_id = [], [], None
    identities = (state or {}).get("identities", {})
    # Oldest first (then by value): a tool keyed by the first e-mail address keeps its
    # contact when the person gains another address.
    for key in sorted(identities, key=lambda key: (str(identities[key]), key)):
        kind, value = split_identity(key)
        if kind == EMAIL:
            emails.append(value)
        elif kind == PHONE:
            phones.append(value)
        elif kind == USER_ID:
            user_id = value
    return Identifiers(tuple(emails), tuple(phones), user_id)


def event_deliveries(
    profile_id: str,
    state: Mapping[str, Any],
    messages: Iterable[Mapping[str, Any]],
    destinations: Sequence[DestinationDefinition],
) -> list[Delivery]:
    """The track events destinations receive, of one person whose profile (as just written)
    holds these newly applied messages: each destination that names the event, if the person
    has granted its purpose. A message applied again (a replay) is not among them, and its
    delivery id is the same, so nothing is sent twice for one message."""
    wanted = [d for d in destinations if d.enabled and d.events and _granted(state, d.purpose)]
    if not wanted:
        return []
    who = identifiers(state)
    found: list[Delivery] = []
    for message in messages:
        name = message.get("event")
        if message.get("type") != "track" or not isinstance(name, str):
            continue
        for destination in wanted:
            if name not in destination.events:
                continue
            basis = f"{message.get('messageId')}|{destination.id}|event"
            properties = message.get("properties")
            found.append(
                Delivery(
                    id=hashlib.sha256(basis.encode()).hexdigest()[:32],
                    destination=destination.id,
                    kind="event",
                    profile_id=profile_id,
                    identifiers=who,
                    at=str(message.get("timestamp") or message.get("receivedAt") or ""),
                    event=destination.events[name] or name,
                    properties=properties if isinstance(properties, dict) else {},
                )
            )
    return found


def resync(
    destination: DestinationDefinition,
    segment_id: str,
    states: Mapping[str, tuple[int, Mapping[str, Any]]],
    *,
    at: str,
    traits_of: Callable[[Mapping[str, Any]], Mapping[str, Any]],
) -> list[Delivery]:
    """A resync's additions for a page of a segment's members (profile id -> version, state):
    each member who granted the destination's purpose, added to the segment's audience again,
    with their mapped traits, as if the tool had never heard of them. Nobody is removed: what
    the tool holds beyond the members is not known here."""
    found: list[Delivery] = []
    for profile_id, (version, state) in sorted(states.items()):
        found += [
            delivery
            for delivery in deliveries(
                (),
                profile_id=profile_id,
                version=version,
                at=at,
                old=None,
                new=state,
                traits_now=traits_of(state),
                destinations=[destination],
            )
            if delivery.segment_id == segment_id
        ]
    return found


def deliveries(
    published: Sequence[Published],
    *,
    profile_id: str,
    version: int,
    at: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    traits_now: Mapping[str, Any],
    destinations: Sequence[DestinationDefinition],
    erased: bool = False,
) -> list[Delivery]:
    """What each destination must hear of one profile change: the profile's states before and
    after it, and the publisher's events for it (their trait changes). `traits_now` are the
    trait values that count now: an audience addition carries the mapped ones, so the tool
    knows the person it adds. `erased`: the profile was erased (not merged, not expired)."""
    changed_traits: dict[str, Any] = {}
    for event in published:
        if event.detail_type == "profile.updated":
            changed_traits.update(event.detail.get("changed", {}).get("traits", {}))
    change = _Change(profile_id, version, at, old, new, traits_now, changed_traits, erased)
    found: list[Delivery] = []
    for destination in destinations:
        # A paused destination hears nothing, but an erasure: the person's right does not
        # wait for someone to resume it.
        if destination.enabled or erased:
            found.extend(change.for_destination(destination))
    return found


@dataclass(frozen=True)
class _Change:
    profile_id: str
    version: int
    at: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    traits_now: Mapping[str, Any]
    changed_traits: Mapping[str, Any]
    erased: bool

    def for_destination(self, destination: DestinationDefinition) -> Iterable[Delivery]:
        """The audiences the tool should have the person in before and after the change (their
        segments the destination receives, if they granted its purpose), and the difference
        between the two; the traits that changed, if granted; the erasure."""
        if self.erased:
            who = identifiers(self.old)
            if who.any():
                yield self._delivery(destination, "erase", who)
            return
        if self.new is None:
            # Merged into another profile (the person lives on there, and its own changes
            # say what the tools should know), or expired for inactivity: nothing to add.
            return
        before = self._audiences(destination, self.old)
        after = self._audiences(destination, self.new)
        who = identifiers(self.new)
        whole = {
            "audiences_now": tuple(sorted(after.values())),
            "traits_now": _mapped(destination, self.traits_now),
        }
        for segment_id in sorted(set(before) - set(after)):
            yield self._delivery(
                destination, "audience_remove", who, segment_id=segment_id,
                audience=before[segment_id], **whole,
            )  # fmt: skip
        added = sorted(set(after) - set(before))
        for segment_id in added:
            yield self._delivery(
                destination, "audience_add", who, segment_id=segment_id,
                audience=after[segment_id], traits=whole["traits_now"], **whole,
            )  # fmt: skip
        mapped = _mapped(destination, self.changed_traits)
        # An addition carries every mapped trait already.
        if mapped and not added and _granted(self.new, destination.purpose):
            yield self._delivery(destination, "traits", who, traits=mapped, **whole)

    @staticmethod
    def _audiences(
        destination: DestinationDefinition, state: Mapping[str, Any] | None
    ) -> dict[str, str]:
        if state is None or not _granted(state, destination.purpose):
            return {}
        return {
            segment_id: audience
            for segment_id, audience in destination.audiences.items()
            if segment_id in state.get("segments", {})
        }

    def _delivery(
        self, destination: DestinationDefinition, kind: DeliveryKind, who: Identifiers,
        **fields: Any,
    ) -> Delivery:  # fmt: skip
        basis = "|".join(
            (self.profile_id, str(self.version), destination.id, kind,
             fields.get("segment_id") or "")
        )  # fmt: skip
        return Delivery(
            id=hashlib.sha256(basis.encode()).hexdigest()[:32],
            destination=destination.id,
            kind=kind,
            profile_id=self.profile_id,
            identifiers=who,
            at=self.at,
            **fields,
        )


def _granted(state: Mapping[str, Any], purpose: str) -> bool:
    decision = state.get("consent", {}).get(purpose)
    return isinstance(decision, dict) and decision.get("state") == "granted"


def _mapped(destination: DestinationDefinition, traits: Mapping[str, Any]) -> dict[str, Any]:
    return {field: traits[trait] for trait, field in destination.traits.items() if trait in traits}
