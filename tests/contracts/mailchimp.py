"""Mailchimp's Marketing API 3.0, the part the connector uses, played as the reference describes.

Reference: https://mailchimp.com/developer/marketing/api/ and Mailchimp's OpenAPI description
(mailchimp/fern-marketing-api-docs, fern/apis/mailchimp-openapi/openapi.json), from which the
request schemas below are written. Errors are RFC 9457 problem documents, as Mailchimp's are
(https://mailchimp.com/developer/marketing/docs/errors/).

State kept as Mailchimp keeps it: per list, members by subscriber hash (address, status, merge
fields, tags, events), and the addresses permanently deleted, which Mailchimp refuses to take
again. What is modelled beyond the reference, and so not verified: the exact wording of the
per-member batch errors and of the merge-field refusal, and that unknown merge tags are
ignored.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.contracts.server import Answer, ContractServer, Received, Route

API_KEY = "0123456789abcdef0123456789abcdef-us21"
LIST_ID = "a1b2c3d4e5"
ERRORS = "https://mailchimp.com/developer/marketing/docs/errors/"
STATUSES = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]

_NULLABLE_STRING = {"type": ["string", "null"]}

# POST /lists/{list_id}: "Batch subscribe or unsubscribe"
# https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/
# "Up to 500 members may be added or updated with each API call" (the description of
# `members`); each member needs `status` or `status_if_new` (its `anyOf`). The reference lists
# no other member fields than these; any other is refused here to catch a connector's typo.
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["members"],
    "additionalProperties": False,
    "properties": {
        "members": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "anyOf": [{"required": ["status"]}, {"required": ["status_if_new"]}],
                "properties": {
                    "email_address": _NULLABLE_STRING,
                    "email_type": _NULLABLE_STRING,
                    "status": {"enum": STATUSES},
                    "status_if_new": {"enum": STATUSES},
                    "merge_fields": {
                        "type": ["object", "null"],
                        "additionalProperties": {"type": ["object", "string", "number", "boolean"]},
                    },
                    "interests": {
                        "type": ["object", "null"],
                        "additionalProperties": {"type": ["boolean", "null"]},
                    },
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                    "language": _NULLABLE_STRING,
                    "vip": {"type": ["boolean", "null"]},
                    "location": {
                        "type": ["object", "null"],
                        "properties": {
                            "latitude": {"type": ["number", "null"]},
                            "longitude": {"type": ["number", "null"]},
                        },
                    },
                    "ip_signup": _NULLABLE_STRING,
                    "timestamp_signup": _NULLABLE_STRING,
                    "ip_opt": _NULLABLE_STRING,
                    "timestamp_opt": _NULLABLE_STRING,
                },
            },
        },
        "sync_tags": {"type": ["boolean", "null"]},
        "update_existing": {"type": ["boolean", "null"]},
    },
}

# POST /lists/{list_id}/members/{subscriber_hash}/tags: "Add or remove member tags"
# https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
TAGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tags"],
    "additionalProperties": False,
    "properties": {
        "tags": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "status"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "status": {"enum": ["inactive", "active"]},
                },
            },
        },
        "is_syncing": {"type": "boolean"},
    },
}

# POST /lists/{list_id}/members/{subscriber_hash}/events: "Add event"
# https://mailchimp.com/developer/marketing/api/list-member-events/add-event/
# The name "Must be 2-30 characters in length"; properties are strings.
EVENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 30},
        "properties": {"type": "object", "additionalProperties": {"type": "string"}},
        "is_syncing": {"type": "boolean"},
        "occurred_at": {"type": "string", "format": "date-time"},
    },
}


@dataclass
class Member:
    email_address: str
    status: str
    merge_fields: dict[str, Any] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)


def problem(status: int, title: str, detail: str, **more: Any) -> Answer:
    body = {"type": ERRORS, "title": title, "status": status, "detail": detail}
    body["instance"] = str(uuid.uuid4())
    return Answer(status, {**body, **more}, {"content-type": "application/problem+json"})


def rate_limited(retry_after: int) -> Answer:
    """Mailchimp's answer past its limit of 10 simultaneous connections."""
    detail = "You have exceeded the limit of 10 simultaneous connections."
    answer = problem(429, "Too Many Requests", detail)
    answer.headers["Retry-After"] = str(retry_after)
    return answer


def unavailable() -> Answer:
    return problem(503, "Service Unavailable", "The service is temporarily unavailable.")


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


class MailchimpContract(ContractServer):
    def __init__(
        self,
        api_key: str = API_KEY,
        list_id: str = LIST_ID,
        merge_fields: dict[str, str] | None = None,  # merge tag -> type
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.list_id = list_id
        self.merge_fields = merge_fields or {"FNAME": "text", "LNAME": "text", "ORDERS": "number"}
        self.lists: dict[str, dict[str, Member]] = {list_id: {}}
        self.deleted: dict[str, set[str]] = {list_id: set()}  # permanently, by hash
        members = "/3.0/lists/{list_id}/members/{hash}"
        self.routes = [
            Route("POST", "/3.0/lists/{list_id}", self._batch, BATCH_SCHEMA),
            Route("POST", f"{members}/tags", self._tags, TAGS_SCHEMA),
            Route("POST", f"{members}/events", self._events, EVENTS_SCHEMA),
            Route("POST", f"{members}/actions/delete-permanent", self._delete_permanent),
        ]

    def reset(self) -> None:
        """A fresh account on the same running server (starting one costs a test half a
        second: the HTTP server's shutdown polls twice a second)."""
        with self._lock:
            self.clear()
            self.lists = {self.list_id: {}}
            self.deleted = {self.list_id: set()}

    # What a test reads.
    def member(self, email: str, list_id: str = LIST_ID) -> Member | None:
        return self.lists[list_id].get(md5(email))

    def tagged(self, tag: str, list_id: str = LIST_ID) -> set[str]:
        return {m.email_address for m in self.lists[list_id].values() if tag in m.tags}

    def authenticate(self, request: Received) -> Answer | None:
        """HTTP basic authentication, any user name, the API key as password (or the key as
        an OAuth bearer token)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        key = value
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(value).decode().partition(":")[2]
            except ValueError:
                key = ""
        if scheme.lower() in ("basic", "bearer") and key == self.api_key:
            return None
        detail = "Your API key may be invalid, or you've attempted to access the wrong datacenter."
        return problem(401, "API Key Invalid", detail)

    def refused(self, request: Received, reasons: list[str]) -> Answer:
        detail = (
            "The resource submitted could not be validated. "
            "For field-specific details, see the 'errors' array."
        )
        errors = [
            {"field": reason.partition(":")[0], "message": reason.partition(": ")[2]}
            for reason in reasons
        ]
        return problem(400, "Invalid Resource", detail, errors=errors)

    def _list(self, list_id: str) -> dict[str, Member] | None:
        return self.lists.get(list_id)

    @staticmethod
    def _not_found() -> Answer:
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def _batch(self, request: Received, path: dict[str, str]) -> Answer:
        members = self._list(path["list_id"])
        if members is None:
            return self._not_found()
        body = request.json()
        update_existing = bool(body.get("update_existing"))
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for item in body["members"]:
            email = str(item.get("email_address") or "")
            refusal = self._refusal(path["list_id"], item, email, seen)
            if refusal is not None:
                errors.append(refusal)
                continue
            seen.add(email.lower())
            key = md5(email)
            existing = members.get(key)
            if existing is not None and not update_existing:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member. Use PUT to insert or "
                        "update list members.",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                )
                continue
            if existing is None:
                status = item.get("status_if_new") or item["status"]
                existing = members[key] = Member(email.lower(), status)
                created.append(self._shown(existing, path["list_id"]))
            else:
                if item.get("status"):
                    existing.status = item["status"]
                updated.append(self._shown(existing, path["list_id"]))
            known = {
                k: v for k, v in (item.get("merge_fields") or {}).items() if k in self.merge_fields
            }
            existing.merge_fields.update(known)
            existing.tags.update(item.get("tags") or [])
        answer = {
            "new_members": created,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(created),
            "total_updated": len(updated),
            "error_count": len(errors),
            "_links": [],
        }
        return Answer(200, answer)

    def _refusal(
        self, list_id: str, item: dict[str, Any], email: str, seen: set[str]
    ) -> dict[str, Any] | None:
        def error(text: str, **more: str) -> dict[str, Any]:
            return {"email_address": email, "error": text, "error_code": "ERROR_GENERIC", **more}

        local, _, domain = email.partition("@")
        if not local or "." not in domain:
            return error(f"{email} looks fake or invalid, please enter a real email address.")
        if md5(email) in self.deleted[list_id]:
            return error(
                f"{email} was permanently deleted and cannot be re-imported. The contact must "
                "re-subscribe to get back on the list."
            )
        if email.lower() in seen:
            return error(f"{email} appears more than once in this request.")
        for tag, value in (item.get("merge_fields") or {}).items():
            if self.merge_fields.get(tag) == "number" and value != "":
                try:
                    float(value)
                except (TypeError, ValueError):
                    return error(
                        "Your merge fields were invalid.",
                        field=tag,
                        field_message="Please enter a number",
                    )
        return None

    @staticmethod
    def _shown(member: Member, list_id: str) -> dict[str, Any]:
        return {
            "id": md5(member.email_address),
            "email_address": member.email_address,
            "status": member.status,
            "merge_fields": dict(member.merge_fields),
            "tags_count": len(member.tags),
            "tags": [{"id": int(md5(tag)[:6], 16), "name": tag} for tag in sorted(member.tags)],
            "list_id": list_id,
        }

    def _member(self, path: dict[str, str]) -> Member | None:
        members = self._list(path["list_id"])
        return None if members is None else members.get(path["hash"])

    def _tags(self, request: Received, path: dict[str, str]) -> Answer:
        member = self._member(path)
        if member is None:
            return self._not_found()
        for tag in request.json()["tags"]:
            if tag["status"] == "active":
                member.tags.add(tag["name"])
            else:
                member.tags.discard(tag["name"])
        return Answer(204)

    def _events(self, request: Received, path: dict[str, str]) -> Answer:
        if "@" in path["hash"]:  # this endpoint also takes the address itself
            path = {**path, "hash": md5(path["hash"])}
        member = self._member(path)
        if member is None:
            return self._not_found()
        member.events.append(request.json())
        return Answer(204)

    def _delete_permanent(self, request: Received, path: dict[str, str]) -> Answer:
        member = self._member(path)
        if member is None:
            return self._not_found()
        del self.lists[path["list_id"]][path["hash"]]
        self.deleted[path["list_id"]].add(path["hash"])
        return Answer(204)
