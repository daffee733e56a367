"""Driving a connector as the deliverer does: its requests sent in order through
`transport.send`, each followed at once by the calls its answer asks for (`follow_ups`, where
the connector has them), whose outcomes settle the deliveries they carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cdp.sharing.connectors.base import (
    ConnectorSettings,
    Delivery,
    Outcome,
    Request,
    Response,
)
from cdp.sharing.connectors.transport import AwsClients, send


class Driveable(Protocol):
    """What driving needs of a connector (`Connector` also says which settings model it
    takes, as a mutable attribute, which each connector narrows)."""

    def requests(
        self,
        deliveries: Sequence[Delivery],
        settings: ConnectorSettings,
        secret: str,
        base_url: str | None = None,
        *,
        now: str | None = None,
    ) -> list[Request]: ...

    def outcomes(self, request: Request, response: Response) -> list[Outcome]: ...


@dataclass
class Driven:
    requests: list[Request]  # every request sent, follow-ups included, in order
    outcomes: list[list[Outcome]]  # per delivery: the outcome of each request carrying it

    def settled(self) -> list[Outcome | None]:
        """Each delivery's outcome, the last call's that carried it (None: carried by none)."""
        return [found[-1] if found else None for found in self.outcomes]

    def by_position(self) -> dict[int, Outcome]:
        """The outcome of each delivery a call carried, by its position."""
        return {p: found[-1] for p, found in enumerate(self.outcomes) if found}


def drive(
    connector: Driveable,
    deliveries: Sequence[Delivery],
    settings: ConnectorSettings,
    secret: str,
    base_url: str | None = None,
    *,
    now: str | None = None,
    aws: AwsClients | None = None,
) -> Driven:
    pending = connector.requests(deliveries, settings, secret, base_url, now=now)
    driven = Driven([], [[] for _ in deliveries])
    while pending:
        request = pending.pop(0)
        driven.requests.append(request)
        response = send(request, aws=aws)
        answers = connector.outcomes(request, response)
        for position, outcome in zip(request.deliveries, answers, strict=True):
            driven.outcomes[position].append(outcome)
        follow_ups = getattr(connector, "follow_ups", None)
        if follow_ups is not None:
            pending[:0] = follow_ups(request, response)
    return driven


def states(outcomes: Sequence[Outcome | None]) -> list[str | None]:
    return [outcome.state if outcome else None for outcome in outcomes]


def message(outcome: Outcome | None) -> str:
    assert outcome is not None
    return outcome.message
