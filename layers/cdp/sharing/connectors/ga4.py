"""Google Analytics 4, through the Measurement Protocol (`POST /mp/collect`).

Reference: https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
(payload, reserved names) and .../ga4/sending-events#limitations (limits).

Who: `client_id` is required and must be two positive numbers joined by a period; the platform
keeps no GA cookie, so it is derived from the profile id (two numbers from its SHA-256: the same
person always gets the same one, and it reveals nothing). Our user id goes in `user_id`, which
is how GA joins these events to the person's website sessions (User-ID reporting); one longer
than GA's 256 characters is left out. No e-mail address or phone number is ever sent: GA's
terms forbid personal data in analytics.

What each delivery becomes, one request per person holding up to 25 events (GA's limit):
- `event`: an event named after ours in GA's rules (ASCII letters, digits and underscores,
  starting with a letter, at most 40 characters), lower-cased: "Order Completed" ->
  `order_completed`; properties become parameters under the same rules, case kept (at most
  25; text cut to 100 characters; true/false as text; lists and objects left out). An event
  whose name GA reserves (`session_start`, `first_visit`, ...) is not sent.
- `audience_add` / `audience_remove`: the events `join_group` (GA's recommended event) and
  `leave_group`, with `group_id` = the audience name. Events rather than a user property
  listing the segments: a user property holds one value of at most 36 characters, and a
  connector only sees changes, never the whole membership; events keep each entry and exit
  with its time. Build the audience in GA from `join_group` with that `group_id`, excluding
  people whose later `leave_group` has it. An addition's traits (it carries the person's mapped
  traits, and no traits delivery goes with it) are sent as user properties with its event.
- `traits`: `user_properties` (the destination's field mapping gives GA's names: at most 24
  characters, letters, digits and underscores, not reserved; other names are left out), values
  cut to 36 characters; None is sent as a null value (the SDKs clear a property so; the
  Measurement Protocol's reference does not say). A request starts anew rather than set a
  property it already sets, so no value is reported before its time.
- `erase`: not sent. The Measurement Protocol has no deletion call; GA's User Deletion API
  takes OAuth credentials, not an API secret (`SKIP_REASONS`).
What is not sent is skipped by the deliverer with the reason `skip_reason` gives: the erasure,
a reserved or empty event name, an audience name too long for `group_id`, traits none of which
GA takes as a user property.

Times: every event and user property carries `timestamp_micros` from the delivery's `at`. GA
takes times up to 72 hours old; older ones it moves to 72 hours ago.

Answers: the collect endpoint answers 2xx even to a payload it throws away, so a delivery it
accepted for transport counts as delivered: the connector cannot see GA's refusals there.
With `validate_only`, requests go to GA's validation server (`/debug/mp/collect`, strict
validation) instead: nothing is recorded in GA, and each `validationMessages` entry fails the
deliveries it names (the event at its index, the traits for `user_properties`), so a new
destination can be checked before it is switched on. 429 and 5xx are retried.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

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
    sha256_hex,
)
from cdp.sharing.connectors.batching import per_person

HOSTS = {"global": "https://www.google-analytics.com", "eu": "https://region1.google-analytics.com"}
COLLECT = "/mp/collect"
VALIDATE = "/debug/mp/collect"

MAX_EVENTS = 25  # per request
MAX_PARAMETERS = 25  # per event
MAX_USER_PROPERTIES = 25  # per request
EVENT_NAME_LENGTH = 40
PARAMETER_NAME_LENGTH = 40
PARAMETER_VALUE_LENGTH = 100
USER_PROPERTY_NAME_LENGTH = 24
USER_PROPERTY_VALUE_LENGTH = 36
USER_ID_LENGTH = 256
# 25 events of 25 parameters of at most 40 + 100 characters stay under GA's 130 kB per request.

RESERVED_EVENTS = frozenset(
    {
        "ad_activeview", "ad_click", "ad_exposure", "ad_query", "ad_reward", "adunit_exposure",
        "app_clear_data", "app_exception", "app_install", "app_remove", "app_store_refund",
        "app_update", "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update",
        "dynamic_link_first_open", "error", "firebase_campaign",
        "firebase_in_app_message_action", "firebase_in_app_message_dismiss",
        "firebase_in_app_message_impression", "first_open", "first_visit",
        "notification_dismiss", "notification_foreground", "notification_open",
        "notification_receive", "notification_send", "os_update", "session_start",
        "user_engagement",
        # app streams only
        "ad_impression", "in_app_purchase", "screen_view",
    }
)  # fmt: skip
RESERVED_PARAMETERS = frozenset({"firebase_conversion"})
RESERVED_USER_PROPERTIES = frozenset(
    {
        "first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id",
        "first_open_after_install",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")

SKIP_REASONS: Mapping[DeliveryKind, str] = {
    "erase": (
        "Google Analytics' Measurement Protocol has no deletion call: delete the person in GA "
        "(User Deletion API or the user explorer) by their user id or client id"
    )
}

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")
_EVENT_INDEX = re.compile(r"index: \[(\d+)\]")


class Ga4Settings(ConnectorSettings):
    measurement_id: str = Field(pattern=r"^G-[A-Z0-9]{4,20}$", description="G-XXXXXXXXXX")
    region: Literal["global", "eu"] = Field(
        default="global", description="eu: collected in the EU (region1.google-analytics.com)"
    )
    validate_only: bool = Field(
        default=False,
        description="send to GA's validation server: nothing is recorded, refusals are shown",
    )


def client_id(profile_id: str) -> str:
    digest = sha256_hex(profile_id)
    return f"{int(digest[:8], 16) + 1}.{int(digest[8:16], 16) + 1}"


def event_name(name: str) -> str | None:
    """Ours in GA's rules, or None when GA cannot take it (nothing left, or reserved)."""
    cleaned = _cleaned_event_name(name)
    return cleaned if cleaned and not _reserved_event(cleaned) else None


def _cleaned_event_name(name: str) -> str:
    cleaned = _NOT_NAME.sub("_", name.strip()).strip("_").lower()
    return cleaned.lstrip("0123456789_")[:EVENT_NAME_LENGTH].rstrip("_")


def _reserved_event(cleaned: str) -> bool:
    return cleaned in RESERVED_EVENTS or cleaned.startswith(RESERVED_PREFIXES)


def _parameter_name(name: str) -> str | None:
    cleaned = _NOT_NAME.sub("_", name.strip()).strip("_")
    cleaned = cleaned.lstrip("0123456789_")[:PARAMETER_NAME_LENGTH].rstrip("_")
    if not cleaned or cleaned in RESERVED_PARAMETERS or cleaned.startswith(RESERVED_PREFIXES):
        return None
    return cleaned


def _user_property_name(name: str) -> bool:
    return (
        len(name) <= USER_PROPERTY_NAME_LENGTH
        and _NAME.match(name) is not None
        and name not in RESERVED_USER_PROPERTIES
        and not name.startswith(RESERVED_PREFIXES)
    )


def _parameter_value(value: Any, length: int) -> str | int | float | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:length]
    return None


def _micros(at: str) -> int | None:
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@dataclass
class _Batch:
    """One request's worth of one person: its events and user properties, and which delivery
    each comes from (event deliveries first, in event order, then the traits deliveries)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    event_positions: list[int] = field(default_factory=list)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_positions: list[int] = field(default_factory=list)

    def takes_event(self) -> bool:
        return len(self.events) < MAX_EVENTS

    def takes_properties(self, names: Sequence[str]) -> bool:
        new = [name for name in names if name not in self.properties]
        return len(new) == len(names) and len(self.properties) + len(new) <= MAX_USER_PROPERTIES

    def __bool__(self) -> bool:
        return bool(self.event_positions or self.property_positions)


class GoogleAnalytics4:
    """The secret is the stream's Measurement Protocol API secret (Admin > Data streams >
    the stream > Measurement Protocol API secrets). Audiences are `group_id` values of
    `join_group` / `leave_group` events."""

    name = "ga4"
    title = "Google Analytics 4"
    settings: type[ConnectorSettings] = Ga4Settings
    hashes_identifiers = False
    kinds: frozenset[DeliveryKind] = frozenset(
        {"audience_add", "audience_remove", "traits", "event"}
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
        if not isinstance(settings, Ga4Settings):
            raise TypeError("the GA4 connector takes Ga4Settings")
        path = VALIDATE if settings.validate_only else COLLECT
        query = urlencode({"measurement_id": settings.measurement_id, "api_secret": secret})
        url = f"{(base_url or HOSTS[settings.region]).rstrip('/')}{path}?{query}"
        found: list[Request] = []
        for positions in per_person(deliveries):
            first = deliveries[positions[0]]
            who: dict[str, Any] = {"client_id": client_id(first.profile_id)}
            user_ids = [deliveries[p].identifiers.user_id for p in positions]
            user_id = next((u for u in reversed(user_ids) if u), None)
            if user_id and len(user_id) <= USER_ID_LENGTH:
                who["user_id"] = user_id
            if settings.validate_only:
                who["validation_behavior"] = "ENFORCE_RECOMMENDATIONS"
            for batch in _batches(deliveries, positions):
                body = dict(who)
                if batch.events:
                    body["events"] = batch.events
                if batch.properties:
                    body["user_properties"] = batch.properties
                found.append(
                    Request(
                        method="POST",
                        url=url,
                        deliveries=(*batch.event_positions, *batch.property_positions),
                        headers={"Content-Type": "application/json"},
                        body=json_body(body),
                    )
                )
        return found

    def skip_reason(self, delivery: Delivery) -> str | None:
        """Why a delivery is not sent to GA (see the module), or None."""
        if delivery.kind in SKIP_REASONS:
            return SKIP_REASONS[delivery.kind]
        if delivery.kind == "event":
            cleaned = _cleaned_event_name(delivery.event or "")
            if not cleaned:
                return (
                    "nothing of the event's name is in Google Analytics' rules for names "
                    "(letters, digits and underscores, beginning with a letter)"
                )
            if _reserved_event(cleaned):
                return f"Google Analytics reserves the event name {cleaned!r}"
        audience = delivery.audience or ""
        if delivery.kind in ("audience_add", "audience_remove") and not (
            0 < len(audience) <= PARAMETER_VALUE_LENGTH
        ):
            return (
                f"Google Analytics takes a group_id of 1 to {PARAMETER_VALUE_LENGTH} characters; "
                f"the audience's name has {len(audience)}"
            )
        if delivery.kind == "traits" and not _user_properties(delivery.traits, None):
            return (
                "no mapped trait is one Google Analytics takes as a user property (a name of at "
                f"most {USER_PROPERTY_NAME_LENGTH} letters, digits and underscores, beginning "
                "with a letter and not reserved; a text, number or true/false value)"
            )
        return None

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        whole = by_status(request, response)
        if whole is not None:
            return whole
        messages = _validation_messages(response.body)
        if not messages:
            return same_for_all(request, Outcome.delivered())
        sent = json.loads(request.body or b"{}")
        events = len(sent.get("events", []))
        failures: dict[int, list[str]] = {}
        for message in messages:
            text = f"{message.get('validationCode', '')}: {message.get('description', '')}"
            for index in _named(message, events, len(request.deliveries)):
                failures.setdefault(index, []).append(text)
        return [
            Outcome("failed", "; ".join(failures[i])) if i in failures else Outcome.delivered()
            for i in range(len(request.deliveries))
        ]


def _batches(deliveries: Sequence[Delivery], positions: Sequence[int]) -> list[_Batch]:
    """One person's deliveries as requests, in order: a new one when 25 events are reached or
    a user property would be set twice."""
    batches = [_Batch()]
    for position in positions:
        delivery = deliveries[position]
        micros = _micros(delivery.at)
        if delivery.kind == "traits":
            properties = _user_properties(delivery.traits, micros)
            if not properties:
                continue
            if not batches[-1].takes_properties(list(properties)):
                batches.append(_Batch())
            batches[-1].properties.update(properties)
            batches[-1].property_positions.append(position)
            continue
        event = _event(delivery, micros)
        if event is None:
            continue
        carried = (
            _user_properties(delivery.traits, micros) if delivery.kind == "audience_add" else {}
        )
        if not batches[-1].takes_event() or not batches[-1].takes_properties(list(carried)):
            batches.append(_Batch())
        batches[-1].events.append(event)
        batches[-1].event_positions.append(position)
        batches[-1].properties.update(carried)
    return [batch for batch in batches if batch]


def _event(delivery: Delivery, micros: int | None) -> dict[str, Any] | None:
    if delivery.kind in ("audience_add", "audience_remove"):
        audience = delivery.audience
        if not audience or len(audience) > PARAMETER_VALUE_LENGTH:
            return None
        name = "join_group" if delivery.kind == "audience_add" else "leave_group"
        event: dict[str, Any] = {"name": name, "params": {"group_id": audience}}
    elif delivery.kind == "event" and delivery.event:
        named = event_name(delivery.event)
        if named is None:
            return None
        event = {"name": named, "params": _parameters(delivery.properties)}
    else:
        return None  # erase: the Measurement Protocol has no deletion call
    if micros is not None:
        event["timestamp_micros"] = micros
    return event


def _parameters(properties: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in properties.items():
        cleaned = _parameter_name(name)
        wire = _parameter_value(value, PARAMETER_VALUE_LENGTH)
        if cleaned is None or wire is None or cleaned in found:
            continue
        found[cleaned] = wire
        if len(found) == MAX_PARAMETERS:
            break
    return found


def _user_properties(traits: Mapping[str, Any], micros: int | None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, value in traits.items():
        wire = _parameter_value(value, USER_PROPERTY_VALUE_LENGTH)
        if not _user_property_name(name) or (wire is None and value is not None):
            continue
        found[name] = {"value": wire}
        if micros is not None:
            found[name]["timestamp_micros"] = micros
        if len(found) == MAX_USER_PROPERTIES:
            break
    return found


def _validation_messages(body: bytes) -> list[dict[str, Any]]:
    try:
        answer = json.loads(body or b"null")
    except ValueError:
        return []
    messages = answer.get("validationMessages") if isinstance(answer, dict) else None
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _named(message: Mapping[str, Any], events: int, carried: int) -> list[int]:
    """Which deliveries of the request a validation message is about. The validation server
    names an event by its index in its description ("Event at index: [3] has invalid name");
    `user_properties` concern the traits deliveries, which follow the events."""
    path = str(message.get("fieldPath", ""))
    found = _EVENT_INDEX.search(str(message.get("description", "")))
    if path.startswith("events") and found and int(found.group(1)) < events:
        return [int(found.group(1))]
    if path.startswith("user_properties") and carried > events:
        return list(range(events, carried))
    return list(range(carried))


CONNECTOR = GoogleAnalytics4()
if TYPE_CHECKING:
    _conforms: Connector = CONNECTOR
