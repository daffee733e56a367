"""Identities: the typed identifiers a person is known by (`user_id:42`, `anonymous_id:abc`,
`email:ada@example.com`, `<external type>:<id>`), and which ones a message carries.

An identity's text form is `<type>:<value>`: the key of the identities table, the partition
key of the events table, and what the Profile API is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"
BUILT_IN_TYPES: tuple[str, ...] = (USER_ID, ANONYMOUS_ID, EMAIL)

# Strongest first: when an event's identities lead to profiles that may not be merged, the
# event goes to the profile of its strongest identity.
_STRENGTH = {USER_ID: 0, EMAIL: 1, ANONYMOUS_ID: 3}
_EXTERNAL_STRENGTH = 2

_EXTERNAL_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_VALUE_LENGTH = 512
# An identity is a DynamoDB key (2,048 bytes at most) and a message id part of one (1,024, with
# the time before it): 512 characters of four-byte UTF-8 would not fit.
MAX_VALUE_BYTES = 960


def fits_a_key(value: str) -> bool:
    """At most 512 characters and 960 bytes of UTF-8: short enough to be (part of) a key."""
    if not 0 < len(value) <= MAX_VALUE_LENGTH:
        return False
    return len(value.encode("utf-8", errors="surrogatepass")) <= MAX_VALUE_BYTES


def identity_key(kind: str, value: str) -> str:
    """The one text form of an identity."""
    return f"{kind}:{value}"


def split_identity(key: str) -> tuple[str, str]:
    kind, _, value = key.partition(":")
    return kind, value


def identity_type(key: str) -> str:
    return key.partition(":")[0]


def strength(key: str) -> int:
    return _STRENGTH.get(identity_type(key), _EXTERNAL_STRENGTH)


def normalise_email(value: Any) -> str | None:
    """Lower-cased and trimmed, or None when it is not an e-mail address at all."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        return None
    return email


def external_type(value: Any) -> str | None:
    """An external id type as an identity type (`ga_client_id`), or None if unusable.

    `email` is the e-mail identity; the other built-in types cannot be claimed this way."""
    if not isinstance(value, str):
        return None
    kind = value.strip().lower().replace("-", "_").replace(" ", "_")
    if not _EXTERNAL_TYPE.match(kind) or kind in (USER_ID, ANONYMOUS_ID):
        return None
    return kind


@dataclass(frozen=True)
class IdentityLimits:
    """How many identities of each type one profile may hold.

    A profile holds at most one user_id: two profiles with different user_ids are never
    merged. Past a limit, a new identity is not linked and the link is recorded as a conflict.
    """

    per_type: Mapping[str, int] = field(default_factory=lambda: {ANONYMOUS_ID: 100, EMAIL: 5})
    external: int = 25

    def limit(self, kind: str) -> int:
        if kind == USER_ID:
            return 1
        return self.per_type.get(kind, self.external)


@dataclass(frozen=True)
class CarriedIdentities:
    """The identities one message carries, strongest first.

    `previous_id` (alias) is kept apart: whether it is a user id or an anonymous id is only
    known once the identities table has been asked."""

    keys: tuple[str, ...]
    previous_id: str | None = None


def identities_of(message: Mapping[str, Any]) -> CarriedIdentities:
    keys: list[str] = []

    def add(kind: str, value: Any) -> None:
        if isinstance(value, str) and fits_a_key(value):
            key = identity_key(kind, value)
            if key not in keys:
                keys.append(key)

    add(USER_ID, message.get("userId"))
    add(ANONYMOUS_ID, message.get("anonymousId"))
    context = message.get("context")
    context = context if isinstance(context, dict) else {}
    traits = message.get("traits") if message.get("type") == "identify" else None
    for source in (traits, context.get("traits")):
        if isinstance(source, dict):
            email = normalise_email(source.get("email"))
            if email:
                add(EMAIL, email)
    external_ids = context.get("externalIds")
    if isinstance(external_ids, list):
        for entry in external_ids[:50]:
            if not isinstance(entry, dict):
                continue
            kind = external_type(entry.get("type"))
            value = entry.get("id")
            if kind == EMAIL:
                value = normalise_email(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            if kind and isinstance(value, str) and value.strip():
                add(kind, value.strip())
    keys.sort(key=strength)
    previous = message.get("previousId") if message.get("type") == "alias" else None
    return CarriedIdentities(
        keys=tuple(keys), previous_id=previous if isinstance(previous, str) else None
    )


def parse_identity(text: str) -> tuple[str, str] | None:
    """`user_id:42` -> ("user_id", "42"); emails are normalised; None when malformed."""
    kind, separator, value = text.partition(":")
    if not separator or not fits_a_key(value):
        return None
    if kind == EMAIL:
        email = normalise_email(value)
        return (EMAIL, email) if email else None
    if kind in (USER_ID, ANONYMOUS_ID) or external_type(kind) == kind:
        return kind, value
    return None
