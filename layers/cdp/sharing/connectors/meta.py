"""Meta Custom Audiences (Marketing API, customer list audiences): audience members as hashed
e-mail addresses and phone numbers.

- **Audiences.** `Delivery.audience` is the custom audience's id (a customer list audience
  made in Ads Manager or through the API). An addition is `POST /{audience_id}/users`, a
  removal `DELETE /{audience_id}/users`, both with `{"payload": {"schema", "data"}}`.
- **Who.** One row per delivery: with both match keys (the default) the multi-key schema
  `["EMAIL", "PHONE"]` and a row of the person's first e-mail address and first phone number
  (a key unknown is left blank); with one key, `EMAIL_SHA256` or `PHONE_SHA256` and one hash
  per row. Values are normalised as Meta says, then SHA-256 hashed: e-mails trimmed and
  lower-cased; phones digits only, with the country code and no leading zeros (`+` or `00`
  numbers as they are; national numbers only when `phone_country_code` is set, else the phone
  is left out). A delivery with no usable key is carried by no request (skipped).
- **Erasure.** Meta has no call to delete a person: an erased person is removed from every
  custom audience in `audience_ids` (and from the delivery's audience, if it names one). The
  erasure is carried by each of these removals. So a destination's audiences must be among
  its `audience_ids` (`audience_refusal`: the definition is refused otherwise); keep an
  audience there after the destination stops writing to it, while people may be in it.
- **Traits and events** are not taken (Meta's Conversions API is another product): `kinds`
  says so, and the destination's definition is refused if it maps traits.

Batching: at most 10,000 rows per call. A call is about one audience, add or remove; a
person's later change to the same audience never goes in a call sent before their earlier
one, so an addition then a removal ends removed. When one audience's additions (or removals)
need several calls, they form an upload session (`session_id`, `batch_seq` from 1,
`last_batch_flag` on the last, `estimated_num_total`), as the reference asks for multi-part
uploads; the session id is derived from the deliveries, so a retry resends the same session.
Meta applies changes within hours, not at once.

Answers: 200 `{"audience_id", "session_id", "num_received", "num_invalid_entries",
"invalid_entry_samples"}`; a delivery whose value Meta lists among the invalid entries fails
(Meta lists samples: others it counts as invalid cannot be told apart and stay delivered).
Errors are `{"error": {"message", "code", ...}}`, read from the body whatever the status:
rate limits (codes 4, 17, 32, 613 and the business use case codes 80000-80014) are retried
after the wait `X-Business-Use-Case-Usage` gives (`estimated_time_to_regain_access`, in
minutes), or `Retry-After`, or a minute; transient errors (`is_transient`, codes 1 and 2,
5xx) retried; the others fail with Meta's code and message.

The secret is an access token with the `ads_management` permission (a system user's token,
which does not expire, is what Meta recommends for servers), sent as a Bearer header.
Reference: https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/,
https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences/,
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/,
https://developers.facebook.com/docs/graph-api/guides/error-handling/.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import Field, StringConstraints, field_validator

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
    sha256_hex,
)

GRAPH = "https://graph.facebook.com"
ROWS_LIMIT = 10_000  # rows per call
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
RATE_LIMIT_WAIT = 60.0  # seconds: how long Meta blocks an app of the standard tier
ERROR_WAIT = 5.0
MatchKey = Literal["EMAIL", "PHONE"]
AudienceId = Annotated[str, StringConstraints(pattern=r"^\d{1,32}$")]
Method = Literal["POST", "DELETE"]


class MetaSettings(ConnectorSettings):
    api_version: str = Field(
        pattern=r"^v?\d{1,3}\.\d{1,2}$",
        description="the Graph API version the app calls, e.g. 21.0 (Meta retires each "
        "version about two years after its release)",
    )
    audience_ids: tuple[AudienceId, ...] = Field(
        default=(),
        max_length=200,
        description="every custom audience id this destination writes to: an erased person "
        "is removed from each (Meta has no call to delete a person)",
    )
    match_keys: tuple[MatchKey, ...] = Field(
        default=("EMAIL", "PHONE"),
        min_length=1,
        max_length=2,
        description="what people are matched by: EMAIL, PHONE or both (multi-key rows)",
    )
    phone_country_code: str | None = Field(
        default=None,
        pattern=r"^[1-9]\d{0,2}$",
        description="the country calling code of phone numbers stored without one (44 for "
        "07946 0958...); without it such numbers are not sent",
    )

    @field_validator("match_keys")
    @classmethod
    def _once_each(cls, keys: tuple[MatchKey, ...]) -> tuple[MatchKey, ...]:
        if len(set(keys)) != len(keys):
            raise ValueError("each match key once")
        return keys


@dataclass
class _Call:
    """One call being filled: an audience, add or remove, its rows and whose they are."""

    audience: str
    method: Method
    positions: list[int] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    people: set[str] = field(default_factory=set)


class MetaCustomAudiences:
    """Meta Marketing API, customer list custom audiences. The secret is an access token with
    `ads_management`; `Delivery.audience` is the custom audience id."""

    name = "meta"
    title = "Meta Custom Audiences"
    settings = MetaSettings
    hashes_identifiers = True
    kinds: frozenset[DeliveryKind] = frozenset({"audience_add", "audience_remove", "erase"})

    def requests(
        self,
        deliveries: Sequence[Delivery],
        settings: ConnectorSettings,
        secret: str,
        base_url: str | None = None,
        *,
        now: str | None = None,  # unused: no call of this tool says when it is made
    ) -> list[Request]:
        assert isinstance(settings, MetaSettings)
        keys = settings.match_keys
        open_calls: dict[tuple[str, Method], _Call] = {}
        calls: list[_Call] = []
        for position, delivery in enumerate(deliveries):
            row = _row(delivery.identifiers, settings)
            if row is None:
                continue
            entry: Any = row if len(keys) > 1 else row[0]
            for audience, method in _targets(delivery, settings):
                other = open_calls.get((audience, _opposite(method)))
                if other is not None and delivery.profile_id in other.people:
                    # The person's earlier, opposite change to this audience goes first.
                    calls.append(open_calls.pop((audience, _opposite(method))))
                call = open_calls.get((audience, method))
                if call is None or len(call.rows) == ROWS_LIMIT:
                    if call is not None:
                        calls.append(call)
                    call = open_calls[(audience, method)] = _Call(audience, method)
                call.positions.append(position)
                call.rows.append(entry)
                call.people.add(delivery.profile_id)
        calls.extend(open_calls.values())
        return _requests(calls, deliveries, settings, secret, base_url)

    def audience_refusal(self, audience: str, settings: ConnectorSettings) -> str | None:
        """An audience must be among `audience_ids`, the audiences an erasure removes people
        from: else the erased would stay in it."""
        assert isinstance(settings, MetaSettings)
        if audience in settings.audience_ids:
            return None
        return (
            "not in settings.audience_ids, the audiences an erased person is removed from "
            "(Meta has no call to delete a person): list it there"
        )

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        answer = json_object(response.body)
        error = answer.get("error")
        if isinstance(error, dict):
            return same_for_all(request, _error_outcome(error, response))
        refused = by_status(request, response)
        if refused is not None:
            return refused
        return _invalid_entries(request, answer.get("invalid_entry_samples"))


def _targets(delivery: Delivery, settings: MetaSettings) -> list[tuple[str, Method]]:
    if delivery.kind == "audience_add" and delivery.audience:
        return [(delivery.audience, "POST")]
    if delivery.kind == "audience_remove" and delivery.audience:
        return [(delivery.audience, "DELETE")]
    if delivery.kind == "erase":
        named = (delivery.audience,) if delivery.audience else ()
        return [
            (audience, "DELETE") for audience in dict.fromkeys((*settings.audience_ids, *named))
        ]
    return []


def _opposite(method: Method) -> Method:
    return "DELETE" if method == "POST" else "POST"


def _row(identifiers: Identifiers, settings: MetaSettings) -> list[str] | None:
    values = {"EMAIL": email_hash(identifiers), "PHONE": phone_hash(identifiers, settings)}
    row = [values[key] or "" for key in settings.match_keys]
    return row if any(row) else None


def email_hash(identifiers: Identifiers) -> str | None:
    """Meta's normalisation of an e-mail address: trimmed, lower-cased; then SHA-256."""
    for email in identifiers.emails:
        normalised = email.strip().lower()
        if normalised:
            return sha256_hex(normalised)
    return None


def phone_hash(identifiers: Identifiers, settings: MetaSettings) -> str | None:
    for phone in identifiers.phones:
        normalised = normalise_phone(phone, settings.phone_country_code)
        if normalised:
            return sha256_hex(normalised)
    return None


def normalise_phone(phone: str, country_code: str | None) -> str | None:
    """Digits only, with the country code, without leading zeros: `+44 20 7946 0958` and
    `0044 20 7946 0958` are `442079460958`; `020 7946 0958` is too when the country code is
    44, and is not sent without one (Meta cannot match a number without its country)."""
    text = phone.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") or digits.startswith("00"):
        international = digits.lstrip("0")
    elif country_code:
        international = country_code + digits.lstrip("0")
    else:
        return None
    return international if 7 <= len(international) <= 15 else None


def _requests(
    calls: list[_Call],
    deliveries: Sequence[Delivery],
    settings: MetaSettings,
    secret: str,
    base_url: str | None,
) -> list[Request]:
    root = (base_url or GRAPH).rstrip("/")
    version = settings.api_version.removeprefix("v")
    keys = settings.match_keys
    schema: str | list[str] = list(keys) if len(keys) > 1 else f"{keys[0]}_SHA256"
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    # Several calls to one audience, one way: an upload session.
    parts: dict[tuple[str, Method], list[_Call]] = {}
    for call in calls:
        parts.setdefault((call.audience, call.method), []).append(call)
    found = []
    for call in calls:
        body: dict[str, Any] = {"payload": {"schema": schema, "data": call.rows}}
        session = parts[(call.audience, call.method)]
        if len(session) > 1:
            first = deliveries[session[0].positions[0]].id
            sequence = next(n for n, part in enumerate(session, 1) if part is call)
            body["session"] = {
                "session_id": _session_id(call.audience, call.method, first),
                "batch_seq": sequence,
                "last_batch_flag": sequence == len(session),
                "estimated_num_total": sum(len(part.rows) for part in session),
            }
        found.append(
            Request(
                call.method,
                f"{root}/v{version}/{quote(call.audience, safe='')}/users",
                tuple(call.positions),
                headers=headers,
                body=json_body(body),
            )
        )
    return found


def _session_id(audience: str, method: str, first_delivery: str) -> int:
    """A positive 64-bit integer, the same for the same deliveries (a retry resends the same
    session)."""
    digest = hashlib.sha256(f"{audience}|{method}|{first_delivery}".encode()).hexdigest()
    return int(digest[:15], 16) + 1


def _error_outcome(error: Mapping[str, Any], response: Response) -> Outcome:
    code = error.get("code")
    text = f"{code}: {error.get('message', '')}".strip()
    if error.get("error_user_msg"):
        text = f"{text} ({error['error_user_msg']})"
    if code in RATE_LIMIT_CODES or response.status == 429:
        return Outcome("retry", text, _rate_limit_wait(response))
    if error.get("is_transient") or code in TRANSIENT_CODES or response.status >= 500:
        return Outcome("retry", text, retry_after(response, ERROR_WAIT))
    return Outcome("failed", text)


def _rate_limit_wait(response: Response) -> float:
    """Retry-After where given; else the longest `estimated_time_to_regain_access` (minutes)
    of the business use cases `X-Business-Use-Case-Usage` reports; else a minute."""
    if "retry-after" in response.headers:
        return retry_after(response, RATE_LIMIT_WAIT)
    try:
        usage = json.loads(response.headers.get("x-business-use-case-usage", "{}"))
        minutes = max(
            float(case.get("estimated_time_to_regain_access") or 0)
            for cases in usage.values()
            for case in cases
        )
    except (ValueError, TypeError, AttributeError):
        return RATE_LIMIT_WAIT
    return minutes * 60.0 if minutes > 0 else RATE_LIMIT_WAIT


def _invalid_entries(request: Request, samples: Any) -> list[Outcome]:
    """`invalid_entry_samples` maps entries Meta could not use to the reason (a list of
    them in some answers): the deliveries whose row holds one fail."""
    outcomes = [Outcome.delivered()] * len(request.deliveries)
    if isinstance(samples, list):
        samples = dict.fromkeys((str(sample) for sample in samples), "invalid entry")
    if not isinstance(samples, dict) or not samples:
        return outcomes
    rows = json_object(request.body or b"").get("payload", {}).get("data", [])
    for index, row in enumerate(rows[: len(outcomes)]):
        values = row if isinstance(row, list) else [row]
        reasons = [str(samples[value]) for value in values if value and value in samples]
        if reasons:
            outcomes[index] = Outcome("failed", f"invalid entry: {reasons[0]}")
    return outcomes


CONNECTOR = MetaCustomAudiences()
