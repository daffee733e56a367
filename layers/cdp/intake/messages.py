"""Reading Segment Tracking API requests into events to store and rejections to quarantine.

Pure functions: no AWS, no HTTP. The collector handler decodes the HTTP body, authenticates,
and hands the parsed JSON object here together with the time it arrived.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cdp.access.keys import OBSERVED
from cdp.intake.spec import MODELS, Fields, describe_errors, read_fields
from cdp.profiles.identity import (
    ANONYMOUS_ID,
    DEFAULT_POLICY,
    EMAIL,
    USER_ID,
    Placeholders,
    identities_of,
    identity_key,
)
from cdp.profiles.timeline import MESSAGE_TYPES
from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError, RequestTooLargeError
from cdp.runtime.jsontext import compact

MAX_MESSAGE_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024


@dataclass(frozen=True, slots=True)
class Event:
    """One accepted message, normalised, ready to store.

    Stored under (`identity`, `message_id`): both are the same on every retry of a message,
    whatever times the client fills in or leaves out, so a retry overwrites its own item.
    """

    identity: str
    message_id: str
    type: str
    name: str | None
    timestamp: str
    received_at: str
    source: str
    message: dict[str, Any]
    identities: tuple[str, ...] = ()  # every identity it carries, strongest first
    ignored: tuple[str, ...] = ()  # identifiers it carries that are placeholders
    index: int | None = None  # its position in the batch it came in
    channel: str | None = None  # what sent it, as the client says: web, mobile, server
    library: str | None = None  # the client library: `analytics-python/2.1.9`
    # `message` as stored: `codec.dumps(message)` in UTF-8, when it was made already (None
    # after any change to `message`)
    text: bytes | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message we refused, with the reason and what the client sent.

    `kind` is what the message was sent as (the route's type, or `batch`); `payload` is None
    when the client's payload must not be kept (an erased person's, or without analytics
    consent where it is required).
    """

    index: int | None
    message_id: str | None
    reason: str
    payload: Any
    kind: str = "batch"

    def as_answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"reason": self.reason}
        if self.index is not None:
            answer["index"] = self.index
        if self.message_id is not None:
            answer["messageId"] = self.message_id
        return answer


@dataclass
class Intake:
    events: list[Event] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Messages whose claimed provenance the sender may not claim (stored as observed).
    provenance_refused: int = 0


class MessageRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_request(
    body: Any,
    kind: str,
    *,
    source: str,
    received_at: datetime,
    claims: frozenset[str] = OBSERVED,
    placeholders: Placeholders = DEFAULT_POLICY,
) -> Intake:
    """Split a request into accepted events and rejected messages.

    `kind` is the route: `batch`, or one of the message types for the single-message routes
    (the route decides the type, as in Segment's API). A single message that is invalid is a
    rejection like a batch member, so the caller can quarantine it and answer 400.
    `claims` is the provenance the sender may claim for traits (`context.cdp.provenance`);
    a claim beyond it is stored as `observed`, the claim kept as `provenance_refused`.
    Identifiers that are `placeholders` ("undefined", "null", ...) are no identities: they are
    marked in the message (`context.cdp.ignored_identities`), and a message left with no
    identity at all is refused.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    if kind == "batch":
        batch = body.get("batch")
        if not isinstance(batch, list):
            raise InvalidRequestError("a batch request needs a 'batch' list of messages")
        if not batch:
            raise InvalidRequestError("the batch has no messages")
        shared = _BatchDefaults.of(body)
        messages: list[tuple[int | None, Any, str | None]] = [
            (index, raw, None) for index, raw in enumerate(batch)
        ]
    elif kind in MESSAGE_TYPES:
        size = _size(body)
        if size > MAX_MESSAGE_BYTES:
            raise RequestTooLargeError(_too_large(size))
        shared = _BatchDefaults()
        messages = [(None, body, kind)]
    else:  # pragma: no cover - routes only pass known kinds
        raise InvalidRequestError(f"unknown message type {kind!r}")

    intake = Intake()
    received_text = iso(received_at)
    for index, raw, forced_type in messages:
        try:
            event, refused = read_message(
                raw,
                forced_type,
                shared,
                source=source,
                received_at=received_at,
                claims=claims,
                placeholders=placeholders,
                index=index,
                received_text=received_text,
            )
            intake.provenance_refused += refused
            intake.events.append(event)
        except MessageRejected as rejected:
            message_id = raw.get("messageId") if isinstance(raw, dict) else None
            intake.rejections.append(
                Rejection(
                    index=index,
                    message_id=message_id if isinstance(message_id, str) else None,
                    reason=rejected.reason,
                    payload=raw,
                    kind=kind,
                )
            )
    return intake


@dataclass(frozen=True, slots=True)
class _BatchDefaults:
    """Batch-level fields that apply to every message of the batch unless it has its own."""

    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    sent_at: Any = None

    @classmethod
    def of(cls, body: dict[str, Any]) -> _BatchDefaults:
        context, integrations = body.get("context"), body.get("integrations")
        return cls(
            context=context if isinstance(context, dict) and context else None,
            integrations=integrations if isinstance(integrations, dict) and integrations else None,
            sent_at=body.get("sentAt") or None,
        )


def read_message(
    raw: Any,
    forced_type: str | None,
    shared: _BatchDefaults,
    *,
    source: str,
    received_at: datetime,
    claims: frozenset[str] = OBSERVED,
    placeholders: Placeholders = DEFAULT_POLICY,
    index: int | None = None,
    received_text: str | None = None,
) -> tuple[Event, bool]:
    """Validate and normalise one message: the event, and whether its claimed provenance was
    refused (`_hold_to_claims`); raise `MessageRejected` with a readable reason.
    `received_text` is `iso(received_at)`, when the caller has it (once per request).

    A batch member over `MAX_MESSAGE_BYTES` is refused for its size whatever else is wrong
    with it. Its size is that of the message as the client sent it, as compact JSON: found
    from the stored message's text, which is made anyway (the stored body), and the few
    fields the collector changed; the client's message is serialised again only when it is
    refused.
    """
    try:
        return _read_message(
            raw,
            forced_type,
            shared,
            source=source,
            received_at=received_at,
            claims=claims,
            placeholders=placeholders,
            index=index,
            received_text=received_text or iso(received_at),
        )
    except MessageRejected:
        if forced_type is None and isinstance(raw, dict):
            size = _size(raw)
            if size > MAX_MESSAGE_BYTES:
                raise MessageRejected(_too_large(size)) from None
        raise


def _read_message(
    raw: Any,
    forced_type: str | None,
    shared: _BatchDefaults,
    *,
    source: str,
    received_at: datetime,
    claims: frozenset[str],
    placeholders: Placeholders,
    index: int | None,
    received_text: str,
) -> tuple[Event, bool]:
    message, fields = _validated(raw, forced_type, shared)
    if shared.context:
        message["context"] = {**shared.context, **message.get("context", {})}
    if shared.integrations:
        message["integrations"] = {**shared.integrations, **message.get("integrations", {})}
    for field_name, value in (
        ("userId", fields.userId),
        ("anonymousId", fields.anonymousId),
        ("groupId", fields.groupId),
        ("previousId", fields.previousId),
    ):
        if value is not None:
            message[field_name] = value  # numbers normalised to text
    # The client's own time: Segment's libraries send `timestamp`, RudderStack's only
    # `originalTimestamp`. It is kept as `originalTimestamp`; `timestamp` is corrected.
    client_time: datetime | None = fields.timestamp
    client_text: Any = message.get("timestamp")
    if client_time is None:
        client_time, client_text = fields.originalTimestamp, message.get("originalTimestamp")
    message_id = fields.messageId or _message_id_for(raw, client_time)
    message["messageId"] = message_id
    if client_time is not None:
        message["originalTimestamp"] = client_text = _time_text(client_time, client_text)
    if fields.sentAt is not None:
        message["sentAt"] = _time_text(fields.sentAt, message["sentAt"])
    corrected = _corrected_timestamp(client_time, fields.sentAt, received_at)
    message["timestamp"] = timestamp = (
        client_text
        if corrected is client_time
        else received_text
        if corrected is received_at
        else iso(corrected)
    )
    message["receivedAt"] = received_text

    identity, carried, ignored = _identity_of(message, fields, placeholders)
    refused = _hold_to_claims(message, claims)
    text = compact(message)
    if (
        forced_type is None
        and (
            (bound := _sent_size_bound(raw, message, len(text))) is None
            or bound > MAX_MESSAGE_BYTES
        )
        and (size := _sent_size(raw, message, len(text))) > MAX_MESSAGE_BYTES
    ):
        raise MessageRejected(_too_large(size))
    name = message.get("event") if fields.type == "track" else message.get("name")
    event = Event(
        identity=identity,
        identities=carried,
        ignored=ignored,
        index=index,
        message_id=message_id,
        type=fields.type,
        name=name if isinstance(name, str) else None,
        channel=_label(message.get("channel")),
        library=_library_of(message.get("context")),
        timestamp=timestamp,
        received_at=received_text,
        source=source,
        message=message,
        text=text,
    )
    return event, refused


def _validated(
    raw: Any, forced_type: str | None, shared: _BatchDefaults
) -> tuple[dict[str, Any], Fields]:
    """A copy of the message without the fields only we may set, and its validated fields."""
    if not isinstance(raw, dict):
        raise MessageRejected("a message must be a JSON object")
    message = dict(raw)
    for field_name in ("writeKey", "receivedAt"):
        # A credential is never stored; the arrival time is ours to set, never the client's.
        message.pop(field_name, None)
    if forced_type is not None:
        message["type"] = forced_type
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MODELS:
        raise MessageRejected(f"type: must be one of {', '.join(MESSAGE_TYPES)}")
    if "sentAt" not in message and shared.sent_at is not None:
        message["sentAt"] = shared.sent_at
    _read_client_habits(message, kind)
    try:
        return message, read_fields(message, kind)
    except ValidationError as error:
        raise MessageRejected(describe_errors(error)) from None


# A time as we write it (`iso`): text that needs no rewriting.
_ISO_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def _time_text(moment: datetime, sent: Any) -> str:
    """`iso(moment)` for a time the client sent as `sent`: the text itself when the client
    wrote it as we do (most do: `toISOString()`)."""
    if type(sent) is str and len(sent) == 24 and _ISO_TEXT.fullmatch(sent):
        return sent
    return iso(moment)


# RudderStack's SDKs send `"userId": ""` until identify, analytics-kotlin `"category": ""` on
# every screen without one (and other libraries blank what they do not know): an empty string
# there means the field is absent, as RudderStack's and Segment's servers read it.
_ABSENT_WHEN_EMPTY = (
    "userId",
    "anonymousId",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "previousId",
    "groupId",
    "name",
    "category",
)
_MAX_LABEL = 128


def _read_client_habits(message: dict[str, Any], kind: str) -> None:
    """Read what libraries mean where they say it their own way, in the message itself."""
    for field_name in _ABSENT_WHEN_EMPTY:
        if message.get(field_name) == "":
            del message[field_name]
    if kind == "alias" and "previousId" not in message and message.get("anonymousId"):
        # analytics-swift aliases an anonymous device without a previousId: the device is it
        message["previousId"] = message["anonymousId"]
    if kind in {"page", "screen"} and "name" not in message:
        # RudderStack's mobile SDKs name a screen in `event` and `properties.name`
        properties = message.get("properties")
        named = properties.get("name") if isinstance(properties, dict) else None
        for candidate in (named, message.get("event")):
            if isinstance(candidate, str) and candidate.strip():
                message["name"] = candidate
                break


def _label(value: Any) -> str | None:
    """A short label from the client (its channel, its library), or None if it sent none."""
    if not isinstance(value, str) or not (value := value.strip()):
        return None
    return value[:_MAX_LABEL]


def _library_of(context: Any) -> str | None:
    """`name/version` of the library that sent a message (`context.library`)."""
    library = context.get("library") if isinstance(context, dict) else None
    if not isinstance(library, dict):
        return None
    name, version = _label(library.get("name")), library.get("version")
    if name is None:
        return None
    version = _label(str(version)) if isinstance(version, str | int | float) else None
    return _label(f"{name}/{version}" if version else name)


def _identity_of(
    message: dict[str, Any], fields: Fields, placeholders: Placeholders
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The identity a message is filed under (its user id, else anonymous id, else e-mail
    address), the identities it carries, and the placeholders among them, marked in the
    message so that nothing links people by them; `MessageRejected` when no real identifier
    is left."""
    context = message.get("context")
    extension = context.get("cdp") if isinstance(context, dict) else None
    if isinstance(extension, dict) and "ignored_identities" in extension:
        # only the collector says what is ignored
        extension = {k: v for k, v in extension.items() if k != "ignored_identities"}
        message["context"] = {**message["context"], "cdp": extension}
    carried = identities_of(message).keys
    ignored = tuple(key for key in carried if placeholders.blocks(key))
    if fields.type == "alias":
        for field_name, value in (("userId", fields.userId), ("previousId", fields.previousId)):
            if value is not None and placeholders.blocks(identity_key(USER_ID, value)):
                raise MessageRejected(f"{field_name}: {value!r} is {PLACEHOLDER}")
    if ignored:
        context = message.get("context")
        message["context"] = {
            **(context if isinstance(context, dict) else {}),
            "cdp": {
                **(extension if isinstance(extension, dict) else {}),
                "ignored_identities": list(ignored),
            },
        }
    real = tuple(key for key in carried if key not in ignored) if ignored else carried
    candidates = (
        ("userId", USER_ID, fields.userId),
        ("anonymousId", ANONYMOUS_ID, fields.anonymousId),
        ("traits.email", EMAIL, fields.email),
    )
    for _, kind, value in candidates:
        if value is not None and (key := identity_key(kind, value)) not in ignored:
            return key, real, ignored
    named = [f"{name} {value!r}" for name, _, value in candidates if value is not None]
    raise MessageRejected(
        f"{' and '.join(named)}: {PLACEHOLDER}; send the anonymousId of the device, or "
        "the person's real id"
    )


PLACEHOLDER = "a placeholder, not an identifier"


def _hold_to_claims(message: dict[str, Any], claims: frozenset[str]) -> bool:
    """Downgrade a provenance the sender may not claim to `observed`; True if it did."""
    context = message.get("context")
    extension = context.get("cdp") if isinstance(context, dict) else None
    if not isinstance(context, dict) or not isinstance(extension, dict):
        return False
    claimed = extension.get("provenance")
    if claimed is None or claimed in claims:
        return False
    refused = claimed if isinstance(claimed, str) else json.dumps(claimed)
    message["context"] = {
        **context,
        "cdp": {**extension, "provenance": "observed", "provenance_refused": refused[:64]},
    }
    return True


# What a client may change between two sends of one message: the sending time, and ours.
_SEND_FIELDS = ("sentAt", "writeKey", "receivedAt")


def _message_id_for(raw: dict[str, Any], client_time: datetime | None) -> str:
    """An id for a message the client sent without one.

    With a time of its own, the message is identified by its content (sending fields aside),
    so a resend is recognised as the same message. Without any time, two identical messages
    may well be two events (a button clicked twice), so each gets a new id.
    """
    if client_time is None:
        return f"cdp-{uuid.uuid4()}"
    content = {name: value for name, value in raw.items() if name not in _SEND_FIELDS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
    return f"cdp-{digest[:32]}"


def _corrected_timestamp(
    timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """Correct the client's clock the way Segment does: `receivedAt - (sentAt - timestamp)`.

    The client's clock may be off, but the time between the event and its sending is measured
    on that same clock, so it survives the shift. Without `sentAt` the timestamp is trusted;
    without a timestamp the event happened when it arrived. An event cannot have happened
    after it arrived, so a future result is clamped to the arrival time.
    """
    if timestamp is None:
        return received_at
    corrected = received_at - (sent_at - timestamp) if sent_at is not None else timestamp
    return min(corrected, received_at)


def _size(value: Any) -> int:
    return len(compact(value))


def _sent_size(raw: dict[str, Any], message: dict[str, Any], stored_size: int) -> int:
    """`_size(raw)`, from the size of `message` made of it: they differ only in the top-level
    fields the collector set, removed or replaced, so only those are serialised. (Neither is
    empty: a message has a type.)"""
    size = stored_size + len(raw) - len(message)  # a comma between two fields
    for name, value in raw.items():
        kept = message.get(name, _ABSENT)
        if kept is value or (type(kept) is str and kept == value):
            continue
        size += _field_size(name, value)
        if kept is not _ABSENT:
            size -= _field_size(name, kept)
    for name, value in message.items():
        if name not in raw:
            size -= _field_size(name, value)
    return size


_ABSENT = object()


def _sent_size_bound(raw: dict[str, Any], message: dict[str, Any], stored_size: int) -> int | None:
    """At least `_sent_size`, from a bound that serialises nothing: in compact JSON a character
    of text takes at most six bytes (`\\u001f`), so a field the collector changed took at most
    that many per character of its name and text, plus five (quotes and colon). None when a
    changed field is not text. Only a message near the limit is measured exactly."""
    bound = stored_size + len(raw)  # the commas between the sender's fields
    for name, value in raw.items():
        kept = message.get(name, _ABSENT)
        if kept is value or (type(kept) is str and kept == value):
            continue
        if type(value) is not str:
            return None
        bound += 6 * (len(name) + len(value)) + 5
    return bound


def _field_size(name: str, value: Any) -> int:
    """The bytes `"name":value` takes in compact JSON (as `compact` writes it)."""
    return len(compact(name)) + 1 + len(compact(value))


def _too_large(size: int) -> str:
    return f"the message is {size / 1024:.1f} KB; the limit is {MAX_MESSAGE_BYTES // 1024} KB"
