"""The audit log on moto: entries kept with their retention, read back newest first in pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.console.audit import AuditEntry, reason_given
from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.tables import AUDIT
from cdp.storage.audit import AuditLog


def entry(at: str, **changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "at": at,
        "actor": "grace@shop.example",
        "actor_id": "sub-1",
        "action": "view_profile",
        "profile_id": "p-1",
        "asked_for": "email",
    }
    return AuditEntry(**(fields | changes))


@pytest.fixture
def log(dynamodb: Any, table_names: dict[str, str]) -> AuditLog:
    return AuditLog(table_names[AUDIT.env_var], client=dynamodb, retention=timedelta(days=400))


def test_an_entry_is_kept_for_the_retention_with_all_it_says(log: AuditLog) -> None:
    # given an erasure, with its reason
    erased = entry("2026-11-27T10:00:00.000Z", action="erase", reason="asked by e-mail")

    log.record(erased)

    # then it reads back whole, and DynamoDB's TTL removes it after 400 days
    assert log.page() == ([erased], None)
    [item] = log.client.scan(TableName=log.table)["Items"]
    kept_until = datetime(2026, 11, 27, 10, tzinfo=UTC) + timedelta(days=400)
    assert int(item["expires_at"]["N"]) == kept_until.timestamp()


# The table is emptied at the start of each example.
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    minutes=st.lists(st.integers(min_value=0, max_value=59), min_size=1, max_size=12),
    size=st.integers(min_value=1, max_value=5),
)
def test_pages_read_every_entry_once_newest_first(
    dynamodb: Any, table_names: dict[str, str], minutes: list[int], size: int
) -> None:
    # given entries at any times, some at the same moment
    log = AuditLog(table_names[AUDIT.env_var], client=dynamodb, retention=timedelta(days=1))
    for item in log.client.scan(TableName=log.table)["Items"]:  # what the last example left
        log.client.delete_item(TableName=log.table, Key={k: item[k] for k in ("log", "at_id")})
    written = [entry(f"2026-11-27T10:{minute:02d}:00.000Z") for minute in minutes]
    for each in written:
        log.record(each)

    # when read a page at a time
    read: list[AuditEntry] = []
    cursor: str | None = None
    while True:
        page, cursor = log.page(limit=size, cursor=cursor)
        read += page
        if cursor is None:
            break

    # then each entry is read once, newest first
    assert [each.at for each in read] == sorted((each.at for each in written), reverse=True)


@pytest.mark.parametrize("cursor", ["x", "WyJ4Il0", "bnVsbA", "WzEsMl0"])
def test_a_cursor_this_log_did_not_give_is_refused(log: AuditLog, cursor: str) -> None:
    with pytest.raises(InvalidRequestError, match="cursor"):
        log.page(cursor=cursor)


def test_a_reason_is_kept_trimmed_and_bounded() -> None:
    assert reason_given("  a complaint  ") == "a complaint"
    assert reason_given("   ") is None
    assert reason_given(None) is None
    assert len(reason_given("x" * 900) or "") == 500
