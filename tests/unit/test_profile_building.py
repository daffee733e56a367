"""Identity resolution, merges and exactly-once, on the in-memory store (fast enough for
property-based tests); tests/integration repeats the essentials on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.profiles.builder import build_profiles
from cdp.profiles.computed import load_definitions
from cdp.profiles.identity import IdentityLimits
from cdp.profiles.profile import Profile, profile_view
from cdp.profiles.timeline import StreamEvent
from tests.memory_profiles import MemoryProfiles

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DEFINITIONS = load_definitions([])


def event(message: dict[str, Any], sequence: int, source: str = "web") -> StreamEvent:
    message = {"messageId": f"m-{sequence}", "timestamp": "2026-11-23T09:00:00.000Z", **message}
    partition = (
        f"user_id:{message['userId']}"
        if message.get("userId")
        else f"anonymous_id:{message['anonymousId']}"
    )
    return StreamEvent(partition=partition, sequence=sequence, message=message, source=source)


def build(store: MemoryProfiles, events: list[StreamEvent], limits: IdentityLimits | None = None):
    return build_profiles(
        events,
        store=store,
        definitions=DEFINITIONS,
        limits=limits or IdentityLimits(),
        clock=lambda: NOW,
        sleep=lambda _: None,
    )


def view_of(store: MemoryProfiles, identity: str) -> dict[str, Any]:
    [profile] = [p for p in store.live_profiles() if identity in p.identities]
    return profile_view(profile, DEFINITIONS, NOW)


def test_anonymous_browsing_then_sign_up_is_one_profile() -> None:
    store = MemoryProfiles()
    build(store, [event({"type": "page", "anonymousId": "a1", "name": "Home"}, 1)])
    build(
        store,
        [
            event({"type": "page", "anonymousId": "a1", "name": "Pricing"}, 2),
            event(
                {
                    "type": "identify",
                    "anonymousId": "a1",
                    "userId": "u1",
                    "traits": {"email": "U1@x.nl"},
                },
                3,
            ),
        ],
    )
    [profile] = store.live_profiles()
    assert set(profile.identities) == {"anonymous_id:a1", "user_id:u1", "email:u1@x.nl"}
    view = view_of(store, "user_id:u1")
    assert view["computed"]["page_views"] == 2
    assert view["traits"] == {"email": "U1@x.nl"}
    assert view["event_count"] == 3


def test_a_second_device_merges_two_existing_profiles() -> None:
    store = MemoryProfiles()
    build(store, [event({"type": "identify", "anonymousId": "laptop", "userId": "u1"}, 1)])
    build(store, [event({"type": "page", "anonymousId": "phone"}, 2)])
    build(store, [event({"type": "page", "anonymousId": "phone"}, 3)])
    assert len(store.live_profiles()) == 2

    outcome = build(store, [event({"type": "identify", "anonymousId": "phone", "userId": "u1"}, 4)])

    assert outcome.merges == 1
    [profile] = store.live_profiles()
    assert {"anonymous_id:laptop", "anonymous_id:phone", "user_id:u1"} <= set(profile.identities)
    assert profile.event_count == 4
    assert profile_view(profile, DEFINITIONS, NOW)["computed"]["page_views"] == 2
    assert store.identities["anonymous_id:phone"] == profile.profile_id  # repointed
    assert sum("merged_into" in item for item in store.items.values()) == 1


def test_two_user_ids_are_never_merged_and_the_conflict_is_recorded() -> None:
    # a shared computer: two people sign in on the same browser
    store = MemoryProfiles()
    build(store, [event({"type": "identify", "anonymousId": "shared", "userId": "alice"}, 1)])
    build(store, [event({"type": "identify", "anonymousId": "shared", "userId": "bob"}, 2)])

    profiles = store.live_profiles()
    assert len(profiles) == 2
    bob = next(p for p in profiles if "user_id:bob" in p.identities)
    alice = next(p for p in profiles if "user_id:alice" in p.identities)
    assert "anonymous_id:shared" in alice.identities
    assert "anonymous_id:shared" not in bob.identities
    assert bob.event_count == 1
    # alice's device id is not kept on bob's profile: only that one of its type was refused
    assert bob.conflicts == [
        {
            "at": "2026-11-23T09:00:00.000Z",
            "identity": "user_id:bob",
            "refused": "anonymous_id",
            "reason": "different user_ids",
            "message_id": bob.conflicts[0]["message_id"],
        }
    ]


def test_identity_limits_refuse_links_past_the_limit() -> None:
    store = MemoryProfiles()
    limits = IdentityLimits(per_type={"anonymous_id": 2, "email": 1})
    messages = [
        {"type": "identify", "userId": "u1", "anonymousId": f"device-{n}"} for n in range(3)
    ]
    build(store, [event(message, n + 1) for n, message in enumerate(messages)], limits)
    user = next(p for p in store.live_profiles() if "user_id:u1" in p.identities)
    assert sorted(k for k in user.identities if k.startswith("anonymous_id")) == [
        "anonymous_id:device-0",
        "anonymous_id:device-1",
    ]
    assert user.conflicts[0]["reason"] == "more than 2 anonymous_id identities"
    assert user.event_count == 3


def test_alias_links_an_anonymous_id_or_a_known_user_id() -> None:
    store = MemoryProfiles()
    build(store, [event({"type": "page", "anonymousId": "a1"}, 1)])
    build(store, [event({"type": "alias", "userId": "u1", "previousId": "a1"}, 2)])
    [profile] = store.live_profiles()
    assert {"anonymous_id:a1", "user_id:u1"} <= set(profile.identities)


def test_events_with_an_email_only_in_context_link_by_email() -> None:
    store = MemoryProfiles()
    build(store, [event({"type": "identify", "userId": "u1", "traits": {"email": "ada@x.nl"}}, 1)])
    build(
        store,
        [
            event(
                {
                    "type": "track",
                    "anonymousId": "new",
                    "event": "X",
                    "context": {"traits": {"email": "ADA@x.nl"}},
                },
                2,
            )
        ],
    )
    [profile] = store.live_profiles()
    assert "anonymous_id:new" in profile.identities


def test_a_replayed_batch_changes_nothing() -> None:
    store = MemoryProfiles()
    batch = [
        event(
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {"revenue": 10},
            },
            1,
        ),
        event(
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {"revenue": 5},
            },
            2,
        ),
    ]
    build(store, batch)
    before = json_state(store)
    writes = store.writes

    outcome = build(store, batch)

    assert json_state(store) == before
    assert store.writes == writes  # a replay costs no write at all
    assert outcome.events_applied == 0


def test_a_poison_event_fails_alone_and_later_events_of_its_person_wait() -> None:
    store = MemoryProfiles()
    poison = event({"type": "track", "userId": "u1", "event": "X"}, 2)
    poison.message.pop("timestamp")  # something apply_event cannot handle
    batch = [
        event({"type": "track", "userId": "u1", "event": "A"}, 1),
        poison,
        event({"type": "track", "userId": "u1", "event": "B"}, 3),
        event({"type": "track", "userId": "u2", "event": "C"}, 4),
    ]

    outcome = build(store, batch)

    assert set(outcome.failures) == {"2", "3"}
    u1 = next(p for p in store.live_profiles() if "user_id:u1" in p.identities)
    u2 = next(p for p in store.live_profiles() if "user_id:u2" in p.identities)
    assert (u1.event_count, u2.event_count) == (1, 1)
    # the stream retries from record 2: the poison fails again, nothing doubles
    build(store, batch[1:])
    u1 = next(p for p in store.live_profiles() if "user_id:u1" in p.identities)
    assert u1.event_count == 1


def test_a_lost_race_is_retried_with_fresh_reads() -> None:
    store = MemoryProfiles()
    build(store, [event({"type": "identify", "userId": "u1", "anonymousId": "tablet"}, 1)])

    class Racing(MemoryProfiles):
        """Another builder (another shard: the tablet's events) writes the same profile
        between our read and our write, once."""

        raced = False

        def save(self, plan):  # type: ignore[no-untyped-def]
            if not self.raced:
                self.raced = True
                build(inner, [event({"type": "track", "anonymousId": "tablet", "event": "X"}, 100)])
            return inner.save(plan)

        def load(self, identities, *, consistent=True):  # type: ignore[no-untyped-def]
            return inner.load(identities)

    inner = store
    outcome = build(Racing(), [event({"type": "track", "userId": "u1", "event": "Here"}, 2)])

    assert outcome.conflicts_retried == 1
    assert outcome.failures == {}
    [profile] = inner.live_profiles()
    assert profile.event_count == 3


def json_state(store: MemoryProfiles) -> dict[str, Any]:
    return {key: dict(value) for key, value in store.items.items()} | {
        "ids": dict(store.identities)
    }


# -- properties ------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of up to three people; each device (anonymous id) belongs to one person, so
    every order of the events describes the same people."""
    people = draw(st.integers(1, 3))
    messages = []
    for n in range(draw(st.integers(1, 14))):
        person = draw(st.integers(0, people - 1))
        device = f"a{person}-{draw(st.integers(0, 1))}"
        kind = draw(
            st.sampled_from(
                ["page", "order", "identify", "alias", "order_as_user", "group", "consent"]
            )
        )
        timestamp = f"2026-11-{10 + n:02d}T09:00:00.000Z"
        base = {"timestamp": timestamp, "messageId": f"m{n}"}
        if kind == "page":
            messages.append({**base, "type": "page", "anonymousId": device, "name": "Home"})
        elif kind == "order":
            revenue = draw(st.sampled_from([1, 2.5, 0.1, 19.99]))
            messages.append(
                {
                    **base,
                    "type": "track",
                    "anonymousId": device,
                    "event": "Order Completed",
                    "properties": {
                        "revenue": revenue,
                        "category": draw(st.sampled_from(["a", "b"])),
                    },
                }
            )
        elif kind == "order_as_user":
            messages.append(
                {
                    **base,
                    "type": "track",
                    "userId": f"u{person}",
                    "event": "Order Completed",
                    "properties": {"revenue": 3},
                }
            )
        elif kind == "identify":
            plan = draw(st.sampled_from(["free", "pro", None]))
            messages.append(
                {
                    **base,
                    "type": "identify",
                    "userId": f"u{person}",
                    "anonymousId": device,
                    "traits": {"plan": plan, "email": f"p{person}@example.com"},
                }
            )
        elif kind == "alias":
            messages.append({**base, "type": "alias", "userId": f"u{person}", "previousId": device})
        elif kind == "consent":
            choices = draw(
                st.dictionaries(st.sampled_from(["analytics", "marketing"]), st.booleans())
            )
            messages.append(
                {
                    **base,
                    "type": "track",
                    "anonymousId": device,
                    "event": "Consent Updated",
                    "context": {"consent": {"categoryPreferences": choices, "version": "v2"}},
                }
            )
        else:
            messages.append({**base, "type": "group", "userId": f"u{person}", "groupId": "g1"})
    return messages


def run(
    messages: list[dict[str, Any]], batch_size: int, store: MemoryProfiles | None = None
) -> MemoryProfiles:
    store = store or MemoryProfiles()
    events = [event(message, sequence) for sequence, message in enumerate(messages, start=1)]
    for start in range(0, len(events), batch_size):
        build(store, events[start : start + batch_size])
    return store


def people(store: MemoryProfiles) -> list[dict[str, Any]]:
    """Each profile's content, without what depends on processing order by nature (its
    generated id, when it was created, when an identity was first linked, which profiles
    merged into which on the way)."""
    answer = []
    for profile in store.live_profiles():
        view = profile_view(profile, DEFINITIONS, NOW)
        for unstable in ("profile_id", "created_at", "merges"):
            view.pop(unstable)
        view["identities"] = sorted((i["type"], i["value"]) for i in view["identities"])
        answer.append(view)
    return sorted(answer, key=lambda view: view["identities"])


@settings(max_examples=150, deadline=None)
@given(messages=histories(), data=st.data())
def test_the_same_events_in_any_order_give_the_same_profiles(
    messages: list[dict[str, Any]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(messages))
    batch_size = data.draw(st.integers(1, 5))
    assert people(run(shuffled, batch_size)) == people(run(messages, 100))


@settings(max_examples=100, deadline=None)
@given(messages=histories(), data=st.data())
def test_replaying_any_batches_changes_nothing(
    messages: list[dict[str, Any]], data: st.DataObject
) -> None:
    events = [event(message, sequence) for sequence, message in enumerate(messages, start=1)]
    batch_size = data.draw(st.integers(1, 4))
    batches = [events[start : start + batch_size] for start in range(0, len(events), batch_size)]
    once, replayed = MemoryProfiles(), MemoryProfiles()
    for index, batch in enumerate(batches):
        build(once, batch)
        build(replayed, batch)
        # the stream redelivers some earlier batches (a crash after writing, a retry)
        for earlier in data.draw(st.lists(st.integers(0, index), max_size=2)):
            build(replayed, batches[earlier])
    assert people(replayed) == people(once)  # each person's view, its event count included
    assert sorted(p.event_count for p in replayed.live_profiles()) == sorted(
        p.event_count for p in once.live_profiles()
    )


def test_a_profile_at_every_bound_stays_far_below_the_item_limit() -> None:
    import os

    from cdp.profiles.computed import MAX_DISTINCT_VALUES
    from cdp.profiles.profile import MAX_CONFLICTS, MAX_GROUPS
    from cdp.profiles.traits import KINDS, MAX_TRAITS, TraitValue
    from cdp.runtime.codec import compress

    def noise(size: int) -> str:
        return os.urandom(size).hex()[:size]  # incompressible text

    profile = Profile(profile_id="p", created_at="2026-11-23T00:00:00.000Z")
    limits = IdentityLimits()
    for kind, count in (
        ("user_id", 1),
        ("email", limits.limit("email")),
        ("anonymous_id", limits.limit("anonymous_id")),
    ):
        for _ in range(count):
            profile.identities[f"{kind}:{noise(64)}"] = "2026-11-23T00:00:00.000Z"
    for _ in range(limits.external):
        profile.identities[f"crm_id:{noise(64)}"] = "2026-11-23T00:00:00.000Z"
    for _ in range(MAX_TRAITS):
        profile.traits[noise(64)] = {
            kind: TraitValue(noise(480), noise(32), "2026-11-23T00:00:00.000Z", noise(36))
            for kind in KINDS
        }
    for definition in DEFINITIONS:
        profile.computed[definition.id] = {
            "n": 10**9,
            "s": "123456789.12",
            "d": {f"2026{day:04d}": "99999.99" for day in range(90)},
            "c": {noise(128): 10**6 for _ in range(MAX_DISTINCT_VALUES)},
        }
    profile.groups = {noise(64): "2026-11-23T00:00:00.000Z" for _ in range(MAX_GROUPS)}
    profile.conflicts = [
        {"at": "2026-11-23T00:00:00.000Z", "identity": noise(200), "refused": noise(64),
         "reason": "x" * 40, "message_id": noise(200), "last_at": "2026-11-23T00:00:00.000Z",
         "count": 10**6}
    ] * MAX_CONFLICTS  # fmt: skip

    size = len(compress(profile.to_state()))
    assert size < 350 * 1024, size


@settings(max_examples=100, deadline=None)
@given(messages=histories(), data=st.data())
def test_stale_first_reads_give_the_same_profiles(
    messages: list[dict[str, Any]], data: st.DataObject
) -> None:
    """The builder reads eventually consistently first: whatever old state a read returns,
    the conditional writes refuse what was planned on it, and the profiles come out the same."""
    batch_size = data.draw(st.integers(1, 4))
    stale = MemoryProfiles(stale_reads=data.draw(st.randoms(use_true_random=False)))
    assert people(run(messages, batch_size, stale)) == people(run(messages, 100))


def test_a_profile_state_is_stored_with_its_dictionary_and_read_back_either_way() -> None:
    import zlib

    from cdp.runtime.codec import compress
    from cdp.storage.profiles import STATE_DICTIONARY_1, decode_state, encode_state

    state = Profile(profile_id="p", created_at="2026-01-01T00:00:00.000Z").to_state()
    state["consent"] = {"analytics": {"state": "granted", "at": "2026-01-02T00:00:00.000Z"}}

    assert decode_state(encode_state(state)) == state
    assert len(encode_state(state)) < len(compress(state)) / 2
    assert decode_state(compress(state)) == state  # written before the dictionary
    # states name the dictionary they were written with: it can never change
    assert zlib.adler32(STATE_DICTIONARY_1) == 0xAC3CA89E


def test_an_expiry_that_is_not_a_time_is_no_expiry() -> None:
    # given an identify whose sender wrote expiries of its own, not all of them times
    store = MemoryProfiles()
    expires = {"plan": "soon", "city": 42, "age": "2026-13-45", "home": "2027-05-01T00:00:00Z"}
    message = {
        "type": "identify",
        "userId": "u1",
        "traits": {"plan": "pro", "city": "Delft", "age": 40, "home": "own"},
        "context": {"cdp": {"expires": expires}},
    }

    # when it is built (a time it cannot read would fail the record at every retry)
    outcome = build(store, [event(message, 1)])

    # then the traits are kept, and only the readable time expires one, written as ours
    assert outcome.failures == {}
    view = view_of(store, "user_id:u1")
    assert view["traits"] == message["traits"]
    expiry = {name: view["trait_sources"][name].get("expires_at") for name in expires}
    assert expiry == {"plan": None, "city": None, "age": None, "home": "2027-05-01T00:00:00.000Z"}


def test_a_profile_stored_with_an_unreadable_expiry_still_builds() -> None:
    # given a profile stored before expiries were checked, holding one that is not a time
    store = MemoryProfiles()
    build(store, [event({"type": "identify", "userId": "u1", "traits": {"plan": "pro"}}, 1)])
    [item] = store.items.values()
    state = json.loads(item["state"])
    state["traits"]["plan"]["observed"].append("soon")
    item["state"] = json.dumps(state)

    # when another event of the person arrives
    outcome = build(store, [event({"type": "track", "userId": "u1", "event": "Paid"}, 2)])

    # then it is applied, and the unreadable expiry ends nothing
    assert outcome.failures == {}
    assert view_of(store, "user_id:u1")["traits"] == {"plan": "pro"}
