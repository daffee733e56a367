"""Segments: a small condition language over profiles, compiled once into fast predicates.

A condition is JSON. A leaf names one subject and one operator:

    {"trait": "age", "lt": 25}
    {"computed": "orders_30d", "gte": 1}
    {"profile": "last_seen", "older_than": 90}
    {"trait_set_at": "moving", "older_than": 180}
    {"identity": "email", "exists": true}
    {"consent": "marketing", "eq": "granted"}
    {"segment": "customers", "eq": true}

and `all`, `any` (lists) and `not` (one condition) nest them. Subjects: `trait` (the value that
counts), `trait_set_at` (when that value was set), `computed`, `profile` (`first_seen`,
`last_seen`, `event_count`, `created_at`), `identity` (the values of a type), `consent` (the
state of a purpose: `granted` or `denied`), `segment` (membership of another segment).

Operators: `eq`, `neq`, `in`, `contains`, `exists`, `gt`, `gte`, `lt`, `lte`, `between`,
`prefix`, and for times `within` / `older_than` (a number of days before now).

Every operator but `exists` and `neq` is false for a missing value; `neq` is `not eq`.
Strings are compared as given (`contains` and `prefix` ignore case). Times are ISO 8601 text,
so `gt`/`lt` work on them too; `within` and `older_than` read a time without an offset as UTC.

A condition compiles to `holds` and `explain` for itself, and to a shape from which a whole set
of segments is evaluated at once (`Plan`: what several segments share is computed once per
profile), as the profile builder does for every segment on every write.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from cdp.runtime.clock import parse
from cdp.runtime.models import Model

SUBJECTS = ("trait", "trait_set_at", "computed", "profile", "identity", "consent", "segment")
PROFILE_FIELDS = ("first_seen", "last_seen", "event_count", "created_at")
OPERATORS = (
    "eq", "neq", "in", "contains", "exists", "gt", "gte", "lt", "lte", "between", "prefix",
    "within", "older_than",
)  # fmt: skip
TIME_OPERATORS = ("within", "older_than")
MAX_DEPTH = 8
MAX_LEAVES = 50

SegmentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class ConditionError(ValueError):
    """A condition that cannot be compiled; `path` points at the part that is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SegmentDefinition(Model):
    """A segment as configured (JSON, or YAML through the command line)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: SegmentId
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    condition: dict[str, Any]
    purpose: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="a consent purpose: only profiles that granted it can be members",
    )
    enabled: bool = True


@dataclass
class Facts:
    """What conditions read from one profile at one moment, gathered once per evaluation."""

    now: datetime
    traits: Mapping[str, Any]
    trait_set_at: Mapping[str, str]
    trait_expiry: Mapping[str, str]
    computed: Mapping[str, Any]
    computed_changes_at: Mapping[str, datetime]
    profile: Mapping[str, Any]
    identities: Mapping[str, list[str]]
    consent: Mapping[str, str]
    segments: dict[str, bool] = field(default_factory=dict)


Getter = Callable[[Facts], Any]
Test = Callable[[Any], bool]  # value -> holds (every operator but the time operators)


@dataclass(frozen=True)
class Leaf:
    """One subject and one operator, as compiled. A time operator has no `test`: it compares
    the value's age with `window` (microseconds), which needs the moment of evaluation."""

    subject: str
    name: str
    operator: str
    operand: Any
    test: Test | None
    window: int = 0

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Leaves with equal keys always agree (`1` and `true` differ as operands)."""
        return (self.subject, self.name, self.operator, json.dumps(self.operand))


@dataclass(frozen=True)
class Node:
    """`all`, `any` (several parts) or `not` (one part)."""

    combinator: str
    parts: tuple[Leaf | Node, ...]


@dataclass(frozen=True)
class Condition:
    """A compiled condition: `holds(facts)` and `explain(facts)` for one condition; `shape`
    is what a set of segments is evaluated from (`evaluate`, `next_change`)."""

    holds: Callable[[Facts], bool]
    explain: Callable[[Facts], dict[str, Any]]
    segments: frozenset[str]  # other segments it refers to
    shape: Leaf | Node


def compile_condition(raw: Any, path: str = "condition") -> Condition:
    leaves = [0]
    return _compile(raw, path, 0, leaves)


def _compile(raw: Any, path: str, depth: int, leaves: list[int]) -> Condition:
    if depth > MAX_DEPTH:
        raise ConditionError(path, f"nested more than {MAX_DEPTH} levels deep")
    if not isinstance(raw, dict) or not raw:
        raise ConditionError(path, 'must be an object such as {"trait": "age", "lt": 25}')
    for combinator in ("all", "any"):
        if combinator in raw:
            if len(raw) != 1:
                raise ConditionError(path, f"'{combinator}' stands alone in its object")
            parts = raw[combinator]
            if not isinstance(parts, list) or not parts:
                raise ConditionError(
                    f"{path}.{combinator}", "must be a non-empty list of conditions"
                )
            children = [
                _compile(part, f"{path}.{combinator}[{index}]", depth + 1, leaves)
                for index, part in enumerate(parts)
            ]
            return _combine(combinator, children)
    if "not" in raw:
        if len(raw) != 1:
            raise ConditionError(path, "'not' stands alone in its object")
        inner = _compile(raw["not"], f"{path}.not", depth + 1, leaves)
        return Condition(
            holds=lambda facts: not inner.holds(facts),
            explain=lambda facts: {"not": inner.explain(facts), "holds": not inner.holds(facts)},
            segments=inner.segments,
            shape=Node("not", (inner.shape,)),
        )
    leaves[0] += 1
    if leaves[0] > MAX_LEAVES:
        raise ConditionError(path, f"a segment has at most {MAX_LEAVES} conditions")
    return _leaf(raw, path)


def _combine(combinator: str, children: list[Condition]) -> Condition:
    tests = tuple(child.holds for child in children)
    if combinator == "all":

        def holds(facts: Facts) -> bool:
            for test in tests:  # noqa: SIM110 (a generator costs a third more here)
                if not test(facts):
                    return False
            return True

    else:

        def holds(facts: Facts) -> bool:
            for test in tests:  # noqa: SIM110 (a generator costs a third more here)
                if test(facts):
                    return True
            return False

    return Condition(
        holds=holds,
        explain=lambda facts: {
            combinator: [child.explain(facts) for child in children],
            "holds": holds(facts),
        },
        segments=frozenset().union(*(child.segments for child in children)),
        shape=Node(combinator, tuple(child.shape for child in children)),
    )


def _leaf(raw: dict[str, Any], path: str) -> Condition:
    subjects = [key for key in raw if key in SUBJECTS]
    operators = [key for key in raw if key in OPERATORS]
    unknown = [key for key in raw if key not in SUBJECTS and key not in OPERATORS]
    if unknown:
        raise ConditionError(
            path,
            f"unknown key {unknown[0]!r}; a condition names one of {', '.join(SUBJECTS)} and "
            f"one of {', '.join(OPERATORS)}, or combines conditions with all, any, not",
        )
    if len(subjects) != 1:
        raise ConditionError(path, f"name exactly one subject: {', '.join(SUBJECTS)}")
    if len(operators) > 1:
        raise ConditionError(path, "use one operator per condition; combine with all/any")
    subject, name = subjects[0], raw[subjects[0]]
    if not isinstance(name, str) or not name:
        raise ConditionError(f"{path}.{subject}", "must be a name")
    if subject == "profile" and name not in PROFILE_FIELDS:
        raise ConditionError(f"{path}.profile", f"must be one of {', '.join(PROFILE_FIELDS)}")
    operator = operators[0] if operators else None
    if operator is None:
        if subject not in ("segment", "consent"):
            raise ConditionError(path, f"add an operator: {', '.join(OPERATORS)}")
        operator, operand = "eq", (True if subject == "segment" else "granted")
    else:
        operand = raw[operator]
    where = f"{path}.{operator}"
    if operator in TIME_OPERATORS:
        leaf = Leaf(subject, name, operator, operand, None, _days(operand, where))
    else:
        leaf = Leaf(subject, name, operator, operand, _TESTS[operator](operand, where))
    get = _getter(subject, name)
    test = leaf.test
    if test is None:
        older, window = operator == "older_than", leaf.window

        def holds(facts: Facts) -> bool:
            return _aged(_time_us(get(facts)), _epoch_us(facts.now), window, older)

    else:

        def holds(facts: Facts) -> bool:
            return test(get(facts))

    def explain(facts: Facts) -> dict[str, Any]:
        return {subject: name, operator: operand, "actual": get(facts), "holds": holds(facts)}

    return Condition(
        holds=holds,
        explain=explain,
        segments=frozenset({name}) if subject == "segment" else frozenset(),
        shape=leaf,
    )


_GETTERS: dict[str, Callable[[str], Getter]] = {
    "trait": lambda name: lambda facts: facts.traits.get(name),
    "trait_set_at": lambda name: lambda facts: facts.trait_set_at.get(name),
    "computed": lambda name: lambda facts: facts.computed.get(name),
    "profile": lambda name: lambda facts: facts.profile.get(name),
    "identity": lambda name: lambda facts: facts.identities.get(name) or None,
    "consent": lambda name: lambda facts: facts.consent.get(name),
    "segment": lambda name: lambda facts: facts.segments.get(name, False),
}


def _getter(subject: str, name: str) -> Getter:
    return _GETTERS[subject](name)


def _exists(operand: Any, path: str) -> Test:
    if not isinstance(operand, bool):
        raise ConditionError(path, "must be true or false")
    return (lambda value: value is not None) if operand else (lambda value: value is None)


def _eq(operand: Any, path: str) -> Test:
    _scalar(operand, path)
    return lambda value: _equal(value, operand)


def _neq(operand: Any, path: str) -> Test:
    _scalar(operand, path)
    return lambda value: not _equal(value, operand)


def _in(operand: Any, path: str) -> Test:
    if not isinstance(operand, list) or not operand:
        raise ConditionError(path, "must be a non-empty list of values")
    for index, item in enumerate(operand):
        _scalar(item, f"{path}[{index}]")
    return lambda value: any(_equal(value, item) for item in operand)


def _contains_test(operand: Any, path: str) -> Test:
    _scalar(operand, path)
    return lambda value: _contains(value, operand)


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, str], Test]:
    def build(operand: Any, path: str) -> Test:
        _orderable(operand, path)
        if _number(operand):
            return lambda value: (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and compare(value, operand)
            )
        return lambda value: isinstance(value, str) and compare(value, operand)

    return build


def _between(operand: Any, path: str) -> Test:
    if not isinstance(operand, list) or len(operand) != 2:
        raise ConditionError(path, "must be a list of two values: [low, high]")
    low, high = operand
    _orderable(low, f"{path}[0]")
    _orderable(high, f"{path}[1]")
    if type(low) is not type(high) and not (_number(low) and _number(high)):
        raise ConditionError(path, "low and high must be of the same type")
    return lambda value: (
        _comparable(value, low) and _comparable(value, high) and low <= value <= high
    )


def _prefix(operand: Any, path: str) -> Test:
    if not isinstance(operand, str) or not operand:
        raise ConditionError(path, "must be text")
    folded = operand.casefold()
    return lambda value: isinstance(value, str) and value.casefold().startswith(folded)


_TESTS: dict[str, Callable[[Any, str], Test]] = {
    "exists": _exists,
    "eq": _eq,
    "neq": _neq,
    "in": _in,
    "contains": _contains_test,
    "gt": _ordering(lambda a, b: bool(a > b)),
    "gte": _ordering(lambda a, b: bool(a >= b)),
    "lt": _ordering(lambda a, b: bool(a < b)),
    "lte": _ordering(lambda a, b: bool(a <= b)),
    "between": _between,
    "prefix": _prefix,
}


def _aged(start: int | None, now: int, window: int, older: bool) -> bool:
    """`within` (not `older`) or `older_than` a window, for a start and now in microseconds."""
    if start is None:
        return False
    return now - start > window if older else now - start <= window


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _epoch_us(moment: datetime) -> int:
    """Whole microseconds since the epoch: exact, as datetime arithmetic is."""
    return (moment - _EPOCH) // _MICROSECOND


def _moment(epoch_us: int) -> datetime | None:
    try:
        return _EPOCH + timedelta(microseconds=epoch_us)
    except OverflowError:
        return None  # after the year 9999: time never gets there


def _time_us(value: Any) -> int | None:
    return _micros(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)
def _micros(text: str) -> int | None:
    """A time text as microseconds since the epoch (once per text: times repeat across
    profiles); a time without an offset is UTC."""
    moment = _parsed(text)
    if moment is None:
        return None
    return _epoch_us(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


@lru_cache(maxsize=4096)
def _parsed(value: str) -> datetime | None:
    """Times repeat across segments and profiles: parse each text once."""
    try:
        return parse(value)
    except ValueError:
        return None


def _days(operand: Any, path: str) -> int:
    if not _number(operand) or operand < 0 or operand > 36500:
        raise ConditionError(path, "must be a number of days, 0 to 36500")
    return timedelta(days=operand) // _MICROSECOND


def _scalar(operand: Any, path: str) -> None:
    if not isinstance(operand, str | int | float | bool) or operand is None:
        raise ConditionError(path, "must be text, a number or true/false")


def _orderable(operand: Any, path: str) -> None:
    if isinstance(operand, bool) or not isinstance(operand, str | int | float):
        raise ConditionError(path, "must be a number or text (times as ISO 8601)")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(value: Any, operand: Any) -> bool:
    if _number(operand):
        return _number(value)
    return isinstance(value, str)


def _equal(value: Any, operand: Any) -> bool:
    if isinstance(value, list):
        return False
    if isinstance(value, bool) or isinstance(operand, bool):
        return value is operand
    return bool(value == operand)


def _contains(value: Any, operand: Any) -> bool:
    if isinstance(value, str) and isinstance(operand, str):
        return operand.casefold() in value.casefold()
    if isinstance(value, list):
        return any(_equal(item, operand) for item in value)
    return False


@dataclass(frozen=True)
class CompiledSegment:
    definition: SegmentDefinition
    condition: Condition

    @property
    def id(self) -> str:
        return self.definition.id


class SegmentSet(tuple[CompiledSegment, ...]):
    """Compiled segments in dependency order, with the plan that evaluates them together."""

    @cached_property
    def plan(self) -> Plan:
        return Plan(self)


def compile_segments(definitions: list[SegmentDefinition]) -> SegmentSet:
    """Compile and order segments so that a segment comes after the ones it refers to.
    Unknown references and cycles raise `ConditionError`."""
    compiled = {
        definition.id: CompiledSegment(definition, compile_condition(definition.condition))
        for definition in definitions
        if definition.enabled
    }
    ordered: list[CompiledSegment] = []
    state: dict[str, str] = {}

    def visit(segment_id: str, trail: tuple[str, ...]) -> None:
        if state.get(segment_id) == "done":
            return
        if state.get(segment_id) == "visiting":
            raise ConditionError("condition", f"segments refer to each other: {' -> '.join(trail)}")
        state[segment_id] = "visiting"
        for other in sorted(compiled[segment_id].condition.segments):
            if other not in compiled:
                raise ConditionError(
                    "condition", f"segment {segment_id!r} refers to unknown segment {other!r}"
                )
            visit(other, (*trail, other))
        state[segment_id] = "done"
        ordered.append(compiled[segment_id])

    for segment_id in sorted(compiled):
        visit(segment_id, (segment_id,))
    return SegmentSet(ordered)


def check_segment_change(
    definition: SegmentDefinition, others: Iterable[SegmentDefinition]
) -> None:
    """A segment may be stored if its condition compiles and, with the other segments, every
    reference resolves and none is circular (`ConditionError` says where it does not)."""
    compile_condition(definition.condition)
    compile_segments([*(d for d in others if d.id != definition.id), definition])


def segments_using(segment_id: str, segments: Iterable[SegmentDefinition]) -> list[str]:
    """The other segments whose condition refers to this one (it cannot go before them)."""
    return sorted(
        d.id
        for d in segments
        if d.id != segment_id and segment_id in compile_condition(d.condition).segments
    )


def segments_reading(computed_id: str, segments: Iterable[Mapping[str, Any]]) -> list[str]:
    """The segments whose condition reads a computed trait, any of its windows included
    (`orders`, `orders_30d`): a change of the trait can change who is in them."""
    window = re.compile(rf"{re.escape(computed_id)}(_\d+d)?")
    return [
        item["id"]
        for item in segments
        if any(window.fullmatch(name) for name in _computed_names(item.get("condition")))
    ]


def _computed_names(condition: Any) -> set[str]:
    if isinstance(condition, dict):
        found = {condition["computed"]} if isinstance(condition.get("computed"), str) else set()
        return found.union(*(_computed_names(value) for value in condition.values()))
    if isinstance(condition, list):
        return set().union(*(_computed_names(value) for value in condition))
    return set()


# A step computes one register from the facts and the registers before it.
Step = Callable[[Facts, list[Any]], Any]


class Plan:
    """Every segment of a set evaluated at once, as straight-line steps over registers.

    Register 0 holds the moment of evaluation (microseconds since the epoch); each step adds
    one: a value read from the facts, a time read from such a value, a leaf's truth, or a
    combination of earlier truths. A value, a leaf or a combination that several segments
    use (the same trait, `orders_30d >= 1`, a purpose) is one step, computed once per profile;
    a segment that refers to another reads that one's register. Steps do not short-circuit:
    every one is a few operations, cheaper than deciding what to skip.

    Time alone changes a membership only through a time crossing a window, a trait expiring or
    a computed value changing: `next_change` reads just those, whatever the memberships are.
    """

    def __init__(self, segments: Sequence[CompiledSegment]) -> None:
        self.steps: list[Step] = []
        self._registers: dict[Hashable, int] = {}
        self._defined: dict[str, int] = {}  # segment id -> its membership's register
        self._windows: dict[tuple[str, str], set[int]] = {}
        self._expiring: set[str] = set()
        self._changing: set[str] = set()
        ids: list[str] = []
        outputs: list[int] = []
        for segment in segments:
            register = self._shape(segment.condition.shape)
            purpose = segment.definition.purpose
            if purpose is not None:
                granted = self._leaf(Leaf("consent", purpose, "eq", "granted", _GRANTED))
                register = self._combination("all", (granted, register))
            self._defined[segment.id] = register
            ids.append(segment.id)
            outputs.append(register)
        self.ids = tuple(ids)
        self._outputs = tuple(outputs)
        self._timed = tuple(
            (_getter(subject, name), tuple(sorted(windows)))
            for (subject, name), windows in self._windows.items()
        )

    def members(self, facts: Facts) -> Iterable[bool]:
        """Membership of each segment, in the order of `ids`."""
        registers: list[Any] = [_epoch_us(facts.now)]
        append = registers.append
        for step in self.steps:
            append(step(facts, registers))
        return map(registers.__getitem__, self._outputs)

    def next_change(self, facts: Facts) -> datetime | None:
        now = _epoch_us(facts.now)
        soonest: int | None = None
        for get, windows in self._timed:
            start = _time_us(get(facts))
            if start is not None:
                # The smallest window the time's age has not yet passed: it passes it next.
                index = bisect_right(windows, now - start)
                if index < len(windows):
                    moment = start + windows[index]
                    soonest = moment if soonest is None else min(soonest, moment)
        for name in self._expiring:
            expiry = _time_us(facts.trait_expiry.get(name))
            if expiry is not None and expiry > now:
                soonest = expiry if soonest is None else min(soonest, expiry)
        for name in self._changing:
            changes = facts.computed_changes_at.get(name)
            if changes is not None and (moment := _epoch_us(changes)) > now:
                soonest = moment if soonest is None else min(soonest, moment)
        return None if soonest is None else _moment(soonest)

    def _step(self, key: Hashable, step: Step) -> int:
        register = self._registers.get(key)
        if register is None:
            self.steps.append(step)
            register = self._registers[key] = len(self.steps)
        return register

    def _shape(self, shape: Leaf | Node) -> int:
        if isinstance(shape, Leaf):
            return self._leaf(shape)
        parts = tuple(self._shape(part) for part in shape.parts)
        return self._combination(shape.combinator, parts)

    def _value(self, subject: str, name: str) -> int:
        if subject == "segment" and name in self._defined:
            return self._defined[name]  # evaluated before: segments come in dependency order
        get = _getter(subject, name)
        return self._step(("value", subject, name), lambda facts, _: get(facts))

    def _leaf(self, leaf: Leaf) -> int:
        subject, name = leaf.subject, leaf.name
        if subject in ("trait", "trait_set_at"):
            self._expiring.add(name)
        elif subject == "computed":
            self._changing.add(name)
        value = self._value(subject, name)
        if subject == "segment" and leaf.key[2:] == ("eq", "true") and name in self._defined:
            return value  # a membership is true or false
        test = leaf.test
        if test is not None:
            return self._step(
                ("leaf", value, *leaf.key[2:]), lambda _, registers: test(registers[value])
            )
        self._windows.setdefault((subject, name), set()).add(leaf.window)
        start = self._step(("time", value), lambda _, registers: _time_us(registers[value]))
        window = leaf.window
        if leaf.operator == "older_than":

            def older(_: Facts, registers: list[Any]) -> bool:
                begun = registers[start]
                return begun is not None and registers[0] - begun > window

            return self._step(("older", start, window), older)

        def within(_: Facts, registers: list[Any]) -> bool:
            begun = registers[start]
            return begun is not None and registers[0] - begun <= window

        return self._step(("within", start, window), within)

    def _combination(self, combinator: str, parts: tuple[int, ...]) -> int:
        if len(parts) == 1:
            if combinator != "not":
                return parts[0]
            (part,) = parts
            return self._step(("not", part), lambda _, registers: not registers[part])
        if len(parts) == 2:
            first, second = parts
            if combinator == "all":
                return self._step(
                    ("all", *parts), lambda _, registers: registers[first] and registers[second]
                )
            return self._step(
                ("any", *parts), lambda _, registers: registers[first] or registers[second]
            )
        pick = itemgetter(*parts)
        combine = all if combinator == "all" else any
        return self._step((combinator, *parts), lambda _, registers: combine(pick(registers)))


_GRANTED = _TESTS["eq"]("granted", "purpose")


def _plan(segments: tuple[CompiledSegment, ...]) -> Plan:
    return segments.plan if isinstance(segments, SegmentSet) else Plan(segments)


def evaluate(segments: tuple[CompiledSegment, ...], facts: Facts) -> dict[str, bool]:
    """Membership of every segment (in dependency order); a segment that declares a consent
    purpose only holds profiles that granted it."""
    plan = _plan(segments)
    facts.segments.update(zip(plan.ids, plan.members(facts), strict=True))
    return facts.segments


def explain(segment: CompiledSegment, facts: Facts) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "segment": segment.id,
        "member": facts.segments.get(segment.id, False),
        "condition": segment.condition.explain(facts),
    }
    purpose = segment.definition.purpose
    if purpose is not None:
        state = facts.consent.get(purpose)
        answer["purpose"] = {"consent": purpose, "state": state, "holds": state == "granted"}
    return answer


def explain_membership(
    segment: CompiledSegment,
    facts: Facts,
    profile: Any,
    backfill: Mapping[str, Any] | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Why a person is or is not a member. `member` is the membership itself (what other
    systems were told); each condition is shown with the person's values now. When the two
    differ, `pending` says what is about to bring the membership in line, and when.

    `facts` must have been evaluated (`evaluate`) with the definitions in force."""
    answer = explain(segment, facts)
    evaluated = answer["member"]
    member = segment.id in profile.segments
    answer["member"] = member
    if member != evaluated:
        answer["pending"] = {"member": evaluated, "reason": _pending_reason(profile, backfill, now)}
    return answer


def _pending_reason(profile: Any, backfill: Mapping[str, Any] | None, now: datetime) -> str:
    if backfill is not None and backfill.get("status") == "running":
        return (
            f"the segment changed at {backfill['started_at']}; every profile is being "
            f"evaluated again ({backfill['evaluated']} so far)"
        )
    due = _parsed(profile.due_at) if isinstance(profile.due_at, str) else None
    if due is not None and due <= now:
        return (
            f"time alone changed it at {profile.due_at}; the scheduler applies such changes "
            "every few minutes"
        )
    return "the profile is evaluated again with its next event or scheduled evaluation"


def next_change(segments: tuple[CompiledSegment, ...], facts: Facts) -> datetime | None:
    """The earliest moment at which time alone could change any membership."""
    return _plan(segments).next_change(facts)


def load_segments(configured: list[dict[str, Any]]) -> tuple[CompiledSegment, ...]:
    """Compiled segments from the config table's items, compiled once per change of them."""
    return _load_segments(json.dumps(configured, sort_keys=True))


@lru_cache(maxsize=4)
def _load_segments(configured_json: str) -> tuple[CompiledSegment, ...]:
    definitions = []
    for item in json.loads(configured_json):
        try:
            definitions.append(SegmentDefinition.model_validate(item))
        except ValueError:
            continue  # validated when stored; an old, now invalid definition is left out
    try:
        return compile_segments(definitions)
    except ConditionError:
        # A reference broken by a deletion: keep the segments that still compile.
        usable: list[SegmentDefinition] = []
        for definition in definitions:
            try:
                compile_segments([*usable, definition])
                usable.append(definition)
            except ConditionError:
                continue
        return compile_segments(usable)
