"""A computed trait counts every event once: those received from its `counts_from` as they
arrive (the builder), those before from the lake (its backfill, `cdp.profiles.past`), whatever
the order of arrivals, backfills, their redeliveries and merges."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.profiles import computed
from cdp.profiles.computed import (
    ComputedTraitDefinition,
    EventFacts,
    add_past,
    state_of,
    state_to_update,
    values,
    with_counts_from,
)
from cdp.profiles.past import fold, part_of
from cdp.profiles.profile import Profile, absorb, apply_event
from cdp.profiles.timeline import StreamEvent
from cdp.runtime.clock import iso

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
COUNTS_FROM = iso(NOW - timedelta(hours=1))
ORDER = "Order Completed"


def define(**fields: Any) -> ComputedTraitDefinition:
    return ComputedTraitDefinition.model_validate(
        {"id": "t", "event": ORDER, "counts_from": COUNTS_FROM, **fields}
    )


DEFINITIONS = [
    define(type="count", windows=[7, 30]),
    define(type="sum", property="revenue", windows=[30]),
    define(type="average", property="revenue"),
    define(type="max", property="revenue"),
    define(type="first_occurrence"),
    define(type="most_frequent", property="category"),
]


@dataclass(frozen=True)
class Sent:
    number: int
    identity: str
    received_at: datetime
    timestamp: datetime
    revenue: str
    category: str
    event: str

    def message(self) -> dict[str, Any]:
        return {
            "type": "track",
            "event": self.event,
            "messageId": f"m{self.number}",
            "timestamp": iso(self.timestamp),
            "receivedAt": iso(self.received_at),
            "properties": {"revenue": float(self.revenue), "category": self.category},
        }

    def row(self) -> dict[str, Any]:
        """As the lake holds it (`cdp.lake.rows.event_row`)."""
        return {
            "identity": self.identity,
            "type": "track",
            "event": self.event,
            "timestamp": self.timestamp.replace(tzinfo=None),
            "received_at": self.received_at.replace(tzinfo=None),
            "properties": json.dumps(self.message()["properties"]),
        }


IDENTITIES = [f"user_id:{name}" for name in ("ada", "bo", "cy", "di")]


@st.composite
def sent_events(draw: st.DrawFn) -> list[Sent]:
    count = draw(st.integers(min_value=0, max_value=14))
    events = []
    for number in range(count):
        received = NOW - timedelta(minutes=draw(st.integers(min_value=1, max_value=120)))
        events.append(
            Sent(
                number=number,
                identity=draw(st.sampled_from(IDENTITIES)),
                received_at=received,
                timestamp=received - timedelta(days=draw(st.integers(0, 40))),
                revenue=draw(st.sampled_from(["9.99", "10", "0.01", "250.5"])),
                category=draw(st.sampled_from(["shoes", "hats", "bags"])),
                event=draw(st.sampled_from([ORDER, ORDER, "Other"])),
            )
        )
    return events


Step = tuple[str, int, int]  # ("arrive", event, 0) | ("backfill", identity, 0) | ("merge", a, b)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Sent], list[Step]]:
    events = draw(sent_events())
    steps: list[Step] = [("arrive", number, 0) for number in range(len(events))]
    steps += [("backfill", i, 0) for i in range(len(IDENTITIES))]
    steps += draw(st.lists(st.tuples(st.just("backfill"), st.integers(0, 3), st.just(0))))
    steps += draw(st.lists(st.tuples(st.just("merge"), st.integers(0, 3), st.integers(0, 3))))
    return events, draw(st.permutations(steps))


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.type)
@settings(max_examples=60, deadline=None)
@given(history=histories())
def test_every_event_counts_once_whatever_the_order(
    definition: ComputedTraitDefinition, history: tuple[list[Sent], list[Step]]
) -> None:
    events, steps = history
    profiles = {
        identity: Profile(identity, iso(NOW), {identity: iso(NOW)}) for identity in IDENTITIES
    }
    holder = {identity: identity for identity in IDENTITIES}  # identity -> profile id

    def profile_of(identity: str) -> Profile:
        return profiles[holder[identity]]

    # A backfill's fold of each identity's events received before (the lake holds them all)
    pasts = fold(definition, [event.row() for event in events])
    for kind, first, second in steps:
        if kind == "arrive":  # the builder, with the definition in force
            event = events[first]
            stream = StreamEvent(event.identity, first + 1, event.message(), "web")
            apply_event(profile_of(event.identity), stream, [definition], iso(NOW))
        elif kind == "backfill":  # a task, or its redelivery
            identity = IDENTITIES[first]
            if identity in pasts:
                state = state_to_update(definition, profile_of(identity).computed)
                add_past(definition, state, identity, pasts[identity])
        elif holder[IDENTITIES[first]] != holder[IDENTITIES[second]]:
            survivor, other = profile_of(IDENTITIES[first]), profile_of(IDENTITIES[second])
            absorb(survivor, other, {definition.id: definition})
            for identity, profile_id in holder.items():
                if profile_id == other.profile_id:
                    holder[identity] = survivor.profile_id
                    survivor.identities[identity] = iso(NOW)

    for profile_id in set(holder.values()):
        profile = profiles[profile_id]
        everything: dict[str, Any] = {}
        for event in events:
            if holder[event.identity] == profile_id and definition.matches("track", event.event):
                facts = EventFacts("track", event.event, iso(event.timestamp),
                                   event.message()["properties"])  # fmt: skip
                computed.update(definition, everything, facts)
        found = values(definition, state_of(definition, profile.computed), NOW, {})
        assert found == values(definition, everything, NOW, {})


def test_the_builder_leaves_what_was_received_before_to_the_backfill() -> None:
    count = define(type="count")
    before = {"receivedAt": iso(NOW - timedelta(hours=2))}
    assert not computed.counts(count, before["receivedAt"])
    assert computed.counts(count, COUNTS_FROM)
    assert not computed.counts(count, None)  # no arrival time known: the backfill's
    # a default never changed counts everything as it arrives
    assert computed.counts(define(type="count", counts_from=None), None)


def test_a_state_of_an_older_rule_is_not_read_and_starts_afresh() -> None:
    count = define(type="count")
    states: dict[str, Any] = {"t": {"f": "2026-01-01T00:00:00.000Z", "n": 40}}
    assert state_of(count, states) == {}
    assert values(count, state_of(count, states), NOW, {}) == {"t": 0}
    fresh = state_to_update(count, states)
    assert fresh == {"f": COUNTS_FROM}
    assert states["t"] is fresh


def test_a_past_is_added_once_per_identity() -> None:
    count = define(type="count")
    state = state_to_update(count, {})
    past = {"f": COUNTS_FROM, "n": 3}
    assert add_past(count, state, "user_id:ada", past)
    assert not add_past(count, state, "user_id:ada", past)
    assert add_past(count, state, "anonymous_id:a1", {"f": COUNTS_FROM, "n": 2})
    assert values(count, state, NOW, {}) == {"t": 5}
    # the marks are short hashes, not the identifiers
    assert "user_id:ada" not in json.dumps(state)


def test_a_change_of_rule_counts_anew_and_other_changes_keep_the_count() -> None:
    stored = define(type="count", description="Orders")
    later = NOW + timedelta(days=3)
    kept = with_counts_from(stored.model_copy(update={"description": "All orders"}), stored, later)
    assert kept.counts_from == COUNTS_FROM
    for change in ({"event": "Order Placed"}, {"windows": (7,)}, {"type": "first_occurrence"}):
        changed = with_counts_from(stored.model_copy(update=change), stored, later)
        assert changed.counts_from == iso(later + computed.COUNTING_DELAY)
    # new, or switched on again (not in force before): counts from a few seconds on
    assert with_counts_from(stored, None, later).counts_from == iso(later + computed.COUNTING_DELAY)
    # a value sent by the client is not taken
    sent = stored.model_copy(update={"counts_from": "2020-01-01T00:00:00.000Z"})
    assert with_counts_from(sent, None, later).counts_from != sent.counts_from
    since = ComputedTraitDefinition(id="d", type="days_since", of="last_seen")
    assert with_counts_from(since, None, later).counts_from is None


def test_identities_split_into_parts_steadily() -> None:
    parts = [part_of(f"anonymous_id:{n}", 4) for n in range(400)]
    assert parts == [part_of(f"anonymous_id:{n}", 4) for n in range(400)]
    assert set(parts) == {0, 1, 2, 3}
    assert min(parts.count(part) for part in range(4)) > 60
