from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cdp.segments.due import current_quarter, due_index, shard_of
from cdp.sharing.changes import changes

NOW = "2026-11-23T12:00:00.000Z"


def state(segments: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "identities": {"user_id:42": NOW, "anonymous_id:a": NOW, "email:ada@x.nl": NOW},
        "traits": {},
        "segments": segments or {},
        "consent": {"marketing": {"state": "granted"}, "analytics": {"state": "denied"}},
        **fields,
    }


def kinds(events: list[Any]) -> list[str]:
    return [event.detail_type for event in events]


def test_entering_and_leaving_segments() -> None:
    events, index = changes(
        "p1", state({"old": NOW}), state({"new": NOW}), merged_into=None, version=7, now_iso=NOW
    )
    assert kinds(events) == ["segment.entered", "segment.exited"]
    entered = events[0].detail
    assert entered["segment_id"] == "new"
    assert entered["identities"] == {"user_id": "42", "emails": ["ada@x.nl"]}
    assert entered["consented_purposes"] == ["marketing"]
    assert index.entered == [("new", "p1", NOW)]
    assert index.exited == [("old", "p1")]


def test_nothing_is_sent_when_nothing_a_consumer_cares_about_changed() -> None:
    before = state({"s": NOW}, event_count=3, computed={"page_views": {"n": 3}})
    after = state({"s": NOW}, event_count=4, computed={"page_views": {"n": 4}})
    events, index = changes("p1", before, after, merged_into=None, version=2, now_iso=NOW)
    assert events == []
    assert (index.entered, index.exited) == ([], [])


def test_trait_identity_and_consent_changes_are_a_profile_update() -> None:
    before = state(traits={"plan": {"observed": ["free", "web", NOW, "m1"]}})
    after = state(
        traits={"plan": {"observed": ["pro", "web", NOW, "m2"]}},
        identities={**before["identities"], "email:new@x.nl": NOW},
        consent={"marketing": {"state": "denied"}},
    )
    events, _ = changes("p1", before, after, merged_into=None, version=3, now_iso=NOW)
    # the change, for the purposes still granted; and the withdrawal of marketing, said to it
    event, notice = events
    assert notice.detail["for_purposes"] == ["marketing"]
    assert event.detail_type == "profile.updated"
    assert event.detail["changed"] == {
        "traits": {"plan": "pro"},
        "identities_added": [{"type": "email", "value": "new@x.nl"}],
        "consent": {"marketing": {"state": "denied"}},
    }


def test_the_same_consent_choice_repeated_later_is_no_profile_update() -> None:
    # given a choice the tracker repeats on every message: only its time and message move
    granted = {"state": "granted", "at": NOW, "source": "web", "message_id": "m1"}
    before = state(consent={"marketing": granted})
    after = state(
        consent={"marketing": {**granted, "at": "2026-11-24T08:00:00.000Z", "message_id": "m2"}}
    )
    # when / then
    events, _ = changes("p1", before, after, merged_into=None, version=4, now_iso=NOW)
    assert events == []
    # but a new version of the consent text is a change
    renewed = state(consent={"marketing": {**granted, "version": "2026-12"}})
    [event], _ = changes("p1", before, renewed, merged_into=None, version=5, now_iso=NOW)
    assert event.detail["changed"]["consent"]["marketing"]["version"] == "2026-12"


def test_a_merged_away_profile_announces_the_merge_and_leaves_the_index() -> None:
    events, index = changes("p2", state({"s": NOW}), None, merged_into="p1", version=5, now_iso=NOW)
    assert kinds(events) == ["profile.merged"]
    assert events[0].detail["merged_into"] == "p1"
    assert index.exited == [("s", "p2")]


def test_an_erased_profile_announces_only_its_id() -> None:
    events, index = changes("p3", state({"s": NOW}), None, merged_into=None, version=9, now_iso=NOW)
    assert kinds(events) == ["profile.deleted"]
    assert set(events[0].detail) == {"id", "type", "profile_id", "version"}
    assert index.exited == [("s", "p3")]


def test_event_ids_are_the_same_on_redelivery_and_differ_between_changes() -> None:
    first, _ = changes("p1", state(), state({"s": NOW}), merged_into=None, version=2, now_iso=NOW)
    again, _ = changes("p1", state(), state({"s": NOW}), merged_into=None, version=2, now_iso=NOW)
    later, _ = changes("p1", state(), state({"s": NOW}), merged_into=None, version=3, now_iso=NOW)
    assert first[0].detail["id"] == again[0].detail["id"] != later[0].detail["id"]


def test_due_times_are_filed_in_the_quarter_after_them() -> None:
    shard, quarter = due_index("2026-11-23T10:50:12.000Z", "p1")
    assert quarter == "2026-11-23T11:00"
    assert shard == shard_of("p1")
    assert due_index("2026-11-23T11:00:00.000Z", "p1")[1] == "2026-11-23T11:00"
    assert current_quarter(datetime(2026, 11, 23, 11, 4, tzinfo=UTC)) == "2026-11-23T11:00"
    assert current_quarter(datetime(2026, 11, 23, 10, 59, tzinfo=UTC)) < "2026-11-23T11:00"


def test_a_withdrawal_is_said_once_to_the_withdrawn_purpose_and_nothing_else_is() -> None:
    granted = {"marketing": {"state": "granted"}, "analytics": {"state": "granted"}}
    before = state({"fans": NOW, "pros": NOW}, consent=granted)
    after = state(
        {"pros": NOW},
        consent={**granted, "marketing": {"state": "denied"}},
        traits={"plan": {"observed": ["pro", "web", NOW, "m2"]}},
    )
    events, _ = changes("p1", before, after, merged_into=None, version=9, now_iso=NOW)
    by_type = {(e.detail_type, e.detail.get("withdrawn_purposes") is not None): e for e in events}
    exited = by_type[("segment.exited", True)].detail
    assert exited["for_purposes"] == ["analytics", "marketing"]
    assert exited["consented_purposes"] == ["analytics"]
    update = by_type[("profile.updated", False)].detail
    assert update["for_purposes"] == ["analytics"]  # the new trait: not for marketing
    assert set(update["changed"]) == {"traits", "consent"}
    notice = by_type[("profile.updated", True)].detail
    assert notice["for_purposes"] == ["marketing"]
    assert set(notice["changed"]) == {"consent"}
    assert notice["id"] != update["id"]
    # and the next change says nothing to marketing
    later = {**after, "segments": {}}
    events, _ = changes("p1", after, later, merged_into=None, version=10, now_iso=NOW)
    assert all("marketing" not in e.detail["for_purposes"] for e in events)


def test_a_fact_that_expired_between_two_writes_is_a_change() -> None:
    fact = {"moving": {"declared": [True, "form", NOW, "m1", "2026-11-30T00:00:00.000Z"]}}
    before, after = state(traits=fact), state(traits=fact)
    later = "2026-12-01T00:00:00.000Z"
    [event], _ = changes(
        "p1", before, after, merged_into=None, version=3, now_iso=later, old_at=NOW
    )
    assert event.detail["changed"] == {"traits": {"moving": None}}
