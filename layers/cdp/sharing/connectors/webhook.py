"""The generic signed webhook: deliveries POSTed as JSON to a URL of the customer's, signed.

One request per batch of up to `BATCH` deliveries, in the order given (so each person's
deliveries stay in order as long as the requests are sent in order). The body:

    {"destination": "crm", "deliveries": [{"id": ..., "kind": "audience_add", "profile_id": ...,
      "at": ..., "identifiers": {"emails": [...], "phones": [...], "user_id": ...},
      "segment_id": ..., "audience": ..., "traits": {...}}, ...]}

Each delivery carries what its kind needs: `segment_id` and `audience` (and `traits`, the
person's mapped traits, on an addition) for `audience_add` / `audience_remove`; `traits` (None:
the trait has no value any more) for `traits`; `event` and `properties` for `event`; nothing more
for `erase`, whose identifiers say whom to forget.

Headers:
- `X-CDP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`, keyed by the
  destination's secret: the same scheme as `cdp dev --webhook`. A receiver recomputes it over
  the raw body, compares in constant time, and refuses a `t` too far from its own clock.
- `Idempotency-Key`: the hex SHA-256 of the ids of the deliveries it carries, joined by
  newlines: the same when the batch is sent again, so a receiver can drop a batch it has
  already taken.

`t` is the deliverer's clock as it builds the request (`now`), so a batch sent again after a
retry is signed afresh, and a receiver can refuse a `t` a few minutes from its own clock.
Connectors read no clock: called without `now` (or with a time that cannot be read), `t` is
the newest `at` of the batch, which is old on a retry. Either way, `Idempotency-Key` is what
guards against a batch replayed within the receiver's window.

The receiver answers 2xx when it took the batch; it may refuse single deliveries for good with
`{"refused": [{"id": "<delivery id>", "message": "..."}]}` in a 2xx answer (the others count as
delivered). 429 and 5xx are retried (after `Retry-After` seconds when given), other statuses fail
the batch with the receiver's message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import field_validator

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
    sha256_hex,
)
from cdp.sharing.urls import webhook_url_problem

BATCH = 100  # deliveries per request: a few hundred kB at most, well within any receiver's limits
SIGNATURE_HEADER = "X-CDP-Signature"


class WebhookSettings(ConnectorSettings):
    url: str

    @field_validator("url")
    @classmethod
    def _public_https(cls, url: str) -> str:
        problem = webhook_url_problem(url)
        if problem:
            raise ValueError(f"the webhook URL cannot be used: {problem}")
        return url.strip()


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def idempotency_key(delivery_ids: Sequence[str]) -> str:
    return sha256_hex("\n".join(delivery_ids))


class Webhook:
    """The customer's own endpoint. The secret is the signing key shared with the receiver
    (any string; 32 random bytes or more). Audiences are whatever names the receiver expects:
    they are passed on as given. Identifiers are sent as they are (not hashed): the receiver
    is the customer's, reached over HTTPS only."""

    name = "webhook"
    title = "Webhook"
    settings: type[ConnectorSettings] = WebhookSettings
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
        now: str | None = None,
    ) -> list[Request]:
        if not isinstance(settings, WebhookSettings):
            raise TypeError("the webhook connector takes WebhookSettings")
        url = _address(settings.url, base_url)
        found: list[Request] = []
        for start in range(0, len(deliveries), BATCH):
            batch = deliveries[start : start + BATCH]
            body = json_body(
                {
                    "destination": batch[0].destination,
                    "deliveries": [_wire(delivery) for delivery in batch],
                }
            )
            signed_at = _seconds(now) if now else None
            timestamp = signed_at if signed_at is not None else _newest(batch)
            found.append(
                Request(
                    method="POST",
                    url=url,
                    deliveries=tuple(range(start, start + len(batch))),
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: signature(secret, body, timestamp),
                        "Idempotency-Key": idempotency_key([d.id for d in batch]),
                    },
                    body=body,
                )
            )
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        whole = by_status(request, response)
        if whole is not None:
            return whole
        refused = _refused(response.body)
        if not refused:
            return [Outcome.delivered()] * len(request.deliveries)
        sent = json.loads(request.body or b"{}").get("deliveries", [])
        return [
            Outcome("failed", refused[item["id"]]) if item["id"] in refused else Outcome.delivered()
            for item in sent
        ]


def _address(url: str, base_url: str | None) -> str:
    """The configured URL, or its path and query on `base_url`'s host."""
    if base_url is None:
        return url
    parts, base = urlsplit(url), urlsplit(base_url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def _wire(delivery: Delivery) -> dict[str, Any]:
    who = delivery.identifiers
    item: dict[str, Any] = {
        "id": delivery.id,
        "kind": delivery.kind,
        "profile_id": delivery.profile_id,
        "at": delivery.at,
        "identifiers": {
            "emails": list(who.emails),
            "phones": list(who.phones),
            "user_id": who.user_id,
        },
    }
    if delivery.kind in ("audience_add", "audience_remove"):
        item["segment_id"] = delivery.segment_id
        item["audience"] = delivery.audience
    if delivery.kind in ("audience_add", "traits"):
        item["traits"] = dict(delivery.traits)
    if delivery.kind == "event":
        item["event"] = delivery.event
        item["properties"] = dict(delivery.properties)
    return item


def _newest(batch: Sequence[Delivery]) -> int:
    seconds = [_seconds(delivery.at) for delivery in batch]
    return max((s for s in seconds if s is not None), default=0)


def _seconds(at: str) -> int | None:
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _refused(body: bytes) -> dict[str, str]:
    """Delivery id -> the receiver's reason, from a 2xx answer that refuses some."""
    try:
        answer = json.loads(body or b"null")
    except ValueError:
        return {}
    if not isinstance(answer, dict) or not isinstance(answer.get("refused"), list):
        return {}
    return {
        str(item["id"]): str(item.get("message") or "refused by the receiver")
        for item in answer["refused"]
        if isinstance(item, dict) and "id" in item
    }


CONNECTOR: Connector = Webhook()
