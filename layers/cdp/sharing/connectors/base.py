"""What every connector takes and gives back.

- A `Delivery` is one thing a destination must hear about one person: joined an audience, left
  it, traits changed, did something (an event), or was erased. It carries the person's
  identifiers as the destination matches people (e-mail addresses, phone numbers, user id), in
  the platform's normalised form; a connector hashes them where the tool wants hashes.
- `Connector.requests` groups deliveries into as few API calls as the tool's batch limits allow;
  each `Request` says which deliveries it carries (their positions in the list given).
- `Connector.outcomes` reads the tool's answer to one request: one `Outcome` per delivery it
  carries. `retry` when the tool asks for it (rate limits, its own errors), with the seconds it
  asked to wait; `failed` when the tool refused the delivery for good (what it said, in its
  words; the deliverer strips personal data from the message before keeping it).

Requests are HTTP (`method`, `url`, `headers`, `body`), or, for AWS services, an API call
(`aws_operation` with its parameters in `body` as JSON) that the deliverer makes with botocore
and answers like HTTP: the status code AWS gave and its error as a JSON body
(`{"Code": ..., "Message": ...}`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ConfigDict

from cdp.runtime.models import Model

DeliveryKind = Literal["audience_add", "audience_remove", "traits", "event", "erase"]


@dataclass(frozen=True)
class Identifiers:
    """Who the person is, to the destination. E-mail addresses lower-cased and trimmed; phone
    numbers as stored (E.164 where the source sent it so)."""

    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    user_id: str | None = None

    def any(self) -> bool:
        return bool(self.emails or self.phones or self.user_id)


@dataclass(frozen=True)
class Delivery:
    """One thing one destination must hear about one person.

    - `audience_add` / `audience_remove`: `audience` names the list or tag on the tool's side
      (from the destination's configuration for `segment_id`).
    - `traits`: `traits` holds the changed values, renamed by the destination's field mapping
      (None: the trait no longer has a value).
    - `event`: `event` is the name, `properties` its properties, `at` when it happened.
    - `erase`: the person was erased; the tool's deletion call, where it has one.
    """

    id: str  # the same on a redelivery: tools that take an idempotency key get this one
    destination: str
    kind: DeliveryKind
    profile_id: str
    identifiers: Identifiers
    at: str  # ISO 8601, UTC
    segment_id: str | None = None
    audience: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    event: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    # The whole of what the tool should hold after this delivery, for tools whose update
    # replaces a contact whole (Amazon SES): every audience of the destination the person is
    # in, and every mapped trait's value (additions, removals and trait changes carry them).
    audiences_now: tuple[str, ...] = ()
    traits_now: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    deliveries: tuple[int, ...]  # positions, in the list given to `requests`, of what it carries
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    aws_operation: str | None = None  # e.g. "sesv2:CreateContact"; then `body` is its JSON


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True)
class Outcome:
    state: Literal["delivered", "retry", "failed", "skipped"]
    message: str = ""  # the tool's own words (for `failed`, `retry` and `skipped`)
    retry_after: float | None = None  # seconds, when the tool said

    @classmethod
    def delivered(cls) -> Outcome:
        return cls("delivered")


class ConnectorSettings(Model):
    """A connector's settings: what identifies the account, list or property on the tool's side
    (never the secret, which Secrets Manager holds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Connector(Protocol):
    """One tool's API. `name` is what a destination's `connector` says."""

    name: str
    title: str  # as people name the tool: "Mailchimp"
    settings: type[ConnectorSettings]
    hashes_identifiers: bool  # the tool takes SHA-256 hashes, never the identifiers themselves
    kinds: frozenset[DeliveryKind]  # what it can receive

    def requests(
        self,
        deliveries: Sequence[Delivery],
        settings: ConnectorSettings,
        secret: str,
        base_url: str | None = None,
        *,
        now: str | None = None,
    ) -> list[Request]:
        """The calls that carry `deliveries`, in an order that keeps each person's in order.
        `base_url`, when given, replaces the tool's own address (the contract servers in tests,
        sandboxes in `cdp dev`). `now` is the deliverer's clock as the calls are built (ISO
        8601, UTC), for what must say when a call is made rather than when its deliveries
        happened (the webhook's signature: on a retry the deliveries' `at` is old); connectors
        read no clock, and most ignore it. A delivery the tool cannot take (no identifier it
        matches by) is carried by no request: the deliverer records it as skipped."""
        ...

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        """One outcome per delivery `request` carries, in its order.

        Optional methods, which the deliverer (and, for the last, the destination's check)
        looks for:
        - `follow_ups(request, response) -> list[Request]`, for a connector whose calls depend
          on an earlier answer (HubSpot: list memberships by the record ids its contacts call
          answers with): the calls to send next, carrying the same deliveries; each delivery
          counts at the worst of its calls' outcomes.
        - `skip_reason(delivery) -> str | None`: why the tool does not take a delivery that no
          request carries, or whose kind is not in `kinds` (GA4: the Measurement Protocol has
          no deletion call; an event name GA reserves), in words for the people who watch the
          destination, without the person's identifiers. None: the deliverer's own words (a
          kind the tool has no call for; no identifier it matches people by).
        - `audience_refusal(audience, settings) -> str | None`: why a destination with these
          settings cannot have this audience (Meta: one its erasures would not reach), so
          the definition is refused before anything is sent. None: it can."""
        ...


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_object(body: bytes) -> dict[str, Any]:
    """An answer's (or a request's) JSON object; {} for no body, no JSON, or no object."""
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def retry_after(response: Response, default: float) -> float:
    """The seconds a `Retry-After` header asks for (a number of seconds), or `default`."""
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return default


def same_for_all(request: Request, outcome: Outcome) -> list[Outcome]:
    return [outcome] * len(request.deliveries)


def by_status(request: Request, response: Response, message: str = "") -> list[Outcome] | None:
    """The common reading of a status that concerns the whole request: 429 and 5xx are retried
    (after what `Retry-After` says), other 4xx failed with the tool's message. None for 2xx,
    which each connector reads its own way."""
    if 200 <= response.status < 300:
        return None
    text = message or response.body[:500].decode("utf-8", "replace")
    if response.status == 429 or response.status >= 500:
        wait = retry_after(response, default=30.0 if response.status == 429 else 5.0)
        return same_for_all(request, Outcome("retry", text, wait))
    return same_for_all(request, Outcome("failed", f"{response.status}: {text}"))
