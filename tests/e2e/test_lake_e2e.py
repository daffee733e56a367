"""The data lake through `cdp dev` and the command line: `cdp sql` answers what was sent, a new
computed trait counts the past from it, and an erased person leaves its files. A module of its
own (its own `cdp dev`): it waits on the lake's commits and the erasure sweep."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import SECRET_KEY, WRITE_KEY, DevStack, cdp, track, wait_for_profile

pytestmark = pytest.mark.e2e


# -- sql --------------------------------------------------------------------------------


def test_events_sent_are_answered_by_cdp_sql_within_a_minute(dev_stack: DevStack) -> None:
    from segment.analytics.client import Client

    # given events sent with Segment's own Python library
    user = f"sql-{uuid.uuid4().hex[:8]}"
    client = Client(write_key=WRITE_KEY, host=dev_stack.url, max_retries=2)
    client.identify(user, {"plan": "pro"})
    for amount in (20, 22.5):
        client.track(user, "Order Completed", {"revenue": amount, "currency": "EUR"})
    client.flush()
    sent = time.monotonic()

    # when the lake is queried until it has them
    query = (
        "select event, count(*) as n, sum(revenue) as revenue from events "
        f"where user_id = '{user}' group by event order by event nulls first"
    )
    while True:
        answer = cdp(dev_stack, "sql", query, "--json")
        assert answer.code == 0, answer.err
        if len(answer.json()) == 2 or time.monotonic() - sent > 60:
            break
        time.sleep(1)

    # then they are there within the minute, as a table too
    assert answer.json() == [
        {"event": None, "n": 1, "revenue": None},
        {"event": "Order Completed", "n": 2, "revenue": 42.5},
    ]
    assert time.monotonic() - sent < 60
    table = cdp(dev_stack, "sql", f"select type, user_id from events where user_id = '{user}' "
                "and type = 'identify'")  # fmt: skip
    assert table.out.splitlines() == ["type      user_id", f"identify  {user}"]

    # and the person's timeline says where events older than the hot window are, with a query
    # cdp sql runs (here it finds none: every event is minutes old)
    timeline = requests.get(
        f"{dev_stack.url}/v1/profiles/user_id:{user}/events",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    ).json()
    assert len(timeline["events"]) == 3
    older = timeline["older_events"]
    assert older["table"] == "events"
    assert f"'user_id:{user}'" in older["sql"]
    answer = cdp(dev_stack, "sql", older["sql"], "--json")
    assert answer.code == 0, answer.err
    assert answer.json() == []


def test_a_bad_query_is_said_so_without_a_stack_trace(dev_stack: DevStack) -> None:
    for query, message in (
        ("selec 1", "cdp: the query: Parser Error: syntax error"),
        ("select nothing from events", 'cdp: the query: Binder Error: Referenced column "nothing"'),
    ):
        answer = cdp(dev_stack, "sql", query)
        assert answer.code == 1
        assert answer.err.startswith(message), answer.err
        assert "Traceback" not in answer.err


def lake_of(stack: DevStack) -> Path:
    found = requests.get(f"{stack.url}/_dev/lake", timeout=10).json()
    return Path(found["warehouse"])


def wait_for_rows(
    stack: DevStack, query: str, rows: int, within: float = 120, every: float = 2
) -> list[Any]:
    """`cdp sql`'s answer once it has `rows` rows, asked `every` seconds (the lake's writer
    commits every 5 s here; the deadline only guards against a hang)."""
    deadline = time.monotonic() + within
    while True:
        answer = cdp(stack, "sql", query, "--json")
        assert answer.code == 0, answer.err
        found: list[Any] = answer.json()
        if len(found) == rows or time.monotonic() > deadline:
            return found
        time.sleep(every)


def test_a_new_computed_trait_counts_the_past_from_the_lake(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    # given orders a person placed before the trait existed, in the lake
    user = f"past-{uuid.uuid4().hex[:8]}"
    for revenue in (10, 20):
        body = {"userId": user, "event": "Gift Card Bought", "properties": {"revenue": revenue}}
        assert track(dev_stack, body) == 200
    query = f"select message_id from events where user_id = '{user}'"
    assert len(wait_for_rows(dev_stack, query, 2)) == 2

    # when the trait is applied as code, and another order comes once it counts
    trait = f"gift_cards_{uuid.uuid4().hex[:6]}"
    (tmp_path / "trait.yaml").write_text(
        f"id: {trait}\ntype: sum\nevent: Gift Card Bought\nproperty: revenue\n"
    )
    applied = cdp(dev_stack, "computed", "apply", str(tmp_path / "trait.yaml"))
    assert applied.code == 0, applied.err
    time.sleep(6)  # past its counts_from
    body = {"userId": user, "event": "Gift Card Bought", "properties": {"revenue": 5}}
    assert track(dev_stack, body) == 200

    # then `cdp computed backfill` follows its backfill until done
    ran = cdp(dev_stack, "computed", "backfill", trait, "--json")
    assert ran.code == 0, ran.err
    assert ran.json()["status"] == "done"
    assert "waiting for the lake" in ran.err
    # and the profile counts every order once: two from the lake, one as it arrived
    wait_for_profile(dev_stack, f"user_id:{user}", 3)
    shown = cdp(dev_stack, "profiles", "get", f"user_id:{user}", "--json")
    assert shown.json()["computed"][trait] == 35


def test_an_erased_person_leaves_the_lake_files(dev_stack: DevStack) -> None:
    # given a person's events in the lake
    user = f"gone-{uuid.uuid4().hex[:8]}"
    for number in range(2):
        body = {"userId": user, "anonymousId": f"{user}-device", "event": f"Step {number}"}
        assert track(dev_stack, body) == 200
    query = f"select message_id from events where user_id = '{user}'"
    assert len(wait_for_rows(dev_stack, query, 2)) == 2
    wait_for_profile(dev_stack, f"user_id:{user}", 2)

    # when the person is erased
    erased = cdp(dev_stack, "profiles", "delete", f"user_id:{user}", "--yes")
    assert erased.code == 0, erased.err

    # then, once the sweep has run (10 seconds in cdp dev), no query finds them
    everywhere = (
        f"select 'events' as t from events where user_id = '{user}' or identity like '%{user}%' "
        f"union all select 'identities' from identities where identity like '%{user}%'"
    )
    assert wait_for_rows(dev_stack, everywhere, 0, within=240, every=5) == []
    # and no file of the lake holds them: Parquet read row by row, the rest as bytes
    import pyarrow.parquet as pq

    lake = lake_of(dev_stack)
    for path in lake.rglob("*"):
        if path.suffix == ".parquet":
            assert user not in str(pq.read_table(path).to_pylist()), path
        elif path.is_file():
            assert user.encode() not in path.read_bytes(), path
