"""HubSpot (CRM API v3): people are contacts keyed by e-mail, an audience is a static list
(`MANUAL` or `SNAPSHOT` processing), traits are contact properties, erasure is the GDPR delete.

References: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts
(batch upsert, batch read, GDPR delete), https://developers.hubspot.com/docs/api-reference/
legacy/crm/lists/memberships (add and remove), https://developers.hubspot.com/docs/api/
error-handling (multi-status answers, 429).

**List memberships take two steps.** HubSpot's lists API adds and removes records by their
HubSpot record id only (the v1 lists API, which took e-mail addresses, was sunset on 30 April
2026), and a contact's record id is known only from HubSpot's answer about that contact: no
single call list can be built in advance. So:

1. `requests` builds the calls that name people by e-mail address: the contact upsert
   (`POST /crm/v3/objects/contacts/batch/upsert`, 100 inputs a call, `idProperty` email), which
   carries the additions (creating the contact if HubSpot has none) and the traits; the batch
   read (`POST /crm/v3/objects/contacts/batch/read`, 100 inputs a call), which carries the
   removals (a removal creates no contact); the GDPR delete, one call per erasure.
2. `follow_ups(request, response)` builds, from the answer to an upsert or a read, the
   membership calls (`PUT /crm/v3/lists/{listId}/memberships/add-and-remove`, one per list)
   with the record ids the answer gives, carrying the same additions and removals. They must
   be sent next, before the rest; their outcomes are those deliveries' outcomes (the first
   call's outcome of such a delivery says only whether it failed or must be retried).

Both steps are safe to repeat (the deliverer sends a message again after a retry).

What each delivery becomes:
- `audience_add`: upsert the contact (with the mapped traits it carries), then add the record
  to the list `Delivery.audience` (the list's ILS id).
- `audience_remove`: read the contact's record id, then remove it from the list. A person
  HubSpot does not know is in no list: delivered after the read.
- `traits`: contact properties in the upsert (values as strings, None clears the property).
- `erase`: `POST /crm/v3/objects/contacts/gdpr-delete` by e-mail. HubSpot deletes the contact
  and everything associated with it; an address it does not know it puts on a blocklist, so
  the address is never taken again.
- HubSpot's custom events need Marketing Hub Enterprise and an event definition per event:
  this connector takes no events.

People are matched by their first e-mail address; a person without one is carried by no call.
A person's consecutive additions and traits are one upsert input, consecutive removals one
read input; a person's next change goes into a later call. Answers: the upsert and the read
answer 207 when some inputs failed: only those fail (upsert inputs are traced by
`objectWriteTraceId`). 429 waits for `Retry-After`, else the rate-limit window HubSpot names;
5xx is retried; other 4xx fail with HubSpot's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cdp.sharing.connectors.base import (
    ConnectorSettings,
    Delivery,
    DeliveryKind,
    Outcome,
    Request,
    Response,
    by_status,
    json_body,
    json_object,
    retry_after,
    same_for_all,
)
from cdp.sharing.connectors.batching import Plan, waves

API = "https://api.hubapi.com"
BATCH_LIMIT = 100  # inputs per batch upsert and batch read call
CONTACTS = "/crm/v3/objects/contacts"

Step = Literal["contact", "leave", "erase"]
_STEP: dict[DeliveryKind, Step] = {
    "audience_add": "contact",
    "traits": "contact",
    "audience_remove": "leave",
    "erase": "erase",
}


class HubSpotSettings(ConnectorSettings):
    """Nothing to set: the private app's access token names the HubSpot account. Its scopes:
    `crm.objects.contacts.read`, `crm.objects.contacts.write`, `crm.lists.read` and
    `crm.lists.write`."""


@dataclass(frozen=True)
class _Contacts(Request):
    """An upsert or a read, with what reading its answer and following it up needs: for each
    delivery it carries, the person's address and the list it joins or leaves (None for
    traits)."""

    step: Literal["upsert", "read"] = "upsert"
    emails: tuple[str, ...] = ()
    lists: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class _Memberships(Request):
    """A list's membership change, with the record id each carried delivery concerns."""

    adding: bool = True
    records: tuple[str, ...] = ()


class HubSpot:
    """The secret is a private app's access token (sent as a bearer token).
    `Delivery.audience` is a HubSpot list id (the ILS `listId` of a `MANUAL` or `SNAPSHOT`
    contact list); the field mapping's names are contact property names (`firstname`)."""

    name = "hubspot"
    title = "HubSpot"
    settings = HubSpotSettings
    hashes_identifiers = False
    kinds: frozenset[DeliveryKind] = frozenset(
        {"audience_add", "audience_remove", "traits", "erase"}
    )

    def requests(
        self,
        deliveries: Sequence[Delivery],
        settings: ConnectorSettings,
        secret: str,
        base_url: str | None = None,
        *,
        now: str | None = None,  # unused: no call of this tool says when it is made
    ) -> list[Request]:
        root = (base_url or API).rstrip("/")
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        found: list[Request] = []
        # Consecutive additions and traits are one contact input, consecutive removals one
        # read input.
        planned: list[list[Plan[Step]]] = waves(
            deliveries, lambda d: _STEP.get(d.kind), merging=("contact", "leave")
        )
        for wave in planned:
            for step in ("contact", "leave"):
                plans = [plan for plan in wave if plan.step == step]
                for start in range(0, len(plans), BATCH_LIMIT):
                    chunk = plans[start : start + BATCH_LIMIT]
                    found.append(_contacts(chunk, root, headers))
            for plan in wave:
                if plan.step == "erase":
                    body = {"objectId": plan.email, "idProperty": "email"}
                    url = f"{root}{CONTACTS}/gdpr-delete"
                    found.append(
                        Request("POST", url, tuple(plan.positions), headers, json_body(body))
                    )
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        answer = json_object(response.body)
        whole = _by_status(request, response, answer)
        if whole is not None:
            return whole
        if isinstance(request, _Memberships):
            missing = set(_strings(answer.get("recordIdsMissing")))
            return [
                Outcome("failed", f"HubSpot has no record {record} to add to the list")
                if request.adding and record in missing
                else Outcome.delivered()
                for record in request.records
            ]
        if not isinstance(request, _Contacts):
            return same_for_all(request, Outcome.delivered())
        refused = _refused(request, answer)
        records = _records(request, answer) if request.step == "upsert" else {}
        found: list[Outcome] = []
        for email, list_id in zip(request.emails, request.lists, strict=True):
            if email in refused:
                found.append(Outcome("failed", refused[email]))
            elif request.step == "upsert" and list_id is not None and email not in records:
                found.append(Outcome("failed", "HubSpot's answer gave no record id for it"))
            else:
                found.append(Outcome.delivered())  # an addition or removal: for now
        return found

    def follow_ups(self, request: Request, response: Response) -> list[Request]:
        """The membership calls that finish the additions and removals `request` carried,
        built from HubSpot's answer to it (the record ids); none when it carried none or was
        not answered with success. The deliverer sends them right after `request`, and
        settles those deliveries by their outcomes."""
        if not isinstance(request, _Contacts) or not 200 <= response.status < 300:
            return []
        answer = json_object(response.body)
        records = _records(request, answer)
        refused = _refused(request, answer)
        changes: dict[str, list[tuple[int, str]]] = {}
        for position, email, list_id in zip(
            request.deliveries, request.emails, request.lists, strict=True
        ):
            if list_id is not None and email not in refused and email in records:
                changes.setdefault(list_id, []).append((position, records[email]))
        root = request.url.split(CONTACTS, 1)[0]
        adding = request.step == "upsert"
        found: list[Request] = []
        for list_id, carried in changes.items():
            ids = list(dict.fromkeys(record for _, record in carried))
            body = {
                "recordIdsToAdd": ids if adding else [],
                "recordIdsToRemove": [] if adding else ids,
            }
            found.append(
                _Memberships(
                    "PUT",
                    f"{root}/crm/v3/lists/{list_id}/memberships/add-and-remove",
                    tuple(position for position, _ in carried),
                    request.headers,
                    json_body(body),
                    adding=adding,
                    records=tuple(record for _, record in carried),
                )
            )
        return found


def _contacts(plans: list[Plan[Step]], root: str, headers: Mapping[str, str]) -> _Contacts:
    step = plans[0].step
    carried = [
        (position, plan.email, delivery)
        for plan in plans
        for position, delivery in zip(plan.positions, plan.deliveries, strict=True)
    ]
    lists = tuple(
        d.audience if d.kind in ("audience_add", "audience_remove") and d.audience else None
        for _, _, d in carried
    )
    body: dict[str, Any]
    if step == "contact":
        inputs = []
        for trace, plan in enumerate(plans):
            properties: dict[str, str] = {"email": plan.email}
            for delivery in plan.deliveries:
                properties.update({k: _property(v) for k, v in delivery.traits.items()})
            properties["email"] = plan.email  # the key is not a trait to overwrite
            inputs.append(
                {
                    "idProperty": "email",
                    "id": plan.email,
                    "objectWriteTraceId": str(trace),
                    "properties": properties,
                }
            )
        url = f"{root}{CONTACTS}/batch/upsert"
        body = {"inputs": inputs}
    else:
        url = f"{root}{CONTACTS}/batch/read"
        body = {
            "idProperty": "email",
            "inputs": [{"id": plan.email} for plan in plans],
            "properties": ["email"],
            "propertiesWithHistory": [],
        }
    return _Contacts(
        "POST",
        url,
        tuple(p for p, _, _ in carried),
        headers,
        json_body(body),
        step="upsert" if step == "contact" else "read",
        emails=tuple(email for _, email, _ in carried),
        lists=lists,
    )


def _property(value: Any) -> str:
    """HubSpot takes property values as strings; an empty string clears the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ";".join(value)  # a multiple checkboxes property's values
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _inputs(request: _Contacts) -> list[str]:
    """The addresses of the request's inputs, in order (an upsert's trace ids are indexes)."""
    return [str(item.get("id", "")) for item in json_object(request.body or b"").get("inputs", [])]


def _records(request: _Contacts, answer: Mapping[str, Any]) -> dict[str, str]:
    """Address -> HubSpot record id, from an upsert's or a read's results."""
    inputs = _inputs(request)
    found: dict[str, str] = {}
    for result in answer.get("results") or []:
        if not isinstance(result, dict) or "id" not in result:
            continue
        trace = str(result.get("objectWriteTraceId", ""))
        email = str((result.get("properties") or {}).get("email") or "").lower()
        if trace.isdigit() and int(trace) < len(inputs):
            email = inputs[int(trace)]
        if email:
            found[email] = str(result["id"])
    return found


def _refused(request: _Contacts, answer: Mapping[str, Any]) -> dict[str, str]:
    """Address -> HubSpot's words, for the inputs a multi-status answer refused. A read's
    "not found" is no refusal: a person HubSpot does not know is in no list."""
    inputs = _inputs(request)
    refused: dict[str, str] = {}
    for error in answer.get("errors") or []:
        if not isinstance(error, dict) or error.get("category") == "OBJECT_NOT_FOUND":
            continue
        context = error.get("context") or {}
        traces = _strings(context.get("objectWriteTraceId")) or _strings(
            [error.get("objectWriteTraceId")]
        )
        emails = [inputs[int(t)] for t in traces if t.isdigit() and int(t) < len(inputs)]
        emails += [e.lower() for e in _strings(context.get("ids")) if e.lower() in inputs]
        for email in emails:
            refused[email] = _error_text(error)
    return refused


def _by_status(request: Request, response: Response, answer: Any) -> list[Outcome] | None:
    text = _error_text(answer) if isinstance(answer, dict) else ""
    whole = by_status(request, response, text)
    if response.status == 429 and whole is not None:
        wait = _rate_limit_wait(response, answer)
        return same_for_all(request, Outcome("retry", text or "429", wait))
    return whole


def _rate_limit_wait(response: Response, answer: Any) -> float:
    """`Retry-After` where HubSpot sends it, else the window its rate-limit headers name,
    else a ten-second window (an hour for the daily limit)."""
    window = response.headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
    fallback = float(window) / 1000 if window.isdigit() else 10.0
    if isinstance(answer, dict) and answer.get("policyName") == "DAILY":
        fallback = 3600.0
    return retry_after(response, default=fallback)


def _error_text(error: Mapping[str, Any]) -> str:
    text = ": ".join(str(error[key]) for key in ("category", "message") if error.get(key))
    details = [
        str(item.get("message"))
        for item in error.get("errors") or []
        if isinstance(item, dict) and item.get("message")
    ]
    return "; ".join([text, *details]) if details else text


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    return []


CONNECTOR = HubSpot()
