"""A person's events read back from the lake: the right of access to the events that have
left the events table (its hot window, `event_hot_days`) but not the lake (the retention)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from cdp.lake.rows import event_message
from cdp.lake.tables import EVENTS, load

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


def person_events(
    catalog: Catalog, partitions: Collection[str], *, leaving_out: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The events filed under these identities (the events table's partition keys) as
    messages, newest first, less those whose message id is in `leaving_out` (read from the
    events table already: an event is in both until DynamoDB's TTL deletes its item). A
    person's events can be on any day, so every file that may hold their identities is read:
    seconds, for an export, not for a page."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    from cdp.lake.filters import named

    if not partitions:
        return []
    try:
        table = load(catalog, EVENTS)
    except (NoSuchNamespaceError, NoSuchTableError):  # nothing written to the lake yet
        return []
    rows = table.scan(row_filter=named("identity", partitions)).to_arrow().to_pylist()
    skipped = set(leaving_out)
    kept = [row for row in rows if row["message_id"] not in skipped]
    kept.sort(key=lambda row: (row["timestamp"], row["identity"], row["message_id"]), reverse=True)
    return [event_message(row) for row in kept]
