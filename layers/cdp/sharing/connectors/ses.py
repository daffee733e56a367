"""Amazon SES contact lists (the SES API v2): a segment is a topic of the account's contact list.

Reference: https://docs.aws.amazon.com/ses/latest/APIReference-V2/ (CreateContact,
UpdateContact, DeleteContact) and https://docs.aws.amazon.com/ses/latest/dg/sending-email-list-management.html
(one contact list per account and region, at most 20 topics).

The calls are AWS API calls (`sesv2:...`), made with the deliverer's own AWS credentials: no
secret. A contact is keyed by e-mail address (the person's first); a person without one is not
sent. SES has no batch call for contacts (only import jobs from S3), so each person is one or
two calls: the deliveries of a person in one batch are merged into one change, in order (the
last word on a topic wins).

- `audience_add`: the contact's preference for the topic becomes `OPT_IN`; `audience_remove`:
  `OPT_OUT`. The mapped traits an addition carries, and `traits` changes in the same batch,
  become the contact's `AttributesData`, as a JSON object (None: the attribute is left out).
- `traits` alone are not sent (the deliverer records them as skipped): `UpdateContact` would
  reset the contact's topic preferences with them (below). They reach SES with the person's
  next addition, which carries all their mapped traits.
- `erase`: `DeleteContact`, for each of the person's e-mail addresses. A contact that is not
  there counts as erased. Changes of the person earlier in the same batch are not sent: the
  delete carries them.

New or known contact: a connector cannot know which, and SES has no upsert: `CreateContact`
fails with `AlreadyExistsException` (400) for a known address, `UpdateContact` with
`NotFoundException` (404) for an unknown one. So a change that opts the person in to a topic
is two calls, in this order: `CreateContact` with the whole change, which carries no delivery
(for a known address its `AlreadyExistsException` is expected and ignored), then
`UpdateContact` with the same change, which carries the deliveries and is what their outcome
is read from. It cannot meet an unknown contact unless the create did not take (throttled, or
refused: then the create's own error is what to look at); it is retried. A change that only
opts out is `UpdateContact` alone: for an address that is no contact there is nothing to
change, and the deliveries are skipped with SES's message.

What SES replaces: `UpdateContact` sets the contact's topic preferences and attributes as a
whole ("You must specify all existing topic preferences ..., otherwise, all your existing
preferences will be removed"; attributes left out are cleared too). A delivery tells of one
change, not of the person's whole membership: a person in two topics who is added to a third
loses their explicit preference for the other two (back to each topic's default), and a removal
clears the contact's attributes. Give each topic `DefaultSubscriptionStatus` `OPT_OUT`. This
connector is exact for a destination that syncs one segment, until each delivery carries the
person's whole membership of the destination's topics and all their mapped traits (an
addition to `Delivery` it needs; then every change, traits alone too, can be sent whole).
`UnsubscribeAll` is never sent: SES's own unsubscribe link is the person's to use, and the
platform's consent decides what is sent here.

429 (`TooManyRequestsException`) and 5xx are retried; other errors fail with SES's message.
`base_url` does not apply: the AWS clients the deliverer passes decide the endpoint and region.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from cdp.sharing.connectors.base import (
    Connector,
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

CREATE = "sesv2:CreateContact"
UPDATE = "sesv2:UpdateContact"
DELETE = "sesv2:DeleteContact"
OPT_IN, OPT_OUT = "OPT_IN", "OPT_OUT"


class SesSettings(ConnectorSettings):
    contact_list: str = Field(
        min_length=1, max_length=256, description="the contact list's name (one per account)"
    )


@dataclass
class _Change:
    """One person's deliveries merged: topic -> OPT_IN/OPT_OUT, and their attributes."""

    topics: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] | None = None
    positions: list[int] = field(default_factory=list)

    def take(self, delivery: Delivery, position: int) -> None:
        if delivery.kind in ("audience_add", "audience_remove") and delivery.audience:
            self.topics.pop(delivery.audience, None)  # keeps the order of the last word
            self.topics[delivery.audience] = OPT_IN if delivery.kind == "audience_add" else OPT_OUT
        if delivery.kind in ("audience_add", "traits") and delivery.traits:
            self.attributes = {**(self.attributes or {}), **delivery.traits}
        self.positions.append(position)

    def parameters(self, contact_list: str, email: str) -> dict[str, Any]:
        found: dict[str, Any] = {"ContactListName": contact_list, "EmailAddress": email}
        if self.topics:
            found["TopicPreferences"] = [
                {"TopicName": topic, "SubscriptionStatus": status}
                for topic, status in self.topics.items()
            ]
        if self.attributes is not None:
            kept = {name: value for name, value in self.attributes.items() if value is not None}
            found["AttributesData"] = json.dumps(kept, separators=(",", ":"), sort_keys=True)
        return found


class AmazonSes:
    """No secret: the deliverer's AWS role needs `ses:CreateContact`, `ses:UpdateContact` and
    `ses:DeleteContact` on the contact list. Audiences are topic names of the list."""

    name = "ses"
    title = "Amazon SES"
    settings: type[ConnectorSettings] = SesSettings
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
    ) -> list[Request]:
        if not isinstance(settings, SesSettings):
            raise TypeError("the SES connector takes SesSettings")
        people: dict[str, list[int]] = {}
        for position, delivery in enumerate(deliveries):
            if delivery.identifiers.emails and delivery.kind in self.kinds:
                people.setdefault(delivery.profile_id, []).append(position)
        found: list[Request] = []
        for positions in people.values():
            change = _Change()
            for position in positions:
                delivery = deliveries[position]
                if delivery.kind != "erase":
                    change.take(delivery, position)
                    continue
                # What came before is moot: no contact is made or changed only to go.
                carried = (*change.positions, position)
                found.extend(_deletes(delivery, carried, settings.contact_list))
                change = _Change()
            found.extend(_updates(change, settings.contact_list, deliveries))
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        if not request.deliveries:
            return []
        if 200 <= response.status < 300:
            return same_for_all(request, Outcome.delivered())
        error = _error(response)
        if response.status == 404 and request.aws_operation == DELETE:
            return same_for_all(request, Outcome("delivered", f"already gone: {error}"))
        if response.status == 404 and request.aws_operation == UPDATE:
            parameters = json.loads(request.body or b"{}")
            if not any(
                topic["SubscriptionStatus"] == OPT_IN
                for topic in parameters.get("TopicPreferences", [])
            ):
                return same_for_all(request, Outcome("skipped", f"not a contact: {error}"))
            return same_for_all(
                request,
                Outcome("retry", f"the contact was not created (see CreateContact): {error}", 5.0),
            )
        return by_status(request, response, error) or []


def _updates(change: _Change, contact_list: str, deliveries: Sequence[Delivery]) -> list[Request]:
    if not change.topics:
        return []  # traits alone: sent with the next audience change (see the module)
    email = deliveries[change.positions[-1]].identifiers.emails[0]
    body = json_body(change.parameters(contact_list, email))
    update = Request("POST", "", tuple(change.positions), body=body, aws_operation=UPDATE)
    if OPT_IN not in change.topics.values():
        return [update]
    return [Request("POST", "", (), body=body, aws_operation=CREATE), update]


def _deletes(delivery: Delivery, carried: tuple[int, ...], contact_list: str) -> list[Request]:
    """One call per address; the deliveries ride on the first (the address the contact was
    made with), the others are best effort."""
    return [
        Request(
            "POST",
            "",
            carried if n == 0 else (),
            body=json_body({"ContactListName": contact_list, "EmailAddress": email}),
            aws_operation=DELETE,
        )
        for n, email in enumerate(delivery.identifiers.emails)
    ]


def _error(response: Response) -> str:
    try:
        answer = json.loads(response.body or b"{}")
    except ValueError:
        return response.body[:500].decode("utf-8", "replace")
    if not isinstance(answer, dict):
        return str(answer)[:500]
    return f"{answer.get('Code', '')}: {answer.get('Message', '')}".strip(": ")


CONNECTOR: Connector = AmazonSes()
