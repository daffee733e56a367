"""API keys: write keys for collecting (safe to put in a web page), secret keys for reading
profiles and administering. Only a SHA-256 hash of a key is ever stored.

Keys are 32 random bytes, so a plain SHA-256 (not a slow password hash) is enough: there is
nothing to guess. A key is found by its hash, and the final comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cdp.runtime.errors import AuthenticationError

KeyKind = Literal["write", "secret"]
PREFIXES: dict[str, str] = {"write": "wk_", "secret": "sk_"}
MAX_KEY_LENGTH = 256
OBSERVED: frozenset[str] = frozenset({"observed"})


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_hash: str
    kind: KeyKind
    source: str
    enabled: bool = True
    expires_at: int | None = None  # epoch seconds; set while a rotated key is phased out
    # The provenance its messages may claim for their traits (`context.cdp.provenance`): a
    # key in a web page is public, so only what its source is trusted with (see cdp.access.sources).
    claims: frozenset[str] = OBSERVED
    # Until when (epoch seconds) someone in the console watches its source's messages live.
    watched_until: int | None = None

    def usable(self, now_epoch: float) -> bool:
        return self.enabled and (self.expires_at is None or now_epoch < self.expires_at)

    def watched(self, now_epoch: float) -> bool:
        return self.watched_until is not None and now_epoch < self.watched_until


def generate_key(kind: KeyKind) -> str:
    return PREFIXES[kind] + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate(
    presented: str | None,
    kind: KeyKind,
    find: Callable[[str], ApiKey | None],
    now_epoch: float,
) -> ApiKey:
    """The key record for `presented`, or `AuthenticationError` with a helpful message."""
    where = "a write key" if kind == "write" else "a secret key"
    if not presented:
        raise AuthenticationError(f"this route needs {where}")
    if len(presented) > MAX_KEY_LENGTH or not presented.isprintable():
        raise AuthenticationError(f"the key is not valid; this route needs {where}")
    presented_hash = hash_key(presented)
    record = find(presented_hash)
    if (
        record is None
        or not hmac.compare_digest(record.key_hash, presented_hash)
        or not record.usable(now_epoch)
    ):
        raise AuthenticationError(f"the key is not valid; this route needs {where}")
    if record.kind != kind:
        raise AuthenticationError(f"this route needs {where}, not a {record.kind} key")
    return record
