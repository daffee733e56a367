"""Braze's REST API (`/users/track`, `/users/delete`) played locally.

Kept as Braze keeps it: user profiles (found by external id, else by e-mail or phone, made
when not found), their attributes (custom attribute arrays with `add` / `remove`, `inc`, null
to remove) and their custom events, and the profiles deleted. Answered as Braze answers:
201 with "minor errors" naming each refused object by array and index, fatal errors as 4xx
`{"message": ..., "errors": [...]}`, 401 for an unknown key, and 429 with the
`X-RateLimit-*` headers (`rate_limited`).

Modelled beyond the reference's words: which objects are refused. Braze refuses an object
without an identifier and an external id it has blocklisted (its messages for both are
quoted from Braze's answers); an event whose properties use a reserved key or begin with `$`
is refused with a message of ours (the reference says only that it "will result in API
errors").
"""

from __future__ import annotations

import re
import time
from typing import Any

from tests.contracts.server import Answer, ContractServer, Received, Route

IDENTIFIERS = ("external_id", "user_alias", "braze_id", "email", "phone")
ISO_8601 = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.:]\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
_ALIAS = {
    "type": "object",
    "required": ["alias_name", "alias_label"],
    "properties": {"alias_name": {"type": "string"}, "alias_label": {"type": "string"}},
    "additionalProperties": False,
}
_WHO = {
    "external_id": {"type": "string", "minLength": 1},
    "user_alias": _ALIAS,
    "braze_id": {"type": "string"},
    "email": {"type": ["string", "null"]},
    "phone": {"type": ["string", "null"]},
}

# https://www.braze.com/docs/api/endpoints/user_data/post_user_track/ (request body; at most
# 75 attribute, event and purchase objects each: https://www.braze.com/docs/api/api_limits/)
# https://www.braze.com/docs/api/objects_filters/user_attributes_object/
# https://www.braze.com/docs/api/objects_filters/event_object/
TRACK_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "attributes": {
            "type": "array",
            "maxItems": 75,
            "items": {
                "type": "object",
                "properties": {
                    **_WHO,
                    "_update_existing_only": {"type": "boolean"},
                    "push_token_import": {"type": "boolean"},
                },
                # Custom attribute names: not empty, 255 characters at most, no leading `$`.
                "propertyNames": {"pattern": r"^[^$].{0,254}$"},
            },
        },
        "events": {
            "type": "array",
            "maxItems": 75,
            "items": {
                "type": "object",
                "required": ["name", "time"],
                "properties": {
                    **_WHO,
                    "app_id": {"type": "string"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 255},
                    "time": {"type": "string", "pattern": ISO_8601},
                    "properties": {"type": "object"},
                    "_update_existing_only": {"type": "boolean"},
                },
                "additionalProperties": False,
            },
        },
        "purchases": {"type": "array", "maxItems": 75, "items": {"type": "object"}},
    },
    "additionalProperties": False,
    "anyOf": [{"required": ["attributes"]}, {"required": ["events"]}, {"required": ["purchases"]}],
}

_PRIORITIZATION = {
    "type": "array",
    "minItems": 1,
    "items": {"enum": ["identified", "unidentified", "most_recently_updated"]},
    "uniqueItems": True,
}
# https://www.braze.com/docs/api/endpoints/user_data/post_user_delete/: up to 50 identifiers,
# of only one kind per request; by e-mail or phone, with an ordered `prioritization`.
DELETE_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "external_ids": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {"type": "string"},
        },
        "braze_ids": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "string"}},
        "user_aliases": {"type": "array", "minItems": 1, "maxItems": 50, "items": _ALIAS},
        "email_addresses": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["email", "prioritization"],
                "properties": {"email": {"type": "string"}, "prioritization": _PRIORITIZATION},
                "additionalProperties": False,
            },
        },
        "phone_numbers": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["phone", "prioritization"],
                "properties": {"phone": {"type": "string"}, "prioritization": _PRIORITIZATION},
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}

RESERVED_PROPERTIES = ("time", "event_name")
NO_IDENTIFIER = "'external_id' or 'braze_id' or 'user_alias' or 'email' or 'phone' is required"
BLOCKLISTED = "provided external_id is blacklisted and disallowed"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class BrazeServer(ContractServer):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.profiles: list[dict[str, Any]] = []  # attributes, identifiers among them
        self.events: list[dict[str, Any]] = []  # as received, with the profile's index
        self.deleted: list[tuple[str, str]] = []  # (kind, value) as asked
        self.blocklisted: set[str] = set()  # external ids Braze refuses
        self.routes = [
            Route("POST", "/users/track", self._track, TRACK_BODY),
            Route("POST", "/users/delete", self._delete, DELETE_BODY),
        ]

    def reset(self, *, api_key: str | None = None) -> None:
        """As new, for the next test on the same running server (stopping one takes 0.5 s)."""
        self.api_key = api_key or self.api_key
        self.profiles.clear()
        self.events.clear()
        self.deleted.clear()
        self.blocklisted.clear()
        self.clear()

    # What the tests read.
    def profile(self, kind: str, value: str) -> dict[str, Any] | None:
        return next((p for p in self.profiles if p.get(kind) == value), None)

    def audiences(self, kind: str, value: str, attribute: str = "cdp_segments") -> list[str]:
        found = self.profile(kind, value)
        return list(found.get(attribute) or []) if found else []

    @staticmethod
    def rate_limited(reset_in: int) -> Answer:
        """Braze's 429: when the window resets, in epoch seconds (it sends no Retry-After)."""
        return Answer(
            429,
            {"message": "Rate Limited"},
            {
                "X-RateLimit-Limit": "3000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + reset_in),
            },
        )

    # Braze's checks and answers.
    def authenticate(self, request: Received) -> Answer | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Answer(401, {"message": "Unknown or missing REST API Key"})
        if not request.headers.get("content-type", "").startswith("application/json"):
            reason = "Content-Type must be application/json"
            self.violations.append(reason)
            return Answer(400, {"message": reason})
        return None

    def refused(self, request: Received, reasons: list[str]) -> Answer:
        return Answer(400, {"message": "Bad Request", "errors": reasons})

    def _track(self, request: Received, _: dict[str, str]) -> Answer:
        body = request.json()
        errors: list[dict[str, Any]] = []
        attributes = body.get("attributes", [])
        for index, item in enumerate(attributes):
            refusal = self._refusal(item)
            if refusal:
                errors.append({"type": refusal, "input_array": "attributes", "index": index})
                continue
            profile = self._find_or_make(item)
            for name, value in item.items():
                if name not in ("external_id", "user_alias", "braze_id", "_update_existing_only"):
                    _apply(profile, name, value)
        events = body.get("events", [])
        for index, item in enumerate(events):
            refusal = self._refusal(item) or _property_refusal(item.get("properties", {}))
            if refusal:
                errors.append({"type": refusal, "input_array": "events", "index": index})
                continue
            self._find_or_make(item)
            self.events.append(item)
        answer: dict[str, Any] = {"message": "success"}
        if attributes:
            answer["attributes_processed"] = len(attributes) - sum(
                1 for error in errors if error["input_array"] == "attributes"
            )
        if events:
            answer["events_processed"] = len(events) - sum(
                1 for error in errors if error["input_array"] == "events"
            )
        if errors:
            answer["errors"] = errors
        return Answer(201, answer)

    def _delete(self, request: Received, _: dict[str, str]) -> Answer:
        body = request.json()
        asked: list[tuple[str, str]] = [
            ("external_id", value) for value in body.get("external_ids", [])
        ]
        for kind, field in (("email", "email_addresses"), ("phone", "phone_numbers")):
            for entry in body.get(field, []):
                order = entry["prioritization"]
                if "identified" in order and "unidentified" in order:
                    reason = f"{field}: only one of identified and unidentified may be given"
                    self.violations.append(reason)
                    return self.refused(request, [reason])
                asked.append((kind, entry[kind]))
        deleted = 0
        for kind, value in asked:
            self.deleted.append((kind, value))
            found = self._match(kind, value)
            if found is not None:
                self.profiles.remove(found)
                deleted += 1
        return Answer(201, {"deleted": deleted, "message": "success"})

    def _refusal(self, item: dict[str, Any]) -> str | None:
        if not any(item.get(name) for name in IDENTIFIERS):
            return NO_IDENTIFIER
        if item.get("external_id") in self.blocklisted:
            return BLOCKLISTED
        email = item.get("email")
        if isinstance(email, str) and not _EMAIL.match(email):
            return "'email' is not a valid email address"
        return None

    def _match(self, kind: str, value: str) -> dict[str, Any] | None:
        """By e-mail or phone, Braze prefers the profile with an external id."""
        found = [p for p in self.profiles if p.get(kind) == value]
        found.sort(key=lambda p: "external_id" not in p)
        return found[0] if found else None

    def _find_or_make(self, item: dict[str, Any]) -> dict[str, Any]:
        for kind in ("external_id", "email", "phone"):
            value = item.get(kind)
            if value:
                found = self._match(kind, value)
                if found is None:
                    found = {kind: value}
                    self.profiles.append(found)
                return found
        raise AssertionError("checked before")


def _apply(profile: dict[str, Any], name: str, value: Any) -> None:
    """One attribute's update, as the user attributes object describes it."""
    if value is None:
        profile.pop(name, None)
    elif (
        isinstance(value, dict)
        and ({"add", "remove"} & value.keys())
        and value.keys()
        <= {
            "add",
            "remove",
        }
    ):
        values = list(profile.get(name) or [])
        for added in value.get("add", []):
            if added in values:  # moved to the end, kept once
                values.remove(added)
            values.append(added)
        values = [kept for kept in values if kept not in value.get("remove", [])]
        profile[name] = values
    elif isinstance(value, dict) and value.keys() == {"inc"}:
        profile[name] = (profile.get(name) or 0) + value["inc"]
    else:
        profile[name] = value


def _property_refusal(properties: dict[str, Any]) -> str | None:
    for key in properties:
        if key in RESERVED_PROPERTIES or key.startswith("$"):
            return f"'properties' may not use the key '{key}'"
    return None
