"""A segment's preview: exact when every profile was evaluated, scaled from a sample else."""

from __future__ import annotations

from datetime import UTC, datetime

from cdp.profiles.profile import Profile
from cdp.profiles.traits import TraitValue
from cdp.segments.conditions import SegmentDefinition
from cdp.segments.preview import preview

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
PARENTS = SegmentDefinition(
    id="parents", name="Parents", condition={"trait": "children", "gte": 1}, enabled=False
)


def person(number: int, children: int) -> Profile:
    profile = Profile(profile_id=f"p{number}", created_at="2026-11-01T00:00:00Z")
    profile.traits["children"] = {
        "observed": TraitValue(children, "web", "2026-11-01T00:00:00Z", f"m-{number}")
    }
    return profile


def test_a_complete_sample_is_counted_exactly_even_for_a_switched_off_segment() -> None:
    profiles = [person(n, n % 3) for n in range(9)]

    answer = preview(PARENTS, [], (), profiles, total=9, complete=True, now=NOW)

    assert (answer.sampled, answer.matched, answer.estimate, answer.complete) == (9, 6, 6, True)


def test_a_partial_sample_is_scaled_to_every_profile() -> None:
    profiles = [person(n, n % 4) for n in range(100)]  # three in four are parents

    answer = preview(PARENTS, [], (), profiles, total=10_000, complete=False, now=NOW)

    assert (answer.matched, answer.estimate, answer.total) == (75, 7_500, 10_000)


def test_a_segment_may_refer_to_stored_ones() -> None:
    stored = [SegmentDefinition(id="big", name="Big", condition={"trait": "children", "gte": 2})]
    big_parents = SegmentDefinition(
        id="big-parents", name="Big parents", condition={"segment": "big"}
    )
    profiles = [person(n, n) for n in range(4)]

    answer = preview(big_parents, stored, (), profiles, total=4, complete=True, now=NOW)

    assert answer.matched == 2
