"""The overview's profile figures: shares over a sample of profiles."""

from __future__ import annotations

from cdp.console.overview import profile_figures
from cdp.profiles.profile import Profile
from cdp.profiles.traits import TraitValue

NOW = "2026-11-27T12:00:00Z"


def person(number: int, *, identities: list[str], **traits: dict[str, TraitValue]) -> Profile:
    profile = Profile(profile_id=f"p{number}", created_at="2026-11-01T00:00:00Z")
    profile.identities = dict.fromkeys(identities, "2026-11-01T00:00:00Z")
    profile.traits = dict(traits)
    return profile


def said(value: object, expires_at: str | None = None) -> TraitValue:
    return TraitValue(value, "forms", "2026-11-02T00:00:00Z", "m-1", expires_at)


def test_shares_count_identified_people_consent_and_live_declared_answers() -> None:
    profiles = [
        person(1, identities=["user_id:42", "anonymous_id:a"], children={"declared": said(2)}),
        person(2, identities=["email:ada@example.com"], children={"observed": said(3)}),
        person(3, identities=["anonymous_id:b"], children={"declared": said(1, "2026-11-20")}),
        person(4, identities=["anonymous_id:c"], home={"declared": said(None)}),  # cleared
    ]
    profiles[0].consent = {"marketing": {"state": "granted"}}
    profiles[1].consent = {"marketing": {"state": "denied"}}

    figures = profile_figures(profiles, total=4, complete=True, purposes=["marketing"], now_iso=NOW)

    assert figures["identified"] == 0.5
    assert figures["consent"]["marketing"] == {"granted": 0.25, "denied": 0.25, "unknown": 0.5}
    assert figures["declared"] == {"children": 0.25}  # the expired and the cleared do not count


def test_no_profiles_make_no_shares() -> None:
    figures = profile_figures([], total=0, complete=True, purposes=["marketing"], now_iso=NOW)

    assert (figures["identified"], figures["declared"]) == (0.0, {})


def decided(purpose: str, state: str, at: str) -> dict[str, str]:
    return {"purpose": purpose, "state": state, "at": at, "message_id": f"m-{at}"}


def test_consent_by_week_follows_each_persons_standing_decision_at_each_weeks_end() -> None:
    early, late, newcomer = (person(n, identities=[f"anonymous_id:{n}"]) for n in (1, 2, 3))
    for profile in (early, late):
        profile.first_seen = "2026-10-01T00:00:00.000Z"
    newcomer.first_seen = "2026-11-25T00:00:00.000Z"  # not there in the weeks before
    early.consent_history = [
        decided("marketing", "granted", "2026-10-02T00:00:00.000Z"),
        decided("analytics", "granted", "2026-10-02T00:00:00.000Z"),
        decided("marketing", "denied", "2026-11-24T00:00:00.000Z"),  # withdrew last week
    ]
    late.consent_history = [decided("marketing", "granted", "2026-11-26T00:00:00.000Z")]

    weeks = profile_figures(
        [early, late, newcomer], total=3, complete=True, purposes=["marketing"], now_iso=NOW
    )["consent_by_week"]

    assert [week["until"] for week in weeks[-2:]] == [
        "2026-11-20T12:00:00.000Z",
        "2026-11-27T12:00:00.000Z",
    ]
    assert len(weeks) == 12
    two_weeks_ago, this_week = weeks[-2], weeks[-1]
    assert two_weeks_ago["profiles"] == 2
    assert two_weeks_ago["consent"]["marketing"] == {"granted": 0.5, "denied": 0.0, "unknown": 0.5}
    assert this_week["profiles"] == 3
    assert this_week["consent"]["marketing"] == {
        "granted": round(1 / 3, 4),
        "denied": round(1 / 3, 4),
        "unknown": round(1 / 3, 4),
    }
    assert set(this_week["consent"]) == {"marketing"}  # only the purposes asked for
