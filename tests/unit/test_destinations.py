"""Consent per destination, as a property: whatever a person's segments and consent do, change
after change, a tool that applies the deliveries it is sent holds them in exactly the
audiences of the segments they are in, if they granted the destination's purpose, and in
none otherwise; it hears nothing of them while they have not granted it; an erasure reaches
it whatever the consent."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cdp.sharing.changes import changes, traits_now
from cdp.sharing.connectors.base import Delivery
from cdp.sharing.destinations import DestinationDefinition, deliveries
from cdp.storage.deliveries import decode_deliveries, encode_deliveries

NOW = "2026-11-28T12:00:00.000Z"
SEGMENTS = ("buyers", "fans", "lapsed")
MAILER = DestinationDefinition(
    id="mailer",
    name="Mailer",
    connector="webhook",
    purpose="marketing",
    audiences={"buyers": "Buyers", "fans": "Fans"},  # not "lapsed"
    traits={"plan": "PLAN"},
)
PAUSED = MAILER.model_copy(update={"id": "paused", "enabled": False})


def state(segments: frozenset[str], granted: bool, plan: str | None = None) -> dict[str, Any]:
    traits = {"plan": {"declared": [plan, "web", NOW, "m1"]}} if plan else {}
    return {
        "identities": {"user_id:42": NOW, "email:ada@example.com": NOW, "phone:+31612345678": NOW},
        "traits": traits,
        "segments": dict.fromkeys(sorted(segments), NOW),
        "consent": {"marketing": {"state": "granted" if granted else "denied"}},
    }


def step(
    old: dict[str, Any] | None, new: dict[str, Any] | None, version: int, *, erased: bool = False
) -> list[Delivery]:
    events, _ = changes("p1", old, new, merged_into=None, version=version, now_iso=NOW)
    return deliveries(
        events,
        profile_id="p1",
        version=version,
        at=NOW,
        old=old,
        new=new,
        traits_now=traits_now(new, NOW) if new else {},
        destinations=[MAILER, PAUSED],
        erased=erased,
    )


states = st.builds(
    state,
    st.frozensets(st.sampled_from(SEGMENTS)),
    st.booleans(),
    st.sampled_from([None, "free", "pro"]),
)


@given(st.lists(states, min_size=1, max_size=12))
def test_the_tool_holds_the_person_exactly_where_consent_and_segments_say(
    history: list[dict[str, Any]],
) -> None:
    audiences: set[str] = set()
    old = None
    for version, new in enumerate(history, start=1):
        sent = step(old, new, version)
        assert all(d.destination == "mailer" for d in sent), "a paused one hears no changes"
        granted = new["consent"]["marketing"]["state"] == "granted"
        if not granted and (old is None or old["consent"]["marketing"]["state"] != "granted"):
            assert sent == [], "nothing is sent for a person who has not granted the purpose"
        for delivery in sent:
            assert delivery.identifiers.emails == ("ada@example.com",)
            assert delivery.identifiers.phones == ("+31612345678",)
            if delivery.kind == "audience_add":
                assert delivery.audience not in audiences
                audiences.add(str(delivery.audience))
                plan = traits_now(new, NOW).get("plan")
                assert dict(delivery.traits) == ({"PLAN": plan} if plan else {})
            elif delivery.kind == "audience_remove":
                assert delivery.audience in audiences
                audiences.discard(str(delivery.audience))
            else:
                assert delivery.kind == "traits"
                assert granted
        expected = {MAILER.audiences[s] for s in new["segments"] if s in MAILER.audiences}
        assert audiences == (expected if granted else set())
        for delivery in sent:  # the whole, for tools that replace a contact whole
            assert set(delivery.audiences_now) == audiences
        old = new
    erasure = step(old, None, len(history) + 1, erased=True)
    # an erasure reaches paused destinations too
    assert sorted((d.destination, d.kind) for d in erasure) == [
        ("mailer", "erase"),
        ("paused", "erase"),
    ]
    assert erasure[0].identifiers.emails == ("ada@example.com",)


def test_deliveries_read_back_as_they_were_queued() -> None:
    sent = step(state(frozenset(), True), state(frozenset({"buyers", "fans"}), True, "pro"), 2)
    assert decode_deliveries(encode_deliveries(sent)) == sent


def test_a_redelivered_change_gives_the_same_delivery_ids() -> None:
    before, after = state(frozenset(), True), state(frozenset({"buyers"}), True)
    first, again = step(before, after, 2), step(before, after, 2)
    assert [d.id for d in first] == [d.id for d in again]
    assert step(before, after, 3)[0].id != first[0].id


def test_a_merged_or_expired_profile_sends_no_removal() -> None:
    # The person lives on in the profile it merged into, whose own changes say what to add.
    member = state(frozenset({"buyers"}), True)
    assert step(member, None, 5) == []


def test_only_mapped_traits_that_changed_are_sent_while_granted() -> None:
    sent = step(state(frozenset(), True, "free"), state(frozenset(), True, "pro"), 2)
    assert [(d.kind, dict(d.traits)) for d in sent] == [("traits", {"PLAN": "pro"})]
    assert step(state(frozenset(), False, "free"), state(frozenset(), False, "pro"), 2) == []
