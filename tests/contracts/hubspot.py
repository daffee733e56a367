"""HubSpot's CRM API v3, the part the connector uses, played as the reference describes.

References (the request schemas below are written from them):
- contacts, batch upsert and batch read:
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/read-contacts
- GDPR delete: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/gdpr/gdpr-delete-contact
- list memberships: https://developers.hubspot.com/docs/api-reference/legacy/crm/lists/memberships/update-list-memberships
- errors, multi-status answers and 429: https://developers.hubspot.com/docs/api/error-handling

State kept as HubSpot keeps it: contacts (record id, properties) found by e-mail, lists with
their processing type and members (record ids), and the addresses a GDPR delete put on the
blocklist. Modelled beyond the reference, so not verified: the exact wording of errors, that a
multi-status error names its input in `context.objectWriteTraceId`, and that a batch whose
inputs are not all traced fails whole (as HubSpot's batch writes do without multi-status).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.contracts.server import Answer, ContractServer, Received, Route

TOKEN = "pat-eu1-00000000-0000-0000-0000-000000000000"  # a test's fake token
LIST_ID = "101"
SNAPSHOT_LIST_ID = "303"
DYNAMIC_LIST_ID = "202"
NOW = "2025-03-01T10:00:00.000Z"

# Batch upsert: `inputs` of {id, properties, idProperty, objectWriteTraceId}; `id` and
# `properties` (property name -> string value) required. Batch endpoints take 100 inputs
# ("limited to 100 records per request", the CRM API's batch limit).
UPSERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "additionalProperties": False,
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["id", "properties"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "idProperty": {"type": "string"},
                    "objectWriteTraceId": {"type": "string"},
                    "properties": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}

# Batch read: `inputs` of {id}, `properties` and `propertiesWithHistory` required, `idProperty`
# for a unique property such as email; 100 inputs a call.
READ_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs", "properties", "propertiesWithHistory"],
    "additionalProperties": False,
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {"id": {"type": "string"}},
            },
        },
        "properties": {"type": "array", "items": {"type": "string"}},
        "propertiesWithHistory": {"type": "array", "items": {"type": "string"}},
        "idProperty": {"type": "string"},
    },
}

# GDPR delete: `objectId` required; `idProperty` email to name the contact by address.
GDPR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["objectId"],
    "additionalProperties": False,
    "properties": {"objectId": {"type": "string"}, "idProperty": {"type": "string"}},
}

# Add and/or remove records: both arrays of record ids required.
MEMBERSHIPS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["recordIdsToAdd", "recordIdsToRemove"],
    "additionalProperties": False,
    "properties": {
        "recordIdsToAdd": {"type": "array", "items": {"type": "string"}},
        "recordIdsToRemove": {"type": "array", "items": {"type": "string"}},
    },
}


@dataclass
class Contact:
    id: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class HubSpotList:
    processing_type: str  # MANUAL, SNAPSHOT or DYNAMIC
    members: set[str] = field(default_factory=set)  # record ids


def error(status: int, category: str, message: str, **more: Any) -> Answer:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4())}
    return Answer(status, {**body, "category": category, **more})


def rate_limited(retry_after: int | None = None, policy: str = "SECONDLY") -> Answer:
    """HubSpot's 429 (https://developers.hubspot.com/docs/api/usage-details)."""
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Answer(429, body, headers)


def unavailable() -> Answer:
    return Answer(502, b"<html><body>502 Bad Gateway</body></html>")


class HubSpotContract(ContractServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.known_properties = {"email", "firstname", "lastname", "plan", "lifetime_value"}
        self._fresh()
        contacts = "/crm/v3/objects/contacts"
        self.routes = [
            Route("POST", f"{contacts}/batch/upsert", self._upsert, UPSERT_SCHEMA),
            Route("POST", f"{contacts}/batch/read", self._read, READ_SCHEMA),
            Route("POST", f"{contacts}/gdpr-delete", self._gdpr_delete, GDPR_SCHEMA),
            Route(
                "PUT",
                "/crm/v3/lists/{list_id}/memberships/add-and-remove",
                self._memberships,
                MEMBERSHIPS_SCHEMA,
            ),
        ]

    def _fresh(self) -> None:
        self.contacts: dict[str, Contact] = {}  # record id -> contact
        self.lists = {
            LIST_ID: HubSpotList("MANUAL"),
            SNAPSHOT_LIST_ID: HubSpotList("SNAPSHOT"),
            DYNAMIC_LIST_ID: HubSpotList("DYNAMIC"),
        }
        self.blocklist: set[str] = set()
        self._ids = itertools.count(501)

    def reset(self) -> None:
        """A fresh account on the same running server (starting one costs a test half a
        second: the HTTP server's shutdown polls twice a second)."""
        with self._lock:
            self.clear()
            self._fresh()

    # What a test reads.
    def contact(self, email: str) -> Contact | None:
        found = [c for c in self.contacts.values() if c.properties.get("email") == email.lower()]
        return found[0] if found else None

    def members(self, list_id: str = LIST_ID) -> set[str]:
        """The e-mail addresses of a list's members."""
        return {
            self.contacts[record].properties["email"]
            for record in self.lists[list_id].members
            if record in self.contacts
        }

    def authenticate(self, request: Received) -> Answer | None:
        if request.headers.get("authorization", "") == f"Bearer {self.token}":
            return None
        return error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
            "oauth-overview",
        )

    def refused(self, request: Received, reasons: list[str]) -> Answer:
        return error(
            400,
            "VALIDATION_ERROR",
            "Invalid input JSON on line 1",
            errors=[{"message": reason} for reason in reasons],
        )

    def _upsert(self, request: Received, path: dict[str, str]) -> Answer:
        inputs = request.json()["inputs"]
        ids = [str(item["id"]).lower() for item in inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            return error(
                400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {duplicates}"
            )
        traced = all("objectWriteTraceId" in item for item in inputs)
        results, errors = [], []
        for item in inputs:
            problem = self._invalid(item)
            if problem is not None:
                errors.append(problem)
                continue
            results.append(self._write(item))
        if errors and not traced:  # without multi-status, one bad input fails the batch
            return error(400, "VALIDATION_ERROR", errors[0]["message"])
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": NOW,
            "completedAt": NOW,
        }
        if errors:
            answer.update(errors=errors, numErrors=len(errors))
        return Answer(207 if errors else 200, answer)

    def _invalid(self, item: dict[str, Any]) -> dict[str, Any] | None:
        email = str(item["id"]).lower()
        wrong: list[dict[str, str]] = []
        if item.get("idProperty") != "email":
            wrong.append({"message": "this contract keys contacts by email only"})
        local, _, domain = email.partition("@")
        if not local or "." not in domain:
            invalid = f"Email address {email} is invalid"
            wrong.append({"message": invalid, "error": "INVALID_EMAIL"})
        if email in self.blocklist:
            wrong.append(
                {"message": f"{email} was permanently deleted (GDPR)", "error": "BLOCKLISTED"}
            )
        for name in item["properties"]:
            if name not in self.known_properties:
                wrong.append(
                    {
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                    }
                )
        if not wrong:
            return None
        details = ",".join(
            f'{{"isValid":false,"message":"{w["message"]}","error":"{w.get("error", "INVALID")}"}}'
            for w in wrong
        )
        found = {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": f"Property values were not valid: [{details}]",
            "context": {},
        }
        if "objectWriteTraceId" in item:
            found["context"] = {"objectWriteTraceId": [item["objectWriteTraceId"]]}
        return found

    def _write(self, item: dict[str, Any]) -> dict[str, Any]:
        email = str(item["id"]).lower()
        contact = self.contact(email)
        new = contact is None
        if contact is None:
            contact = Contact(str(next(self._ids)), {"email": email})
            self.contacts[contact.id] = contact
        for name, value in item["properties"].items():
            if value == "":
                contact.properties.pop(name, None)
            else:
                contact.properties[name] = value
        contact.properties["email"] = email
        result = {
            "id": contact.id,
            "properties": {**contact.properties, "hs_object_id": contact.id},
            "createdAt": NOW,
            "updatedAt": NOW,
            "archived": False,
            "new": new,
        }
        if "objectWriteTraceId" in item:
            result["objectWriteTraceId"] = item["objectWriteTraceId"]
        return result

    def _read(self, request: Received, path: dict[str, str]) -> Answer:
        body = request.json()
        by_email = body.get("idProperty") == "email"
        results, missing = [], []
        for item in body["inputs"]:
            key = item["id"]
            contact = self.contact(key) if by_email else self.contacts.get(key)
            if contact is None:
                missing.append(key)
                continue
            wanted = {name: contact.properties.get(name) for name in body["properties"]}
            results.append(
                {
                    "id": contact.id,
                    "properties": {**wanted, "hs_object_id": contact.id},
                    "createdAt": NOW,
                    "updatedAt": NOW,
                    "archived": False,
                }
            )
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": NOW,
            "completedAt": NOW,
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
        return Answer(207 if missing else 200, answer)

    def _gdpr_delete(self, request: Received, path: dict[str, str]) -> Answer:
        body = request.json()
        if body.get("idProperty") == "email":
            contact = self.contact(body["objectId"])
            if contact is None:
                self.blocklist.add(body["objectId"].lower())  # as the reference says
                return Answer(204)
        else:
            contact = self.contacts.get(body["objectId"])
            if contact is None:
                return error(404, "OBJECT_NOT_FOUND", "resource not found")
        del self.contacts[contact.id]
        for hubspot_list in self.lists.values():
            hubspot_list.members.discard(contact.id)
        return Answer(204)

    def _memberships(self, request: Received, path: dict[str, str]) -> Answer:
        hubspot_list = self.lists.get(path["list_id"])
        if hubspot_list is None:
            return error(404, "OBJECT_NOT_FOUND", f"List {path['list_id']} does not exist.")
        if hubspot_list.processing_type == "DYNAMIC":
            return error(
                400,
                "VALIDATION_ERROR",
                f"List {path['list_id']} has processingType DYNAMIC: only MANUAL or SNAPSHOT "
                "lists can have their memberships changed.",
            )
        body = request.json()
        added, removed, missing = [], [], []
        for record in body["recordIdsToAdd"]:
            if record not in self.contacts:
                missing.append(record)
            elif record not in hubspot_list.members:
                hubspot_list.members.add(record)
                added.append(record)
        for record in body["recordIdsToRemove"]:
            if record not in self.contacts:
                missing.append(record)
            elif record in hubspot_list.members:
                hubspot_list.members.discard(record)
                removed.append(record)
        return Answer(
            200,
            {"recordIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing},
        )
