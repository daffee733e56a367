from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cdp.profiles.computed import (
    ComputedTraitDefinition,
    EventFacts,
    changes_at,
    combine,
    default_definitions,
    load_definitions,
    trim,
    update,
    values,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def define(**fields: Any) -> ComputedTraitDefinition:
    return ComputedTraitDefinition.model_validate(fields)


def order(timestamp: str, revenue: Any = None, category: Any = None) -> EventFacts:
    return EventFacts(
        "track", "Order Completed", timestamp, {"revenue": revenue, "category": category}
    )


def fold(definition: ComputedTraitDefinition, *facts: EventFacts) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for fact in facts:
        if definition.matches(fact.type, fact.name):
            update(definition, state, fact)
    return state


def test_counts_in_total_and_in_rolling_windows() -> None:
    orders = define(id="orders", type="count", event="Order Completed", windows=[7, 30])
    state = fold(
        orders,
        order("2026-11-23T10:00:00.000Z"),
        order("2026-11-17T10:00:00.000Z"),  # 6 days ago: inside 7 days
        order("2026-11-16T10:00:00.000Z"),  # 7 days ago: outside 7 days
        order("2026-09-01T10:00:00.000Z"),
    )
    assert values(orders, state, NOW, {}) == {"orders": 4, "orders_7d": 2, "orders_30d": 3}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # the 16th leaves the 7-day window at the start of the 23rd, the 17th a day later
        (
            datetime(2026, 11, 22, 23, 59, tzinfo=UTC),
            {"orders_7d": datetime(2026, 11, 23, tzinfo=UTC)},
        ),
        (datetime(2026, 11, 23, tzinfo=UTC), {"orders_7d": datetime(2026, 11, 24, tzinfo=UTC)}),
        (NOW, {"orders_7d": datetime(2026, 11, 24, tzinfo=UTC)}),
        (datetime(2026, 11, 24, tzinfo=UTC), {}),
    ],
)
def test_a_window_changes_when_its_oldest_day_leaves_it(
    now: datetime, expected: dict[str, datetime]
) -> None:
    orders = define(id="orders", type="count", event="Order Completed", windows=[7])
    state = fold(orders, order("2026-11-17T10:00:00.000Z"), order("2026-11-16T23:00:00.000Z"))
    assert changes_at(orders, state, now, {}) == expected
    for moment in expected.values():  # the count does change then
        before = values(orders, state, moment - timedelta(microseconds=1), {})
        assert values(orders, state, moment, {}) != before


def test_sums_are_exact_decimals() -> None:
    revenue = define(
        id="revenue", type="sum", event="Order Completed", property="revenue", windows=[30]
    )
    state = fold(revenue, *(order("2026-11-20T00:00:00.000Z", 0.1) for _ in range(3)))
    assert values(revenue, state, NOW, {}) == {"revenue": 0.3, "revenue_30d": 0.3}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("min", 5), ("max", 30.5), ("average", 15.17), ("sum", 45.5)],
)
def test_numeric_aggregates(kind: str, expected: float) -> None:
    definition = define(id="x", type=kind, event="Order Completed", property="revenue")
    state = fold(
        definition,
        order("2026-11-01T00:00:00.000Z", 10),
        order("2026-11-02T00:00:00.000Z", "30.5"),
        order("2026-11-03T00:00:00.000Z", 5),
        order("2026-11-04T00:00:00.000Z", "not a number"),
        order("2026-11-05T00:00:00.000Z", True),
    )
    assert values(definition, state, NOW, {}) == {"x": expected}


def test_occurrences_and_days_since() -> None:
    first = define(id="first_order_at", type="first_occurrence", event="Order Completed")
    last = define(id="last_order_at", type="last_occurrence", event="Order Completed")
    since = define(id="days_since_last_order", type="days_since", of="last_order_at")
    events = [order("2026-11-03T00:00:00.000Z"), order("2026-10-01T00:00:00.000Z")]
    assert values(first, fold(first, *events), NOW, {}) == {
        "first_order_at": "2026-10-01T00:00:00.000Z"
    }
    last_value = values(last, fold(last, *events), NOW, {})["last_order_at"]
    assert values(since, {}, NOW, {"last_order_at": last_value}) == {"days_since_last_order": 20}
    assert values(since, {}, NOW, {}) == {"days_since_last_order": None}


def test_most_frequent_value_with_a_stable_tie_break() -> None:
    favourite = define(id="fav", type="most_frequent", event="Order Completed", property="category")
    state = fold(
        favourite,
        order("2026-11-01T00:00:00.000Z", category="shoes"),
        order("2026-11-01T00:00:00.000Z", category="bags"),
        order("2026-11-01T00:00:00.000Z", category="shoes"),
        order("2026-11-01T00:00:00.000Z", category="bags"),
        order("2026-11-01T00:00:00.000Z", category={"not": "a category"}),
    )
    assert values(favourite, state, NOW, {}) == {"fav": "bags"}


def test_message_type_definitions_count_pages() -> None:
    pages = define(id="page_views", type="count", message_type="page")
    state = fold(
        pages,
        EventFacts("page", "Home", "2026-11-01T00:00:00.000Z", {}),
        order("2026-11-01T00:00:00.000Z"),
    )
    assert values(pages, state, NOW, {}) == {"page_views": 1}


def test_combining_two_states_equals_folding_all_events() -> None:
    revenue = define(
        id="revenue", type="sum", event="Order Completed", property="revenue", windows=[30]
    )
    a = [order("2026-11-20T00:00:00.000Z", 10), order("2026-11-21T00:00:00.000Z", 2.5)]
    b = [order("2026-11-20T00:00:00.000Z", 7)]
    merged = fold(revenue, *a)
    combine(revenue, merged, fold(revenue, *b))
    assert merged == fold(revenue, *a, *b)


def test_trim_drops_only_buckets_no_window_can_reach() -> None:
    count = define(id="c", type="count", event="Order Completed", windows=[7])
    state = fold(count, order("2026-11-23T00:00:00.000Z"), order("2026-11-01T00:00:00.000Z"))
    before = values(count, state, NOW, {})
    trim(count, state, NOW)
    assert list(state["d"]) == ["20261123"]
    assert values(count, state, NOW, {}) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "x", "type": "sum", "event": "A"}, "needs 'property'"),
        ({"id": "x", "type": "count"}, "say which events count"),
        ({"id": "x", "type": "count", "event": "A", "windows": [365]}, "less than or equal to 90"),
        (
            {"id": "x", "type": "max", "event": "A", "property": "p", "windows": [7]},
            "windows are available",
        ),
        ({"id": "x", "type": "days_since"}, "needs 'of'"),
        ({"id": "Bad Id", "type": "count", "event": "A"}, "pattern"),
        (
            {"id": "x", "type": "count", "event": "A", "message_type": "page"},
            "'event' names track events",
        ),
    ],
)
def test_invalid_definitions_say_what_is_wrong(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ComputedTraitDefinition.model_validate(fields)


def test_defaults_are_valid_and_can_be_overridden_or_switched_off() -> None:
    defaults = load_definitions([])
    assert len(defaults) == len(default_definitions())
    changed = load_definitions(
        [
            {"id": "orders", "type": "count", "event": "Purchase"},
            {"id": "page_views", "enabled": False},
            {"id": "logins", "type": "count", "event": "Signed In"},
        ]
    )
    by_id = {definition.id: definition for definition in changed}
    assert by_id["orders"].event == "Purchase"
    assert "page_views" not in by_id
    assert "logins" in by_id
