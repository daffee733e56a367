"""What a search box entry may mean: the identities to look up, most specific first.

People paste what they have: an e-mail address, a user id from the shop's database, a device's
anonymous id, a profile id from a webhook, a phone number, or an identity written as the API
writes it (`ga_client_id:123`). Each candidate is one read of the identities table; a search
never scans.
"""

from __future__ import annotations

import re
from typing import Any

from cdp.console.mask import mask_identifier
from cdp.profiles.identity import (
    ANONYMOUS_ID,
    EMAIL,
    PROFILE_ID,
    USER_ID,
    fits_a_key,
    identity_key,
    normalise_email,
    parse_identity,
    split_identity,
)
from cdp.profiles.profile import Profile

MAX_QUERY = 512
PHONE = "phone"
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ()./-]{5,}")


def candidates(query: str) -> list[str]:
    """The identity keys `query` may name; none for an empty or overlong query."""
    text = query.strip()
    if not text or not fits_a_key(text):
        return []
    if (written := parse_identity(text)) is not None:
        return [identity_key(*written)]
    if (email := normalise_email(text)) is not None:
        return [identity_key(EMAIL, email)]
    if _PHONE_LIKE.fullmatch(text):
        return [identity_key(PHONE, re.sub(r"[ ()./-]", "", text))]
    return [identity_key(kind, text) for kind in (USER_ID, ANONYMOUS_ID, PROFILE_ID)]


def search_result(profile: Profile, *, whole: bool) -> dict[str, Any]:
    """One match, as the search list shows it: enough to tell people apart and open one.
    Identifier values are masked unless the searcher may see personal data; the profile id,
    which names no one, is not."""
    identities = [split_identity(key) for key in sorted(profile.identities)]
    return {
        "profile_id": profile.profile_id,
        "identities": [
            {"type": kind, "value": value if whole else mask_identifier(value)}
            for kind, value in identities
        ],
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "event_count": profile.event_count,
        "segments": sorted(profile.segments),
    }
