"""Delivering one message of a destination's deliveries: through its connector, in order, with
what became of each written down.

- A delivery the tool cannot take (a kind it has no call for, or one no request carries: no
  identifier it matches people by, a name the tool reserves) is skipped, with the reason: the
  connector's own (`skip_reason`) where it gives one, else the deliverer's.
- The tool's answers decide the rest: delivered; failed for good (the tool refused it: its
  words are kept, with the person's identifiers taken out); or retry. At the first "retry"
  (a rate limit, the tool's own error, no answer) the message stops and comes back after the
  wait the tool asked for: the deliveries after it must not overtake it. What went through
  before is sent again then; every call connectors make is one the tool takes twice without
  harm (additions, removals, updates, deletions), except events, which a retry can repeat.
- Erasures are written down per destination: when, which profile, and what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cdp.sharing.connectors.base import (
    Connector,
    ConnectorSettings,
    Delivery,
    Outcome,
    Request,
    Response,
)
from cdp.sharing.destinations import DestinationDefinition, connector
from cdp.storage.deliveries import Tally

Send = Callable[[Request], Response]
_EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[A-Za-z]{2,}")
HIDDEN = "[personal data]"
_RANK = {"delivered": 0, "skipped": 1, "failed": 2}


@dataclass(frozen=True)
class Attempt:
    """What to do with the message: done, or come back after `retry_after` seconds."""

    retry_after: float | None = None


def deliver(
    deliveries: Sequence[Delivery],
    destination: DestinationDefinition | None,
    *,
    secret: Callable[[], str],
    send: Send,
    tally: Tally,
    now_iso: str,
    base_url: str | None = None,
) -> Attempt:
    if destination is None:
        _skip_all(deliveries, tally, now_iso, "the destination was deleted")
        return Attempt()
    if not destination.enabled:
        # Only erasures reach a paused destination (see cdp.sharing.destinations).
        _skip_all([d for d in deliveries if d.kind != "erase"], tally, now_iso, "it is paused")
        deliveries = [d for d in deliveries if d.kind == "erase"]
        if not deliveries:
            return Attempt()
    tool = connector(destination.connector)
    settings = tool.settings.model_validate(destination.settings)
    found = _outcomes(
        tool,
        deliveries,
        settings=settings,
        secret=secret,
        send=send,
        base_url=base_url,
        now_iso=now_iso,
    )
    if isinstance(found, Outcome):
        # Come back whole: nothing of this attempt counts but the retry.
        tally.add("retried", len(deliveries))
        tally.error(now_iso, "retry", _without_identifiers(found.message, deliveries))
        return Attempt(retry_after=found.retry_after or 0.0)
    for delivery, outcome in zip(deliveries, found, strict=True):
        _settle(delivery, outcome, tally, now_iso)
    return Attempt()


def _outcomes(
    tool: Connector,
    deliveries: Sequence[Delivery],
    *,
    settings: ConnectorSettings,
    secret: Callable[[], str],
    send: Send,
    base_url: str | None,
    now_iso: str,
) -> list[Outcome] | Outcome:
    """Each delivery's outcome, in order; or the first "retry" the tool answered."""
    positions = [n for n, delivery in enumerate(deliveries) if delivery.kind in tool.kinds]
    taken = [deliveries[n] for n in positions]
    try:
        requests = tool.requests(taken, settings, secret(), base_url, now=now_iso) if taken else []
    except ValueError as error:  # a secret the tool's calls cannot be made with
        failed = Outcome("failed", f"the destination cannot reach {tool.title}: {error}")
        return [
            failed if delivery.kind in tool.kinds else _skipped(tool, delivery)
            for delivery in deliveries
        ]
    # A delivery may take several calls (a removal from each of a tool's audiences): it
    # counts once, at the worst of their outcomes.
    settled: dict[int, Outcome] = {}
    follow_ups = getattr(tool, "follow_ups", None)
    pending = list(requests)
    while pending:
        request = pending.pop(0)
        response = send(request)
        outcomes = tool.outcomes(request, response)
        retry = next((o for o in outcomes if o.state == "retry"), None)
        if retry is not None:
            wait = max(o.retry_after or 0.0 for o in outcomes if o.state == "retry")
            return Outcome("retry", retry.message, wait)
        for position, outcome in zip(request.deliveries, outcomes, strict=True):
            before = settled.get(position)
            if before is None or _RANK[outcome.state] > _RANK[before.state]:
                settled[position] = outcome
        if follow_ups is not None:
            # Calls built from this answer (HubSpot's list memberships need the record ids
            # its contacts call answered with): sent next, before the rest.
            pending[:0] = follow_ups(request, response)
    found = {positions[position]: outcome for position, outcome in settled.items()}
    return [found.get(n) or _skipped(tool, delivery) for n, delivery in enumerate(deliveries)]


def _skipped(tool: Connector, delivery: Delivery) -> Outcome:
    """A delivery the tool does not take: for the connector's reason where it gives one
    (`skip_reason`), else for its kind, or for want of an identifier (no request carried it)."""
    reason = getattr(tool, "skip_reason", None)
    given = reason(delivery) if reason is not None else None
    if given:
        return Outcome("skipped", str(given))
    if delivery.kind not in tool.kinds:
        return Outcome("skipped", f"{tool.title} has no call for it")
    return Outcome("skipped", f"no identifier {tool.title} matches people by")


def _settle(delivery: Delivery, outcome: Outcome, tally: Tally, now_iso: str) -> None:
    tally.add(outcome.state)
    message = _without_identifiers(outcome.message, [delivery])
    if outcome.state == "failed":
        tally.error(now_iso, delivery.kind, message)
    if delivery.kind == "erase":
        tally.erasures.append(
            {
                "at": now_iso,
                "profile_id": delivery.profile_id,
                "call": "the tool's deletion call" if outcome.state != "skipped" else "none",
                "outcome": outcome.state,
                "message": message,
            }
        )


def _skip_all(deliveries: Sequence[Delivery], tally: Tally, now_iso: str, reason: str) -> None:
    for delivery in deliveries:
        _settle(delivery, Outcome("skipped", reason), tally, now_iso)


def _without_identifiers(message: str, deliveries: Sequence[Delivery]) -> str:
    """The tool's words without the people's identifiers (tools quote the address they
    refused): every identifier the deliveries carry, and anything shaped like an e-mail."""
    for delivery in deliveries:
        who = delivery.identifiers
        for value in (*who.emails, *who.phones, *([who.user_id] if who.user_id else [])):
            if value:
                message = re.sub(re.escape(value), HIDDEN, message, flags=re.IGNORECASE)
    return _EMAIL.sub(HIDDEN, message)
