from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cdp.segments.conditions import (
    ConditionError,
    Facts,
    SegmentDefinition,
    compile_condition,
    compile_segments,
    evaluate,
    explain,
    next_change,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {
        "now": NOW,
        "traits": {"age": 22, "city": "Amsterdam", "interests": ["cars", "music"], "vip": True},
        "trait_set_at": {"age": "2026-01-01T00:00:00.000Z", "moving": "2026-03-01T00:00:00.000Z"},
        "trait_expiry": {},
        "computed": {"orders_30d": 2, "revenue": 120.5},
        "computed_changes_at": {},
        "profile": {"last_seen": "2026-11-20T12:00:00.000Z", "event_count": 14},
        "identities": {"email": ["ada@example.com"], "user_id": ["42"]},
        "consent": {"marketing": "granted", "analytics": "denied"},
    }
    return Facts(**(base | overrides))


def holds(condition: dict[str, Any], **overrides: Any) -> bool:
    return compile_condition(condition).holds(facts(**overrides))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"trait": "age", "eq": 22}, True),
        ({"trait": "age", "eq": "22"}, False),
        ({"trait": "vip", "eq": True}, True),
        ({"trait": "vip", "eq": 1}, False),
        ({"trait": "age", "neq": 30}, True),
        ({"trait": "missing", "neq": 30}, True),
        ({"trait": "city", "in": ["Utrecht", "Amsterdam"]}, True),
        ({"trait": "city", "contains": "sterd"}, True),
        ({"trait": "city", "contains": "STERD"}, True),
        ({"trait": "interests", "contains": "cars"}, True),
        ({"trait": "interests", "contains": "boats"}, False),
        ({"trait": "age", "exists": True}, True),
        ({"trait": "missing", "exists": False}, True),
        ({"trait": "age", "gt": 21}, True),
        ({"trait": "age", "gte": 22}, True),
        ({"trait": "age", "lt": 22}, False),
        ({"trait": "age", "lte": 22}, True),
        ({"trait": "city", "gt": 5}, False),
        ({"trait": "missing", "lt": 5}, False),
        ({"trait": "age", "between": [18, 24]}, True),
        ({"trait": "age", "between": [23, 30]}, False),
        ({"trait": "city", "prefix": "ams"}, True),
        ({"computed": "orders_30d", "gte": 1}, True),
        ({"computed": "revenue", "between": [100, 200.5]}, True),
        ({"profile": "last_seen", "within": 7}, True),
        ({"profile": "last_seen", "older_than": 2}, True),
        ({"profile": "last_seen", "older_than": 3}, False),
        ({"profile": "last_seen", "gt": "2026-11-01"}, True),
        ({"profile": "event_count", "gte": 10}, True),
        ({"trait_set_at": "moving", "older_than": 180}, True),
        ({"trait_set_at": "nothing", "older_than": 1}, False),
        ({"identity": "email", "exists": True}, True),
        ({"identity": "phone", "exists": True}, False),
        ({"identity": "user_id", "contains": "42"}, True),
        ({"consent": "marketing"}, True),
        ({"consent": "analytics"}, False),
        ({"consent": "analytics", "eq": "denied"}, True),
        ({"all": [{"trait": "age", "lt": 25}, {"trait": "interests", "contains": "cars"}]}, True),
        ({"any": [{"trait": "age", "gt": 60}, {"trait": "city", "eq": "Amsterdam"}]}, True),
        ({"not": {"trait": "age", "lt": 25}}, False),
        (
            {
                "all": [
                    {"any": [{"trait": "age", "gt": 60}]},
                    {"not": {"trait": "vip", "eq": False}},
                ]
            },
            False,
        ),
    ],
)
def test_operators(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        ("age < 25", "condition", "must be an object"),
        ({}, "condition", "must be an object"),
        ({"trait": "age"}, "condition", "add an operator"),
        ({"trait": "age", "lt": 25, "gt": 1}, "condition", "one operator per condition"),
        ({"trait": "age", "computed": "x", "lt": 1}, "condition", "exactly one subject"),
        ({"trait": "age", "less_than": 25}, "condition", "unknown key 'less_than'"),
        ({"all": []}, "condition.all", "non-empty list"),
        (
            {"all": [{"trait": "age", "lt": 25}, {"trait": "city", "in": []}]},
            "condition.all[1].in",
            "non-empty list",
        ),
        (
            {"any": [{"not": {"trait": "a", "between": [1]}}]},
            "condition.any[0].not.between",
            "two values",
        ),
        ({"trait": "a", "between": [1, "z"]}, "condition.between", "same type"),
        ({"trait": "a", "within": -1}, "condition.within", "number of days"),
        ({"trait": "a", "exists": "yes"}, "condition.exists", "true or false"),
        ({"trait": "a", "eq": {"x": 1}}, "condition.eq", "text, a number"),
        ({"trait": "a", "gt": True}, "condition.gt", "a number or text"),
        ({"profile": "age", "gt": 1}, "condition.profile", "must be one of"),
        ({"trait": "", "eq": 1}, "condition.trait", "must be a name"),
        ({"all": [{"trait": "a", "eq": 1}], "any": []}, "condition", "stands alone"),
    ],
)
def test_errors_point_at_the_wrong_part(condition: Any, path: str, message: str) -> None:
    with pytest.raises(ConditionError) as raised:
        compile_condition(condition)
    assert raised.value.path == path
    assert message in raised.value.message


def test_nesting_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"trait": "a", "eq": 1}
    for _ in range(10):
        deep = {"not": deep}
    with pytest.raises(ConditionError, match="nested more than"):
        compile_condition(deep)
    with pytest.raises(ConditionError, match="at most 50"):
        compile_condition({"all": [{"trait": "a", "eq": n} for n in range(51)]})


def segment(
    segment_id: str, condition: dict[str, Any], purpose: str | None = None
) -> SegmentDefinition:
    return SegmentDefinition(id=segment_id, name=segment_id, condition=condition, purpose=purpose)


def test_segments_refer_to_segments_in_dependency_order() -> None:
    compiled = compile_segments(
        [
            segment("young_buyers", {"all": [{"segment": "buyers"}, {"trait": "age", "lt": 25}]}),
            segment("buyers", {"computed": "orders_30d", "gte": 1}),
        ]
    )
    assert [s.id for s in compiled] == ["buyers", "young_buyers"]
    assert evaluate(compiled, facts()) == {"buyers": True, "young_buyers": True}


def test_unknown_references_and_cycles_are_refused() -> None:
    with pytest.raises(ConditionError, match="unknown segment 'ghost'"):
        compile_segments([segment("a", {"segment": "ghost"})])
    with pytest.raises(ConditionError, match="refer to each other"):
        compile_segments([segment("a", {"segment": "b"}), segment("b", {"segment": "a"})])


def test_a_segment_with_a_purpose_holds_only_profiles_that_granted_it() -> None:
    compiled = compile_segments(
        [
            segment("marketing_young", {"trait": "age", "lt": 25}, purpose="marketing"),
            segment("analytics_young", {"trait": "age", "lt": 25}, purpose="analytics"),
        ]
    )
    assert evaluate(compiled, facts()) == {"analytics_young": False, "marketing_young": True}


def test_explain_shows_each_condition_with_the_actual_value() -> None:
    [compiled] = compile_segments(
        [
            segment(
                "young_car_fans",
                {"all": [{"trait": "age", "lt": 25}, {"trait": "interests", "contains": "boats"}]},
            )
        ]
    )
    profile = facts()
    evaluate((compiled,), profile)
    assert explain(compiled, profile) == {
        "segment": "young_car_fans",
        "member": False,
        "condition": {
            "all": [
                {"trait": "age", "lt": 25, "actual": 22, "holds": True},
                {
                    "trait": "interests",
                    "contains": "boats",
                    "actual": ["cars", "music"],
                    "holds": False,
                },
            ],
            "holds": False,
        },
    }


def test_next_change_from_times_expiries_and_windows() -> None:
    compiled = compile_segments(
        [
            segment("quiet", {"profile": "last_seen", "older_than": 90}),
            segment("recent", {"profile": "last_seen", "within": 7}),
            segment("moving", {"trait": "moving", "eq": True}),
            segment("buyers", {"computed": "orders_30d", "gte": 1}),
        ]
    )
    profile = facts(
        trait_expiry={"moving": "2026-12-01T00:00:00.000Z"},
        computed_changes_at={"orders_30d": datetime(2026, 11, 25, tzinfo=UTC)},
    )
    # last_seen + 7 days = 2026-11-27T12:00; + 90 days is later; the window changes on the 25th
    assert next_change(compiled, profile) == datetime(2026, 11, 25, tzinfo=UTC)
    without_window = facts(trait_expiry={"moving": "2026-12-01T00:00:00.000Z"})
    assert next_change(compiled, without_window) == datetime(2026, 11, 27, 12, tzinfo=UTC)
