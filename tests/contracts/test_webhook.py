"""The generic signed webhook against a receiver that verifies what it is sent."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cdp.runtime.clock import iso
from cdp.sharing.connectors import transport
from cdp.sharing.connectors.base import Delivery, Identifiers, Outcome
from cdp.sharing.connectors.webhook import BATCH, CONNECTOR, WebhookSettings
from tests.contracts.driving import drive
from tests.contracts.server import Answer
from tests.contracts.webhook import WebhookContract

SECRET = "whsec-test-0123456789abcdef"
SETTINGS = WebhookSettings(url="https://crm.example.com/hooks/cdp")
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def running() -> Iterator[WebhookContract]:
    contract = WebhookContract(SECRET)
    with contract.running():
        yield contract


@pytest.fixture
def receiver(running: WebhookContract) -> WebhookContract:
    running.reset()
    return running


def delivery(n: int, kind: str = "audience_add", who: str = "p1", **fields: Any) -> Delivery:
    defaults: dict[str, Any] = {}
    if kind in ("audience_add", "audience_remove"):
        defaults = {"segment_id": "vip", "audience": "VIP customers"}
    if kind == "event":
        defaults = {"event": "Order Completed", "properties": {"total": 12.5}}
    return Delivery(
        id=f"d{n:05d}",
        destination="crm",
        kind=kind,  # type: ignore[arg-type]
        profile_id=who,
        identifiers=Identifiers(emails=(f"{who}@example.com",), user_id=f"u-{who}"),
        at=(START + timedelta(seconds=n)).isoformat(),
        **{**defaults, **fields},
    )


def deliver(
    receiver: WebhookContract, deliveries: Sequence[Delivery], **options: Any
) -> list[Outcome]:
    """Sends every request in order; the outcomes in the order of `deliveries`."""
    driven = drive(CONNECTOR, deliveries, SETTINGS, SECRET, receiver.url, **options)
    return [found[-1] for found in driven.outcomes]


def test_additions_removals_traits_events_and_erasure_reach_the_receiver(
    receiver: WebhookContract,
) -> None:
    # given
    deliveries = [
        delivery(1, "audience_add", "p1", traits={"plan": "pro"}),
        delivery(2, "audience_add", "p2", audience="Churn risk"),
        delivery(3, "traits", "p1", traits={"plan": "team", "city": None}),
        delivery(4, "event", "p1"),
        delivery(5, "audience_remove", "p2", audience="Churn risk"),
        delivery(6, "erase", "p3"),
    ]
    # when
    outcomes = deliver(receiver, deliveries)
    # then
    assert outcomes == [Outcome.delivered()] * 6
    assert receiver.audiences["p1"] == {"VIP customers"}
    assert receiver.audiences["p2"] == set()
    assert receiver.traits["p1"] == {"plan": "team"}
    assert receiver.events["p1"] == [("Order Completed", {"total": 12.5})]
    assert receiver.erased == ["p3"]
    assert receiver.violations == []


def test_what_each_kind_carries() -> None:
    (request,) = CONNECTOR.requests(
        [delivery(1, "audience_add"), delivery(2, "erase"), delivery(3, "event")],
        SETTINGS,
        SECRET,
    )
    add, erase, event = json.loads(request.body or b"")["deliveries"]
    assert add == {
        "id": "d00001",
        "kind": "audience_add",
        "profile_id": "p1",
        "at": "2025-03-01T12:00:01+00:00",
        "identifiers": {"emails": ["p1@example.com"], "phones": [], "user_id": "u-p1"},
        "segment_id": "vip",
        "audience": "VIP customers",
        "traits": {},
    }
    assert set(erase) == {"id", "kind", "profile_id", "at", "identifiers"}
    assert (event["event"], event["properties"]) == ("Order Completed", {"total": 12.5})
    assert request.url == "https://crm.example.com/hooks/cdp"


def test_the_signature_is_an_hmac_of_the_timestamp_and_body(receiver: WebhookContract) -> None:
    now = START + timedelta(days=2)
    (request,) = CONNECTOR.requests([delivery(1)], SETTINGS, SECRET, now=iso(now))

    header = request.headers["X-CDP-Signature"]
    timestamp = int(now.timestamp())
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + (request.body or b""), hashlib.sha256
    ).hexdigest()
    assert header == f"t={timestamp},v1={expected}"
    assert request.headers["Idempotency-Key"] == hashlib.sha256(b"d00001").hexdigest()


def test_without_a_clock_the_timestamp_is_the_newest_delivery() -> None:
    for now in (None, "", "not a time"):
        (request,) = CONNECTOR.requests([delivery(7), delivery(3)], SETTINGS, SECRET, now=now)
        timestamp = int((START + timedelta(seconds=7)).timestamp())
        assert request.headers["X-CDP-Signature"].startswith(f"t={timestamp},")


def test_a_wrong_secret_or_a_stale_timestamp_is_refused(receiver: WebhookContract) -> None:
    (request,) = CONNECTOR.requests([delivery(1)], SETTINGS, "another secret", receiver.url)
    (outcome,) = CONNECTOR.outcomes(request, transport.send(request))
    assert outcome.state == "failed"
    assert "401" in outcome.message

    receiver.now = int((START + timedelta(hours=1)).timestamp())
    (stale,) = deliver(receiver, [delivery(2)], now=iso(START))
    (fresh,) = deliver(receiver, [delivery(3)], now=iso(START + timedelta(hours=1)))
    assert "too old" in stale.message
    assert fresh == Outcome.delivered()
    receiver.violations.clear()  # refused on purpose


def test_a_batch_sent_again_is_taken_once(receiver: WebhookContract) -> None:
    batch = [delivery(1, "event"), delivery(2, "event")]
    deliver(receiver, batch, now=iso(START))
    outcomes = deliver(receiver, batch, now=iso(START + timedelta(minutes=5)))  # a retry
    assert outcomes == [Outcome.delivered()] * 2
    assert receiver.duplicates == 1
    assert len(receiver.events["p1"]) == 2


def test_batches_beyond_the_limit_keep_each_persons_order(receiver: WebhookContract) -> None:
    # given: 250 deliveries, one person's add at the start and remove at the very end
    deliveries = [delivery(0, "audience_add", "p0")]
    deliveries += [delivery(n, "audience_add", f"p{n}") for n in range(1, 249)]
    deliveries.append(delivery(249, "audience_remove", "p0"))
    # when
    requests = CONNECTOR.requests(deliveries, SETTINGS, SECRET, receiver.url)
    outcomes = deliver(receiver, deliveries)
    # then
    assert [len(r.deliveries) for r in requests] == [BATCH, BATCH, 50]
    assert outcomes == [Outcome.delivered()] * 250
    assert receiver.audiences["p0"] == set()
    assert receiver.audiences["p248"] == {"VIP customers"}
    assert receiver.violations == []


def test_rate_limits_and_errors_are_retried(receiver: WebhookContract) -> None:
    receiver.fail_next(Answer(429, {"error": "slow down"}, {"Retry-After": "12"}))
    receiver.fail_next(Answer(503, {"error": "maintenance"}))
    receiver.fail_next(Answer(422, {"error": "we do not take these"}))

    (limited,) = deliver(receiver, [delivery(1)])
    (unavailable,) = deliver(receiver, [delivery(1)])
    (refused,) = deliver(receiver, [delivery(1)])

    assert limited == Outcome("retry", '{"error": "slow down"}', 12.0)
    assert unavailable.state == "retry"
    assert "maintenance" in unavailable.message
    assert refused.state == "failed"
    assert refused.message.startswith("422")


def test_a_delivery_the_receiver_refuses_fails_alone(receiver: WebhookContract) -> None:
    receiver.refuse = {"d00002": "unknown audience"}
    outcomes = deliver(receiver, [delivery(1), delivery(2, who="p2"), delivery(3, who="p3")])
    assert outcomes == [
        Outcome.delivered(),
        Outcome("failed", "unknown audience"),
        Outcome.delivered(),
    ]
    assert set(receiver.audiences) == {"p1", "p3"}


def test_an_unreachable_receiver_is_retried() -> None:
    settings = WebhookSettings(url="https://crm.example.com/hooks/cdp")
    (request,) = CONNECTOR.requests([delivery(1)], settings, SECRET, "http://127.0.0.1:9")
    (outcome,) = CONNECTOR.outcomes(request, transport.send(request))
    assert outcome.state == "retry"


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "https://user:pass@crm.example.com/",
    ],
)
def test_only_public_https_urls_are_taken(url: str) -> None:
    with pytest.raises(ValidationError):
        WebhookSettings(url=url)


operations = st.lists(
    st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(["A", "B"]), st.booleans()),
    min_size=1,
    max_size=250,
)


@settings(max_examples=25, deadline=None)
@given(operations=operations)
def test_any_sequence_ends_as_its_last_operation_per_person(
    running: WebhookContract, operations: list[tuple[str, str, bool]]
) -> None:
    running.reset()
    deliveries = [
        delivery(n, "audience_add" if joined else "audience_remove", who, audience=audience)
        for n, (who, audience, joined) in enumerate(operations)
    ]
    deliver(running, deliveries)
    last = {(who, audience): joined for who, audience, joined in operations}
    for (who, audience), joined in last.items():
        assert (audience in running.audiences[who]) is joined
    assert running.violations == []
