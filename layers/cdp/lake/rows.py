"""Rows of the lake's tables, from the DynamoDB items (or stream images) they mirror.

Pure: no pyarrow here, so the rows can be made and checked without it. Times become naive
`datetime`s in UTC (the tables' `timestamp` columns); JSON parts are compact JSON text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cdp.profiles.identity import split_identity
from cdp.profiles.profile import Profile, profile_view
from cdp.runtime.clock import iso, parse
from cdp.runtime.codec import dumps
from cdp.storage.events import message_of
from cdp.storage.profiles import decode_state

if TYPE_CHECKING:
    from cdp.profiles.computed import ComputedTraitDefinition


def event_row(item: dict[str, Any]) -> dict[str, Any]:
    """The events row of an events-table item (or a stream record's `NewImage`)."""
    message = message_of(item)
    properties = message.get("properties")
    properties = properties if isinstance(properties, dict) else None
    name = item.get("name", {}).get("S")
    if name is None:
        name = message.get("event") if message.get("type") == "track" else message.get("name")
    return {
        "message_id": item["sk"]["S"],
        "identity": item["pk"]["S"],
        "type": item.get("type", {}).get("S") or str(message.get("type", "")),
        "event": _text(name),
        "user_id": _text(message.get("userId")),
        "anonymous_id": _text(message.get("anonymousId")),
        "source": item.get("source", {}).get("S", "unknown"),
        "channel": item.get("channel", {}).get("S"),
        "library": item.get("library", {}).get("S"),
        "timestamp": _moment(item.get("timestamp", {}).get("S") or message["timestamp"]),
        "received_at": _optional_moment(message.get("receivedAt")),
        "revenue": _number(properties.get("revenue")) if properties else None,
        "currency": _text(properties.get("currency")) if properties else None,
        "properties": _json(message.get("properties")),
        "traits": _json(message.get("traits")),
        "context": _json(message.get("context")),
    }


def event_message(row: dict[str, Any]) -> dict[str, Any]:
    """An events row as a message again (what a person's export shows of an event the events
    table no longer holds): its id, type, name, who, times and the JSON parts; a field the
    row does not hold is left out."""
    name = "event" if row["type"] == "track" else "name"
    message = {
        "messageId": row["message_id"],
        "type": row["type"],
        name: row["event"],
        "userId": row["user_id"],
        "anonymousId": row["anonymous_id"],
        "timestamp": _text_of(row["timestamp"]),
        "receivedAt": _text_of(row["received_at"]),
        "properties": _parsed(row["properties"]),
        "traits": _parsed(row["traits"]),
        "context": _parsed(row["context"]),
    }
    return {key: value for key, value in message.items() if value is not None}


def is_live_profile(item: dict[str, Any]) -> bool:
    """Whether a profiles-table item holds a profile (not a merged-away redirect)."""
    return "state" in item


def profile_rows(
    item: dict[str, Any],
    definitions: Iterable[ComputedTraitDefinition] = (),
    *,
    now: datetime | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The profiles row of a live profiles-table item (see `is_live_profile`), and its
    identities rows. Traits and computed traits are their values at `now` (by default the
    item's `updated_at`, so the same item always gives the same rows); computed traits need
    their `definitions` (none: no computed values)."""
    profile = Profile.from_state(
        item["profile_id"]["S"],
        decode_state(_binary(item["state"]["B"])),
        int(item["version"]["N"]),
    )
    updated_at = item.get("updated_at", {}).get("S")
    moment = now or (parse(updated_at) if updated_at else parse(profile.created_at))
    view = profile_view(profile, definitions, moment)
    row = {
        "profile_id": profile.profile_id,
        "version": profile.version,
        "updated_at": _optional_moment(updated_at),
        "created_at": _optional_moment(profile.created_at),
        "first_seen": _optional_moment(profile.first_seen),
        "last_seen": _optional_moment(profile.last_seen),
        "event_count": profile.event_count,
        "identities": dumps(sorted(profile.identities)),
        "traits": dumps(view["traits"]),
        "trait_sources": dumps(view["trait_sources"]),
        "computed": dumps(view["computed"]),
        "segments": dumps(view["segment_memberships"]),
        "consent": dumps(view["consent"]),
        "groups": dumps(view["groups"]),
    }
    identities = [
        {
            "identity": identity,
            "type": split_identity(identity)[0],
            "profile_id": profile.profile_id,
            "linked_at": _optional_moment(linked_at),
        }
        for identity, linked_at in sorted(profile.identities.items())
    ]
    return row, identities


def _moment(text: str) -> datetime:
    moment = parse(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _optional_moment(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return _moment(text)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _json(value: Any) -> str | None:
    return None if value is None else dumps(value)


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _text_of(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment.replace(tzinfo=UTC))


def _binary(value: Any) -> bytes:
    """Lambda delivers binary attributes base64-encoded; boto3 hands over bytes."""
    import base64

    return value if isinstance(value, bytes) else base64.b64decode(value)
