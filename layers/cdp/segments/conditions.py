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
so `gt`/`lt` work on them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cdp.runtime.clock import parse

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


class SegmentDefinition(BaseModel):
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
Test = Callable[[Any, datetime], bool]  # (value, now) -> holds


@dataclass(frozen=True)
class Condition:
    """A compiled condition: `holds(facts)`, plus what `explain` and `changes_at` need."""

    holds: Callable[[Facts], bool]
    explain: Callable[[Facts], dict[str, Any]]
    changes_at: Callable[[Facts], datetime | None]  # next moment time alone can change it
    segments: frozenset[str]  # other segments it refers to


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
            changes_at=inner.changes_at,
            segments=inner.segments,
        )
    leaves[0] += 1
    if leaves[0] > MAX_LEAVES:
        raise ConditionError(path, f"a segment has at most {MAX_LEAVES} conditions")
    return _leaf(raw, path)


def _combine(combinator: str, children: list[Condition]) -> Condition:
    tests = tuple(child.holds for child in children)
    # Plain loops: this runs for every segment on every profile change (no generators).
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

    def changes_at(facts: Facts) -> datetime | None:
        moments = [moment for child in children if (moment := child.changes_at(facts))]
        return min(moments) if moments else None

    return Condition(
        holds=holds,
        explain=lambda facts: {
            combinator: [child.explain(facts) for child in children],
            "holds": holds(facts),
        },
        changes_at=changes_at,
        segments=frozenset().union(*(child.segments for child in children)),
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
    test = _test(operator, operand, f"{path}.{operator}")
    get = _getter(subject, name)
    changes_at = _changes_at(subject, name, operator, operand)

    def holds(facts: Facts) -> bool:
        return test(get(facts), facts.now)

    def explain(facts: Facts) -> dict[str, Any]:
        return {subject: name, operator: operand, "actual": get(facts), "holds": holds(facts)}

    return Condition(
        holds=holds,
        explain=explain,
        changes_at=changes_at,
        segments=frozenset({name}) if subject == "segment" else frozenset(),
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
    return (lambda value, _: value is not None) if operand else (lambda value, _: value is None)


def _eq(operand: Any, path: str) -> Test:
    _scalar(operand, path)
    return lambda value, _: _equal(value, operand)


def _neq(operand: Any, path: str) -> Test:
    _scalar(operand, path)
    return lambda value, _: not _equal(value, operand)


def _in(operand: Any, path: str) -> Test:
    if not isinstance(operand, list) or not operand:
        raise ConditionError(path, "must be a non-empty list of values")
    for index, item in enumerate(operand):
        _scalar(item, f"{path}[{index}]")
    return lambda value, _: any(_equal(value, item) for item in operand)


def _contains_test(operand: Any, path: str) -> Test:
    _scalar(operand, path)
    return lambda value, _: _contains(value, operand)


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, str], Test]:
    def build(operand: Any, path: str) -> Test:
        _orderable(operand, path)
        return lambda value, _: _comparable(value, operand) and compare(value, operand)

    return build


def _between(operand: Any, path: str) -> Test:
    if not isinstance(operand, list) or len(operand) != 2:
        raise ConditionError(path, "must be a list of two values: [low, high]")
    low, high = operand
    _orderable(low, f"{path}[0]")
    _orderable(high, f"{path}[1]")
    if type(low) is not type(high) and not (_number(low) and _number(high)):
        raise ConditionError(path, "low and high must be of the same type")
    return lambda value, _: (
        _comparable(value, low) and _comparable(value, high) and low <= value <= high
    )


def _prefix(operand: Any, path: str) -> Test:
    if not isinstance(operand, str) or not operand:
        raise ConditionError(path, "must be text")
    folded = operand.casefold()
    return lambda value, _: isinstance(value, str) and value.casefold().startswith(folded)


def _within(operand: Any, path: str) -> Test:
    days = _days(operand, path)
    return lambda value, now: (age := _age(value, now)) is not None and age <= days


def _older_than(operand: Any, path: str) -> Test:
    days = _days(operand, path)
    return lambda value, now: (age := _age(value, now)) is not None and age > days


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
    "within": _within,
    "older_than": _older_than,
}


def _test(operator: str, operand: Any, path: str) -> Test:
    return _TESTS[operator](operand, path)


def _age(value: Any, now: datetime) -> timedelta | None:
    if not isinstance(value, str):
        return None
    moment = _parsed(value)
    return None if moment is None else now - moment


@lru_cache(maxsize=4096)
def _parsed(value: str) -> datetime | None:
    """Times repeat across segments and profiles: parse each text once."""
    try:
        return parse(value)
    except ValueError:
        return None


def _days(operand: Any, path: str) -> timedelta:
    if not _number(operand) or operand < 0 or operand > 36500:
        raise ConditionError(path, "must be a number of days, 0 to 36500")
    return timedelta(days=operand)


def _changes_at(
    subject: str, name: str, operator: str, operand: Any
) -> Callable[[Facts], datetime | None]:
    """When time alone can change a leaf: a time crossing its threshold, a trait expiring,
    a computed value losing a day from its window or gaining a day since."""

    # Runs for every leaf of every segment on every profile change: what can be decided when
    # the condition is compiled is decided here, and times are parsed through the cache.
    timed = operator in TIME_OPERATORS
    expires = subject in ("trait", "trait_set_at")
    computed = subject == "computed"
    if not (timed or expires or computed):
        return _never
    get = _getter(subject, name)
    window = timedelta(days=operand) if timed else timedelta(0)

    def moment(facts: Facts) -> datetime | None:
        candidates: list[datetime] = []
        if timed:
            value = get(facts)
            start = _parsed(value) if isinstance(value, str) else None
            if start is not None:
                candidates.append(start + window)
        if expires and name in facts.trait_expiry:
            candidates.append(parse(facts.trait_expiry[name]))
        if computed and name in facts.computed_changes_at:
            candidates.append(facts.computed_changes_at[name])
        future = [candidate for candidate in candidates if candidate > facts.now]
        return min(future) if future else None

    return moment


def _never(facts: Facts) -> datetime | None:
    return None


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


def compile_segments(definitions: list[SegmentDefinition]) -> tuple[CompiledSegment, ...]:
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
    return tuple(ordered)


def evaluate(segments: tuple[CompiledSegment, ...], facts: Facts) -> dict[str, bool]:
    """Membership of every segment (in dependency order); a segment that declares a consent
    purpose only holds profiles that granted it."""
    for segment in segments:
        purpose = segment.definition.purpose
        facts.segments[segment.id] = (
            purpose is None or facts.consent.get(purpose) == "granted"
        ) and segment.condition.holds(facts)
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
    moments = [moment for segment in segments if (moment := segment.condition.changes_at(facts))]
    return min(moments) if moments else None


def load_segments(configured: list[dict[str, Any]]) -> tuple[CompiledSegment, ...]:
    """Compiled segments from the config table's items, compiled once per change of them."""
    import json

    return _load_segments(json.dumps(configured, sort_keys=True))


@lru_cache(maxsize=4)
def _load_segments(configured_json: str) -> tuple[CompiledSegment, ...]:
    import json

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
