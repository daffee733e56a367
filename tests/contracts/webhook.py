"""A receiver of the platform's signed webhook, as the connector's docstring describes one
(`cdp.sharing.connectors.webhook`): it checks the signature over the raw body with the shared
secret, the timestamp's age, that `Idempotency-Key` is the hash of the delivery ids, and the body
against the schema below; it drops a batch it has already taken (same key), and keeps what a
receiver would: each person's audiences, traits, events, and who was erased."""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from typing import Any

from tests.contracts.server import Answer, ContractServer, Received, Route

IDENTIFIERS = {
    "type": "object",
    "required": ["emails", "phones", "user_id"],
    "additionalProperties": False,
    "properties": {
        "emails": {"type": "array", "items": {"type": "string", "minLength": 3}},
        "phones": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "user_id": {"type": ["string", "null"]},
    },
}

# The body, as the connector's module docstring publishes it (the webhook is ours: that
# docstring and the README's "Destinations" section are its reference).
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["destination", "deliveries"],
    "additionalProperties": False,
    "properties": {
        "destination": {"type": "string", "minLength": 1},
        "deliveries": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["id", "kind", "profile_id", "at", "identifiers"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "kind": {
                        "enum": ["audience_add", "audience_remove", "traits", "event", "erase"]
                    },
                    "profile_id": {"type": "string", "minLength": 1},
                    "at": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"},
                    "identifiers": IDENTIFIERS,
                    "segment_id": {"type": ["string", "null"]},
                    "audience": {"type": "string", "minLength": 1},
                    "traits": {"type": "object"},
                    "event": {"type": "string", "minLength": 1},
                    "properties": {"type": "object"},
                },
                "allOf": [
                    {
                        "if": {"properties": {"kind": {"const": "audience_add"}}},
                        "then": {
                            "required": ["segment_id", "audience", "traits"],
                            "propertyNames": {"not": {"enum": ["event", "properties"]}},
                        },
                    },
                    {
                        "if": {"properties": {"kind": {"const": "audience_remove"}}},
                        "then": {
                            "required": ["segment_id", "audience"],
                            "propertyNames": {"not": {"enum": ["traits", "event", "properties"]}},
                        },
                    },
                    {
                        "if": {"properties": {"kind": {"const": "traits"}}},
                        "then": {
                            "required": ["traits"],
                            "propertyNames": {
                                "not": {"enum": ["segment_id", "audience", "event", "properties"]}
                            },
                        },
                    },
                    {
                        "if": {"properties": {"kind": {"const": "event"}}},
                        "then": {
                            "required": ["event", "properties"],
                            "propertyNames": {
                                "not": {"enum": ["segment_id", "audience", "traits"]}
                            },
                        },
                    },
                    {
                        "if": {"properties": {"kind": {"const": "erase"}}},
                        "then": {
                            "propertyNames": {
                                "enum": ["id", "kind", "profile_id", "at", "identifiers"]
                            }
                        },
                    },
                ],
            },
        },
    },
}


class WebhookContract(ContractServer):
    def __init__(self, secret: str, *, path: str = "/hooks/cdp", now: int | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.routes = [Route("POST", path, self._take, SCHEMA)]
        self.reset(now=now)

    def reset(self, *, now: int | None = None) -> None:
        """Forgets everything received, as a new receiver would (the server keeps running)."""
        self.clear()
        self.now = now  # the receiver's clock (unix seconds); None: timestamps are not checked
        self.tolerance = 300
        self.taken_keys: set[str] = set()
        self.duplicates = 0
        self.refuse: dict[str, str] = {}  # delivery id -> why the receiver refuses it for good
        self.audiences: dict[str, set[str]] = defaultdict(set)
        self.traits: dict[str, dict[str, Any]] = defaultdict(dict)
        self.events: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.erased: list[str] = []

    def authenticate(self, request: Received) -> Answer | None:
        header = request.headers.get("x-cdp-signature", "")
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        if "t" not in fields or "v1" not in fields or not fields["t"].isdigit():
            return self._unauthorized(request, "no signature")
        expected = hmac.new(
            self.secret.encode(), f"{fields['t']}.".encode() + request.body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, fields["v1"]):
            return self._unauthorized(request, "the signature does not match the body")
        if self.now is not None and abs(self.now - int(fields["t"])) > self.tolerance:
            return self._unauthorized(request, "the signature's timestamp is too old")
        return None

    def _unauthorized(self, request: Received, reason: str) -> Answer:
        self.violations.append(f"{request.method} {request.path}: {reason}")
        return Answer(401, {"error": reason})

    def _take(self, request: Received, _: dict[str, str]) -> Answer:
        body = request.json()
        ids = [item["id"] for item in body["deliveries"]]
        key = request.headers.get("idempotency-key", "")
        if key != hashlib.sha256("\n".join(ids).encode()).hexdigest():
            self.violations.append("Idempotency-Key is not the hash of the delivery ids")
            return Answer(400, {"error": "bad Idempotency-Key"})
        if key in self.taken_keys:
            self.duplicates += 1
            return Answer(200, {"refused": []})
        self.taken_keys.add(key)
        refused = []
        for item in body["deliveries"]:
            if item["id"] in self.refuse:
                refused.append({"id": item["id"], "message": self.refuse[item["id"]]})
            else:
                self._apply(item)
        return Answer(200, {"refused": refused})

    def _apply(self, item: dict[str, Any]) -> None:
        who = item["profile_id"]
        kind = item["kind"]
        if kind == "audience_add":
            self.audiences[who].add(item["audience"])
            self._set_traits(who, item["traits"])
        elif kind == "audience_remove":
            self.audiences[who].discard(item["audience"])
        elif kind == "traits":
            self._set_traits(who, item["traits"])
        elif kind == "event":
            self.events[who].append((item["event"], item["properties"]))
        else:
            self.erased.append(who)
            self.audiences.pop(who, None)
            self.traits.pop(who, None)
            self.events.pop(who, None)

    def _set_traits(self, who: str, traits: dict[str, Any]) -> None:
        for name, value in traits.items():
            if value is None:
                self.traits[who].pop(name, None)
            else:
                self.traits[who][name] = value
