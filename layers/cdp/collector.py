"""Collecting a Tracking API request: authenticate, read, store, and say what happened.

Nothing a client sent in good faith is silently lost: once the sender is known (a valid write
key), every message is either stored as an event or kept in the quarantine with the reason it
was refused — including a whole body that is not JSON at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NoReturn, Protocol

from cdp.consent import analytics_granted, decisions_of
from cdp.errors import InvalidRequestError
from cdp.identity import identities_of
from cdp.intake import Event, Intake, Rejection, read_request
from cdp.jsontext import parse_json
from cdp.keys import ApiKey, authenticate


class IntakeSaver(Protocol):
    def save(
        self, intake: Intake, *, source: str, received_at: datetime, request_id: str
    ) -> None: ...


@dataclass(frozen=True)
class Collected:
    accepted: int
    rejections: list[Rejection]
    not_stored: int = 0  # valid, but kept out: no analytics consent, or an erased person

    def answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"success": True}
        if self.rejections:
            answer["accepted"] = self.accepted
            answer["rejected"] = [rejection.as_answer() for rejection in self.rejections]
        if self.not_stored:
            # No reason per message: a page must not learn that someone was erased.
            answer["not_stored"] = self.not_stored
        return answer


# What a consent record keeps when the person has not granted analytics consent: who, when,
# and the decision; nothing about what they did or which device they used.
_CONSENT_RECORD_FIELDS = (
    "type",
    "event",
    "messageId",
    "userId",
    "anonymousId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
)


def screen(
    intake: Intake, *, consent_required: bool, suppressed: Callable[[set[str]], set[str]]
) -> tuple[Intake, int]:
    """Keep out what must not be stored: events of erased people, and (when the deployment
    requires consent) events without analytics consent, of which only consent decisions
    themselves are kept, reduced to the decision. Answers the screened intake and how many
    messages were kept out."""
    keys = {event.identity for event in intake.events}
    for event in intake.events:
        keys.update(identities_of(event.message).keys)
    erased = suppressed(keys)
    kept: list[Event] = []
    for event in intake.events:
        if erased and erased & {event.identity, *identities_of(event.message).keys}:
            continue
        if consent_required and not analytics_granted(event.message):
            decisions, _ = decisions_of(event.message)
            if decisions:
                kept.append(_consent_record(event))
            continue
        kept.append(event)
    return Intake(events=kept, rejections=intake.rejections), len(intake.events) - len(kept)


def collect(
    body: bytes,
    kind: str,
    *,
    header_key: str | None,
    find_key: Callable[[str], ApiKey | None],
    store: IntakeSaver,
    received_at: datetime,
    request_id: str,
    consent_required: bool = False,
    suppressed: Callable[[set[str]], set[str]] = lambda keys: set(),
) -> Collected:
    """Store what `body` holds; raise a `CdpError` when nothing of it can be accepted."""
    now_epoch = received_at.timestamp()
    key = authenticate(header_key, "write", find_key, now_epoch) if header_key else None

    def refuse_whole(reason: str, payload: Any) -> NoReturn:
        if key is not None:
            rejection = Rejection(index=None, message_id=None, reason=reason, payload=payload)
            store.save(
                Intake(rejections=[rejection]),
                source=key.source,
                received_at=received_at,
                request_id=request_id,
            )
        raise InvalidRequestError(reason)

    try:
        parsed = parse_json(body)
    except InvalidRequestError as error:
        refuse_whole(error.message, body.decode("utf-8", errors="replace"))

    if key is None:
        body_key = parsed.get("writeKey") if isinstance(parsed, dict) else None
        presented = body_key if isinstance(body_key, str) else None
        key = authenticate(presented, "write", find_key, now_epoch)

    try:
        intake = read_request(parsed, kind, source=key.source, received_at=received_at)
    except InvalidRequestError as error:
        refuse_whole(error.message, parsed)

    valid = len(intake.events)
    intake, not_stored = screen(intake, consent_required=consent_required, suppressed=suppressed)
    store.save(intake, source=key.source, received_at=received_at, request_id=request_id)
    collected = Collected(
        accepted=len(intake.events), rejections=intake.rejections, not_stored=not_stored
    )
    if not valid:
        reasons = collected.answer()["rejected"]
        first = intake.rejections[0].reason
        message = first if len(reasons) == 1 else f"no message was accepted; the first: {first}"
        raise InvalidRequestError(message, details=reasons)
    return collected


def _consent_record(event: Event) -> Event:
    message = event.message
    record = {name: message[name] for name in _CONSENT_RECORD_FIELDS if name in message}
    record["context"] = {"consent": message["context"]["consent"]}
    return replace(event, message=record)
