"""Row filters (pyiceberg expressions), typed.

pyiceberg's predicates are pydantic models built positionally through `__new__`
(`In("profile_id", ids)`); mypy's pydantic plugin sees only keyword constructors and refuses
each call. These wrappers keep that to one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression


def is_in(column: str, values: Iterable[str]) -> BooleanExpression:
    from pyiceberg.expressions import In

    return In(column, sorted(set(values)))  # type: ignore[call-arg]


def named(column: str, values: Iterable[str]) -> BooleanExpression:
    """`column IN values`, rows with a null `column` never matching (see `cdp.lake.upkeep`:
    pyiceberg 0.12 keeps such rows in a delete that names the column without this)."""
    from pyiceberg.expressions import And, NotNull

    return And(NotNull(column), is_in(column, values))  # type: ignore[call-arg]


def equals(column: str, value: str) -> BooleanExpression:
    from pyiceberg.expressions import EqualTo

    return EqualTo(column, value)  # type: ignore[call-arg]


def missing(column: str) -> BooleanExpression:
    from pyiceberg.expressions import IsNull

    return IsNull(column)  # type: ignore[call-arg]


def before(column: str, moment: str) -> BooleanExpression:
    from pyiceberg.expressions import LessThan

    return LessThan(column, moment)  # type: ignore[call-arg]


def from_on(column: str, moment: str) -> BooleanExpression:
    from pyiceberg.expressions import GreaterThanOrEqual

    return GreaterThanOrEqual(column, moment)  # type: ignore[call-arg]


def all_of(*terms: BooleanExpression) -> BooleanExpression:
    from pyiceberg.expressions import And

    return And(*terms)


def any_of(terms: list[BooleanExpression]) -> BooleanExpression:
    from pyiceberg.expressions import AlwaysFalse, Or

    if not terms:
        return AlwaysFalse()
    combined = terms[0]
    for term in terms[1:]:
        combined = Or(combined, term)
    return combined
