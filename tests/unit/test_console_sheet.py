"""The 360° profile (`cdp.console.sheet`): people built from events by the profile builder on
the in-memory store, then looked at as the console shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cdp.console.sheet import profile_sheet
from cdp.profiles.builder import build_profiles
from cdp.profiles.computed import load_definitions
from cdp.profiles.identity import IdentityLimits
from cdp.profiles.profile import Profile, profile_view
from cdp.profiles.timeline import StreamEvent
from cdp.profiles.traits import TraitValue, offer
from cdp.runtime.clock import iso
from cdp.segments.conditions import CompiledSegment, SegmentDefinition, compile_segments
from tests.memory_profiles import MemoryProfiles

DAY_1 = datetime(2026, 11, 20, 9, tzinfo=UTC)
DEFINITIONS = load_definitions([])
SEGMENTS = compile_segments(
    [
        SegmentDefinition(
            id="engaged", name="Engaged visitors", condition={"computed": "page_views", "gte": 2}
        ),
        SegmentDefinition(
            id="reachable",
            name="Reachable by e-mail",
            condition={"identity": "email", "exists": True},
            purpose="marketing",
        ),
    ]
)


class People:
    """The profile builder over an in-memory store, with a clock the test moves."""

    def __init__(self, segments: tuple[CompiledSegment, ...] = SEGMENTS) -> None:
        self.store = MemoryProfiles()
        self.segments = segments
        self.sequence = 0
        self.now = DAY_1

    def send(self, message: dict[str, Any], *, source: str = "web") -> str:
        """One event, timestamped now and built at once; answers its message id."""
        self.sequence += 1
        message_id = f"m-{self.sequence}"
        message = {"messageId": message_id, "timestamp": iso(self.now), **message}
        partition = (
            f"user_id:{message['userId']}"
            if message.get("userId")
            else f"anonymous_id:{message['anonymousId']}"
        )
        build_profiles(
            [StreamEvent(partition, self.sequence, message, source)],
            store=self.store,
            definitions=DEFINITIONS,
            limits=IdentityLimits(),
            segments=self.segments,
            clock=lambda: self.now,
            sleep=lambda _: None,
        )
        return message_id

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def profile_of(self, identity: str) -> Profile:
        [profile] = [p for p in self.store.live_profiles() if identity in p.identities]
        return profile

    def sheet_of(self, identity: str, now: datetime | None = None) -> dict[str, Any]:
        profile = self.profile_of(identity)
        return profile_sheet(
            profile, definitions=DEFINITIONS, segments=self.segments, now=now or self.now
        )


def identity(sheet: dict[str, Any], kind: str, value: str) -> dict[str, Any]:
    [entry] = [i for i in sheet["identities"] if (i["type"], i["value"]) == (kind, value)]
    return entry


def test_identities_say_which_merge_brought_them() -> None:
    # given: a browser that signs up, then a phone the same person used before signing in on it
    people = People()
    people.send({"type": "page", "anonymousId": "laptop", "name": "Home"})
    people.later(hours=1)
    people.send(
        {
            "type": "identify",
            "anonymousId": "laptop",
            "userId": "ada",
            "traits": {"email": "ada@example.com"},
        }
    )
    people.later(days=1)
    people.send({"type": "page", "anonymousId": "phone", "name": "Pricing"})
    phone_profile = people.profile_of("anonymous_id:phone").profile_id
    people.later(hours=2)
    merging = people.send({"type": "identify", "anonymousId": "phone", "userId": "ada"})

    # when
    sheet = people.sheet_of("user_id:ada")

    # then: the phone came with the merge of its profile, caused by the identify on the phone
    assert identity(sheet, "anonymous_id", "phone") == {
        "type": "anonymous_id",
        "value": "phone",
        "linked_at": iso(DAY_1 + timedelta(days=1, hours=1)),
        "via": {
            "how": "merge",
            "at": iso(people.now),
            "profile_id": phone_profile,
            "message_id": merging,
            "event_time": iso(people.now),
        },
    }
    # the others were first seen on this profile, each linked by its first event
    assert identity(sheet, "anonymous_id", "laptop")["via"] == {"how": "first_seen"}
    assert identity(sheet, "anonymous_id", "laptop")["linked_at"] == iso(DAY_1)
    assert identity(sheet, "user_id", "ada")["via"] == {"how": "first_seen"}
    assert identity(sheet, "email", "ada@example.com")["linked_at"] == iso(
        DAY_1 + timedelta(hours=1)
    )
    assert [m["profile_id"] for m in sheet["merges"]] == [phone_profile]
    assert sheet["event_count"] == 4
    assert (sheet["first_seen"], sheet["last_seen"]) == (iso(DAY_1), iso(people.now))


def test_after_merges_of_merges_an_identity_names_the_merge_that_brought_it_here() -> None:
    # given: a watch and a tablet become one person by an e-mail address, unknown by user id;
    # that person then signs in on the tablet, where another profile already holds the user id
    people = People()
    people.send({"type": "identify", "userId": "ada", "traits": {"name": "Ada"}})
    people.later(hours=1)
    people.send({"type": "identify", "anonymousId": "watch", "traits": {"email": "a@x.nl"}})
    people.later(hours=1)
    people.send({"type": "page", "anonymousId": "tablet"})
    people.later(hours=1)
    first = people.send(
        {"type": "identify", "anonymousId": "tablet", "traits": {"email": "a@x.nl"}}
    )
    people.later(hours=1)
    second = people.send({"type": "identify", "anonymousId": "tablet", "userId": "ada"})

    sheet = people.sheet_of("user_id:ada")

    merged = {i["value"]: i["via"] for i in sheet["identities"] if i["via"]["how"] == "merge"}
    assert set(merged) == {"watch", "tablet", "a@x.nl"}
    # each was in the profile the second identify merged: that merge is the one shown
    assert {via["message_id"] for via in merged.values()} == {second}
    assert [m["message_id"] for m in sheet["merges"]] == [first, second]


def test_identities_split_out_by_an_unmerge_say_so() -> None:
    profile = Profile(
        profile_id="p-new",
        created_at="2026-11-23T10:00:00.000Z",
        identities={"anonymous_id:shared": "2026-11-20T09:00:00.000Z"},
        unmerges=[
            {
                "at": "2026-11-23T10:00:00.000Z",
                "split_from": "p-old",
                "identities": ["anonymous_id:shared"],
            }
        ],
    )

    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=SEGMENTS, now=DAY_1)

    assert sheet["identities"][0]["via"] == {
        "how": "unmerge",
        "at": "2026-11-23T10:00:00.000Z",
        "split_from": "p-old",
    }


def test_placeholders_are_listed_apart_with_the_reason() -> None:
    people = People()
    people.send(
        {
            "type": "page",
            "anonymousId": "laptop",
            "context": {"cdp": {"ignored_identities": ["user_id:undefined"]}},
        }
    )

    sheet = people.sheet_of("anonymous_id:laptop")

    assert [i["value"] for i in sheet["identities"]] == ["laptop"]
    assert sheet["ignored_identities"] == [
        {
            "type": "user_id",
            "value": "undefined",
            "reason": "a placeholder, not an identifier",
            "first_seen": iso(DAY_1),
        }
    ]


def declared(traits: dict[str, Any], expires: dict[str, str] | None = None) -> dict[str, Any]:
    cdp = {"provenance": "declared", **({"expires": expires} if expires else {})}
    return {"type": "identify", "userId": "ada", "traits": traits, "context": {"cdp": cdp}}


def test_traits_are_grouped_by_provenance_and_the_one_that_counts_is_marked() -> None:
    people = People()
    moving_until = iso(DAY_1 + timedelta(days=30))
    stated = people.send(declared({"city": "Delft", "moving": True}, {"moving": moving_until}))
    people.later(days=1)
    seen = people.send({"type": "identify", "userId": "ada", "traits": {"city": "Leiden"}})
    people.send(
        {
            "type": "identify",
            "userId": "ada",
            "traits": {"company": "Analytical Engines"},
            "context": {"cdp": {"provenance": "imported"}},
        },
        source="crm",
    )

    sheet = people.sheet_of("user_id:ada")

    assert sheet["traits"]["declared"]["city"] == {
        "value": "Delft",
        "source": "web",
        "set_at": iso(DAY_1),
        "message_id": stated,
        "expires_at": None,
        "expired": False,
        "counts": True,  # a statement outranks what was seen, however newer
        "ask_again": False,
    }
    assert sheet["traits"]["observed"]["city"] == {
        "value": "Leiden",
        "source": "web",
        "set_at": iso(people.now),
        "message_id": seen,
        "expires_at": None,
        "expired": False,
        "counts": False,
    }
    assert sheet["traits"]["imported"]["company"]["counts"] is True
    assert sheet["traits"]["imported"]["company"]["source"] == "crm"
    assert sheet["traits"]["declared"]["moving"]["expires_at"] == moving_until
    assert list(sheet["traits"]) == ["declared", "imported", "observed"]


def test_an_expired_declared_fact_is_to_be_asked_again() -> None:
    people = People()
    people.send(declared({"moving": True}, {"moving": iso(DAY_1 + timedelta(days=30))}))
    people.send({"type": "identify", "userId": "ada", "traits": {"moving": False}})

    before = people.sheet_of("user_id:ada", now=DAY_1 + timedelta(days=29))
    after = people.sheet_of("user_id:ada", now=DAY_1 + timedelta(days=31))

    stated = before["traits"]["declared"]["moving"]
    assert (stated["value"], stated["expired"], stated["ask_again"], stated["counts"]) == (
        True,
        False,
        False,
        True,
    )
    stated = after["traits"]["declared"]["moving"]
    assert (stated["expired"], stated["ask_again"], stated["counts"]) == (True, True, False)
    assert after["traits"]["observed"]["moving"]["counts"] is True  # what counts meanwhile


TRAIT_NAMES = ("city", "plan", "moving")
KIND_NAMES = ("declared", "imported", "observed")
MOMENTS = [iso(DAY_1 + timedelta(days=days)) for days in range(5)]


@given(
    offers=st.lists(
        st.tuples(
            st.sampled_from(TRAIT_NAMES),
            st.sampled_from(KIND_NAMES),
            st.one_of(st.none(), st.sampled_from(["a", "b"]), st.integers(0, 3)),
            st.sampled_from(MOMENTS),
            st.one_of(st.none(), st.sampled_from(MOMENTS)),
        ),
        max_size=12,
    ),
    day=st.integers(0, 5),
)
def test_what_counts_in_the_sheet_is_what_the_profile_answers(
    offers: list[tuple[str, str, Any, str, str | None]], day: int
) -> None:
    profile = Profile(profile_id="p", created_at=MOMENTS[0])
    for n, (name, kind, value, at, expires) in enumerate(offers):
        offer(profile.traits, name, kind, TraitValue(value, "web", at, f"m-{n}", expires))
    now = DAY_1 + timedelta(days=day, hours=12)

    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=SEGMENTS, now=now)

    counting = {
        name: (kind, entry)
        for kind, group in sheet["traits"].items()
        for name, entry in group.items()
        if entry["counts"]
    }
    shown = {n for group in sheet["traits"].values() for n in group}
    assert len(counting) == len(shown & set(counting))  # at most one value counts per trait
    view = profile_view(profile, DEFINITIONS, now)
    assert {n: e["value"] for n, (_, e) in counting.items() if e["value"] is not None} == view[
        "traits"
    ]
    for kind, group in sheet["traits"].items():
        for entry in group.values():
            lapsed = entry["expires_at"] is not None and entry["expires_at"] <= iso(now)
            assert entry["expired"] == lapsed
            assert not (entry["expired"] and entry["counts"])
            assert entry.get("ask_again", False) == (kind == "declared" and entry["expired"])


def test_segment_memberships_come_with_when_and_why() -> None:
    people = People()
    people.send(
        {
            "type": "page",
            "anonymousId": "laptop",
            "context": {"consent": {"categoryPreferences": {"marketing": True}}},
        }
    )
    people.later(hours=1)
    people.send({"type": "page", "anonymousId": "laptop"})
    people.later(hours=1)
    people.send(
        {"type": "identify", "anonymousId": "laptop", "traits": {"email": "ada@example.com"}}
    )

    sheet = people.sheet_of("anonymous_id:laptop")

    engaged, reachable = sheet["segments"]
    assert (engaged["id"], engaged["name"], engaged["since"]) == (
        "engaged",
        "Engaged visitors",
        iso(DAY_1 + timedelta(hours=1)),
    )
    assert engaged["explanation"]["member"] is True
    assert engaged["explanation"]["condition"] == {
        "computed": "page_views",
        "gte": 2,
        "actual": 2,
        "holds": True,
    }
    assert (reachable["id"], reachable["since"]) == ("reachable", iso(people.now))
    assert reachable["explanation"]["condition"]["actual"] == ["ada@example.com"]
    assert reachable["explanation"]["purpose"] == {
        "consent": "marketing",
        "state": "granted",
        "holds": True,
    }


def test_a_membership_of_a_segment_no_longer_defined_is_shown_without_a_why() -> None:
    people = People()
    people.send({"type": "page", "anonymousId": "laptop"})
    people.send({"type": "page", "anonymousId": "laptop"})
    profile = people.profile_of("anonymous_id:laptop")

    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=(), now=people.now)

    assert sheet["segments"] == [
        {"id": "engaged", "name": None, "since": iso(DAY_1), "explanation": None}
    ]


def test_a_membership_time_is_about_to_end_says_what_is_pending() -> None:
    # given: a member of "recent" whose last sign of life is now more than a day ago
    recent = compile_segments(
        [
            SegmentDefinition(
                id="recent", name="Recent", condition={"profile": "last_seen", "within": 1}
            )
        ]
    )
    people = People(segments=recent)
    people.send({"type": "page", "anonymousId": "laptop"})

    sheet = people.sheet_of("anonymous_id:laptop", now=DAY_1 + timedelta(days=2))

    [membership] = sheet["segments"]
    assert membership["explanation"]["member"] is True  # what other systems were told
    assert membership["explanation"]["pending"]["member"] is False
    assert membership["explanation"]["condition"]["holds"] is False


def test_consent_shows_each_purpose_now_and_every_decision_before() -> None:
    people = People()

    def decide(version: str, **preferences: bool) -> str:
        return people.send(
            {
                "type": "track",
                "event": "Consent Updated",
                "userId": "ada",
                "context": {"consent": {"categoryPreferences": preferences, "version": version}},
            }
        )

    granted = decide("v1", analytics=True, marketing=True)
    people.later(days=1)
    denied = decide("v2", marketing=False)

    sheet = people.sheet_of("user_id:ada")

    assert sheet["consent"]["current"] == {
        "analytics": {"state": "granted", "at": iso(DAY_1), "version": "v1", "source": "web"},
        "marketing": {"state": "denied", "at": iso(people.now), "version": "v2", "source": "web"},
    }
    assert [
        (d["purpose"], d["state"], d["version"], d["message_id"])
        for d in sheet["consent"]["history"]
    ] == [
        ("analytics", "granted", "v1", granted),
        ("marketing", "granted", "v1", granted),
        ("marketing", "denied", "v2", denied),
    ]


def test_the_sheet_is_json_and_leaves_the_profile_alone() -> None:
    people = People()
    people.send({"type": "identify", "userId": "ada", "traits": {"tags": ["a", "b"]}})
    people.send({"type": "identify", "anonymousId": "phone", "userId": "ada"})
    people.send({"type": "identify", "anonymousId": "laptop", "userId": "bob"})
    people.send({"type": "identify", "anonymousId": "laptop", "userId": "ada"})  # refused
    profile = people.profile_of("user_id:ada")
    stored = json.dumps(profile.to_state(), sort_keys=True)

    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=SEGMENTS, now=people.now)
    json.loads(json.dumps(sheet))  # plain JSON
    sheet["traits"]["observed"]["tags"]["value"].append("c")
    sheet["consent"]["history"].clear()
    for record in (*sheet["merges"], *sheet["conflicts"]):
        record.clear()

    assert json.dumps(profile.to_state(), sort_keys=True) == stored
    assert profile.conflicts[0]["reason"] == "different user_ids"
