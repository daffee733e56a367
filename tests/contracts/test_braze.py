"""The Braze connector against Braze's API played locally (tests/contracts/braze.py)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.sharing.connectors.base import Delivery, DeliveryKind, Identifiers, Outcome, Response
from cdp.sharing.connectors.braze import CONNECTOR, BrazeSettings
from tests.contracts.braze import BLOCKLISTED, BrazeServer
from tests.contracts.driving import drive
from tests.contracts.server import Answer

KEY = "braze-rest-key"
SETTINGS = BrazeSettings(instance_url="https://rest.iad-01.braze.com")
AT = "2025-03-01T10:00:00Z"
_ids = itertools.count()


def delivery(
    kind: DeliveryKind,
    person: str = "u1",
    *,
    emails: tuple[str, ...] | None = None,
    phones: tuple[str, ...] = (),
    user_id: str | None = "",
    **fields: Any,
) -> Delivery:
    """A delivery for person `person`: their user id is `person` unless `user_id` says
    otherwise (None: they have none), their e-mail `<person>@example.com` unless given."""
    who = Identifiers(
        emails=emails if emails is not None else (f"{person}@example.com",),
        phones=phones,
        user_id=person if user_id == "" else user_id,
    )
    return Delivery(
        id=f"d{next(_ids)}",
        destination="braze",
        kind=kind,
        profile_id=f"profile-{person}",
        identifiers=who,
        at=AT,
        **fields,
    )


def deliver(
    server: BrazeServer, deliveries: Sequence[Delivery], settings_: BrazeSettings = SETTINGS
) -> list[Outcome | None]:
    """Each delivery's outcome (None: carried by no request), sending as the deliverer does."""
    driven = drive(CONNECTOR, deliveries, settings_, KEY, server.url)
    assert all(len(found) <= 1 for found in driven.outcomes), "a delivery is carried once"
    return driven.settled()


@pytest.fixture(scope="module")
def running() -> Iterator[BrazeServer]:
    server = BrazeServer(KEY)
    with server.running():
        yield server


@pytest.fixture
def braze(running: BrazeServer) -> Iterator[BrazeServer]:
    running.reset(api_key=KEY)
    yield running
    assert running.violations == []


def test_additions_write_the_audience_attribute_with_the_traits(braze: BrazeServer) -> None:
    outcomes = deliver(
        braze,
        [
            delivery("audience_add", "u1", audience="VIP", traits={"first_name": "Ada"}),
            delivery("audience_add", "u2", audience="VIP"),
            delivery("audience_add", "u1", audience="Churn risk"),
        ],
    )
    assert outcomes == [Outcome.delivered()] * 3
    assert braze.audiences("external_id", "u1") == ["VIP", "Churn risk"]
    assert braze.audiences("external_id", "u2") == ["VIP"]
    assert braze.profile("external_id", "u1") == {
        "external_id": "u1",
        "first_name": "Ada",
        "cdp_segments": ["VIP", "Churn risk"],
    }
    assert len(braze.received) == 1  # one /users/track request


def test_a_removal_keeps_the_other_audiences(braze: BrazeServer) -> None:
    deliver(braze, [delivery("audience_add", audience="A"), delivery("audience_add", audience="B")])

    outcomes = deliver(braze, [delivery("audience_remove", audience="A")])

    assert outcomes == [Outcome.delivered()]
    assert braze.audiences("external_id", "u1") == ["B"]
    sent = braze.received[-1].json()
    assert sent == {"attributes": [{"cdp_segments": {"remove": ["A"]}, "external_id": "u1"}]}


def test_an_addition_then_a_removal_ends_removed(braze: BrazeServer) -> None:
    outcomes = deliver(
        braze,
        [
            delivery("audience_add", audience="A"),
            delivery("audience_add", "u2", audience="A"),
            delivery("audience_remove", audience="A"),
        ],
    )
    assert outcomes == [Outcome.delivered()] * 3
    assert braze.audiences("external_id", "u1") == []
    assert braze.audiences("external_id", "u2") == ["A"]


def test_the_audience_attribute_is_the_one_configured(braze: BrazeServer) -> None:
    chosen = BrazeSettings(instance_url=SETTINGS.instance_url, audience_attribute="segments")
    deliver(braze, [delivery("audience_add", audience="A")], chosen)
    assert braze.audiences("external_id", "u1", attribute="segments") == ["A"]


def test_people_without_a_user_id_are_found_by_email_then_phone(braze: BrazeServer) -> None:
    outcomes = deliver(
        braze,
        [
            delivery("audience_add", "e1", user_id=None, audience="A"),
            delivery(
                "audience_add",
                "p1",
                user_id=None,
                emails=(),
                phones=("+15043277269",),
                audience="A",
            ),
            delivery("audience_add", "n1", user_id=None, emails=(), audience="A"),
        ],
    )
    assert outcomes[:2] == [Outcome.delivered()] * 2
    assert outcomes[2] is None  # no identifier Braze matches people by: skipped
    assert braze.audiences("email", "e1@example.com") == ["A"]
    assert braze.audiences("phone", "+15043277269") == ["A"]
    objects = braze.received[0].json()["attributes"]
    assert [sorted(o) for o in objects] == [["cdp_segments", "email"], ["cdp_segments", "phone"]]


def test_traits_are_custom_attributes_and_none_removes_one(braze: BrazeServer) -> None:
    deliver(braze, [delivery("traits", traits={"plan": "pro", "seats": 3, "churn": 0.2})])

    outcomes = deliver(braze, [delivery("traits", traits={"plan": None, "seats": 4})])

    assert outcomes == [Outcome.delivered()]
    profile = braze.profile("external_id", "u1")
    assert profile == {"external_id": "u1", "seats": 4, "churn": 0.2}


def test_a_trait_cannot_point_the_object_at_someone_else(braze: BrazeServer) -> None:
    deliver(braze, [delivery("traits", "e1", user_id=None, traits={"email": "other@example.com"})])
    sent = braze.received[0].json()["attributes"][0]
    assert sent == {"email": "e1@example.com"}


def test_events_carry_their_time_and_properties(braze: BrazeServer) -> None:
    outcomes = deliver(
        braze,
        [
            delivery("event", event="order_completed", properties={"total": 42.5, "items": 2}),
            delivery("event", "u2", event="signed_up"),
        ],
    )
    assert outcomes == [Outcome.delivered()] * 2
    assert braze.events == [
        {
            "external_id": "u1",
            "name": "order_completed",
            "time": AT,
            "properties": {"total": 42.5, "items": 2},
        },
        {"external_id": "u2", "name": "signed_up", "time": AT},
    ]


def test_batches_hold_75_objects_of_each_kind(braze: BrazeServer) -> None:
    adds = [delivery("audience_add", f"u{n}", audience="A") for n in range(160)]
    events = [delivery("event", f"u{n}", event="seen") for n in range(80)]

    outcomes = deliver(braze, [*adds, *events])

    assert outcomes == [Outcome.delivered()] * 240
    bodies = [request.json() for request in braze.received]
    assert all(len(body.get("attributes", [])) <= 75 for body in bodies)
    assert all(len(body.get("events", [])) <= 75 for body in bodies)
    assert sum(len(body.get("attributes", [])) for body in bodies) == 160
    assert sum(len(body.get("events", [])) for body in bodies) == 80
    assert len(braze.profiles) == 160
    assert all(braze.audiences("external_id", f"u{n}") == ["A"] for n in range(160))


def test_a_persons_changes_stay_together_and_in_order() -> None:
    # u0 has 3 changes among 100 other people's: they travel in one request, in their order.
    others = [delivery("audience_add", f"x{n}", audience="A") for n in range(100)]
    deliveries = [
        delivery("audience_add", "u0", audience="A"),
        *others[:74],
        delivery("audience_remove", "u0", audience="A"),
        *others[74:],
        delivery("audience_add", "u0", audience="B"),
    ]
    requests = CONNECTOR.requests(deliveries, SETTINGS, KEY)
    holding = [
        r for r in requests if any(deliveries[p].profile_id == "profile-u0" for p in r.deliveries)
    ]
    assert len(holding) == 1
    mine = [p for p in holding[0].deliveries if deliveries[p].profile_id == "profile-u0"]
    assert mine == [0, 75, 102]


def test_erasure_deletes_the_profile_after_what_came_before(braze: BrazeServer) -> None:
    outcomes = deliver(
        braze,
        [
            delivery("audience_add", audience="A"),
            delivery("erase"),
            delivery("audience_add", "u2", audience="A"),
        ],
    )
    assert outcomes == [Outcome.delivered()] * 3
    assert [r.path for r in braze.received] == ["/users/track", "/users/delete"]
    assert braze.received[1].json() == {"external_ids": ["u1"]}
    assert braze.profile("external_id", "u1") is None
    assert braze.deleted == [("external_id", "u1")]
    assert braze.audiences("external_id", "u2") == ["A"]


def test_what_follows_an_erasure_is_sent_after_it(braze: BrazeServer) -> None:
    deliver(
        braze,
        [
            delivery("audience_add", audience="A"),
            delivery("erase"),
            delivery("audience_add", audience="B"),
        ],
    )
    assert [r.path for r in braze.received] == ["/users/track", "/users/delete", "/users/track"]
    assert braze.audiences("external_id", "u1") == ["B"]


def test_erasure_by_email_and_phone_names_the_prioritization(braze: BrazeServer) -> None:
    deliver(
        braze,
        [
            delivery("audience_add", "e1", user_id=None, audience="A"),
            delivery("erase", "e1", user_id=None),
            delivery("erase", "p1", user_id=None, emails=(), phones=("+33612345678",)),
        ],
    )
    deletions = [r.json() for r in braze.received if r.path == "/users/delete"]
    assert deletions == [
        {
            "email_addresses": [
                {
                    "email": "e1@example.com",
                    "prioritization": ["unidentified", "most_recently_updated"],
                }
            ]
        },
        {
            "phone_numbers": [
                {
                    "phone": "+33612345678",
                    "prioritization": ["unidentified", "most_recently_updated"],
                }
            ]
        },
    ]
    assert braze.profile("email", "e1@example.com") is None


def test_erasures_are_batched_by_fifty(braze: BrazeServer) -> None:
    outcomes = deliver(braze, [delivery("erase", f"u{n}") for n in range(120)])
    assert outcomes == [Outcome.delivered()] * 120
    sizes = [len(r.json()["external_ids"]) for r in braze.received]
    assert sizes == [50, 50, 20]


def test_a_refused_object_fails_only_its_delivery(braze: BrazeServer) -> None:
    braze.blocklisted.add("u2")
    outcomes = deliver(
        braze,
        [
            delivery("audience_add", "u1", audience="A"),
            delivery("audience_add", "u2", audience="A"),
            delivery("event", "u1", event="seen", properties={"time": "now"}),
            delivery("event", "u3", event="seen"),
        ],
    )
    assert outcomes[0] == Outcome.delivered()
    assert outcomes[1] == Outcome("failed", BLOCKLISTED)
    assert outcomes[2] is not None
    assert outcomes[2].state == "failed"
    assert "'time'" in outcomes[2].message
    assert outcomes[3] == Outcome.delivered()
    assert braze.audiences("external_id", "u1") == ["A"]


def test_a_rate_limit_is_retried_after_retry_after(braze: BrazeServer) -> None:
    braze.fail_next(Answer(429, {"message": "Rate Limited"}, {"Retry-After": "12"}))
    outcomes = deliver(braze, [delivery("audience_add", audience="A")])
    assert outcomes == [Outcome("retry", "Rate Limited", 12.0)]


def test_a_rate_limit_is_retried_when_the_window_resets(braze: BrazeServer) -> None:
    braze.fail_next(BrazeServer.rate_limited(reset_in=20))
    (outcome,) = deliver(braze, [delivery("audience_add", audience="A")])
    assert outcome is not None
    assert outcome.state == "retry"
    assert outcome.retry_after is not None
    assert 18.0 <= outcome.retry_after <= 21.0  # X-RateLimit-Reset less the answer's Date


def test_a_server_error_is_retried(braze: BrazeServer) -> None:
    braze.fail_next(Answer(503, {"message": "Service Unavailable"}))
    (outcome,) = deliver(braze, [delivery("erase")])
    assert outcome is not None
    assert outcome.state == "retry"


def test_an_unknown_key_fails_with_brazes_words(braze: BrazeServer) -> None:
    braze.reset(api_key="another-key")
    (outcome,) = deliver(braze, [delivery("audience_add", audience="A")])
    assert outcome == Outcome("failed", "401: Unknown or missing REST API Key")


def test_a_fatal_error_fails_the_whole_request() -> None:
    request = CONNECTOR.requests([delivery("audience_add", audience="A")], SETTINGS, KEY)[0]
    answer = {"message": "Bad Request", "errors": ["attributes: too many"]}
    outcomes = CONNECTOR.outcomes(request, Response(400, {}, json.dumps(answer).encode()))
    assert outcomes == [Outcome("failed", "400: Bad Request: attributes: too many")]


def test_requests_go_to_the_instance_with_the_key() -> None:
    (request,) = CONNECTOR.requests([delivery("audience_add", audience="A")], SETTINGS, KEY)
    assert request.url == "https://rest.iad-01.braze.com/users/track"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_settings_take_only_a_braze_instance() -> None:
    with pytest.raises(ValueError, match="instance_url"):
        BrazeSettings(instance_url="https://attacker.example.com")


@settings(max_examples=40, deadline=None)
@given(
    operations=st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.sampled_from(["A", "B"]), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_any_sequence_ends_with_the_last_operation_per_person(
    running: BrazeServer, operations: list[tuple[str, str, bool]]
) -> None:
    running.reset(api_key=KEY)
    deliveries = [
        delivery("audience_add" if add else "audience_remove", person, audience=audience)
        for person, audience, add in operations
    ]
    outcomes = deliver(running, deliveries)
    assert outcomes == [Outcome.delivered()] * len(deliveries)
    last: dict[tuple[str, str], bool] = {}
    for person, audience, add in operations:
        last[(person, audience)] = add
    for (person, audience), add in last.items():
        assert (audience in running.audiences("external_id", person)) == add
    assert running.violations == []
