"""Wire models of the Segment Tracking API spec (identify, track, page, screen, group, alias).

These models validate what a client sent; they are not what we store. `cdp.intake.messages`
keeps the client's message in full (unknown fields included) and only normalises identifiers
and times.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from cdp.profiles.identity import MAX_VALUE_BYTES, fits_a_key, normalise_email
from cdp.profiles.timeline import MessageType

MAX_ID_LENGTH = 512
MAX_NAME_LENGTH = 512

# Times outside this range are almost always a broken device clock or a unit mix-up
# (seconds sent as milliseconds), and would overflow the skew arithmetic.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _number_to_text(value: Any) -> Any:
    """Some libraries send numeric ids (`userId: 42`); Segment treats them as text."""
    if isinstance(value, bool):
        return value  # left for the str validator to refuse
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if _CONTROL_CHARACTERS.search(value):  # a character loop in Python cost ~10 µs a message
        raise ValueError("must not contain control characters")
    return value


def _fits_a_key(value: str) -> str:
    if not fits_a_key(value):
        raise ValueError(f"must be at most {MAX_VALUE_BYTES} bytes of UTF-8 text")
    return value


def _utc(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    BeforeValidator(_number_to_text),
    AfterValidator(_printable),
    AfterValidator(_fits_a_key),
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_printable)
]
Time = Annotated[datetime, AfterValidator(_utc)]
Object = dict[str, Any]


class Message(BaseModel):
    """Fields common to every message. Unknown fields are allowed and kept by the caller."""

    # Built when a message first needs one (see `read_fields`): plainly valid ones never do.
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    type: MessageType
    messageId: Identifier | None = None
    userId: Identifier | None = None
    anonymousId: Identifier | None = None
    timestamp: Time | None = None
    originalTimestamp: Time | None = None  # RudderStack's name for the client's time
    sentAt: Time | None = None
    context: Object = Field(default_factory=dict)
    integrations: Object = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs_an_identity(self) -> Message:
        if self.userId is None and self.anonymousId is None and self.email is None:
            raise ValueError(
                "a message needs a userId or an anonymousId (or, from a server, an e-mail "
                "address in traits.email or context.traits.email)"
            )
        return self

    @property
    def email(self) -> str | None:
        return email_of(self.type, getattr(self, "traits", None), self.context)


class Identify(Message):
    type: Literal["identify"]
    traits: Object = Field(default_factory=dict)


class Track(Message):
    type: Literal["track"]
    event: Name
    properties: Object = Field(default_factory=dict)


class Page(Message):
    type: Literal["page"]
    name: Name | None = None
    category: Name | None = None
    properties: Object = Field(default_factory=dict)


class Screen(Message):
    type: Literal["screen"]
    name: Name | None = None
    category: Name | None = None
    properties: Object = Field(default_factory=dict)


class Group(Message):
    type: Literal["group"]
    groupId: Identifier
    traits: Object = Field(default_factory=dict)


class Alias(Message):
    type: Literal["alias"]
    userId: Identifier
    previousId: Identifier


MODELS: dict[str, type[Message]] = {
    "identify": Identify,
    "track": Track,
    "page": Page,
    "screen": Screen,
    "group": Group,
    "alias": Alias,
}


def email_of(kind: str, traits: Any, context: Any) -> str | None:
    """An e-mail address the message identifies its person by. An extension of the spec:
    servers (a CRM import, an e-mail tool) often know a person only by it."""
    for found in (
        traits if kind == "identify" else None,
        context.get("traits") if isinstance(context, dict) else None,
    ):
        if isinstance(found, dict) and (email := normalise_email(found.get("email"))):
            return email
    return None


class Fields(NamedTuple):
    """What the collector reads of a valid message: its type, identifiers and times,
    validated and normalised (numbers as text, times in UTC)."""

    type: str
    messageId: str | None
    userId: str | None
    anonymousId: str | None
    timestamp: datetime | None
    originalTimestamp: datetime | None
    sentAt: datetime | None
    email: str | None
    groupId: str | None = None  # a group's
    previousId: str | None = None  # an alias's

    @classmethod
    def of(cls, model: Message) -> Fields:
        return cls(
            type=model.type,
            messageId=model.messageId,
            userId=model.userId,
            anonymousId=model.anonymousId,
            timestamp=model.timestamp,
            originalTimestamp=model.originalTimestamp,
            sentAt=model.sentAt,
            email=model.email,
            groupId=model.groupId if isinstance(model, Group) else None,
            previousId=model.previousId if isinstance(model, Alias) else None,
        )


def read_fields(message: dict[str, Any], kind: str) -> Fields:
    """The fields of a message of type `kind` (one of `MODELS`); `ValidationError` if it is
    not valid.

    Most messages are plainly valid: text identifiers, times as ISO 8601 in UTC, objects where
    objects belong. Those are read in plain Python, at a fraction of a model's cost (the
    collector reads thousands a second); whatever else a message holds (a number for an id,
    a time in another form, anything invalid) is for the model to accept, normalise or
    refuse with its errors, so the outcome is the model's in every case."""
    plain = _plain_fields(message, kind)
    return plain if plain is not None else Fields.of(MODELS[kind].model_validate(message))


class _Unsure(Exception):
    """The plain reading cannot vouch for a value: the model decides."""


def _plain_fields(message: dict[str, Any], kind: str) -> Fields | None:
    get = message.get
    try:
        for name in _OBJECTS[kind]:
            if name in message and type(message[name]) is not dict:
                raise _Unsure
        if kind == "track":
            _plain_name(get("event"), required=True)
        elif kind in ("page", "screen"):
            _plain_name(get("name"))
            _plain_name(get("category"))
        user_id = _plain_identifier(get("userId"), required=kind == "alias")
        anonymous_id = _plain_identifier(get("anonymousId"))
        email = email_of(kind, get("traits"), get("context"))
        if user_id is None and anonymous_id is None and email is None:
            raise _Unsure
        return Fields(
            kind,
            _plain_identifier(get("messageId")),
            user_id,
            anonymous_id,
            _plain_time(get("timestamp")),
            _plain_time(get("originalTimestamp")),
            _plain_time(get("sentAt")),
            email,
            _plain_identifier(get("groupId"), required=True) if kind == "group" else None,
            _plain_identifier(get("previousId"), required=True) if kind == "alias" else None,
        )
    except _Unsure:
        return None


_OBJECTS: dict[str, tuple[str, ...]] = {
    "identify": ("context", "integrations", "traits"),
    "track": ("context", "integrations", "properties"),
    "page": ("context", "integrations", "properties"),
    "screen": ("context", "integrations", "properties"),
    "group": ("context", "integrations", "traits"),
    "alias": ("context", "integrations"),
}
# ISO 8601 as browsers, mobile and server libraries write it in UTC (`toISOString()`,
# `isoformat()`); `datetime.fromisoformat` reads these exactly as the model does.
_PLAIN_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                         r"(?:\.[0-9]{3}|\.[0-9]{6})?(?:Z|\+00:00)")  # fmt: skip


def _plain_identifier(value: Any, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if (
        type(value) is not str
        or not 0 < len(value) <= MAX_ID_LENGTH
        or not value.strip()
        or (not value.isprintable() and _CONTROL_CHARACTERS.search(value))
        or not (value.isascii() or fits_a_key(value))
    ):
        raise _Unsure
    return value


def _plain_name(value: Any, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if (
        type(value) is not str
        or not 0 < len(value) <= MAX_NAME_LENGTH
        or not value.strip()
        or (not value.isprintable() and _CONTROL_CHARACTERS.search(value))
    ):
        raise _Unsure


def _plain_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if type(value) is not str or not _PLAIN_TIME.fullmatch(value):
        raise _Unsure
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:  # not a day of the calendar: the model says so
        raise _Unsure from None
    if not EARLIEST <= moment < LATEST:
        raise _Unsure
    return moment


def describe_errors(error: ValidationError) -> str:
    """Turn pydantic's errors into one sentence a person can act on.

    `userId: must not contain control characters; event: is required`
    """
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        what = _plain(item)
        parts.append(f"{where}: {what}" if where else what)
    return "; ".join(parts)


def _plain(item: Any) -> str:
    kind = item["type"]
    if kind == "missing":
        return "is required"
    if kind in {"string_type", "dict_type", "datetime_type"}:
        wanted = {"string_type": "text", "dict_type": "a JSON object", "datetime_type": "a time"}
        return f"must be {wanted[kind]}"
    if kind.startswith("datetime_") or kind.startswith("date_"):
        return "must be an ISO 8601 time such as 2026-11-23T09:15:00.000Z"
    if kind == "value_error":
        return str(item["ctx"]["error"])
    return str(item["msg"]).replace("Input should", "must").replace("String should", "must")
