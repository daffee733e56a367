"""Keeping each person's deliveries in order while batching them, for the connectors that
group a batch's deliveries by person before building their calls."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cdp.sharing.connectors.base import Delivery

StepT = TypeVar("StepT", bound=str)


@dataclass
class Plan(Generic[StepT]):
    """One step of one person (keyed by e-mail address): the deliveries one item of one call
    carries, and their positions in the list given to `requests`."""

    step: StepT
    email: str
    positions: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


def waves(
    deliveries: Sequence[Delivery],
    step_of: Callable[[Delivery], StepT | None],
    merging: Collection[str],
) -> list[list[Plan[StepT]]]:
    """Each person's deliveries as steps, the n-th step of every person in the n-th wave: calls
    of one wave concern different people, and a person's later step is always in a later wave.

    People are matched by their first e-mail address, lower-cased; a delivery without one, or
    whose `step_of` is None, is in no step. A person's consecutive deliveries of one step in
    `merging` are one step (one item of one call)."""
    steps: dict[str, list[Plan[StepT]]] = {}
    found: list[list[Plan[StepT]]] = []
    for position, delivery in enumerate(deliveries):
        email = delivery.identifiers.emails[0].lower() if delivery.identifiers.emails else ""
        step = step_of(delivery)
        if not email or step is None:
            continue
        mine = steps.setdefault(email, [])
        if mine and mine[-1].step == step and step in merging:
            plan = mine[-1]
        else:
            plan = Plan(step, email)
            if len(found) == len(mine):
                found.append([])
            found[len(mine)].append(plan)
            mine.append(plan)
        plan.positions.append(position)
        plan.deliveries.append(delivery)
    return found


def per_person(
    deliveries: Sequence[Delivery], takes: Callable[[Delivery], bool] = lambda _: True
) -> list[list[int]]:
    """The positions of each person's deliveries (by profile id) that `takes` accepts, in
    order, people in the order they first appear."""
    people: dict[str, list[int]] = {}
    for position, delivery in enumerate(deliveries):
        if takes(delivery):
            people.setdefault(delivery.profile_id, []).append(position)
    return list(people.values())
