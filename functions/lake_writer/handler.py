"""Lake writer: the events table's stream in, the lake's events table out (cdp.lake).

An INSERT is a new event. A MODIFY is an item written again. Erasure's redaction of another
person's event that named the erased one (an item marked `redacted`) replaces the lake's row,
which keeps the sequence number it was first stored with. A client's resend of its own message
is left out: the lake keeps the message as first stored (the resend differs in its arrival
time at most), and replacing it would rewrite the files that hold it on every retry. A
REMOVE is erasure (which reaches the lake through the erasure path) or the TTL expiry that
ends the hot window, which must leave the lake's copy alone.

Events of erased people (stored before every collector knew of the erasure, or handed over
again hours later) are left out, as the profile builder leaves them out: the erasure reaches
the lake through the erasure sweep and lake_upkeep, and nothing may bring the person back
after it.

A batch is one commit, or none: whatever fails, the whole batch fails and Lambda delivers it
again (or its halves, bisected), which adds nothing already committed: the lake keeps each
row's stream sequence number and leaves out those it holds (`cdp.lake.writer.append_events`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.runtime.observability import end_of_init, powertools
from cdp.runtime.settings.lake_writer import LakeWriterSettings
from cdp.storage import clients
from cdp.storage.suppressions import SuppressionList

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

logger, tracer, metrics = powertools("lake_writer")


@lru_cache(maxsize=1)
def _catalog() -> Catalog:
    from cdp.lake.tables import ensure_tables, open_catalog

    settings = LakeWriterSettings.from_env()
    catalog = open_catalog(settings.lake_warehouse, settings.lake_database)
    ensure_tables(catalog)
    return catalog


@lru_cache(maxsize=1)
def _suppressions() -> SuppressionList:
    return SuppressionList.from_settings(LakeWriterSettings.from_env(), client=clients.dynamodb())


def written_rows(
    records: list[dict[str, Any]], suppressed: Callable[[set[str]], set[str]]
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The events rows of the batch whose person is not erased: (sequence number, row) of
    each INSERT, and the row of each redaction (a MODIFY erasure wrote). A record that cannot
    be read raises, failing the batch (kept for the retries, then the on-failure
    destination)."""
    from cdp.lake.rows import event_row
    from cdp.profiles.builder import not_erased
    from cdp.storage.events import is_redacted
    from cdp.storage.streams import read_event_records

    changed = [
        record
        for record in records
        if record.get("eventName") == "INSERT"
        or (record.get("eventName") == "MODIFY" and is_redacted(record["dynamodb"]["NewImage"]))
    ]
    as_inserts = [{**record, "eventName": "INSERT"} for record in changed]
    events, unreadable = read_event_records(as_inserts)
    if unreadable:
        raise next(iter(unreadable.values()))
    kept = {event.sequence for event in not_erased(events, suppressed)}
    inserted: list[tuple[str, dict[str, Any]]] = []
    modified: list[dict[str, Any]] = []
    for record in changed:
        sequence = record["dynamodb"]["SequenceNumber"]
        if int(sequence) not in kept:
            continue
        row = event_row(record["dynamodb"]["NewImage"])
        if record["eventName"] == "INSERT":
            inserted.append((sequence, row))
        else:
            modified.append(row)
    return inserted, modified


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from cdp.lake.writer import append_events, replace_events

    records = event.get("Records", [])
    rows, changed = written_rows(records, _suppressions().suppressed)
    # The new rows first: an item stored and written again in one batch is then replaced.
    added = append_events(_catalog(), rows) if rows else 0
    replaced = replace_events(_catalog(), changed) if changed else 0
    metrics.add_metric("LakeEventsAdded", MetricUnit.Count, added)
    metrics.add_metric("LakeEventsAlreadyThere", MetricUnit.Count, len(rows) - added)
    metrics.add_metric("LakeEventsReplaced", MetricUnit.Count, replaced)
    metrics.add_metric(
        "LakeRecordsIgnored", MetricUnit.Count, len(records) - len(rows) - len(changed)
    )
    return {"batchItemFailures": []}


end_of_init()
