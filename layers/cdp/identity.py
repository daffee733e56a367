"""Identities: the typed identifiers a person is known by (`user_id:42`, `anonymous_id:abc`)."""

from __future__ import annotations

IDENTITY_TYPES: tuple[str, ...] = ("user_id", "anonymous_id", "email")


def identity_key(kind: str, value: str) -> str:
    """The one text form of an identity, used as a storage key and in the Profile API."""
    return f"{kind}:{value}"
