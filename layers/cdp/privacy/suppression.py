"""Suppression after erasure: the identities of an erased person, kept only as keyed hashes,
so that late events for them are dropped instead of bringing the person back.

The hash is an HMAC-SHA256 with a secret pepper (Secrets Manager): a plain hash of an e-mail
address could be reversed by hashing guesses; without the pepper it cannot.
"""

from __future__ import annotations

import hashlib
import hmac


def identity_hash(identity: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), identity.encode(), hashlib.sha256).hexdigest()
