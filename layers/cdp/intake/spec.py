"""Wire models of the Segment Tracking API spec (identify, track, page, screen, group, alias).

These models validate what a client sent; they are not what we store. `cdp.intake.messages`
keeps the client's message in full (unknown fields included) and only normalises identifiers
and times.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

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

MessageType = Literal["identify", "track", "page", "screen", "group", "alias"]
MESSAGE_TYPES: tuple[str, ...] = ("identify", "track", "page", "screen", "group", "alias")


class Message(BaseModel):
    """Fields common to every message. Unknown fields are allowed and kept by the caller."""

    model_config = ConfigDict(extra="allow", frozen=True)

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
        """An e-mail address the message identifies its person by. An extension of the spec:
        servers (a CRM import, an e-mail tool) often know a person only by it."""
        traits = getattr(self, "traits", None) if self.type == "identify" else None
        for found in (traits, self.context.get("traits")):
            if isinstance(found, dict) and (email := normalise_email(found.get("email"))):
                return email
        return None


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
