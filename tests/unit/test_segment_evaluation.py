"""The profile builder evaluates a whole set of segments at once (`evaluate`, `next_change`:
shared values, leaves and combinations computed once). These properties hold it to a plain
reading of the condition language, condition by condition, over random conditions, segment
sets and profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.runtime.clock import iso
from cdp.segments.conditions import (
    Facts,
    SegmentDefinition,
    compile_condition,
    compile_segments,
    evaluate,
    explain,
    next_change,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAYS = (0, 1, 7, 7.5, 30, 90)
TIMES = [iso(NOW - timedelta(days=days)) for days in (*DAYS, 400, -3)] + [
    "2026-11-16",  # no offset: UTC
    "2026-11-16T14:00:00+02:00",
    "not a time",
]
TEXTS = ["Amsterdam", "ams", "AMS", "pro", "", *TIMES[:3]]
TRAITS = ("age", "city", "tags", "moving")
COMPUTED = ("orders_30d", "revenue")
PURPOSES = ("marketing", "analytics")

scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5]),
    st.sampled_from(TEXTS),
)
values = st.one_of(
    st.none(), scalars, st.lists(st.sampled_from(["a", "ams", TIMES[0]]), max_size=3)
)
orderables = st.one_of(st.integers(-3, 3), st.sampled_from([1.0, 2.5]), st.sampled_from(TEXTS))


@st.composite
def leaves(draw: st.DrawFn, earlier: tuple[str, ...]) -> dict[str, Any]:
    subjects = ["trait", "trait_set_at", "computed", "profile", "identity", "consent"]
    subject = draw(st.sampled_from([*subjects, "segment"] if earlier else subjects))
    name = draw(
        st.sampled_from(
            {
                "trait": TRAITS,
                "trait_set_at": TRAITS,
                "computed": COMPUTED,
                "profile": ("first_seen", "last_seen", "event_count", "created_at"),
                "identity": ("email", "user_id"),
                "consent": PURPOSES,
                "segment": earlier,
            }[subject]
        )
    )
    defaults = ["default"] if subject in ("segment", "consent") else []
    operator = draw(st.sampled_from([*OPERATORS, *defaults]))
    if operator == "default":
        return {subject: name}
    if operator in ("eq", "neq", "contains"):
        operand: Any = draw(scalars)
    elif operator == "in":
        operand = draw(st.lists(scalars, min_size=1, max_size=3))
    elif operator == "exists":
        operand = draw(st.booleans())
    elif operator in ("gt", "gte", "lt", "lte"):
        operand = draw(orderables)
    elif operator == "between":
        operand = sorted(
            draw(
                st.one_of(
                    st.lists(st.integers(-3, 3), min_size=2, max_size=2),
                    st.lists(st.sampled_from(TEXTS), min_size=2, max_size=2),
                )
            )
        )
    elif operator == "prefix":
        operand = draw(st.sampled_from([text for text in TEXTS if text]))
    else:
        operand = draw(st.sampled_from(DAYS))
    return {subject: name, operator: operand}


def conditions(earlier: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves(earlier),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"all": parts}),
            st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"any": parts}),
            inner.map(lambda part: {"not": part}),
        ),
        max_leaves=6,
    )


@st.composite
def segment_sets(draw: st.DrawFn) -> list[SegmentDefinition]:
    # Few distinct leaves, so that segments share some (what the evaluation computes once).
    definitions: list[SegmentDefinition] = []
    for number in range(draw(st.integers(1, 6))):
        definitions.append(
            SegmentDefinition(
                id=f"s{number}",
                name=f"s{number}",
                condition=draw(conditions(tuple(d.id for d in definitions))),
                purpose=draw(st.sampled_from([None, *PURPOSES])),
            )
        )
    return definitions


@st.composite
def profiles(draw: st.DrawFn) -> Facts:
    times = st.sampled_from(TIMES)
    return Facts(
        now=NOW + timedelta(hours=draw(st.sampled_from([0, 0, 5]))),
        traits=draw(st.dictionaries(st.sampled_from(TRAITS), values)),
        trait_set_at=draw(st.dictionaries(st.sampled_from(TRAITS), times)),
        trait_expiry=draw(st.dictionaries(st.sampled_from(TRAITS), times)),
        computed=draw(st.dictionaries(st.sampled_from(COMPUTED), values)),
        computed_changes_at=draw(
            st.dictionaries(
                st.sampled_from(COMPUTED),
                st.sampled_from([NOW - timedelta(days=1), NOW, NOW + timedelta(hours=30)]),
            )
        ),
        profile={
            "first_seen": draw(st.one_of(st.none(), times)),
            "last_seen": draw(st.one_of(st.none(), times)),
            "event_count": draw(st.integers(0, 5)),
            "created_at": draw(times),
        },
        identities=draw(
            st.dictionaries(
                st.sampled_from(["email", "user_id"]),
                st.lists(st.sampled_from(["ada@example.com", "42"]), max_size=2),
            )
        ),
        consent=draw(
            st.dictionaries(st.sampled_from(PURPOSES), st.sampled_from(["granted", "denied"]))
        ),
    )


# -- the plain reading ---------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, operand: Any) -> bool:
    if isinstance(value, list):
        return False
    if isinstance(value, bool) or isinstance(operand, bool):
        return value is operand
    return bool(value == operand)


def _comparable(value: Any, operand: Any) -> bool:
    return _number(value) if _number(operand) else isinstance(value, str)


OPERATORS = {
    "eq": lambda value, operand, _: _same(value, operand),
    "neq": lambda value, operand, _: not _same(value, operand),
    "in": lambda value, operand, _: any(_same(value, item) for item in operand),
    "contains": lambda value, operand, _: (
        operand.casefold() in value.casefold()
        if isinstance(value, str) and isinstance(operand, str)
        else isinstance(value, list) and any(_same(item, operand) for item in value)
    ),
    "exists": lambda value, operand, _: (value is not None) is operand,
    "gt": lambda value, operand, _: _comparable(value, operand) and value > operand,
    "gte": lambda value, operand, _: _comparable(value, operand) and value >= operand,
    "lt": lambda value, operand, _: _comparable(value, operand) and value < operand,
    "lte": lambda value, operand, _: _comparable(value, operand) and value <= operand,
    "between": lambda value, operand, _: (
        _comparable(value, operand[0])
        and _comparable(value, operand[1])
        and operand[0] <= value <= operand[1]
    ),
    "prefix": lambda value, operand, _: (
        isinstance(value, str) and value.casefold().startswith(operand.casefold())
    ),
    "within": lambda value, operand, now: (
        (moment := _moment(value)) is not None and now - moment <= timedelta(days=operand)
    ),
    "older_than": lambda value, operand, now: (
        (moment := _moment(value)) is not None and now - moment > timedelta(days=operand)
    ),
}


def _leaf_parts(condition: dict[str, Any]) -> tuple[str, str, str, Any]:
    subject = next(key for key in condition if key not in OPERATORS)
    operator = next((key for key in condition if key != subject), None)
    if operator is None:
        return subject, condition[subject], "eq", subject == "segment" or "granted"
    return subject, condition[subject], operator, condition[operator]


def _value(subject: str, name: str, facts: Facts, members: dict[str, bool]) -> Any:
    if subject == "segment":
        return members[name]
    if subject == "identity":
        return facts.identities.get(name) or None
    return getattr(facts, subject if subject != "trait" else "traits").get(name)


def plainly(condition: dict[str, Any], facts: Facts, members: dict[str, bool]) -> bool:
    if "all" in condition:
        return all(plainly(part, facts, members) for part in condition["all"])
    if "any" in condition:
        return any(plainly(part, facts, members) for part in condition["any"])
    if "not" in condition:
        return not plainly(condition["not"], facts, members)
    subject, name, operator, operand = _leaf_parts(condition)
    return bool(OPERATORS[operator](_value(subject, name, facts, members), operand, facts.now))


def plain_members(definitions: list[SegmentDefinition], facts: Facts) -> dict[str, bool]:
    members: dict[str, bool] = {}
    for definition in definitions:  # each refers only to earlier ones
        granted = definition.purpose is None or facts.consent.get(definition.purpose) == "granted"
        members[definition.id] = granted and plainly(definition.condition, facts, members)
    return members


def _leaves(condition: dict[str, Any]) -> list[dict[str, Any]]:
    for combinator in ("all", "any"):
        if combinator in condition:
            return [leaf for part in condition[combinator] for leaf in _leaves(part)]
    return _leaves(condition["not"]) if "not" in condition else [condition]


def plain_next_change(definitions: list[SegmentDefinition], facts: Facts) -> datetime | None:
    """Each leaf's moments: a time plus its window, its trait's expiry, its computed value's
    next change; the earliest still to come."""
    moments: list[datetime] = []
    for definition in definitions:
        for leaf in _leaves(definition.condition):
            subject, name, operator, operand = _leaf_parts(leaf)
            if operator in ("within", "older_than") and subject != "segment":
                start = _moment(_value(subject, name, facts, {}))
                if start is not None:
                    moments.append(start + timedelta(days=operand))
            if subject in ("trait", "trait_set_at") and name in facts.trait_expiry:
                expiry = _moment(facts.trait_expiry[name])
                if expiry is not None:  # not a time: never
                    moments.append(expiry)
            if subject == "computed" and name in facts.computed_changes_at:
                moments.append(facts.computed_changes_at[name])
    future = [moment for moment in moments if moment > facts.now]
    return min(future) if future else None


# -- the properties ------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(definitions=segment_sets(), facts=profiles())
def test_a_set_of_segments_is_evaluated_as_each_condition_reads(
    definitions: list[SegmentDefinition], facts: Facts
) -> None:
    # given
    expected = plain_members(definitions, facts)
    compiled = compile_segments(definitions)
    # when
    members = evaluate(compiled, facts)
    # then
    assert members == expected
    for segment in compiled:
        explained = explain(segment, facts)
        assert explained["member"] is expected[segment.id]
        holds = plainly(segment.definition.condition, facts, expected)
        assert explained["condition"]["holds"] is holds
        assert compile_condition(segment.definition.condition).holds(facts) is holds
    assert next_change(compiled, facts) == plain_next_change(definitions, facts)


@settings(max_examples=100, deadline=None)
@given(definitions=segment_sets(), facts=profiles())
def test_evaluating_again_or_in_a_plain_tuple_answers_the_same(
    definitions: list[SegmentDefinition], facts: Facts
) -> None:
    compiled = compile_segments(definitions)
    first = dict(evaluate(compiled, facts))
    assert evaluate(compiled, facts) == first
    assert evaluate(tuple(compiled), facts) == first
