"""Computed traits: attributes derived from a person's events, defined in configuration.

Each definition keeps a small state on the profile that every new event updates in place; the
event history is never re-read. Rolling windows ("orders in the last 30 days") come from daily
buckets, trimmed once they fall outside the longest window. Every update is a sum, a minimum
or a maximum, so applying the same events in any order, or merging two profiles, gives the
same state. Sums use decimal arithmetic for the same reason (float addition is not associative).

A new or changed definition counts the events received from a moment a few seconds after it
was stored (`counts_from`); what came before is added from the data lake by a backfill
(`cdp.profiles.past`), so every event is counted once, by one side or the other. A state
records the moment it counts from (`f`): a state of an older version of the definition is
not read, and is started afresh by the next event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.models import Model

MAX_WINDOW_DAYS = 90
MAX_DISTINCT_VALUES = 50  # most_frequent keeps counts for at most this many values
MAX_VALUE_LENGTH = 128

ComputedType = Literal[
    "count",
    "sum",
    "min",
    "max",
    "average",
    "first_occurrence",
    "last_occurrence",
    "most_frequent",
    "days_since",
]
MessageType = Literal["identify", "track", "page", "screen", "group", "alias"]
_NEEDS_PROPERTY = {"sum", "min", "max", "average", "most_frequent"}
_WINDOWED = {"count", "sum"}

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class ComputedTraitDefinition(Model):
    """One computed trait, as configured (JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Identifier
    type: ComputedType
    description: str | None = Field(default=None, max_length=500)
    event: str | None = Field(default=None, min_length=1, max_length=512)
    message_type: MessageType | None = None
    property: str | None = Field(default=None, min_length=1, max_length=256)
    windows: tuple[Annotated[int, Field(ge=1, le=MAX_WINDOW_DAYS)], ...] = ()
    of: str | None = Field(default=None, min_length=1, max_length=64)
    enabled: bool = True
    # Set by the platform when the definition is stored (a value sent is replaced): events
    # received from then on are counted as they arrive, earlier ones by a backfill. None for
    # a default never changed: it has counted every event from the start.
    counts_from: str | None = Field(default=None, max_length=30)

    @model_validator(mode="after")
    def _consistent(self) -> ComputedTraitDefinition:
        if self.type == "days_since":
            if self.of is None:
                raise ValueError(
                    "a days_since trait needs 'of': last_seen, first_seen or a trait id"
                )
            return self
        if self.event is None and self.message_type is None:
            raise ValueError("say which events count: 'event' (a track name) or 'message_type'")
        if self.event is not None and self.message_type not in (None, "track"):
            raise ValueError(
                "'event' names track events; leave message_type out or set it to track"
            )
        if self.type in _NEEDS_PROPERTY and self.property is None:
            raise ValueError(f"a {self.type} trait needs 'property', e.g. 'revenue'")
        if self.windows and self.type not in _WINDOWED:
            raise ValueError("windows are available for count and sum traits")
        return self

    def matches(self, message_type: str, name: str | None) -> bool:
        if self.event is not None:
            return message_type == "track" and name == self.event
        return message_type == self.message_type


State = dict[str, Any]
# What a state keeps beside its figures: the moment it counts from and the identities whose
# past a backfill has added (short hashes: a redelivered backfill adds nothing twice).
_COUNTS_FROM, _PAST = "f", "b"


def counts(definition: ComputedTraitDefinition, received_at: Any) -> bool:
    """Whether an event, as it arrives, is counted by the definition's state (or, received
    before the definition counts from, left to the backfill)."""
    return definition.counts_from is None or (
        isinstance(received_at, str) and received_at >= definition.counts_from
    )


def state_of(definition: ComputedTraitDefinition, states: Mapping[str, State]) -> State:
    """The definition's state as it is to be read: empty when it was built for an older
    version of the definition."""
    state = states.get(definition.id)
    if state is None or state.get(_COUNTS_FROM) != definition.counts_from:
        return {}
    return state


def state_to_update(definition: ComputedTraitDefinition, states: dict[str, State]) -> State:
    """The definition's state, to be changed in place: started afresh when it was built for an
    older version of the definition."""
    state = states.get(definition.id)
    if state is None or state.get(_COUNTS_FROM) != definition.counts_from:
        state = states[definition.id] = {}
        if definition.counts_from is not None:
            state[_COUNTS_FROM] = definition.counts_from
    return state


def add_past(definition: ComputedTraitDefinition, state: State, identity: str, past: State) -> bool:
    """Add what `identity`'s events before `counts_from` make (a backfill's fold of them) to
    the state, once: answers False when it was added before."""
    mark = past_mark(identity)
    if mark in state.get(_PAST, ()):
        return False
    combine(definition, state, past)
    state[_PAST] = sorted({*state.get(_PAST, ()), mark})
    return True


def past_mark(identity: str) -> str:
    from hashlib import blake2b

    return blake2b(identity.encode(), digest_size=6).hexdigest()


def update(definition: ComputedTraitDefinition, state: State, facts: EventFacts) -> None:
    """Fold one matching event into the definition's state (in place)."""
    kind = definition.type
    if kind == "count":
        state["n"] = state.get("n", 0) + 1
        if definition.windows:
            buckets = state.setdefault("d", {})
            buckets[facts.day] = buckets.get(facts.day, 0) + 1
        return
    if kind in ("first_occurrence", "last_occurrence"):
        current = state.get("t")
        pick = min if kind == "first_occurrence" else max
        state["t"] = facts.timestamp if current is None else pick(current, facts.timestamp)
        return
    assert definition.property is not None  # checked by the definition
    value = facts.property(definition.property)
    if kind == "most_frequent":
        key = _category(value)
        if key is not None:
            counts = state.setdefault("c", {})
            if key in counts or len(counts) < MAX_DISTINCT_VALUES:
                counts[key] = counts.get(key, 0) + 1
        return
    number = _decimal(value)
    if number is None:
        return
    if kind in ("sum", "average"):
        state["s"] = str(Decimal(state.get("s", "0")) + number)
        state["n"] = state.get("n", 0) + 1
        if definition.windows:
            buckets = state.setdefault("d", {})
            buckets[facts.day] = str(Decimal(buckets.get(facts.day, "0")) + number)
    elif kind in ("min", "max"):
        current = state.get("v")
        pick = min if kind == "min" else max
        state["v"] = str(number if current is None else pick(Decimal(current), number))


def combine(definition: ComputedTraitDefinition, into: State, other: State) -> None:
    """Merge another profile's state for the same definition into `into` (a state of an older
    version of the definition adds nothing)."""
    if other.get(_COUNTS_FROM) != into.get(_COUNTS_FROM):
        return
    if _PAST in other:
        into[_PAST] = sorted({*into.get(_PAST, ()), *other[_PAST]})
    kind = definition.type
    if kind in ("count", "sum", "average"):
        add = _add_int if kind == "count" else _add_decimal
        if "n" in other:
            into["n"] = into.get("n", 0) + other["n"]
        if "s" in other:
            into["s"] = _add_decimal(into.get("s"), other["s"])
        for day, amount in other.get("d", {}).items():
            buckets = into.setdefault("d", {})
            buckets[day] = add(buckets.get(day), amount)
    elif kind in ("first_occurrence", "last_occurrence") and "t" in other:
        pick = min if kind == "first_occurrence" else max
        into["t"] = other["t"] if "t" not in into else pick(into["t"], other["t"])
    elif kind in ("min", "max") and "v" in other:
        pick = min if kind == "min" else max
        into["v"] = (
            other["v"] if "v" not in into else str(pick(Decimal(into["v"]), Decimal(other["v"])))
        )
    elif kind == "most_frequent":
        counts = into.setdefault("c", {})
        for key, count in other.get("c", {}).items():
            if key in counts or len(counts) < MAX_DISTINCT_VALUES:
                counts[key] = counts.get(key, 0) + count


def trim(definition: ComputedTraitDefinition, state: State, now: datetime) -> None:
    """Drop daily buckets that no window can reach any more (keeps the item bounded)."""
    if not definition.windows or "d" not in state:
        return
    oldest = _day(now - timedelta(days=max(definition.windows) - 1))
    state["d"] = {day: amount for day, amount in state["d"].items() if day >= oldest}


def values(
    definition: ComputedTraitDefinition,
    state: State,
    now: datetime,
    times: dict[str, str | None],
) -> dict[str, Any]:
    """The definition's output values at `now`. `times` holds `first_seen`, `last_seen` and
    the values of occurrence traits, which `days_since` traits refer to."""
    kind = definition.type
    if kind == "days_since":
        moment = times.get(definition.of or "")
        return {definition.id: _days_between(moment, now) if moment else None}
    if kind in ("count", "sum"):
        zero: Any = 0 if kind == "count" else Decimal(0)
        total = state.get("n", 0) if kind == "count" else Decimal(state.get("s", "0"))
        answer = {definition.id: _plain(total)}
        buckets = state.get("d", {})
        for days in definition.windows:
            oldest = _day_before(now, days - 1)
            in_window = [
                amount if kind == "count" else Decimal(amount)
                for day, amount in buckets.items()
                if day >= oldest
            ]
            answer[f"{definition.id}_{days}d"] = _plain(sum(in_window, zero))
        return answer
    if kind == "average":
        count = state.get("n", 0)
        average = Decimal(state["s"]) / count if count else None
        return {
            definition.id: _plain(average.quantize(Decimal("0.01")))
            if average is not None
            else None
        }
    if kind in ("min", "max"):
        return {definition.id: _plain(Decimal(state["v"])) if "v" in state else None}
    if kind in ("first_occurrence", "last_occurrence"):
        return {definition.id: state.get("t")}
    counts = state.get("c", {})
    best = min(counts.items(), key=lambda item: (-item[1], item[0]))[0] if counts else None
    return {definition.id: best}


def changes_at(
    definition: ComputedTraitDefinition,
    state: State,
    now: datetime,
    times: dict[str, str | None],
) -> dict[str, datetime]:
    """Output name -> the next moment its value changes with no new event: a day leaving a
    rolling window, or a whole day passing for `days_since`."""
    answer: dict[str, datetime] = {}
    if definition.type == "days_since":
        moment = times.get(definition.of or "")
        if moment:
            since = _parse_time(moment)
            if since is not None:
                answer[definition.id] = since + timedelta(days=max(0, (now - since).days) + 1)
        return answer
    buckets = state.get("d", {})
    for days in definition.windows:
        # A day leaves the window `days` after it began; the days still to leave are those
        # after the day `days` before now (days as text sort as time).
        after = _day_before(now, days)
        staying = [day for day in buckets if day > after]
        if staying:
            answer[f"{definition.id}_{days}d"] = _day_start(min(staying)) + timedelta(days=days)
    return answer


class EventFacts:
    """What computed traits read from an event, extracted once per event."""

    __slots__ = ("day", "name", "properties", "timestamp", "type")

    def __init__(
        self, message_type: str, name: str | None, timestamp: str, properties: Any
    ) -> None:
        self.type = message_type
        self.name = name
        self.timestamp = timestamp
        self.day = timestamp[:10].replace("-", "")
        self.properties = properties if isinstance(properties, dict) else {}

    def property(self, path: str) -> Any:
        value: Any = self.properties
        for part in path.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d")


@lru_cache(maxsize=64)
def _day_before(now: datetime, days: int) -> str:
    """The day `days` before `now`: every definition's windows ask it for the same `now`."""
    return _day(now - timedelta(days=days))


@lru_cache(maxsize=1024)
def _day_start(day: str) -> datetime:
    return datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)


def _days_between(moment: str, now: datetime) -> int | None:
    then = _parse_time(moment)
    return None if then is None else max(0, (now - then).days)


def _parse_time(moment: str) -> datetime | None:
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _category(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str) and str(value).strip():
        return str(value)[:MAX_VALUE_LENGTH]
    return None


def _add_int(current: Any, amount: Any) -> int:
    return int(current or 0) + int(amount)


def _add_decimal(current: Any, amount: Any) -> str:
    return str(Decimal(current or "0") + Decimal(amount))


def _plain(number: Any) -> Any:
    """Decimals as JSON numbers: integers stay integers."""
    if isinstance(number, Decimal):
        return int(number) if number == number.to_integral_value() else float(number)
    return number


MAX_DEFINITIONS = 50


def default_definitions() -> list[dict[str, Any]]:
    """The computed traits every deployment starts with (`cdp/defaults/computed_traits.json`)."""
    from importlib.resources import files

    text = files("cdp").joinpath("defaults/computed_traits.json").read_text(encoding="utf-8")
    definitions: list[dict[str, Any]] = json.loads(text)
    return definitions


def load_definitions(
    configured: Iterable[Mapping[str, Any]],
) -> tuple[ComputedTraitDefinition, ...]:
    """The defaults, overridden or extended by id with configured definitions; a configured
    `{"id": ..., "enabled": false}` switches a default off."""
    by_id: dict[str, Mapping[str, Any]] = {item["id"]: item for item in default_definitions()}
    for item in configured:
        if item.get("enabled") is False and set(item) <= {"id", "enabled"}:
            by_id.pop(item["id"], None)
        else:
            by_id[item["id"]] = item
    definitions = []
    for item in list(by_id.values())[:MAX_DEFINITIONS]:
        try:
            definition = ComputedTraitDefinition.model_validate(item)
        except ValueError:
            continue  # validated when stored; an old, now invalid definition is left out
        if definition.enabled:
            definitions.append(definition)
    return tuple(definitions)


# How long after a definition is stored it starts counting the events that arrive: past every
# batch a profile builder took up before the change (it reads the definitions as it starts a
# batch, at most about a second stale), so no event from then on is missed.
COUNTING_DELAY = timedelta(seconds=5)
# The fields a change of leaves the count standing: it still counts the same events the same way.
_NOT_THE_RULE = {"description", "enabled", "counts_from"}


def with_counts_from(
    definition: ComputedTraitDefinition, before: ComputedTraitDefinition | None, now: datetime
) -> ComputedTraitDefinition:
    """The definition as it is stored: counting from where the one in force (`before`) counts,
    if it counts the same events the same way; else from a few seconds after `now`, the events
    received before being left to a backfill."""
    if definition.type == "days_since":
        counts_from = None  # worked out from other values when asked: nothing to count
    elif before is not None and before.model_dump(exclude=_NOT_THE_RULE) == definition.model_dump(
        exclude=_NOT_THE_RULE
    ):
        counts_from = before.counts_from
    else:
        counts_from = iso(now + COUNTING_DELAY)
    return definition.model_copy(update={"counts_from": counts_from})


def check_computed_change(
    definition: ComputedTraitDefinition, current: Iterable[ComputedTraitDefinition]
) -> None:
    """A computed trait may be stored if the set stays within its bound and a `days_since`
    trait refers to a time the others keep."""
    current = list(current)
    if len({d.id for d in current} | {definition.id}) > MAX_DEFINITIONS:
        raise InvalidRequestError(
            f"at most {MAX_DEFINITIONS} computed traits are in use at a time; "
            "delete or switch one off first"
        )
    if definition.type == "days_since":
        allowed = time_trait_ids(d for d in current if d.id != definition.id)
        if definition.of not in allowed:
            raise InvalidRequestError(f"of: must be one of {', '.join(sorted(allowed))}")


def time_trait_ids(definitions: Iterable[ComputedTraitDefinition]) -> set[str]:
    """What a days_since trait may refer to."""
    occurrence = {"first_occurrence", "last_occurrence"}
    return {"first_seen", "last_seen"} | {d.id for d in definitions if d.type in occurrence}
