"""Braze: audiences, traits and events as user attributes and custom events (REST API,
`POST /users/track`), erasure as `POST /users/delete`.

- **Who.** A person is their `external_id` in Braze, our user id; without one, their first
  e-mail address, else their first phone number, which `/users/track` and `/users/delete`
  also take. Without any of these a delivery is carried by no request (skipped).
- **Audiences** are the values of one custom attribute array (`audience_attribute`,
  `cdp_segments` unless set): an addition is `{"add": [audience]}`, a removal
  `{"remove": [audience]}`, so Braze keeps the other values. `Delivery.audience` is the value
  written, e.g. the segment's name. Braze keeps 25 values in an array unless its dashboard
  raises the limit (up to 100).
- **Traits** are custom attributes (or Braze's profile fields, where the field mapping names
  one, e.g. `first_name`); None removes the attribute. An addition carries the person's
  mapped traits with it.
- **Events** are custom events with their time and properties. Braze takes no idempotency key:
  an event sent again after a retry is counted twice.
- **Erasure** deletes the profile (`/users/delete`, by external id; by e-mail or phone with
  the prioritization Braze asks for then, the profile without an external id first).

Batching: one object per delivery, at most 75 attribute objects and 75 event objects per
`/users/track` request, 50 identifiers (of one kind) per `/users/delete` request. A person's
deliveries keep their order: within a request their objects are in order (Braze begins with
the attributes, then the events), a person's changes are kept together in as few requests as
the limits allow, and an erasure comes after what preceded it and before what follows it.
Braze applies `/users/track` asynchronously, and warns that two requests about the same
person very close together can race; the deliverer sends requests one after the other.

Answers: 201 `{"message": "success", "errors": [...]}` names each refused object by array
and index ("minor errors", the rest is applied): only the deliveries concerned fail. 429
(rate limit; `X-RateLimit-Reset` says when, in epoch seconds, read against the answer's
`Date`) and 5xx are retried; other 4xx ("fatal errors") fail with Braze's message.

The secret is a REST API key with the `users.track` and `users.delete` permissions.
Reference: https://www.braze.com/docs/api/endpoints/user_data/post_user_track/,
https://www.braze.com/docs/api/endpoints/user_data/post_user_delete/,
https://www.braze.com/docs/api/api_limits/, https://www.braze.com/docs/api/errors/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from pydantic import Field

from cdp.sharing.connectors.base import (
    ConnectorSettings,
    Delivery,
    DeliveryKind,
    Identifiers,
    Outcome,
    Request,
    Response,
    by_status,
    json_body,
    json_object,
    retry_after,
    same_for_all,
)

TRACK_LIMIT = 75  # attribute objects, and event objects, per /users/track request
DELETE_LIMIT = 50  # identifiers per /users/delete request
# Which profile `/users/delete` removes when several share the e-mail or phone: the one made
# from our deliveries has no external id (we use the e-mail only when there is no user id).
PRIORITIZATION = ("unidentified", "most_recently_updated")
RATE_LIMIT_WAIT = 30.0  # seconds, when a 429 says nothing of when to come back

Array = Literal["attributes", "events"]


class BrazeSettings(ConnectorSettings):
    instance_url: str = Field(
        pattern=r"^https://rest\.[a-z0-9-]+\.braze\.(com|eu)$",
        description="the REST endpoint of the Braze instance, e.g. https://rest.iad-01.braze.com",
    )
    audience_attribute: str = Field(
        default="cdp_segments",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$",
        description="the custom attribute (an array) that holds the person's audiences",
    )


@dataclass
class _Track:
    """One /users/track request being filled: (position, object) per array."""

    attributes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def array(self, name: Array) -> list[tuple[int, dict[str, Any]]]:
        return self.attributes if name == "attributes" else self.events


class Braze:
    """Braze REST API. The secret is a REST API key (Settings > APIs and Identifiers) with the
    `users.track` and `users.delete` permissions; `Delivery.audience` is the value written to
    the audience attribute array."""

    name = "braze"
    title = "Braze"
    settings = BrazeSettings
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
        assert isinstance(settings, BrazeSettings)
        root = (base_url or settings.instance_url).rstrip("/")
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        # Round r of a person: what comes after their r-th erasure. Each round's updates are
        # sent before its erasures, and both before the next round.
        erasures_seen: dict[str, int] = {}
        updates: dict[int, list[tuple[int, str, Array, dict[str, Any]]]] = {}
        deletions: dict[int, list[tuple[int, tuple[str, str]]]] = {}
        for position, delivery in enumerate(deliveries):
            who = _who(delivery.identifiers)
            if who is None:
                continue
            round_ = erasures_seen.get(delivery.profile_id, 0)
            if delivery.kind == "erase":
                deletions.setdefault(round_, []).append((position, who))
                erasures_seen[delivery.profile_id] = round_ + 1
                continue
            made = _object(delivery, who, settings)
            if made is not None:
                array, body = made
                updates.setdefault(round_, []).append((position, delivery.profile_id, array, body))
        found: list[Request] = []
        for round_ in sorted(updates.keys() | deletions.keys()):
            found.extend(_track_requests(updates.get(round_, []), root, headers))
            found.extend(_delete_requests(deletions.get(round_, []), root, headers))
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        answer = json_object(response.body)
        message = str(answer.get("message") or "")
        if response.status == 429:
            text = message or "rate limited"
            return same_for_all(request, Outcome("retry", text, _rate_limit_wait(response)))
        refused = by_status(request, response, _error_text(answer))
        if refused is not None:
            return refused
        if request.url.endswith("/users/delete"):
            return same_for_all(request, Outcome.delivered())
        if message not in ("", "success", "queued"):  # 202 "queued": taken, applied later
            return same_for_all(request, Outcome("failed", message))
        return _minor_errors(request, answer.get("errors"))


def _who(identifiers: Identifiers) -> tuple[str, str] | None:
    if identifiers.user_id:
        return "external_id", identifiers.user_id
    if identifiers.emails:
        return "email", identifiers.emails[0]
    if identifiers.phones:
        return "phone", identifiers.phones[0]
    return None


def _object(
    delivery: Delivery, who: tuple[str, str], settings: BrazeSettings
) -> tuple[Array, dict[str, Any]] | None:
    """The attribute or event object that carries one delivery; the identifier is written
    last, so that no trait of the same name can point the object at someone else."""
    identity = {who[0]: who[1]}
    attribute = settings.audience_attribute
    if delivery.kind == "audience_add" and delivery.audience:
        return "attributes", {
            **delivery.traits,
            attribute: {"add": [delivery.audience]},
            **identity,
        }
    if delivery.kind == "audience_remove" and delivery.audience:
        return "attributes", {attribute: {"remove": [delivery.audience]}, **identity}
    if delivery.kind == "traits" and delivery.traits:
        return "attributes", {**delivery.traits, **identity}
    if delivery.kind == "event" and delivery.event:
        event: dict[str, Any] = {**identity, "name": delivery.event, "time": delivery.at}
        if delivery.properties:
            event["properties"] = dict(delivery.properties)
        return "events", event
    return None


def _track_requests(
    updates: list[tuple[int, str, Array, dict[str, Any]]],
    root: str,
    headers: Mapping[str, str],
) -> list[Request]:
    # A person's objects side by side (in their order), so that few requests split them.
    first_seen: dict[str, int] = {}
    for _, person, _, _ in updates:
        first_seen.setdefault(person, len(first_seen))
    ordered = sorted(updates, key=lambda update: first_seen[update[1]])
    batches = [_Track()]
    for position, _, array, body in ordered:
        if len(batches[-1].array(array)) == TRACK_LIMIT:
            batches.append(_Track())
        batches[-1].array(array).append((position, body))
    found = []
    for batch in batches:
        if not (batch.attributes or batch.events):
            continue
        payload = {
            name: [body for _, body in batch.array(name)]
            for name in ("attributes", "events")
            if batch.array(name)
        }
        carried = [position for position, _ in (*batch.attributes, *batch.events)]
        found.append(
            Request(
                "POST",
                f"{root}/users/track",
                tuple(carried),
                headers=headers,
                body=json_body(payload),
            )
        )
    return found


def _delete_requests(
    deletions: list[tuple[int, tuple[str, str]]], root: str, headers: Mapping[str, str]
) -> list[Request]:
    """`/users/delete` takes one kind of identifier per request, 50 at most."""
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for position, (kind, value) in deletions:
        by_kind.setdefault(kind, []).append((position, value))
    found = []
    for kind, people in by_kind.items():
        for start in range(0, len(people), DELETE_LIMIT):
            chunk = people[start : start + DELETE_LIMIT]
            if kind == "external_id":
                payload: dict[str, Any] = {"external_ids": [value for _, value in chunk]}
            else:
                field_name = "email_addresses" if kind == "email" else "phone_numbers"
                payload = {
                    field_name: [
                        {kind: value, "prioritization": list(PRIORITIZATION)} for _, value in chunk
                    ]
                }
            found.append(
                Request(
                    "POST",
                    f"{root}/users/delete",
                    tuple(position for position, _ in chunk),
                    headers=headers,
                    body=json_body(payload),
                )
            )
    return found


def _minor_errors(request: Request, errors: Any) -> list[Outcome]:
    """Braze's "minor errors" name the refused object by its array and index; the rest of
    the request was applied. An error that names no object cannot be placed: the
    deliveries stay delivered."""
    outcomes = [Outcome.delivered()] * len(request.deliveries)
    if not isinstance(errors, list) or not errors:
        return outcomes
    sent = json_object(request.body or b"")
    attributes = len(sent.get("attributes", []))
    sizes = {"attributes": attributes, "events": len(sent.get("events", []))}
    offsets = {"attributes": 0, "events": attributes}
    for error in errors:
        if not isinstance(error, dict):
            continue
        array, index = error.get("input_array"), error.get("index")
        if array not in sizes or not isinstance(index, int) or not 0 <= index < sizes[array]:
            continue
        text = str(error.get("type") or error.get("message") or "refused")
        outcomes[offsets[array] + index] = Outcome("failed", text)
    return outcomes


def _rate_limit_wait(response: Response) -> float:
    """Retry-After where given; else `X-RateLimit-Reset` (epoch seconds) less the answer's
    `Date` (the connector reads no clock of its own)."""
    if "retry-after" in response.headers:
        return retry_after(response, RATE_LIMIT_WAIT)
    try:
        reset = float(response.headers["x-ratelimit-reset"])
        now = parsedate_to_datetime(response.headers["date"]).timestamp()
    except (KeyError, ValueError, TypeError):
        return RATE_LIMIT_WAIT
    return max(1.0, reset - now)


def _error_text(answer: Mapping[str, Any]) -> str:
    message = str(answer.get("message") or "")
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        details = "; ".join(str(error) for error in errors[:5])
        return f"{message}: {details}" if message else details
    return message


CONNECTOR = Braze()
