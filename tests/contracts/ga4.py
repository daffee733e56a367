"""Google Analytics 4's Measurement Protocol, played locally.

Two endpoints, as GA has them:
- `POST /mp/collect`: answers 204 whatever it is sent (GA "always returns a 2xx status code if
  the HTTP request was received"); a payload that breaks the rules is dropped, as GA drops it,
  and recorded in `violations`. What it keeps: each client's events and user properties, its
  user id, and so each client's groups (from `join_group` / `leave_group`, in time order).
- `POST /debug/mp/collect`, the validation server: records nothing and answers 200 with
  `{"validationMessages": [...]}`, each with `fieldPath`, `description` and `validationCode`
  as GA's reference describes them; `refuse` makes it refuse chosen event or user property
  names, as GA refuses what the schema cannot foresee.

A wrong `api_secret` or `measurement_id` is not refused by GA either: the data is silently
lost. Here it is recorded in `violations` and answered as GA answers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import jsonschema

from tests.contracts.server import Answer, ContractServer, Received, Route

# https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference#reserved_names
RESERVED_EVENTS = [
    "ad_activeview", "ad_click", "ad_exposure", "ad_query", "ad_reward", "adunit_exposure",
    "app_clear_data", "app_exception", "app_install", "app_remove", "app_store_refund",
    "app_update", "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update",
    "dynamic_link_first_open", "error", "firebase_campaign", "firebase_in_app_message_action",
    "firebase_in_app_message_dismiss", "firebase_in_app_message_impression", "first_open",
    "first_visit", "notification_dismiss", "notification_foreground", "notification_open",
    "notification_receive", "notification_send", "os_update", "session_start",
    "user_engagement",
    "ad_impression", "in_app_purchase", "screen_view",  # "only allowed for App streams"
]  # fmt: skip
RESERVED_USER_PROPERTIES = [
    "first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id",
    "first_open_after_install",
]  # fmt: skip
RESERVED_PREFIX = r"^(_|firebase_|ga_|google_|gtag\.)"

# https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events#limitations
# "Event names must be 40 characters or fewer, can only contain alphanumeric characters and
# underscores, and must start with an alphabetic character." Parameter names: the same.
NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
PARAMETER_VALUE = {
    "anyOf": [
        {"type": "string", "maxLength": 100},  # 100 for a standard property (500 for 360)
        {"type": "number"},
        {"type": "array", "items": {"type": "object"}},  # `items` of e-commerce events
    ]
}
EVENT = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "allOf": [
                {"pattern": NAME},
                {"maxLength": 40},
                {"not": {"enum": RESERVED_EVENTS}},
            ],
        },
        "params": {
            "type": "object",
            "maxProperties": 25,
            "propertyNames": {
                "allOf": [
                    {"pattern": NAME},
                    {"maxLength": 40},
                    {"not": {"enum": ["firebase_conversion"]}},
                    {"not": {"pattern": RESERVED_PREFIX}},
                ]
            },
            "additionalProperties": PARAMETER_VALUE,
        },
        "timestamp_micros": {"type": "integer", "minimum": 0},
    },
}
USER_PROPERTY = {
    "type": "object",
    "required": ["value"],
    "additionalProperties": False,
    "properties": {
        # "User property values must be 36 characters or fewer."
        "value": {"anyOf": [{"type": "string", "maxLength": 36}, {"type": ["number", "null"]}]},
        "timestamp_micros": {"type": "integer", "minimum": 0},
    },
}
# https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference#payload_post_body
# (gtag.js: `client_id` is required, "two positive numbers, joined by a period"; `events` is
# required, though a request may carry user properties alone: .../ga4/user-properties)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["client_id"],
    "anyOf": [{"required": ["events"]}, {"required": ["user_properties"]}],
    "additionalProperties": False,
    "properties": {
        "client_id": {"type": "string", "pattern": r"^[1-9][0-9]*\.[1-9][0-9]*$"},
        "user_id": {"type": "string", "minLength": 1, "maxLength": 256},
        "timestamp_micros": {"type": "integer", "minimum": 0},
        "user_properties": {
            "type": "object",
            "maxProperties": 25,
            "propertyNames": {
                "allOf": [
                    {"pattern": NAME},
                    {"maxLength": 24},  # "User property names must be 24 characters or fewer."
                    {"not": {"enum": RESERVED_USER_PROPERTIES}},
                    {"not": {"pattern": RESERVED_PREFIX}},
                ]
            },
            "additionalProperties": USER_PROPERTY,
        },
        "user_data": {"type": "object"},
        "consent": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ad_user_data": {"enum": ["GRANTED", "DENIED"]},
                "ad_personalization": {"enum": ["GRANTED", "DENIED"]},
            },
        },
        "non_personalized_ads": {"type": "boolean"},
        "user_location": {"type": "object"},
        "ip_override": {"type": "string"},
        "device": {"type": "object"},
        "user_agent": {"type": "string"},
        "validation_behavior": {"enum": ["RELAXED", "ENFORCE_RECOMMENDATIONS"]},
        "events": {"type": "array", "minItems": 1, "maxItems": 25, "items": EVENT},
    },
}

# https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events#validation_code
CODES = {
    "pattern": "NAME_INVALID",
    "not": "NAME_RESERVED",
    "maxLength": "VALUE_OUT_OF_BOUNDS",
    "maxItems": "EXCEEDED_MAX_ENTITIES",
    "maxProperties": "EXCEEDED_MAX_ENTITIES",
    "required": "VALUE_REQUIRED",
}


class Ga4Contract(ContractServer):
    def __init__(self, measurement_id: str, api_secret: str) -> None:
        super().__init__()
        self.measurement_id = measurement_id
        self.api_secret = api_secret
        self.routes = [
            Route("POST", "/mp/collect", self._collect),
            Route("POST", "/debug/mp/collect", self._validate),
        ]
        self.reset()

    def reset(self) -> None:
        """Forgets everything received (the server keeps running)."""
        self.clear()
        self.refuse: dict[str, str] = {}  # event or user property name -> validation code
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.user_properties: dict[str, dict[str, Any]] = defaultdict(dict)
        self.user_ids: dict[str, str] = {}
        self._property_times: dict[tuple[str, str], int] = {}

    def groups(self, client_id: str) -> set[str]:
        """The groups a client is in, from its join and leave events in time order (GA orders
        a client's events by their timestamps, not by arrival)."""
        found: set[str] = set()
        timeline = sorted(self.events[client_id], key=lambda e: e.get("timestamp_micros", 0))
        for event in timeline:
            group = event.get("params", {}).get("group_id")
            if event["name"] == "join_group":
                found.add(group)
            elif event["name"] == "leave_group":
                found.discard(group)
        return found

    def authenticate(self, request: Received) -> Answer | None:
        if request.query.get("api_secret") == [self.api_secret] and request.query.get(
            "measurement_id"
        ) == [self.measurement_id]:
            return None
        self.violations.append(f"{request.path}: wrong api_secret or measurement_id")
        if request.path.startswith("/debug/"):
            return Answer(200, {"validationMessages": []})  # it does not check them either
        return Answer(204)

    def _collect(self, request: Received, _: dict[str, str]) -> Answer:
        messages = self._messages(request)
        if messages:
            self.violations.extend(f"/mp/collect: {m['description']}" for m in messages)
            return Answer(204)  # dropped, without a word
        body = request.json()
        client = body["client_id"]
        if "user_id" in body:
            self.user_ids[client] = body["user_id"]
        self.events[client].extend(body.get("events", []))
        for name, entry in body.get("user_properties", {}).items():
            at = entry.get("timestamp_micros", body.get("timestamp_micros", 0))
            if at >= self._property_times.get((client, name), -1):  # the most recent value
                self._property_times[client, name] = at
                self.user_properties[client][name] = entry["value"]
        return Answer(204)

    def _validate(self, request: Received, _: dict[str, str]) -> Answer:
        messages = self._messages(request)
        self.violations.extend(f"/debug/mp/collect: {m['description']}" for m in messages)
        body = request.json() if not messages else {}
        for index, event in enumerate(body.get("events", [])):
            if event["name"] in self.refuse:
                messages.append(
                    {
                        "fieldPath": "events",
                        "description": f"Event at index: [{index}] has invalid params.",
                        "validationCode": self.refuse[event["name"]],
                    }
                )
        for name in body.get("user_properties", {}):
            if name in self.refuse:
                messages.append(
                    {
                        "fieldPath": "user_properties",
                        "description": f"User property [{name}] has an invalid value.",
                        "validationCode": self.refuse[name],
                    }
                )
        return Answer(200, {"validationMessages": messages})

    @staticmethod
    def _messages(request: Received) -> list[dict[str, str]]:
        """What the validation server would say of the body: GA's validation messages."""
        try:
            body = request.json()
        except ValueError:
            return [
                {
                    "fieldPath": "",
                    "description": "Unable to parse Measurement Protocol JSON payload.",
                    "validationCode": "VALUE_INVALID",
                }
            ]
        validator = jsonschema.Draft202012Validator(SCHEMA)
        return [_message(error) for error in validator.iter_errors(body)]


def _message(error: jsonschema.ValidationError) -> dict[str, str]:
    path = list(error.absolute_path)
    field = str(path[0]) if path else ""
    where = f"Event at index: [{path[1]}] " if field == "events" and len(path) > 1 else ""
    detail = f"{'/'.join(map(str, path))}: {error.message}" if path else error.message
    return {
        "fieldPath": field,
        "description": f"{where}{detail}",
        "validationCode": CODES.get(str(error.validator), "VALUE_INVALID"),
    }
