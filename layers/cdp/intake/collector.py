"""Collecting a Tracking API request: authenticate, read, store, and say what happened.

Nothing a client sent in good faith is silently lost: once the sender is known (a valid write
key), every message is either stored as an event or kept in the quarantine with the reason it
was refused — including a whole body that is not JSON at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NoReturn, Protocol

from cdp.access.keys import ApiKey, authenticate
from cdp.intake.messages import PLACEHOLDER, Event, Intake, Rejection, read_request
from cdp.profiles.consent import analytics_granted, decisions_of
from cdp.profiles.identity import (
    ANONYMOUS_ID,
    DEFAULT_POLICY,
    USER_ID,
    Placeholders,
    identities_of,
    identity_key,
)
from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.jsontext import parse_json


class IntakeSaver(Protocol):
    def save(
        self, intake: Intake, *, source: str, received_at: datetime, request_id: str
    ) -> None: ...


# Shown live (`cdp.intake.live`) while someone watches the key's source: its source, the
# request as read and what was stored of it.
Watcher = Callable[[str, Intake, Intake], None]


@dataclass(frozen=True)
class Collected:
    accepted: int
    rejections: list[Rejection]
    not_stored: int = 0  # valid, but kept out: no analytics consent, or an erased person
    provenance_refused: int = 0  # stored as observed: the key may not claim that provenance
    ignored: list[dict[str, Any]] = field(default_factory=list)  # placeholder identifiers

    def answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"success": True}
        if self.rejections:
            answer["accepted"] = self.accepted
            answer["rejected"] = [rejection.as_answer() for rejection in self.rejections]
        if self.not_stored:
            # No reason per message: a page must not learn that someone was erased.
            answer["not_stored"] = self.not_stored
        if self.provenance_refused:
            answer["provenance_refused"] = self.provenance_refused
        if self.ignored:
            answer["ignored_identities"] = self.ignored
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
    intake: Intake,
    *,
    consent_required: bool,
    suppressed: Callable[[set[str]], set[str]],
    shared_context: Any = None,
) -> tuple[Intake, int]:
    """Keep out what must not be stored: events of erased people, and (when the deployment
    requires consent) events without analytics consent, of which only consent decisions
    themselves are kept, reduced to the decision. Refused messages of erased people, or
    without consent where it is required, keep only their reason, never the payload.
    Answers the screened intake and how many valid messages were kept out."""
    carried = {id(event): {event.identity, *event.identities} for event in intake.events}
    mentioned = {
        id(rejection): _mentioned_identities(rejection.payload) for rejection in intake.rejections
    }
    erased = suppressed(set().union(*carried.values(), *mentioned.values()))
    kept: list[Event] = []
    for event in intake.events:
        if erased and erased & carried[id(event)]:
            continue
        if consent_required and not analytics_granted(event.message):
            decisions, _ = decisions_of(event.message)
            if decisions:
                kept.append(_consent_record(event))
            continue
        kept.append(event)
    rejections = [
        replace(rejection, payload=None)
        if (erased & mentioned[id(rejection)])
        or (consent_required and not _carries_consent(rejection.payload, shared_context))
        else rejection
        for rejection in intake.rejections
    ]
    return Intake(events=kept, rejections=rejections), len(intake.events) - len(kept)


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
    placeholders: Placeholders = DEFAULT_POLICY,
    watcher: Watcher | None = None,
) -> Collected:
    """Store what `body` holds; raise a `CdpError` when nothing of it can be accepted. While
    the key's source is watched, `watcher` is shown what became of each message."""
    now_epoch = received_at.timestamp()
    key = authenticate(header_key, "write", find_key, now_epoch) if header_key else None

    def watched(sent: Intake, kept: Intake) -> None:
        if watcher is not None and key is not None and key.watched(now_epoch):
            watcher(key.source, sent, kept)

    def refuse_whole(reason: str, payload: Any) -> NoReturn:
        if key is not None:
            rejection = Rejection(
                index=None, message_id=None, reason=reason, payload=payload, kind=kind
            )
            screened, _ = screen(
                Intake(rejections=[rejection]),
                consent_required=consent_required,
                suppressed=suppressed,
            )
            store.save(
                screened,
                source=key.source,
                received_at=received_at,
                request_id=request_id,
            )
            watched(Intake(rejections=[rejection]), screened)
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
        intake = read_request(
            parsed,
            kind,
            source=key.source,
            received_at=received_at,
            claims=key.claims,
            placeholders=placeholders,
        )
    except InvalidRequestError as error:
        refuse_whole(error.message, parsed)

    valid, refused = len(intake.events), intake.provenance_refused
    ignored = [
        {**({"index": event.index} if event.index is not None else {}), "identity": key,
         "reason": PLACEHOLDER}
        for event in intake.events
        for key in event.ignored
    ]  # fmt: skip
    sent = intake
    intake, not_stored = screen(
        intake,
        consent_required=consent_required,
        suppressed=suppressed,
        shared_context=parsed.get("context") if kind == "batch" else None,
    )
    store.save(intake, source=key.source, received_at=received_at, request_id=request_id)
    watched(sent, intake)
    collected = Collected(
        accepted=len(intake.events),
        rejections=intake.rejections,
        not_stored=not_stored,
        provenance_refused=refused,
        ignored=ignored,
    )
    if not valid:
        reasons = collected.answer()["rejected"]
        first = intake.rejections[0].reason
        message = first if len(reasons) == 1 else f"no message was accepted; the first: {first}"
        raise InvalidRequestError(message, details=reasons)
    return collected


def _carries_consent(payload: Any, shared_context: Any) -> bool:
    if not isinstance(payload, dict):
        return False  # not even a message: nothing says the person agreed
    context = payload.get("context")
    context = context if isinstance(context, dict) else {}
    if isinstance(shared_context, dict):
        context = {**shared_context, **context}
    return analytics_granted({"context": context})


def _mentioned_identities(payload: Any) -> set[str]:
    """The identities a refused message names, as far as they can be read from it."""
    if not isinstance(payload, dict):
        return set()
    found = set(identities_of(payload).keys)
    for field_name, kind in (("userId", USER_ID), ("anonymousId", ANONYMOUS_ID)):
        value = payload.get(field_name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            found.add(identity_key(kind, str(value)))
    return found


def _consent_record(event: Event) -> Event:
    message = event.message
    record = {name: message[name] for name in _CONSENT_RECORD_FIELDS if name in message}
    record["context"] = {"consent": message["context"]["consent"]}
    return replace(event, message=record, text=None)
