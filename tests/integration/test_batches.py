"""Batch writes reach every item however often DynamoDB leaves some unprocessed, and say so
when it keeps refusing: the collector's, an erasure's, the suppression marks', a deleted
destination's log."""

from __future__ import annotations

from typing import Any

import pytest

from cdp.runtime.errors import StorageBusyError
from cdp.storage.batches import RetryPolicy, deletes, puts, write_all
from tests.integration.conftest import Throttling

QUICK = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002)


def _items(count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"pk": {"S": f"{prefix}-{n}"}, "sk": {"S": "x"}} for n in range(count)]


def _count(dynamodb: Any, table: str) -> int:
    return int(dynamodb.scan(TableName=table, Select="COUNT")["Count"])


def test_items_of_two_tables_are_written_25_a_call_through_unprocessed_answers(
    dynamodb: Any, table_names: dict[str, str]
) -> None:
    events, quarantine = table_names["EVENTS_TABLE"], table_names["QUARANTINE_TABLE"]
    client = Throttling(dynamodb, times=3)

    write_all(
        client,
        puts(events, _items(40, "e")) + puts(quarantine, _items(20, "q")),
        retry=QUICK,
        sleep=lambda _: None,
    )

    assert (_count(dynamodb, events), _count(dynamodb, quarantine)) == (40, 20)
    assert client.calls == 3 + 3  # 60 requests: 3 calls, after 3 that processed nothing


def test_deletes_go_the_same_way(dynamodb: Any, table_names: dict[str, str]) -> None:
    events = table_names["EVENTS_TABLE"]
    write_all(dynamodb, puts(events, _items(30, "e")))

    write_all(Throttling(dynamodb, times=2), deletes(events, _items(30, "e")), retry=QUICK)

    assert _count(dynamodb, events) == 0


def test_a_table_that_keeps_refusing_is_reported_busy(
    dynamodb: Any, table_names: dict[str, str]
) -> None:
    waits: list[float] = []
    client = Throttling(dynamodb, times=100)

    with pytest.raises(StorageBusyError):
        write_all(client, puts(table_names["EVENTS_TABLE"], _items(3, "e")), retry=QUICK,
                  sleep=waits.append)  # fmt: skip

    assert client.calls == QUICK.attempts
    assert len(waits) == QUICK.attempts - 1
    assert all(0 <= wait <= QUICK.max_delay for wait in waits)
