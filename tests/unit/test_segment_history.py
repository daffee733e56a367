"""A segment's entries and exits per day: added up per batch, shown for every day asked."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from cdp.segments.history import Day, DayTally, every_day

changes = st.lists(
    st.tuples(
        st.sampled_from(["buyers", "parents"]),
        st.sampled_from(["2026-11-27T23:59:59Z", "2026-11-28T00:00:00Z", "2026-11-28T12:00:00Z"]),
        st.booleans(),
    ),
    max_size=40,
)


@given(changes)
def test_a_tally_adds_up_each_day_of_each_segment(seen: list[tuple[str, str, bool]]) -> None:
    tally = DayTally()
    for segment, at, entered in seen:
        (tally.entered if entered else tally.exited)(segment, at)

    counted = tally.drain()

    for day, moved in counted.items():
        for segment, (entries, exits) in moved.items():
            mine = [e for s, at, e in seen if s == segment and at[:10] == day.isoformat()]
            assert (entries, exits) == (mine.count(True), mine.count(False))
    assert sum(e + x for moved in counted.values() for e, x in moved.values()) == len(seen)
    assert tally.drain() == {}  # drained: the next batch starts from nothing


def test_every_day_asked_for_is_shown_oldest_first_with_zeros_between() -> None:
    found = {date(2026, 11, 26): (3, 1), date(2026, 11, 20): (9, 9)}  # the 20th is not asked

    shown = every_day(found, last=date(2026, 11, 28), days=4)

    assert shown == [
        Day(date(2026, 11, 25), 0, 0),
        Day(date(2026, 11, 26), 3, 1),
        Day(date(2026, 11, 27), 0, 0),
        Day(date(2026, 11, 28), 0, 0),
    ]
