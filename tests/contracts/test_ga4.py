"""Google Analytics 4 (Measurement Protocol) against its contract: the collect endpoint, which
takes everything and keeps what is valid, and the validation server, which says why not."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.sharing.connectors import transport
from cdp.sharing.connectors.base import Delivery, Identifiers, Outcome, Request
from cdp.sharing.connectors.ga4 import CONNECTOR, SKIP_REASONS, Ga4Settings, client_id
from tests.contracts.driving import drive
from tests.contracts.ga4 import Ga4Contract
from tests.contracts.server import Answer

MEASUREMENT_ID = "G-TEST123456"
SECRET = "mp-api-secret"
SETTINGS = Ga4Settings(measurement_id=MEASUREMENT_ID)
VALIDATING = Ga4Settings(measurement_id=MEASUREMENT_ID, validate_only=True)
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def running() -> Iterator[Ga4Contract]:
    contract = Ga4Contract(MEASUREMENT_ID, SECRET)
    with contract.running():
        yield contract


@pytest.fixture
def ga(running: Ga4Contract) -> Ga4Contract:
    running.reset()
    return running


def delivery(n: int, kind: str = "audience_add", who: str = "p1", **fields: Any) -> Delivery:
    defaults: dict[str, Any] = {}
    if kind in ("audience_add", "audience_remove"):
        defaults = {"segment_id": "vip", "audience": "vip_customers"}
    if kind == "event":
        defaults = {"event": "Order Completed", "properties": {"total": 12.5, "currency": "EUR"}}
    return Delivery(
        id=f"d{n:05d}",
        destination="analytics",
        kind=kind,  # type: ignore[arg-type]
        profile_id=who,
        identifiers=Identifiers(emails=(f"{who}@example.com",), user_id=f"u-{who}"),
        at=(START + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        **{**defaults, **fields},
    )


def deliver(
    ga: Ga4Contract, deliveries: Sequence[Delivery], config: Ga4Settings = SETTINGS
) -> dict[int, Outcome]:
    """Sends every request in order; each carried delivery's outcome by its position."""
    return drive(CONNECTOR, deliveries, config, SECRET, ga.url).by_position()


def sent(request: Request) -> Any:
    return json.loads(request.body or b"")


def micros(n: int) -> int:
    return int((START + timedelta(seconds=n)).timestamp()) * 1_000_000


def test_entries_exits_traits_and_events_reach_ga(ga: Ga4Contract) -> None:
    # given
    deliveries = [
        delivery(1, "audience_add", "p1", traits={"plan": "pro"}),
        delivery(2, "audience_add", "p2", audience="churn_risk"),
        delivery(3, "traits", "p1", traits={"plan": "team", "city": None}),
        delivery(4, "event", "p1"),
        delivery(5, "audience_remove", "p2", audience="churn_risk"),
    ]
    # when
    outcomes = deliver(ga, deliveries)
    # then
    assert outcomes == dict.fromkeys(range(5), Outcome.delivered())
    p1, p2 = client_id("p1"), client_id("p2")
    assert ga.groups(p1) == {"vip_customers"}
    assert ga.groups(p2) == set()
    assert ga.user_properties[p1] == {"plan": "team", "city": None}
    assert ga.user_ids == {p1: "u-p1", p2: "u-p2"}
    purchase = next(e for e in ga.events[p1] if e["name"] == "order_completed")
    assert purchase == {
        "name": "order_completed",
        "params": {"total": 12.5, "currency": "EUR"},
        "timestamp_micros": micros(4),
    }
    assert ga.violations == []


def test_an_addition_sends_the_traits_it_carries(ga: Ga4Contract) -> None:
    # An addition carries the person's mapped traits, and no traits delivery goes with it.
    outcomes = deliver(ga, [delivery(1, "audience_add", traits={"plan": "pro", "_seen": "x"})])

    assert outcomes == {0: Outcome.delivered()}
    assert ga.groups(client_id("p1")) == {"vip_customers"}
    assert ga.user_properties[client_id("p1")] == {"plan": "pro"}  # _seen: a name GA reserves
    assert ga.violations == []


def test_what_a_request_holds() -> None:
    (request,) = CONNECTOR.requests(
        [delivery(1, "audience_add"), delivery(2, "traits", traits={"plan": "pro"})],
        SETTINGS,
        SECRET,
    )
    assert request.url == (
        f"https://www.google-analytics.com/mp/collect?measurement_id={MEASUREMENT_ID}"
        f"&api_secret={SECRET}"
    )
    assert sent(request) == {
        "client_id": client_id("p1"),
        "user_id": "u-p1",
        "events": [
            {
                "name": "join_group",
                "params": {"group_id": "vip_customers"},
                "timestamp_micros": micros(1),
            }
        ],
        "user_properties": {"plan": {"value": "pro", "timestamp_micros": micros(2)}},
    }
    assert "p1@example.com" not in (request.body or b"").decode()


def test_the_eu_region_collects_in_the_eu() -> None:
    config = Ga4Settings(measurement_id=MEASUREMENT_ID, region="eu")
    (request,) = CONNECTOR.requests([delivery(1)], config, SECRET)
    assert request.url.startswith("https://region1.google-analytics.com/mp/collect?")


def test_the_client_id_is_two_numbers_from_the_profile_ids_hash() -> None:
    digest = hashlib.sha256(b"p1").hexdigest()
    assert client_id("p1") == f"{int(digest[:8], 16) + 1}.{int(digest[8:16], 16) + 1}"
    assert client_id("p1") != client_id("p2")


def test_an_add_then_a_remove_ends_removed(ga: Ga4Contract) -> None:
    deliver(ga, [delivery(1, "audience_add"), delivery(2, "audience_remove")])
    deliver(ga, [delivery(3, "audience_add", audience="other")])
    assert ga.groups(client_id("p1")) == {"other"}


def test_more_events_than_a_request_holds_are_split(ga: Ga4Contract) -> None:
    # given: 60 events of one person and one of another
    deliveries = [delivery(n, "event", event=f"step {n}") for n in range(60)]
    deliveries.append(delivery(60, "event", "p2"))
    # when
    requests = CONNECTOR.requests(deliveries, SETTINGS, SECRET, ga.url)
    outcomes = deliver(ga, deliveries)
    # then
    assert [len(sent(r)["events"]) for r in requests] == [25, 25, 10, 1]
    assert len(outcomes) == 61
    assert [e["name"] for e in ga.events[client_id("p1")]] == [f"step_{n}" for n in range(60)]
    assert ga.violations == []


def test_a_property_set_twice_waits_for_the_next_request(ga: Ga4Contract) -> None:
    deliveries = [
        delivery(1, "traits", traits={"plan": "free"}),
        delivery(2, "event", event="Upgraded"),
        delivery(3, "traits", traits={"plan": "pro"}),
    ]
    requests = CONNECTOR.requests(deliveries, SETTINGS, SECRET, ga.url)
    deliver(ga, deliveries)
    assert [r.deliveries for r in requests] == [(1, 0), (2,)]
    assert ga.user_properties[client_id("p1")] == {"plan": "pro"}


def test_names_and_values_follow_gas_rules(ga: Ga4Contract) -> None:
    properties: dict[str, Any] = {
        "Order ID": "A-1",
        "note": "x" * 150,
        "gift": True,
        "items_seen": ["a", "b"],
        "ga_internal": 1,
        "_private": 2,
    }
    properties.update({f"extra{n}": n for n in range(30)})
    deliveries = [
        delivery(1, "event", event="9 Checkout -- Started!", properties=properties),
        delivery(2, "event", event="session_start"),  # reserved: GA would refuse it
        delivery(3, "event", event="!!!"),
        delivery(4, "traits", traits={"Plan": "x" * 50, "ga_tier": "a", "user_id": "b"}),
        delivery(5, "traits", traits={"favourite colour": "blue", "tags": ["a"]}),
    ]
    requests = CONNECTOR.requests(deliveries, SETTINGS, SECRET, ga.url)
    outcomes = deliver(ga, deliveries)

    (request,) = requests
    (event,) = sent(request)["events"]
    assert event["name"] == "checkout_started"
    params = event["params"]
    assert len(params) == 25
    assert params["Order_ID"] == "A-1"
    assert params["note"] == "x" * 100
    assert params["gift"] == "true"
    assert not {"items_seen", "ga_internal", "_private"} & set(params)
    assert sent(request)["user_properties"] == {
        "Plan": {"value": "x" * 36, "timestamp_micros": micros(4)}
    }
    assert set(outcomes) == {0, 3}  # the others are not sent: the deliverer skips them
    assert ga.violations == []
    # and says why, in GA's terms
    reasons = [CONNECTOR.skip_reason(d) for d in deliveries]
    assert reasons[0] is None
    assert reasons[1] == "Google Analytics reserves the event name 'session_start'"
    assert "nothing of the event's name" in (reasons[2] or "")
    assert reasons[3] is None
    assert "user property" in (reasons[4] or "")


def test_erasure_is_not_sent_and_says_why() -> None:
    erase = delivery(1, "erase")
    assert CONNECTOR.requests([erase], SETTINGS, SECRET) == []
    assert "erase" not in CONNECTOR.kinds
    assert "no deletion call" in SKIP_REASONS["erase"]
    assert CONNECTOR.skip_reason(erase) == SKIP_REASONS["erase"]


def test_an_audience_name_too_long_for_group_id_says_so() -> None:
    long = delivery(1, audience="a" * 101)
    assert CONNECTOR.requests([long], SETTINGS, SECRET) == []
    assert CONNECTOR.skip_reason(long) == (
        "Google Analytics takes a group_id of 1 to 100 characters; the audience's name has 101"
    )
    assert CONNECTOR.skip_reason(delivery(2, audience="a" * 100)) is None


def test_a_rate_limit_is_retried_after_the_wait_asked(ga: Ga4Contract) -> None:
    ga.fail_next(Answer(429, {"error": "quota"}, {"Retry-After": "30"}))
    ga.fail_next(Answer(500, {"error": "backend"}))
    (limited,) = deliver(ga, [delivery(1)]).values()
    (failed,) = deliver(ga, [delivery(1)]).values()
    assert limited == Outcome("retry", '{"error": "quota"}', 30.0)
    assert failed.state == "retry"
    assert ga.groups(client_id("p1")) == set()


def test_the_collect_endpoint_never_says_no(ga: Ga4Contract) -> None:
    # given: a wrong secret, as GA takes it: 2xx, and the data lost
    (request,) = CONNECTOR.requests([delivery(1)], SETTINGS, "not the secret", ga.url)
    # when
    (outcome,) = CONNECTOR.outcomes(request, transport.send(request))
    # then: the connector cannot tell
    assert outcome == Outcome.delivered()
    assert ga.events == {}
    assert ga.violations == ["/mp/collect: wrong api_secret or measurement_id"]


def test_the_validation_server_fails_what_it_refuses_and_only_that(ga: Ga4Contract) -> None:
    # given: GA refuses one event and one user property the connector could not foresee
    ga.refuse = {"bad_event": "VALUE_INVALID", "tier": "VALUE_INVALID"}
    deliveries = [
        delivery(1, "event", event="good_event"),
        delivery(2, "event", event="bad_event"),
        delivery(3, "audience_add"),
        delivery(4, "traits", traits={"tier": "gold"}),
        delivery(5, "event", "p2", event="bad_event"),
    ]
    # when
    outcomes = deliver(ga, deliveries, VALIDATING)
    # then
    assert outcomes[0] == outcomes[2] == Outcome.delivered()
    assert outcomes[1] == Outcome(
        "failed", "VALUE_INVALID: Event at index: [1] has invalid params."
    )
    assert outcomes[3].state == outcomes[4].state == "failed"
    assert ga.events == {}  # the validation server records nothing
    assert ga.violations == []


def test_validation_uses_the_debug_endpoint_strictly() -> None:
    (request,) = CONNECTOR.requests([delivery(1)], VALIDATING, SECRET)
    assert request.url.startswith("https://www.google-analytics.com/debug/mp/collect?")
    assert sent(request)["validation_behavior"] == "ENFORCE_RECOMMENDATIONS"


def test_the_contract_answers_as_the_validation_server_does(ga: Ga4Contract) -> None:
    body = {"client_id": "1.2", "events": [{"name": "_badEventName", "params": {}}]}
    query = f"measurement_id={MEASUREMENT_ID}&api_secret={SECRET}"
    outgoing = urllib.request.Request(
        f"{ga.url}/debug/mp/collect?{query}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(outgoing) as answer:
        messages = json.loads(answer.read())["validationMessages"]
    assert [(m["fieldPath"], m["validationCode"]) for m in messages] == [("events", "NAME_INVALID")]
    assert messages[0]["description"].startswith("Event at index: [0] ")
    ga.violations.clear()  # sent wrong on purpose


operations = st.lists(
    st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(["a", "b"]), st.booleans()),
    min_size=1,
    max_size=80,
)


@settings(max_examples=25, deadline=None)
@given(operations=operations)
def test_any_sequence_ends_as_its_last_operation_per_person(
    running: Ga4Contract, operations: list[tuple[str, str, bool]]
) -> None:
    running.reset()
    deliveries = [
        delivery(n, "audience_add" if joined else "audience_remove", who, audience=audience)
        for n, (who, audience, joined) in enumerate(operations)
    ]
    deliver(running, deliveries)
    last = {(who, audience): joined for who, audience, joined in operations}
    for (who, audience), joined in last.items():
        assert (audience in running.groups(client_id(who))) is joined
    assert running.violations == []
