"""Exactly once by messageId, on every write path, whatever times the client fills in or
leaves out: a resend stores nothing new and counts nothing twice (collector, forms,
webhooks). Each case failed before the events table was keyed by message id."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cdp.runtime import clock
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer, stored_events

Handler = Callable[[dict[str, Any]], dict[str, Any]]

ORDER = {
    "type": "track",
    "userId": "buyer-1",
    "event": "Order Completed",
    "messageId": "order-4711",
    "properties": {"revenue": 120.5, "currency": "EUR"},
}
T1, T2 = "2026-11-20T10:00:00.000Z", "2026-11-20T10:05:00.000Z"


def send(collector: Handler, *messages: dict[str, Any]) -> None:
    body = {"batch": list(messages)}
    answer = collector(http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)))
    assert answer["statusCode"] == 200, answer["body"]


def profile(profile_api: Handler, identity: str) -> dict[str, Any]:
    answer = profile_api(http_event("GET", f"/v1/profiles/{identity}", headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    found: dict[str, Any] = answer_json(answer)
    return found


@pytest.mark.parametrize(
    ("first", "resend"),
    [
        pytest.param({}, {}, id="no time at all, twice"),
        pytest.param({"sentAt": T1}, {"sentAt": T2}, id="only sentAt, a new one on the resend"),
        pytest.param(
            {"originalTimestamp": T1, "sentAt": T1},
            {"originalTimestamp": T1, "sentAt": T2},
            id="RudderStack: originalTimestamp and sentAt",
        ),
        pytest.param({"timestamp": T1}, {"timestamp": T2}, id="a new timestamp on the resend"),
        pytest.param({"timestamp": T1}, {}, id="a timestamp, then none"),
        pytest.param({}, {"originalTimestamp": T2}, id="none, then an originalTimestamp"),
    ],
)
def test_a_resent_order_counts_once(
    first: dict[str, Any],
    resend: dict[str, Any],
    collector: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
) -> None:
    # given an order that reached the profile
    send(collector, {**ORDER, **first})
    pipeline()
    # when the client sends it again (a lost answer), later, with other times
    clock.advance(timedelta(minutes=30))
    send(collector, {**ORDER, **resend})
    send(collector, {**ORDER, **resend})
    pipeline()
    # then one event is stored, and the revenue counts once
    stored = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert [m["messageId"] for m in stored] == ["order-4711"]
    buyer = profile(profile_api, "user_id:buyer-1")
    assert buyer["event_count"] == 1
    assert buyer["computed"]["orders"] == 1
    assert buyer["computed"]["revenue"] == 120.5


def test_rudderstacks_original_timestamp_is_kept_as_the_clients_time(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    send(collector, {**ORDER, "originalTimestamp": T1})
    [stored] = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert stored["originalTimestamp"] == T1
    assert stored["timestamp"] == T1  # no sentAt: the client's clock is trusted


def test_the_timeline_stays_in_time_order(
    collector: Handler, pipeline: Callable[[], None], profile_api: Handler
) -> None:
    # message ids that sort the other way round from the times
    times = ["2026-11-20T10:00:00.000Z", "2026-11-20T09:00:00.000Z", "2026-11-21T08:00:00.000Z"]
    send(
        collector,
        *[
            {"type": "page", "anonymousId": "reader", "name": f"p{n}", "messageId": f"z-{9 - n}",
             "timestamp": moment}
            for n, moment in enumerate(times)
        ],
    )  # fmt: skip
    pipeline()
    pages, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = answer_json(
            profile_api(
                http_event(
                    "GET", "/v1/profiles/anonymous_id:reader/events", query=query, headers=bearer()
                )
            )
        )
        pages.append([event["name"] for event in answer["events"]])
        cursor = answer["cursor"]
        if cursor is None:
            break
    assert pages == [["p2", "p0"], ["p1"]]


@pytest.fixture
def household(admin_api: Handler) -> None:
    form = {
        "id": "household",
        "name": "Household",
        "fields": [{"trait": "children", "label": "Children?", "type": "number", "purpose": "x"}],
    }
    answer = admin_api(http_event("PUT", "/v1/forms/household", body=form, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"submissionId": "submission-1"}, id="an id and no timestamp"),
        pytest.param({}, id="neither an id nor a timestamp"),
        pytest.param({"timestamp": T1}, id="a timestamp and no id"),
    ],
)
def test_a_retried_form_submission_is_stored_once(
    fields: dict[str, Any],
    household: None,
    forms_api: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
) -> None:
    body = {"anonymousId": "visitor-9", "answers": {"children": 2}, **fields}
    for _ in range(3):
        answer = forms_api(
            http_event(
                "POST",
                "/v1/forms/household/submissions",
                body=body,
                headers=basic_auth(WRITE_KEY),
            )
        )
        assert answer["statusCode"] == 200, answer["body"]
        clock.advance(timedelta(seconds=5))
    pipeline()
    stored = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert sorted(m["type"] for m in stored) == ["identify", "track"]
    assert profile(profile_api, "anonymous_id:visitor-9")["event_count"] == 2


def test_a_redelivered_webhook_counts_once(
    admin_api: Handler,
    webhooks: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
) -> None:
    secret = "s" * 32
    created = admin_api(
        http_event(
            "POST", "/v1/sources", body={"name": "mailer", "kind": "email"}, headers=bearer()
        )
    )
    assert created["statusCode"] in (200, 201), created["body"]
    setup = {"source": "mailer", "format": "generic", "secret": secret,
             "signature_header": "X-Sig",
             "mapping": {"events": "events", "email": "to", "event": "kind", "id": "id",
                         "timestamp": "at"}}  # fmt: skip
    answer = admin_api(http_event("PUT", "/v1/webhooks/mailer", body=setup, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    send(
        collector, {"type": "identify", "userId": "reader-1", "traits": {"email": "r@example.com"}}
    )
    body = json.dumps({"events": [{"to": "r@example.com", "kind": "opened", "id": "e-1"}]}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for _ in range(2):  # no time in the entry: the arrival time differs on the redelivery
        answer = webhooks(
            http_event("POST", "/v1/webhooks/mailer", body=body, headers={"x-sig": signature})
        )
        assert answer["statusCode"] == 200, answer["body"]
        clock.advance(timedelta(minutes=1))
    pipeline()
    assert profile(profile_api, "user_id:reader-1")["event_count"] == 2  # identify + opened
