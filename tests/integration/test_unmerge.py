"""Merges that can be trusted and undone: every merge is recorded with the event that caused
it; an unmerge splits chosen identities back out with their events, traits, consent and
memberships, tells the destinations, and the two people are never linked again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]
BUYERS = {"id": "buyers", "name": "Bought", "condition": {"computed": "orders", "gte": 1}}
GRANTED = {"consent": {"categoryPreferences": {"marketing": True}}}


def send(collector: Handler, *messages: dict[str, Any]) -> None:
    answer = collector(
        http_event(path="/v1/batch", body={"batch": list(messages)}, headers=basic_auth(WRITE_KEY))
    )
    assert answer["statusCode"] == 200, answer["body"]


def get(api: Handler, path: str) -> dict[str, Any]:
    answer = api(http_event("GET", path, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    found: dict[str, Any] = answer_json(answer)
    return found


def unmerge(privacy_api: Handler, identity: str, body: dict[str, Any]) -> dict[str, Any]:
    return privacy_api(
        http_event("POST", f"/v1/profiles/{identity}/unmerge", body=body, headers=bearer())
    )


def undo_the_merge(profile_api: Handler, privacy_api: Handler) -> None:
    """Unmerge the one merge recorded on Ada's profile."""
    [merge] = get(profile_api, "/v1/profiles/user_id:ada")["merges"]
    assert unmerge(privacy_api, "user_id:ada", {"merge": merge["profile_id"]})["statusCode"] == 200


@pytest.fixture
def mistaken_merge(
    admin_api: Handler, collector: Handler, pipeline: Callable[[], None]
) -> dict[str, Any]:
    """Bea shops anonymously on the family laptop and agrees to marketing; Ada signs in on
    it: the laptop's profile (Bea's order, her consent) merges into Ada's."""
    answer = admin_api(http_event("PUT", "/v1/segments/buyers", body=BUYERS, headers=bearer()))
    assert answer["statusCode"] == 200
    send(
        collector,
        {"type": "identify", "userId": "ada", "anonymousId": "ada-phone", "messageId": "a-1",
         "traits": {"email": "ada@example.com", "name": "Ada"},
         "timestamp": "2026-11-20T09:00:00.000Z"},
        {"type": "page", "anonymousId": "laptop", "name": "Shoes", "messageId": "b-1",
         "timestamp": "2026-11-21T09:00:00.000Z", "context": GRANTED},
        {"type": "track", "anonymousId": "laptop", "event": "Order Completed", "messageId": "b-2",
         "properties": {"revenue": 80}, "timestamp": "2026-11-21T09:05:00.000Z"},
    )  # fmt: skip
    pipeline()
    send(
        collector,
        {"type": "identify", "userId": "ada", "anonymousId": "laptop", "messageId": "a-2",
         "timestamp": "2026-11-22T09:00:00.000Z"},
    )  # fmt: skip
    pipeline()
    return {}


def test_a_merge_is_recorded_with_the_event_that_caused_it(
    mistaken_merge: dict[str, Any], profile_api: Handler
) -> None:
    ada = get(profile_api, "/v1/profiles/user_id:ada")
    [merge] = ada["merges"]
    assert merge["identities"] == ["anonymous_id:laptop"]
    assert merge["message_id"] == "a-2"
    assert merge["filed_under"] == "user_id:ada"
    assert ada["event_count"] == 4


def test_an_unmerge_gives_each_person_their_own_history_and_tells_the_destinations(
    mistaken_merge: dict[str, Any],
    privacy_api: Handler,
    profile_api: Handler,
    pipeline: Callable[[], None],
    bus: Callable[[], list[dict[str, Any]]],
) -> None:
    bus()
    # when the laptop is split back out
    answer = unmerge(privacy_api, "user_id:ada", {"identities": ["anonymous_id:laptop"]})
    assert answer["statusCode"] == 200, answer["body"]
    result = answer_json(answer)
    assert result["split"]["identities"] == ["anonymous_id:laptop"]
    pipeline()

    # then Ada has her own events, traits and memberships only
    ada = get(profile_api, "/v1/profiles/user_id:ada")
    assert {(i["type"], i["value"]) for i in ada["identities"]} == {
        ("user_id", "ada"), ("anonymous_id", "ada-phone"), ("email", "ada@example.com")
    }  # fmt: skip
    assert ada["event_count"] == 2  # her identify, and the sign-in on the laptop
    assert ada["computed"]["orders"] == 0
    assert ada["segments"] == []
    assert ada["consent"] == {}
    assert ada["traits"]["name"] == "Ada"
    # and Bea's laptop profile has hers: the order, the consent, the segment
    bea = get(profile_api, "/v1/profiles/anonymous_id:laptop")
    assert bea["profile_id"] == result["split"]["profile_id"]
    assert [(i["type"], i["value"]) for i in bea["identities"]] == [("anonymous_id", "laptop")]
    assert bea["event_count"] == 2
    assert bea["computed"]["revenue"] == 80
    assert bea["segments"] == ["buyers"]
    assert bea["consent"]["marketing"]["state"] == "granted"
    assert "name" not in bea["traits"]
    # each timeline holds only its own events
    ada_events = get(profile_api, "/v1/profiles/user_id:ada/events")["events"]
    assert sorted(e["messageId"] for e in ada_events) == ["a-1", "a-2"]
    bea_events = get(profile_api, "/v1/profiles/anonymous_id:laptop/events")["events"]
    assert sorted(e["messageId"] for e in bea_events) == ["b-1", "b-2"]

    # and the destinations heard of it
    sent = bus()
    [unmerged] = [e["detail"] for e in sent if e["detail-type"] == "profile.unmerged"]
    assert unmerged["profile_id"] == ada["profile_id"]
    assert unmerged["split_into"] == bea["profile_id"]
    assert unmerged["identities_moved"] == [{"type": "anonymous_id", "value": "laptop"}]
    exits = [e["detail"] for e in sent if e["detail-type"] == "segment.exited"]
    assert [(e["profile_id"], e["segment_id"]) for e in exits] == [(ada["profile_id"], "buyers")]
    entries = [e["detail"] for e in sent if e["detail-type"] == "segment.entered"]
    assert [(e["profile_id"], e["segment_id"]) for e in entries] == [(bea["profile_id"], "buyers")]


def test_the_two_are_never_linked_again(
    mistaken_merge: dict[str, Any],
    privacy_api: Handler,
    profile_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
) -> None:
    undo_the_merge(profile_api, privacy_api)
    # when Ada signs in on the laptop again
    send(collector, {"type": "identify", "userId": "ada", "anonymousId": "laptop"})
    pipeline()
    # then it is refused as a link, and says why
    ada = get(profile_api, "/v1/profiles/user_id:ada")
    assert "anonymous_id:laptop" not in {f"{i['type']}:{i['value']}" for i in ada["identities"]}
    assert any(c["reason"] == "kept apart by an unmerge" for c in ada["conflicts"])
    bea = get(profile_api, "/v1/profiles/anonymous_id:laptop")
    assert bea["profile_id"] != ada["profile_id"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"identities": ["anonymous_id:elsewhere"]}, "not identities of this profile"),
        ({"identities": ["user_id:ada", "anonymous_id:ada-phone", "email:ada@example.com",
                         "anonymous_id:laptop"]}, "must keep at least one identity"),
        ({"identities": []}, "at least one identity"),
        ({"merge": "no-such-merge"}, "no merge of profile no-such-merge"),
        ({"identities": ["laptop"]}, "is not type:value"),
        ({}, "either identities or merge"),
    ],
)  # fmt: skip
def test_an_unmerge_that_cannot_be_done_is_refused_with_the_reason(
    mistaken_merge: dict[str, Any], privacy_api: Handler, body: dict[str, Any], message: str
) -> None:
    answer = unmerge(privacy_api, "user_id:ada", body)
    assert answer["statusCode"] == 400, answer["body"]
    assert message in answer["body"]


def test_after_an_unmerge_a_split_identitys_events_go_to_its_own_profile(
    mistaken_merge: dict[str, Any],
    privacy_api: Handler,
    profile_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
) -> None:
    # the warm profile builder last saw the laptop as Ada's
    undo_the_merge(profile_api, privacy_api)
    before = get(profile_api, "/v1/profiles/user_id:ada")["event_count"]
    # when Bea browses on the laptop again
    send(collector, {"type": "page", "anonymousId": "laptop", "name": "Hats", "messageId": "b-3"})
    pipeline()
    # then the page view is hers
    assert get(profile_api, "/v1/profiles/user_id:ada")["event_count"] == before
    bea = get(profile_api, "/v1/profiles/anonymous_id:laptop")
    assert bea["event_count"] == 3
