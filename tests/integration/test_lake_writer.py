"""The lake writer's function on moto's events table and stream, writing a local lake: stored
events reach the lake's events table once, however often the stream delivers them; what the
stream says of changed or removed items (a client's retry, TTL at the end of the hot window)
leaves the lake alone, not a file rewritten; and `cdp sql` finds them, or says what is wrong
with a query."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, TableStream
from workbench.cli.client import CliError
from workbench.cli.sql import as_records, local_query


def send(collector: Callable[[dict[str, Any]], dict[str, Any]], *messages: dict[str, Any]) -> None:
    answer = collector(
        http_event(path="/v1/batch", body={"batch": list(messages)}, headers=basic_auth(WRITE_KEY))
    )
    assert answer_json(answer) == {"success": True}


def query(tmp_path: Path, text: str) -> list[dict[str, Any]]:
    return as_records(local_query(str(tmp_path / "lake"), text))


def snapshots(lake: Path) -> list[int]:
    from cdp.lake.tables import EVENTS, load, open_catalog

    return [snapshot.snapshot_id for snapshot in load(open_catalog(str(lake)), EVENTS).snapshots()]


def test_a_redelivered_batch_adds_nothing_and_changes_and_removals_are_ignored(
    collector: Callable[[dict[str, Any]], dict[str, Any]],
    lake_writer: Callable[[dict[str, Any]], dict[str, Any]],
    lake: Path,
    dynamodb: Any,
    table_names: dict[str, str],
    tmp_path: Path,
) -> None:
    # given three events stored by the collector
    ids = [f"m-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    send(
        collector,
        *(
            {"type": "track", "messageId": m, "userId": "ada", "event": "Order Completed",
             "properties": {"revenue": 12.5 * (n + 1), "currency": "EUR"},
             "timestamp": f"2026-11-2{n}T09:00:00Z"}
            for n, m in enumerate(ids)
        ),
    )  # fmt: skip
    stream = TableStream(table_names["EVENTS_TABLE"])
    batch = stream.new_records()
    assert [r["eventName"] for r in batch["Records"]] == ["INSERT"] * 3

    # when the stream delivers the batch, then again (a retry after a commit that did not
    # answer), then with later records of the same shard
    assert lake_writer(batch) == {"batchItemFailures": []}
    assert lake_writer(batch) == {"batchItemFailures": []}
    table = table_names["EVENTS_TABLE"]
    item = dynamodb.scan(TableName=table)["Items"][0]
    dynamodb.put_item(TableName=table, Item=item)  # a MODIFY (same item written again)
    dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})  # TTL
    later = stream.new_records()
    assert [r["eventName"] for r in later["Records"]] == ["MODIFY", "REMOVE"]
    before = snapshots(lake)
    assert lake_writer(later) == {"batchItemFailures": []}
    assert snapshots(lake) == before  # nothing committed: the first copy stays as it is

    # then each event is in the lake once, with its typed columns, in its own day
    rows = query(
        tmp_path,
        "select message_id, identity, event, revenue, currency, cast(timestamp as date) as day"
        " from events order by timestamp",
    )
    assert rows == [
        {"message_id": m, "identity": "user_id:ada", "event": "Order Completed",
         "revenue": 12.5 * (n + 1), "currency": "EUR", "day": f"2026-11-2{n}"}
        for n, m in enumerate(ids)
    ]  # fmt: skip


def test_cdp_sql_reads_empty_tables_and_refuses_bad_queries(tmp_path: Path) -> None:
    # an empty lake: every table there, with its columns and no rows
    assert query(tmp_path, "select count(*) as n from events") == [{"n": 0}]
    assert query(tmp_path, "select * from profiles p join identities i using (profile_id)") == []

    with pytest.raises(CliError, match=r"^the query: Parser Error: syntax error"):
        local_query(str(tmp_path / "lake"), "selec 1")
    with pytest.raises(CliError, match=r"^the query: Catalog Error: Table with name nothing"):
        local_query(str(tmp_path / "lake"), "select * from nothing")
