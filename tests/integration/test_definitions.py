"""Definitions apply at once: a new segment counts for the next record the builder processes
(no cached delay; in AWS from about a second after the change, as the builder's first look at
the version is eventually consistent), a new computed trait for the events received from its
`counts_from`, a few seconds after the change (those before are its backfill's); and explain
says what the membership is, with what is about to change it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cdp.profiles.computed import COUNTING_DELAY
from cdp.runtime import clock
from cdp.storage import clients
from tests.factories import answer_json, http_event, stream_event, stream_record
from tests.integration.conftest import bearer
from tests.integration.test_segments import segments_stack  # noqa: F401 (fixture)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
NEWSLETTER = {
    "id": "newsletter",
    "name": "Subscribed",
    "condition": {"computed": "newsletter_signups", "gte": 1},
}
SIGNUPS = {"id": "newsletter_signups", "type": "count", "event": "Newsletter Subscribed"}


def put(admin_api: Handler, path: str, body: dict[str, Any]) -> None:
    answer = admin_api(http_event("PUT", path, body=body, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]


def define_trait(admin_api: Handler, body: dict[str, Any]) -> None:
    """Store a computed trait, and let the clock pass the moment it counts from."""
    put(admin_api, f"/v1/computed-traits/{body['id']}", body)
    clock.advance(COUNTING_DELAY)


def signup(user: str) -> dict[str, Any]:
    now = clock.iso(clock.utc_now())
    return stream_record(
        {"type": "track", "userId": user, "event": "Newsletter Subscribed",
         "timestamp": now, "receivedAt": now}
    )  # fmt: skip


def lookup(profile_api: Handler, user: str) -> dict[str, Any]:
    answer = profile_api(http_event("GET", f"/v1/profiles/user_id:{user}", headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    found: dict[str, Any] = answer_json(answer)
    return found


def test_a_new_computed_trait_and_segment_count_from_the_next_record(
    admin_api: Handler, profile_builder: Handler, profile_api: Handler
) -> None:
    # given a builder that is warm: it has read the definitions already
    profile_builder(stream_event(stream_record({"type": "page", "userId": "early"})))
    # when a computed trait and a segment over it are defined
    define_trait(admin_api, SIGNUPS)
    put(admin_api, "/v1/segments/newsletter", NEWSLETTER)
    # then the next event counts, and its profile enters the segment in the same write
    profile_builder(stream_event(signup("ada")))
    ada = lookup(profile_api, "ada")
    assert ada["computed"]["newsletter_signups"] == 1
    assert ada["segments"] == ["newsletter"]


def test_explain_says_the_membership_and_what_is_about_to_change_it(
    segments_stack: dict[str, Any],  # noqa: F811
    admin_api: Handler,
    profile_builder: Handler,
    profile_api: Handler,
) -> None:
    define_trait(admin_api, SIGNUPS)
    profile_builder(stream_event(signup("ada")))
    put(admin_api, "/v1/segments/newsletter", NEWSLETTER)

    def explained() -> dict[str, Any]:
        path = "/v1/profiles/user_id:ada/segments/newsletter/explain"
        answer: dict[str, Any] = answer_json(profile_api(http_event("GET", path, headers=bearer())))
        return answer

    # while the backfill has not reached her: not a member yet, and explain says so
    before = explained()
    assert before["member"] is False
    assert before["member"] == ("newsletter" in lookup(profile_api, "ada")["segments"])
    assert before["pending"]["member"] is True
    assert "every profile is being evaluated again" in before["pending"]["reason"]
    # once it has: a member, and nothing pending
    segments_stack["backfill"]()
    after = explained()
    assert after["member"] is True
    assert after["member"] == ("newsletter" in lookup(profile_api, "ada")["segments"])
    assert "pending" not in after


def test_a_profile_written_with_definitions_that_changed_meanwhile_is_evaluated_again(
    admin_api: Handler,
    profile_builder: Handler,
    profile_api: Handler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race a versioned definition closes: the builder read the definitions, a segment
    # is defined (and its backfill evaluates every profile) before the builder writes.
    define_trait(admin_api, SIGNUPS)
    from cdp.storage.profiles import ProfileStore

    save = ProfileStore.save
    defined = []

    def save_after_a_change(store: ProfileStore, plan: Any) -> None:
        if not defined:
            put(admin_api, "/v1/segments/newsletter", NEWSLETTER)
            defined.append(True)
        save(store, plan)

    monkeypatch.setattr(ProfileStore, "save", save_after_a_change)
    profile_builder(stream_event(signup("ada")))
    assert lookup(profile_api, "ada")["segments"] == ["newsletter"]


def test_the_builder_looks_at_the_version_cheaply_before_writing_and_exactly_after(
    admin_api: Handler, profile_builder: Handler, table_names: dict[str, str]
) -> None:
    # given a record of the builder's reads of the definitions' version
    define_trait(admin_api, SIGNUPS)
    profile_builder(stream_event(signup("warm")))  # the client is made
    version_reads: list[bool] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if params["TableName"] == table_names["CONFIG_TABLE"] and params["Key"]["kind"] == {
            "S": "#version"
        }:
            version_reads.append(params["ConsistentRead"])

    clients.dynamodb().meta.events.register("provide-client-params.dynamodb.GetItem", record)

    # when a batch writes a profile
    profile_builder(stream_event(signup("ada")))

    # then the version was read eventually consistently before, and strongly after the write
    assert version_reads == [False, True]


def test_changing_a_computed_trait_evaluates_the_segments_that_read_it_again(
    segments_stack: dict[str, Any],  # noqa: F811
    admin_api: Handler,
    profile_builder: Handler,
    profile_api: Handler,
) -> None:
    define_trait(admin_api, {**SIGNUPS, "windows": [30]})
    monthly = {**NEWSLETTER, "condition": {"computed": "newsletter_signups_30d", "gte": 1}}
    put(admin_api, "/v1/segments/newsletter", monthly)
    segments_stack["backfill"]()
    profile_builder(stream_event(signup("ada")))
    assert lookup(profile_api, "ada")["segments"] == ["newsletter"]
    # when the trait no longer keeps a 30-day window, nobody has that value: she leaves
    define_trait(admin_api, {**SIGNUPS, "windows": [7]})
    segments_stack["backfill"]()
    assert lookup(profile_api, "ada")["segments"] == []
