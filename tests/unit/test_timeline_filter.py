"""The timeline filtered by event type: paging through it hands out exactly the events of
that type, newest first, each once, whatever the page size."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.profiles.timeline import MESSAGE_TYPES, StoredEvent, read_page
from cdp.runtime.codec import compress
from cdp.runtime.errors import InvalidRequestError

PARTITIONS = ("user_id:42", "anonymous_id:a1")


def stored(kinds: list[tuple[str, int, int]]) -> dict[str, list[StoredEvent]]:
    by_partition: dict[str, list[StoredEvent]] = {p: [] for p in PARTITIONS}
    for number, (kind, second, partition) in enumerate(kinds):
        message_id = f"m-{number:04d}"
        body = compress({"type": kind, "messageId": message_id})
        at = f"2026-11-27T10:{second // 60:02d}:{second % 60:02d}.000Z"
        event = StoredEvent(PARTITIONS[partition], at, message_id, body)
        by_partition[PARTITIONS[partition]].append(event)
    return by_partition


events = st.lists(
    st.tuples(st.sampled_from(MESSAGE_TYPES), st.integers(0, 30), st.integers(0, 1)),
    max_size=40,
)


@given(
    events=events,
    kind=st.sampled_from(MESSAGE_TYPES) | st.none(),
    limit=st.integers(1, 7),
    positions_only=st.booleans(),
)
def test_pages_of_one_type_hold_every_event_of_it_once_newest_first(
    events: list[tuple[str, int, int]], kind: str | None, limit: int, positions_only: bool
) -> None:
    by_partition = stored(events)
    bodies = {e.key: e.body for partition in by_partition.values() for e in partition}
    opened: list[int] = []

    def positions(partition: str) -> list[StoredEvent]:
        return [replace(e, body=b"") for e in by_partition[partition]]

    def read_bodies(wanted: list[StoredEvent]) -> dict[tuple[str, str], bytes]:
        opened.append(len(wanted))
        return {e.key: bodies[e.key] for e in wanted}

    handed: list[str] = []
    cursor = None
    for _ in range(len(events) + 2):
        page = read_page(
            list(PARTITIONS),
            positions if positions_only else by_partition.__getitem__,
            limit=limit,
            cursor=cursor,
            kind=kind,
            bodies=read_bodies if positions_only else None,
        )
        assert len(page.events) <= limit
        handed += [event["messageId"] for event in page.events]
        cursor = page.cursor
        if cursor is None:
            break
    everything = sorted(
        (e for partition in by_partition.values() for e in partition),
        key=lambda e: e.position,
        reverse=True,
    )
    expected = [e.message_id for e in everything if kind is None or e.message()["type"] == kind]
    assert handed == expected
    if kind is None:  # unfiltered, a page opens only what it shows
        assert all(count <= limit for count in opened)


def test_an_unknown_type_is_refused_with_the_ones_there_are() -> None:
    with pytest.raises(InvalidRequestError, match="type: one of identify, track"):
        read_page(list(PARTITIONS), lambda _: [], limit=5, cursor=None, kind="purchase")
