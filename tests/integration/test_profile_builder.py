"""The profile builder's Lambda handler on moto: stream batches in, profiles out."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cdp.profiles.builder import build_profiles
from cdp.profiles.computed import load_definitions
from cdp.profiles.identity import IdentityLimits
from cdp.profiles.timeline import StreamEvent
from cdp.storage.profiles import ProfileStore, decode_state
from cdp.storage.streams import read_event_records
from tests.factories import stream_event, stream_record

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def profiles(dynamodb: Any, names: dict[str, str]) -> dict[str, dict[str, Any]]:
    items = dynamodb.scan(TableName=names["PROFILES_TABLE"])["Items"]
    return {item["profile_id"]["S"]: item for item in items}


def live(dynamodb: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        decode_state(item["state"]["B"]) | {"version": int(item["version"]["N"])}
        for item in profiles(dynamodb, names).values()
        if "state" in item
    ]


def owners(dynamodb: Any, names: dict[str, str]) -> dict[str, str]:
    items = dynamodb.scan(TableName=names["IDENTITIES_TABLE"])["Items"]
    return {item["identity"]["S"]: item["profile_id"]["S"] for item in items}


def test_a_batch_builds_one_profile_per_person_in_one_write_each(
    profile_builder: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    # given a batch with three events of one person and one of another
    batch = stream_event(
        stream_record({"type": "page", "anonymousId": "a1", "name": "Home"}),
        stream_record(
            {
                "type": "identify",
                "anonymousId": "a1",
                "userId": "u1",
                "traits": {"email": "ada@x.nl", "plan": "pro"},
            }
        ),
        stream_record(
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {"revenue": 20},
            }
        ),
        stream_record({"type": "page", "anonymousId": "someone-else"}),
    )

    # when
    answer = profile_builder(batch)

    # then
    assert answer == {"batchItemFailures": []}
    people = live(dynamodb, table_names)
    assert len(people) == 2
    ada = next(p for p in people if "user_id:u1" in p["identities"])
    assert set(ada["identities"]) == {"anonymous_id:a1", "user_id:u1", "email:ada@x.nl"}
    assert ada["event_count"] == 3
    assert ada["computed"]["orders"]["n"] == 1
    assert ada["version"] == 1  # one write for the three events
    assert set(owners(dynamodb, table_names)) == {
        "anonymous_id:a1",
        "user_id:u1",
        "email:ada@x.nl",
        "anonymous_id:someone-else",
    }


def test_a_replayed_batch_leaves_every_item_as_it_was(
    profile_builder: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    batch = stream_event(
        stream_record(
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {"revenue": 5},
            }
        ),
        stream_record({"type": "identify", "userId": "u1", "anonymousId": "a1"}),
    )
    profile_builder(batch)
    before = (profiles(dynamodb, table_names), owners(dynamodb, table_names))

    assert profile_builder(batch) == {"batchItemFailures": []}

    assert (profiles(dynamodb, table_names), owners(dynamodb, table_names)) == before


def test_retries_and_removals_in_the_stream_are_not_new_events(
    profile_builder: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    message = {"type": "track", "userId": "u1", "event": "X", "messageId": "m-1"}
    profile_builder(stream_event(stream_record(message)))
    profile_builder(
        stream_event(
            stream_record(message, event_name="MODIFY"),  # the client's retry overwrote it
            stream_record(message, event_name="REMOVE"),  # TTL expiry
        )
    )
    [person] = live(dynamodb, table_names)
    assert person["event_count"] == 1


def test_an_unreadable_record_is_reported_and_the_rest_is_applied(
    profile_builder: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    good = stream_record({"type": "track", "userId": "u1", "event": "A"})
    poison = stream_record({"type": "track", "userId": "u2", "event": "B"})
    poison["dynamodb"]["NewImage"]["body"]["B"] = base64.b64encode(b"not zlib").decode()

    answer = profile_builder(stream_event(good, poison))

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]
    }
    [person] = live(dynamodb, table_names)
    assert "user_id:u1" in person["identities"]


def test_profiles_merge_across_batches_into_one_with_a_redirect(
    profile_builder: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    profile_builder(
        stream_event(stream_record({"type": "identify", "userId": "u1", "anonymousId": "laptop"}))
    )
    profile_builder(stream_event(stream_record({"type": "page", "anonymousId": "phone"})))
    profile_builder(
        stream_event(stream_record({"type": "identify", "userId": "u1", "anonymousId": "phone"}))
    )

    items = profiles(dynamodb, table_names)
    [survivor] = live(dynamodb, table_names)
    redirects = [item for item in items.values() if "merged_into" in item]
    assert len(redirects) == 1
    survivor_id = redirects[0]["merged_into"]["S"]
    assert set(owners(dynamodb, table_names).values()) == {survivor_id}
    assert survivor["event_count"] == 3
    assert {"anonymous_id:laptop", "anonymous_id:phone", "user_id:u1"} <= set(
        survivor["identities"]
    )


def store_for(dynamodb: Any, names: dict[str, str]) -> ProfileStore:
    return ProfileStore(
        names["PROFILES_TABLE"],
        names["IDENTITIES_TABLE"],
        client=dynamodb,
        retention=timedelta(days=730),
    )


def build(store: Any, *records: dict[str, Any]):
    events, unreadable = read_event_records(list(records))
    assert unreadable == {}
    return build_profiles(
        events,
        store=store,
        definitions=load_definitions([]),
        limits=IdentityLimits(),
        clock=lambda: datetime(2026, 11, 23, 12, tzinfo=UTC),
        sleep=lambda _: None,
    )


def test_a_conditional_write_lost_to_another_builder_is_retried(
    dynamodb: Any, table_names: dict[str, str]
) -> None:
    store = store_for(dynamodb, table_names)
    build(store, stream_record({"type": "identify", "userId": "u1", "anonymousId": "tablet"}))

    class Racing:
        """Between our read and our write, the tablet's shard updates the same profile."""

        raced = False

        def load(self, identities: set[str], *, consistent: bool = True) -> Any:
            return store.load(identities)

        def save(self, plan: Any) -> None:
            if not self.raced:
                self.raced = True
                build(store, stream_record({"type": "page", "anonymousId": "tablet"}))
            store.save(plan)

    outcome = build(Racing(), stream_record({"type": "track", "userId": "u1", "event": "X"}))

    assert outcome.conflicts_retried == 1
    assert outcome.failures == {}
    [person] = live(dynamodb, table_names)
    assert person["event_count"] == 3
    assert person["version"] == 3


def test_a_crash_between_claiming_identities_and_writing_the_profile_is_replayed_safely(
    dynamodb: Any, table_names: dict[str, str]
) -> None:
    store = store_for(dynamodb, table_names)
    record = stream_record(
        {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"plan": "pro"}}
    )

    class CrashAfterClaims:
        def load(self, identities: set[str], *, consistent: bool = True) -> Any:
            return store.load(identities)

        def save(self, plan: Any) -> None:
            for identity in plan.claims:
                store._claim(identity, plan.profile.profile_id)
            raise RuntimeError("the function timed out here")

    outcome = build(CrashAfterClaims(), record)
    assert list(outcome.failures) == [record["dynamodb"]["SequenceNumber"]]
    claimed = set(owners(dynamodb, table_names).values())
    assert len(claimed) == 1
    assert live(dynamodb, table_names) == []

    build(store, record)  # the stream redelivers the batch

    [person] = live(dynamodb, table_names)
    assert set(owners(dynamodb, table_names).values()) == claimed
    assert person["event_count"] == 1
    assert person["traits"]["plan"]["observed"][0] == "pro"


def test_the_stream_record_reader_decodes_what_the_collector_stores() -> None:
    record = stream_record(
        {"type": "track", "anonymousId": "a", "event": "X"}, sequence=42, source="shop"
    )
    [event], unreadable = read_event_records([record])
    assert unreadable == {}
    assert event == StreamEvent(
        partition="anonymous_id:a", sequence=42, message=event.message, source="shop"
    )
    assert event.message["event"] == "X"
