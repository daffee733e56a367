"""Holding back a person's later events when one of their records failed: applying them
first would move the person's watermark past the failed record, which would then be lost."""

from __future__ import annotations

from cdp.profiles.timeline import StreamEvent
from cdp.storage.streams import UnreadableRecordError, WaitingForEarlierRecordError, hold_back


def event(partition: str, sequence: int) -> StreamEvent:
    return StreamEvent(partition=partition, sequence=sequence, message={}, source="web")


EVENTS = [event("user_id:a", 1), event("user_id:b", 2), event("user_id:a", 3),
          event("user_id:b", 4), event("user_id:a", 5)]  # fmt: skip


def test_only_the_later_events_of_the_same_person_wait() -> None:
    failed: dict[str, Exception] = {"2": UnreadableRecordError("corrupt", "user_id:b")}

    ready, held = hold_back([e for e in EVENTS if e.sequence != 2], failed)

    assert [e.sequence for e in ready] == [1, 3, 5]
    assert list(held) == ["4"]
    assert isinstance(held["4"], WaitingForEarlierRecordError)


def test_when_the_person_cannot_be_told_everything_after_the_failure_waits() -> None:
    failed: dict[str, Exception] = {"3": UnreadableRecordError("no image at all")}

    ready, held = hold_back([e for e in EVENTS if e.sequence != 3], failed)

    assert [e.sequence for e in ready] == [1, 2]
    assert sorted(held) == ["4", "5"]


def test_nothing_failed_nothing_waits() -> None:
    assert hold_back(EVENTS, {}) == (EVENTS, {})
