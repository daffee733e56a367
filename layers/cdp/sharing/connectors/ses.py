"""Amazon SES contact lists (the SES API v2): a segment is a topic of the account's contact list.

Reference: https://docs.aws.amazon.com/ses/latest/APIReference-V2/ (CreateContact,
UpdateContact, DeleteContact) and https://docs.aws.amazon.com/ses/latest/dg/sending-email-list-management.html
(one contact list per account and region, at most 20 topics).

The calls are AWS API calls (`sesv2:...`), made with the deliverer's own AWS credentials: no
secret. A contact is keyed by e-mail address (the person's first); a person without one is not
sent. SES has no batch call for contacts (only import jobs from S3), so each person is one
call, or two for a new contact: the deliveries of a person in one batch become one contact,
as it should be after the last of them.

**Every call sends the whole contact.** `UpdateContact` replaces a contact's topic preferences
("You must specify all existing topic preferences in the TopicPreferences object, not just the
ones that need updating; otherwise, all your existing preferences will be removed"); the
reference says nothing of attributes left out, which are taken here as cleared too (sending
them whole is right either way). So each delivery carries the whole of what SES should hold
(`Delivery.audiences_now`, `Delivery.traits_now`), and the call is made from the last
delivery of the person in the batch:
- `TopicPreferences`: `OPT_IN` for each topic in `audiences_now` (and for the topic of an
  addition in the batch); `OPT_OUT` for each topic the batch removes the person from, and for
  every other topic in the settings' `topics`. Sorted by topic name.
- `AttributesData`: the mapped traits in `traits_now` (the changed values of a `traits`
  delivery over them), as a JSON object; a trait without a value is left out. Always sent,
  `{}` when there is none, so a trait that lost its value is cleared.
- So `audience_add`, `audience_remove` and `traits` are all sent, a traits change on its own
  too, and none undoes what another sent before it. (A consent withdrawal's removals opt the
  person out of every topic; their attributes stay as its `traits_now` gives them.)

Topics the person left before this batch: without the settings' `topics`, a topic the person
left earlier is in no call any more, and SES treats it as it treats any topic a call leaves
out: the contact falls back to the topic's `DefaultSubscriptionStatus`. Give each topic the
default `OPT_OUT`, or list every topic the destination's audiences name in `topics` (then each
call sets each of them explicitly and the defaults do not matter). Topics of the list that are
no audience of this destination are reset by every call all the same: give the destination a
contact list of its own, or list them too.

`UnsubscribeAll` is never sent, as SES's own unsubscribe page sets it (the person's choice,
not this platform's; its consent decides what is sent here). The reference says what it is
("A boolean value status noting if the contact is unsubscribed from all contact list topics")
and that it is optional, but not what `UpdateContact` does with it when a call leaves it out:
its note on replacement speaks of topic preferences only. If SES reset it as it resets topics,
a person's "unsubscribe from all" would be undone by their next change here; this connector
cannot tell, as it reads no contact. A person's own opt-out of one topic on that page, which
SES records as that topic's preference, is replaced by the next change of theirs sent here.

Calls, for a person's change (known or new contact: a connector cannot know which, and SES has
no upsert):
1. `UpdateContact` with the whole contact. It carries the deliveries.
2. If SES answers `NotFoundException` (404: no such contact) and the contact opts in to a topic,
   `follow_ups` gives `CreateContact` with the same whole contact, carrying the same
   deliveries, whose outcome decides theirs (the update's counts as delivered). A create
   refused with `AlreadyExistsException` (made in between) is retried: the update takes then.
   A change that opts in to nothing (a removal, the traits of a person in no topic) creates no
   contact: for an address that is no contact it is skipped with SES's message.
- `erase`: `DeleteContact`, for each of the person's e-mail addresses. A contact that is not
  there counts as erased. Changes of the person earlier in the same batch are not sent: the
  delete carries them.

SES throttles these calls (`TooManyRequestsException`, 429): retried, as are 5xx; other errors
fail with SES's message. `base_url` and `now` do not apply: the AWS clients the deliverer
passes decide the endpoint and region.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

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
from cdp.sharing.connectors.batching import per_person

CREATE = "sesv2:CreateContact"
UPDATE = "sesv2:UpdateContact"
DELETE = "sesv2:DeleteContact"
OPT_IN, OPT_OUT = "OPT_IN", "OPT_OUT"
MAX_TOPICS = 20  # per contact list

TopicName = Annotated[str, Field(min_length=1, max_length=256)]


class SesSettings(ConnectorSettings):
    contact_list: str = Field(
        min_length=1, max_length=256, description="the contact list's name (one per account)"
    )
    topics: tuple[TopicName, ...] = Field(
        default=(),
        max_length=MAX_TOPICS,
        description="every topic the destination's audiences name: each call sets each of "
        "them (OPT_OUT unless the person is in it); without them, a topic the person left "
        "earlier falls back to its DefaultSubscriptionStatus",
    )


@dataclass
class _Contact:
    """One person's deliveries in a batch, and the contact SES should hold after them."""

    positions: list[int] = field(default_factory=list)
    said: dict[str, str] = field(default_factory=dict)  # topic -> the batch's last word
    last: Delivery | None = None

    def take(self, delivery: Delivery, position: int) -> None:
        if delivery.kind in ("audience_add", "audience_remove") and delivery.audience:
            self.said[delivery.audience] = OPT_IN if delivery.kind == "audience_add" else OPT_OUT
        self.positions.append(position)
        self.last = delivery

    def topics(self, every_topic: Sequence[str]) -> dict[str, str]:
        found = dict.fromkeys(every_topic, OPT_OUT)
        found.update(self.said)
        if self.last is not None:
            found.update(dict.fromkeys(self.last.audiences_now, OPT_IN))
        return dict(sorted(found.items()))

    def attributes(self) -> dict[str, Any]:
        if self.last is None:
            return {}
        found = dict(self.last.traits_now)
        if self.last.kind in ("audience_add", "traits"):
            found.update(self.last.traits)
        return {name: value for name, value in found.items() if value is not None}

    def parameters(self, settings: SesSettings, email: str) -> dict[str, Any]:
        return {
            "ContactListName": settings.contact_list,
            "EmailAddress": email,
            "TopicPreferences": [
                {"TopicName": topic, "SubscriptionStatus": status}
                for topic, status in self.topics(settings.topics).items()
            ],
            "AttributesData": json.dumps(self.attributes(), separators=(",", ":"), sort_keys=True),
        }


class AmazonSes:
    """No secret: the deliverer's AWS role needs `ses:CreateContact`, `ses:UpdateContact` and
    `ses:DeleteContact` on the contact list. Audiences are topic names of the list; the field
    mapping's names are the keys of the contact's attributes."""

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
        *,
        now: str | None = None,
    ) -> list[Request]:
        if not isinstance(settings, SesSettings):
            raise TypeError("the SES connector takes SesSettings")
        found: list[Request] = []
        for positions in per_person(
            deliveries, lambda d: bool(d.identifiers.emails) and d.kind in self.kinds
        ):
            contact = _Contact()
            for position in positions:
                delivery = deliveries[position]
                if delivery.kind != "erase":
                    contact.take(delivery, position)
                    continue
                # What came before is moot: no contact is made or changed only to go.
                carried = (*contact.positions, position)
                found.extend(_deletes(delivery, carried, settings.contact_list))
                contact = _Contact()
            if contact.last is not None:
                email = contact.last.identifiers.emails[0]
                body = json_body(contact.parameters(settings, email))
                found.append(
                    Request("POST", "", tuple(contact.positions), body=body, aws_operation=UPDATE)
                )
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        if 200 <= response.status < 300:
            return same_for_all(request, Outcome.delivered())
        error = _error(response)
        special = _special(request, response.status, error)
        if special is not None:
            return same_for_all(request, special)
        return by_status(request, response, error) or []

    def follow_ups(self, request: Request, response: Response) -> list[Request]:
        """The `CreateContact` after an `UpdateContact` that found no contact to opt in: the
        same whole contact, carrying the same deliveries. The deliverer sends it next."""
        if request.aws_operation != UPDATE or response.status != 404 or not _opts_in(request):
            return []
        return [Request("POST", "", request.deliveries, body=request.body, aws_operation=CREATE)]

    def skip_reason(self, delivery: Delivery) -> str | None:
        if delivery.kind == "event":
            return "Amazon SES contact lists take no events"
        if not delivery.identifiers.emails:
            return "Amazon SES keys contacts by e-mail address, and the person has none"
        return None


def _special(request: Request, status: int, error: str) -> Outcome | None:
    """SES's errors that say something else than their status: a contact not there, one
    made meanwhile."""
    if status == 404 and request.aws_operation == DELETE:
        return Outcome("delivered", f"already gone: {error}")
    if status == 404 and request.aws_operation == UPDATE:
        if _opts_in(request):
            # Not the outcome: the CreateContact that follows (`follow_ups`) decides it.
            return Outcome("delivered", f"created next: {error}")
        return Outcome("skipped", f"not a contact: {error}")
    if request.aws_operation == CREATE and error.startswith("AlreadyExistsException"):
        return Outcome("retry", f"the contact was made meanwhile: {error}", 1.0)
    return None


def _opts_in(request: Request) -> bool:
    parameters = json.loads(request.body or b"{}")
    return any(
        topic.get("SubscriptionStatus") == OPT_IN
        for topic in parameters.get("TopicPreferences", [])
    )


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


CONNECTOR = AmazonSes()
if TYPE_CHECKING:
    _conforms: Connector = CONNECTOR
