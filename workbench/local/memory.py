"""What `cdp dev` holds in memory, for `GET /_dev/memory` (a debugging route of the local runtime
only) and `bench/memory.py`: the process's resident memory, and what moto keeps for the stack
(stream records, shard iterators, table items, queue messages), which is where it grows.

`?objects=1` adds the most numerous kinds of Python object (a walk of every object: seconds
on a large heap), and when the process runs with `PYTHONTRACEMALLOC=1`, the lines of code that
allocated the most live memory.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from workbench.local.aws import REGION
from workbench.local.invocation import ACCOUNT_ID
from workbench.local.retention import StreamRecords
from workbench.local.streams import StreamRunner


def resident_mb(status: Path = Path("/proc/self/status")) -> dict[str, float]:
    """Resident memory now (VmRSS) and at its highest (VmHWM), in MB; empty off Linux."""
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return {}
    figures = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[{"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb"}[name]] = round(
                int(value.split()[0]) / 1024, 1
            )
    return figures


def held(
    *,
    tables: list[str],
    queue_urls: list[str],
    runners: list[StreamRunner],
    objects: bool = False,
) -> dict[str, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends
    from moto.sqs.models import sqs_backends

    dynamodb = dynamodb_backends[ACCOUNT_ID][REGION]
    sqs = sqs_backends[ACCOUNT_ID][REGION]
    streams: dict[str, Any] = {}
    items: dict[str, int] = {}
    for name in tables:
        table = dynamodb.get_table(name)
        items[name] = _count(table)
        shard = table.stream_shard
        if shard is None:
            continue
        end = shard.starting_sequence_number + len(shard.items) - 1
        readers = [runner for runner in runners if runner.table_name == name]
        streams[name] = {
            "records_written": len(shard.items),
            "records_held": (
                shard.items.held if isinstance(shard.items, StreamRecords) else len(shard.items)
            ),
            "unread": {
                runner.spec.name: end
                - runner.checkpoints.get(shard.id, shard.starting_sequence_number - 1)
                for runner in readers
            },
            "discarded": {runner.spec.name: len(runner.discarded) for runner in readers},
        }
    queues = {}
    for url in queue_urls:
        queue = sqs.queues[url.rsplit("/", 1)[1]]
        queues[queue.name] = {
            "messages": len(queue._messages),
            "deleted_receipts": len(queue.deleted_messages),
        }
    figures: dict[str, Any] = {
        **resident_mb(),
        "streams": streams,
        "shard_iterators": len(dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators),
        "items": items,
        "queues": queues,
    }
    if objects:
        figures["objects"] = dict(
            Counter(type(thing).__qualname__ for thing in gc.get_objects()).most_common(20)
        )
        figures["objects_total"] = len(gc.get_objects())
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        figures["allocated_by"] = [
            f"{stat.size / 2**20:.1f} MB {stat.count} blocks {stat.traceback[0]}"
            for stat in snapshot.statistics("lineno")[:25]
        ]
    return figures


def _count(table: Any) -> int:
    """moto counts a table's items by walking them, which fails when a write comes meanwhile."""
    for _ in range(10):
        try:
            return len(table)
        except RuntimeError:  # dictionary changed size during iteration
            continue
    return -1
