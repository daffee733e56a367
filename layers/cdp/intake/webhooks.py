"""Inbound webhooks: engagement data from e-mail tools, turned into events on the person's
profile (found by e-mail address).

Two formats. **SendGrid's Event Webhook** (a JSON list of events, signed with ECDSA: the
signature covers the timestamp header followed by the raw body, and is checked with the
verification key from SendGrid's settings). **Generic JSON**, for any other tool: a mapping
says where in each event the e-mail, event type, time and id are, signed with an HMAC-SHA256
of the raw body under a shared secret.

Opens, clicks and unsubscribes then feed computed traits and segments like any other event; an
unsubscribe (or a spam report) also revokes `marketing` consent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from cdp.intake.messages import Event
from cdp.intake.spec import EARLIEST, LATEST
from cdp.profiles.identity import DEFAULT_POLICY, EMAIL, Placeholders, identity_key, normalise_email
from cdp.runtime.clock import iso
from cdp.runtime.errors import AuthenticationError, InvalidRequestError
from cdp.runtime.models import Model

WEBHOOK = "webhook"
SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
MAX_EVENTS = 1000

SENDGRID_NAMES = {
    "processed": "Email Processed",
    "delivered": "Email Delivered",
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "bounce": "Email Bounced",
    "dropped": "Email Dropped",
    "deferred": "Email Deferred",
    "spamreport": "Email Marked as Spam",
    "unsubscribe": "Unsubscribed",
    "group_unsubscribe": "Unsubscribed",
    "group_resubscribe": "Resubscribed",
}
# What an event says about marketing consent.
MARKETING = {"unsubscribe": False, "group_unsubscribe": False, "spamreport": False,
             "group_resubscribe": True}  # fmt: skip
SENDGRID_PROPERTIES = ("url", "category", "reason", "status", "type", "sg_message_id",
                       "asm_group_id", "useragent")  # fmt: skip


class GenericMapping(Model):
    """Where things are in each event of a generic JSON webhook (dotted paths)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: str = Field(default="", description="path to the list of events; empty: the body")
    email: str = "email"
    event: str = "event"
    timestamp: str = Field(default="timestamp", description="ISO 8601 text or Unix seconds")
    id: str = "id"
    properties: dict[str, str] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict, description="event type -> track name")
    unsubscribe: list[str] = Field(default_factory=list, description="types that revoke marketing")


class WebhookConfig(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    format: Literal["sendgrid", "generic"]
    verification_key: str | None = Field(default=None, description="SendGrid: base64 public key")
    secret: str | None = Field(default=None, min_length=16, description="generic: HMAC secret")
    signature_header: str = "x-signature"
    mapping: GenericMapping = Field(default_factory=GenericMapping)

    @model_validator(mode="after")
    def _credentials(self) -> WebhookConfig:
        if self.format == "sendgrid" and not self.verification_key:
            raise ValueError("a sendgrid webhook needs its verification_key")
        if self.format == "generic" and not self.secret:
            raise ValueError("a generic webhook needs a secret of 16 characters or more")
        return self


def verify(config: WebhookConfig, body: bytes, headers: dict[str, str]) -> None:
    """Raise `AuthenticationError` unless the payload is signed as the tool signs it."""
    if config.format == "sendgrid":
        _verify_sendgrid(config.verification_key or "", body, headers)
        return
    presented = headers.get(config.signature_header.lower(), "")
    presented = presented.removeprefix("sha256=")
    expected = hmac.new((config.secret or "").encode(), body, hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses text that is not ASCII, and the header is client input.
    if not hmac.compare_digest(
        presented.encode("utf-8", errors="surrogatepass"), expected.encode()
    ):
        raise AuthenticationError("the webhook signature does not match")


def _verify_sendgrid(key: str, body: bytes, headers: dict[str, str]) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    signature, timestamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise AuthenticationError("the SendGrid signature headers are missing")
    try:
        public_key = load_der_public_key(base64.b64decode(key))
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(
            base64.b64decode(signature),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError, binascii.Error, AssertionError):
        raise AuthenticationError("the webhook signature does not match") from None


def events_of(
    config: WebhookConfig,
    payload: Any,
    *,
    received_at: datetime,
    placeholders: Placeholders = DEFAULT_POLICY,
) -> tuple[list[Event], list[str]]:
    """The track events a payload carries, and why any entry was skipped."""
    entries = _entries(config, payload)
    events: list[Event] = []
    skipped: list[str] = []
    for index, entry in enumerate(entries[:MAX_EVENTS]):
        try:
            event = _event(config, entry, received_at)
            if placeholders.blocks(event.identity):
                raise ValueError("a placeholder e-mail address, not a person's")
            events.append(event)
        except ValueError as error:
            skipped.append(f"event {index}: {error}")
    return events, skipped


def _entries(config: WebhookConfig, payload: Any) -> list[Any]:
    found = payload
    if config.format == "generic" and config.mapping.events:
        found = _at(payload, config.mapping.events)
    if not isinstance(found, list):
        raise InvalidRequestError("the payload must be a list of events")
    return found


def _event(config: WebhookConfig, entry: Any, received_at: datetime) -> Event:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    if config.format == "sendgrid":
        mapping = GenericMapping(
            email="email", event="event", timestamp="timestamp", id="sg_event_id",
            properties={name: name for name in SENDGRID_PROPERTIES},
            names=SENDGRID_NAMES, unsubscribe=[k for k, v in MARKETING.items() if not v],
        )  # fmt: skip
    else:
        mapping = config.mapping
    email = normalise_email(_at(entry, mapping.email))
    if email is None:
        raise ValueError("no valid e-mail address")
    kind = _at(entry, mapping.event)
    if not isinstance(kind, str) or not kind:
        raise ValueError("no event type")
    event_id = _at(entry, mapping.id)
    if not isinstance(event_id, str | int) or not str(event_id):
        raise ValueError("no event id")
    moment = _time(_at(entry, mapping.timestamp), received_at)
    name = mapping.names.get(kind, f"Email {kind.replace('_', ' ').title()}")
    properties = {key: value for key, path in mapping.properties.items()
                  if (value := _at(entry, path)) is not None}  # fmt: skip
    properties["type"] = kind
    context: dict[str, Any] = {"traits": {"email": email}, "integration": {"name": config.source}}
    marketing = MARKETING.get(kind) if config.format == "sendgrid" else None
    if config.format == "generic" and kind in mapping.unsubscribe:
        marketing = False
    if marketing is not None:
        context["consent"] = {"categoryPreferences": {"marketing": marketing}}
    message_id = f"{config.source}-{event_id}"[:200]
    timestamp = iso(moment)
    message = {
        "type": "track",
        "event": name,
        "messageId": message_id,
        "timestamp": timestamp,
        "originalTimestamp": timestamp,
        "receivedAt": iso(received_at),
        "properties": properties,
        "context": context,
    }
    return Event(
        identity=identity_key(EMAIL, email),
        message_id=message_id,
        type="track",
        name=name,
        timestamp=timestamp,
        received_at=iso(received_at),
        source=config.source,
        message=message,
    )


def _at(value: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _time(value: Any, received_at: datetime) -> datetime:
    """The event's time (never after its arrival); a `ValueError` for one that cannot be
    read or lies outside the years the collector accepts."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        else:
            return received_at
    except (ValueError, OverflowError, OSError):  # not a time, or past what a clock can say
        raise ValueError("an unreadable time") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"a time outside {EARLIEST.year}-{LATEST.year}")
    return min(moment, received_at)
