"""Mailchimp (Marketing API 3.0): an audience is a tag on one Mailchimp list, traits are the
list's merge fields, events are member events, erasure is the permanent deletion.

Reference: https://mailchimp.com/developer/marketing/api/ (list members, member tags, member
events, batch subscribe or unsubscribe; read from Mailchimp's OpenAPI description).

What each delivery becomes:
- `audience_add` and `traits`: a member in the batch subscribe/update call
  (`POST /3.0/lists/{list_id}`, up to 500 members a call) with the tag (`tags`, which only adds:
  `sync_tags` is false) and the merge fields. `update_existing` is true, so a known member is
  updated, but the call never sets `status`: it sets `status_if_new`, which Mailchimp applies
  to new members only. A person who unsubscribed stays unsubscribed, and nobody is subscribed
  by this platform unless the destination's settings ask for it (see `MailchimpSettings`).
  `skip_merge_validation` is set: a list may make a merge field required that the platform
  has no value for, and adding the person to an audience must not fail for it.
- `audience_remove`: the member's tags set inactive (`POST .../members/{hash}/tags`), one call
  per person (Mailchimp has no batch call for tags by name). A person who is not on the list
  has no tag to lose: Mailchimp's 404 is read as delivered.
- `event`: `POST .../members/{hash}/events` (a name of 2 to 30 characters, properties as
  strings). Mailchimp takes events of list members only: a 404 fails the delivery. An event
  whose name Mailchimp would refuse is carried by no call (the deliverer records it skipped,
  with the reason `skip_reason` gives).
- `erase`: `POST .../members/{hash}/actions/delete-permanent`: Mailchimp deletes the member's
  personal data and will not take the address again. 404 (not on the list) is delivered.

People are matched by their first e-mail address (the subscriber hash is the MD5 of it
lower-cased); a person without one is carried by no call. Each person's deliveries keep their
order: a person's consecutive additions and traits become one member of one batch; the next
change of that person goes into a later call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from cdp.sharing.connectors.base import (
    ConnectorSettings,
    Delivery,
    DeliveryKind,
    Outcome,
    Request,
    Response,
    by_status,
    json_body,
    same_for_all,
)
from cdp.sharing.connectors.batching import Plan, waves

BATCH_LIMIT = 500  # members per batch subscribe/update call, as the reference says
EVENT_NAME_LENGTH = (2, 30)  # "Must be 2-30 characters in length"
_DATA_CENTRE = re.compile(r"^[a-z]{2,}[0-9]+$")

Step = Literal["member", "untag", "event", "erase"]
_STEP: dict[DeliveryKind, Step] = {
    "audience_add": "member",
    "traits": "member",
    "audience_remove": "untag",
    "event": "event",
    "erase": "erase",
}


class MailchimpSettings(ConnectorSettings):
    """`list_id`: the Mailchimp list (audience) the tags are on; the API key's data centre
    (`...-us21`) names the host.

    `status_if_new`: the status a person gets when Mailchimp first hears of them.
    `transactional` (the default) puts them on the list without subscribing them to marketing
    e-mail: consent to this destination's purpose is not a subscription. `pending` asks them
    by e-mail to confirm (double opt-in); `subscribed` only where the destination's purpose
    is the e-mail subscription itself. Mailchimp applies it to new members only."""

    list_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
    status_if_new: Literal["transactional", "pending", "subscribed"] = "transactional"


@dataclass(frozen=True)
class _Call(Request):
    """A request with what reading its answer needs: what it does, and for each delivery it
    carries the address of the member it concerns (the batch answer names members so)."""

    step: Step = "member"
    emails: tuple[str, ...] = ()


class Mailchimp:
    """The secret is a Mailchimp API key (`<key>-<data centre>`), sent with HTTP basic
    authentication. `Delivery.audience` is a tag name on the settings' list; the field
    mapping's names are merge tags (`FNAME`)."""

    name = "mailchimp"
    title = "Mailchimp"
    settings = MailchimpSettings
    hashes_identifiers = False
    kinds: frozenset[DeliveryKind] = frozenset(
        {"audience_add", "audience_remove", "traits", "event", "erase"}
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
        assert isinstance(settings, MailchimpSettings)
        root = f"{(base_url or _host(secret)).rstrip('/')}/3.0/lists/{settings.list_id}"
        token = base64.b64encode(f"cdp:{secret}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        found: list[Request] = []
        planned: list[list[Plan[Step]]] = waves(deliveries, _step, merging=("member", "untag"))
        for wave in planned:
            members = [plan for plan in wave if plan.step == "member"]
            for start in range(0, len(members), BATCH_LIMIT):
                found.append(_batch(members[start : start + BATCH_LIMIT], root, headers, settings))
            for plan in wave:
                if plan.step != "member":
                    found.append(_single(plan, root, headers))
        return found

    def skip_reason(self, delivery: Delivery) -> str | None:
        if delivery.kind == "event" and not _takes_event(delivery):
            low, high = EVENT_NAME_LENGTH
            length = len(delivery.event or "")
            return f"Mailchimp takes event names of {low} to {high} characters, not {length}"
        return None

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        answer = _json(response.body)
        step = request.step if isinstance(request, _Call) else None
        if response.status == 404 and step in ("untag", "erase"):
            return same_for_all(request, Outcome.delivered())  # not on the list
        whole = by_status(request, response, _problem(answer))
        if whole is not None:
            return whole
        if step != "member" or not isinstance(request, _Call):
            return same_for_all(request, Outcome.delivered())
        errors = (answer.get("errors") or []) if isinstance(answer, dict) else []
        refused = {
            str(error.get("email_address", "")).lower(): _item_error(error)
            for error in errors
            if isinstance(error, dict)
        }
        return [
            Outcome("failed", refused[email]) if email in refused else Outcome.delivered()
            for email in request.emails
        ]


def _host(secret: str) -> str:
    data_centre = secret.rsplit("-", 1)[-1] if "-" in secret else ""
    if not _DATA_CENTRE.match(data_centre):
        raise ValueError("a Mailchimp API key ends with its data centre, as in ...-us21")
    return f"https://{data_centre}.api.mailchimp.com"


def subscriber_hash(email: str) -> str:
    """Mailchimp's id of a list member: the MD5 of the address lower-cased (an id, not a
    protection: MD5 is what Mailchimp's reference prescribes)."""
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def _step(delivery: Delivery) -> Step | None:
    """What a delivery is to the member (consecutive additions and traits are one member of one
    batch, consecutive removals one tags call); None for an event Mailchimp would refuse."""
    if delivery.kind == "event" and not _takes_event(delivery):
        return None
    return _STEP.get(delivery.kind)


def _takes_event(delivery: Delivery) -> bool:
    low, high = EVENT_NAME_LENGTH
    return low <= len(delivery.event or "") <= high


def _batch(
    plans: list[Plan[Step]], root: str, headers: Mapping[str, str], settings: MailchimpSettings
) -> _Call:
    members = []
    for plan in plans:
        tags: list[str] = []
        merge_fields: dict[str, Any] = {}
        for delivery in plan.deliveries:
            if (
                delivery.kind == "audience_add"
                and delivery.audience
                and delivery.audience not in tags
            ):
                tags.append(delivery.audience)
            merge_fields.update({name: _merge_value(v) for name, v in delivery.traits.items()})
        member: dict[str, Any] = {
            "email_address": plan.email,
            "status_if_new": settings.status_if_new,
        }
        if merge_fields:
            member["merge_fields"] = merge_fields
        if tags:
            member["tags"] = tags
        members.append(member)
    body = {"members": members, "update_existing": True, "sync_tags": False}
    return _Call(
        "POST",
        f"{root}?skip_merge_validation=true",
        tuple(position for plan in plans for position in plan.positions),
        headers,
        json_body(body),
        step="member",
        emails=tuple(plan.email for plan in plans for _ in plan.positions),
    )


def _single(plan: Plan[Step], root: str, headers: Mapping[str, str]) -> _Call:
    member = f"{root}/members/{subscriber_hash(plan.email)}"
    body: dict[str, Any] | None = None
    if plan.step == "untag":
        names = dict.fromkeys(d.audience for d in plan.deliveries if d.audience)
        url = f"{member}/tags"
        body = {"tags": [{"name": name, "status": "inactive"} for name in names]}
    elif plan.step == "event":
        delivery = plan.deliveries[0]
        url = f"{member}/events"
        body = {
            "name": delivery.event,
            "properties": {key: _text(value) for key, value in delivery.properties.items()},
        }
        if delivery.at:
            body["occurred_at"] = delivery.at
    else:
        url = f"{member}/actions/delete-permanent"
    return _Call(
        "POST",
        url,
        tuple(plan.positions),
        headers,
        json_body(body) if body is not None else None,
        step=plan.step,
        emails=tuple(plan.email for _ in plan.positions),
    )


def _merge_value(value: Any) -> Any:
    """A merge field takes a string, a number, a boolean or (an address) an object; an empty
    string clears it."""
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool | dict):
        return value
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None


def _problem(answer: Any) -> str:
    """Mailchimp's error document (RFC 9457 problem details): title, detail and the fields."""
    if not isinstance(answer, dict) or not ("title" in answer or "detail" in answer):
        return ""
    text = ": ".join(str(answer[key]) for key in ("title", "detail") if answer.get(key))
    fields = [
        f"{item.get('field') or 'body'}: {item.get('message', '')}"
        for item in answer.get("errors") or []
        if isinstance(item, dict)
    ]
    return "; ".join([text, *fields])


def _item_error(error: Mapping[str, Any]) -> str:
    text = str(error.get("error") or error.get("error_code") or "refused")
    if error.get("field"):
        text += f" ({error['field']}: {error.get('field_message', '')})"
    return text


CONNECTOR = Mailchimp()
