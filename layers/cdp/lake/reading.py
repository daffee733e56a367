"""Events read back from the lake: a person's, for the right of access to the events that have
left the events table (its hot window, `event_hot_days`) but not the lake (the retention);
and those a computed trait's definition matches, for its backfill (`cdp.profiles.past`)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from cdp.lake.rows import event_message
from cdp.lake.tables import EVENTS, load
from cdp.runtime.clock import parse

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from cdp.profiles.computed import ComputedTraitDefinition


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


def definition_events(
    catalog: Catalog,
    definition: ComputedTraitDefinition,
    before: str,
    *,
    identities: Collection[str] = (),
) -> Iterator[dict[str, Any]]:
    """The events `definition` matches that were received before `before` (or whose receipt
    is not known), filed under `identities` if any are given, with the columns a fold of them
    reads, batch by batch (not all at once)."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    from cdp.lake import filters

    try:
        table = load(catalog, EVENTS)
    except (NoSuchNamespaceError, NoSuchTableError):
        return
    terms = [filters.equals("type", "track" if definition.event else str(definition.message_type))]
    if definition.event is not None:
        terms.append(filters.equals("event", definition.event))
    if identities:
        terms.append(filters.named("identity", identities))
    moment = parse(before).replace(tzinfo=None).isoformat()
    terms.append(
        filters.any_of([filters.before("received_at", moment), filters.missing("received_at")])
    )
    scan = table.scan(row_filter=filters.all_of(*terms), selected_fields=PAST_COLUMNS)
    for batch in scan.to_arrow_batch_reader():
        yield from batch.to_pylist()


PAST_COLUMNS = ("identity", "type", "event", "timestamp", "received_at", "properties")
