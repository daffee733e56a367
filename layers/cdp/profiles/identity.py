"""Identities: the typed identifiers a person is known by (`user_id:42`, `anonymous_id:abc`,
`email:ada@example.com`, `<external type>:<id>`), and which ones a message carries.

An identity's text form is `<type>:<value>`: the key of the identities table, the partition
key of the events table, and what the Profile API is asked for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"
# Not an identity of a person but a way to name one: segment member lists give profile ids,
# and the APIs take `profile_id:<id>` wherever they take an identity.
PROFILE_ID = "profile_id"

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
    """The one text form of an identity: `<type>:<value>`, the value normalised (Unicode NFC,
    no surrounding space; e-mail addresses also in compatibility form and lower case), so that
    one identifier written two ways is one identity, to merge, look up and erase."""
    return f"{kind}:{normalise_value(kind, value)}"


def normalise_value(kind: str, value: str) -> str:
    if kind == EMAIL:
        return unicodedata.normalize("NFKC", value).strip().casefold()
    return unicodedata.normalize("NFC", value).strip()


def comparable(text: str) -> str:
    """A form of any text for finding an identifier in it whatever its case, Unicode form or
    spacing (erasure looks for a person's identifiers this way)."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


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
    email = normalise_value(EMAIL, value)
    if len(email) > 254 or not _EMAIL.match(email):
        return None
    return email


def external_type(value: Any) -> str | None:
    """An external id type as an identity type (`ga_client_id`), or None if unusable.

    `email` is the e-mail identity; the other built-in types cannot be claimed this way."""
    if not isinstance(value, str):
        return None
    kind = value.strip().lower().replace("-", "_").replace(" ", "_")
    if not _EXTERNAL_TYPE.match(kind) or kind in (USER_ID, ANONYMOUS_ID, PROFILE_ID):
        return None
    return kind


# Values buggy sites and SDKs send where an identifier should be. They are shared by everyone
# who hit the same bug, so linking by them would merge strangers. Compared case-insensitively.
DEFAULT_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "undefined", "null", "nil", "none", "nan", "n/a", "na", "-", "0", "-1", "false", "true",
        "[object object]", "{}", "[]", "''", '""', "(null)", "<nil>", "<null>", "(none)",
        "anonymous", "anon", "guest", "unknown", "user", "test", "default", "not set",
        "(not set)", "00000000-0000-0000-0000-000000000000",
        "test@test.com", "email@email.com", "user@user.com", "a@a.com", "none@none.com",
        "null@null.com", "undefined@undefined.com", "noreply@noreply.com", "email@example.com",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Placeholders:
    """Identifiers that are never identities: the defaults, and what a deployment adds
    (`identity_blocklist` in cdk.json: a value for every type, or `type:value` for one)."""

    values: frozenset[str] = DEFAULT_PLACEHOLDERS
    keys: frozenset[str] = frozenset()

    @classmethod
    def configured(cls, extra: Iterable[str]) -> Placeholders:
        values, keys = set(DEFAULT_PLACEHOLDERS), set()
        for entry in extra:
            kind, separator, value = entry.partition(":")
            if separator and (kind in (USER_ID, ANONYMOUS_ID, EMAIL) or external_type(kind)):
                keys.add(f"{kind}:{comparable(value)}")
            else:
                values.add(comparable(entry))
        return cls(frozenset(values), frozenset(keys))

    def blocks(self, key: str) -> bool:
        kind, _, value = key.partition(":")
        value = comparable(value)
        return value in self.values or (bool(self.keys) and f"{kind}:{value}" in self.keys)


DEFAULT_POLICY = Placeholders()


def ignored_identities(message: Mapping[str, Any]) -> frozenset[str]:
    """The identities the collector found to be placeholders in a stored message."""
    context = message.get("context")
    extension = context.get("cdp") if isinstance(context, dict) else None
    ignored = extension.get("ignored_identities") if isinstance(extension, dict) else None
    if not isinstance(ignored, list):
        return frozenset()
    return frozenset(key for key in ignored if isinstance(key, str))


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
    """The identities a stored message carries, strongest first, without the placeholders the
    collector marked (`context.cdp.ignored_identities`)."""
    keys: list[str] = []
    ignored = ignored_identities(message)

    def add(kind: str, value: Any) -> None:
        if isinstance(value, str) and fits_a_key(value) and value.strip():
            key = identity_key(kind, value)
            if key not in keys and key not in ignored:
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
    if len(keys) > 1:
        keys.sort(key=strength)
    previous = message.get("previousId") if message.get("type") == "alias" else None
    if isinstance(previous, str):
        previous = normalise_value(USER_ID, previous)
    return CarriedIdentities(
        keys=tuple(keys), previous_id=previous if isinstance(previous, str) and previous else None
    )


def parse_identity(text: str) -> tuple[str, str] | None:
    """`user_id:42` -> ("user_id", "42"); values normalised; None when malformed."""
    kind, separator, value = text.partition(":")
    if not separator or not fits_a_key(value) or not value.strip():
        return None
    if kind == EMAIL:
        email = normalise_email(value)
        return (EMAIL, email) if email else None
    if kind in (USER_ID, ANONYMOUS_ID, PROFILE_ID) or external_type(kind) == kind:
        return kind, normalise_value(kind, value)
    return None
