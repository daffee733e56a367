"""The Meta Custom Audiences connector against Meta's API played locally
(tests/contracts/meta.py)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.sharing.connectors.base import Delivery, DeliveryKind, Identifiers, Outcome
from cdp.sharing.connectors.meta import CONNECTOR, MetaSettings, normalise_phone
from tests.contracts.driving import drive
from tests.contracts.meta import MetaServer
from tests.contracts.server import Answer

TOKEN = "meta-system-user-token"
AUDIENCE, OTHER = "23850000000000001", "23850000000000002"
SETTINGS = MetaSettings(api_version="21.0", audience_ids=(AUDIENCE, OTHER))
_ids = itertools.count()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def delivery(
    kind: DeliveryKind,
    person: str = "p1",
    *,
    emails: tuple[str, ...] | None = None,
    phones: tuple[str, ...] = (),
    **fields: Any,
) -> Delivery:
    """A delivery for `person`, whose e-mail is `<person>@example.com` unless given."""
    who = Identifiers(
        emails=emails if emails is not None else (f"{person}@example.com",),
        phones=phones,
        user_id=person,
    )
    return Delivery(
        id=f"d{next(_ids)}",
        destination="meta",
        kind=kind,
        profile_id=f"profile-{person}",
        identifiers=who,
        at="2025-03-01T10:00:00Z",
        **fields,
    )


def add(person: str = "p1", audience: str = AUDIENCE, **fields: Any) -> Delivery:
    return delivery("audience_add", person, audience=audience, **fields)


def remove(person: str = "p1", audience: str = AUDIENCE, **fields: Any) -> Delivery:
    return delivery("audience_remove", person, audience=audience, **fields)


def deliver(
    server: MetaServer, deliveries: Sequence[Delivery], settings_: MetaSettings = SETTINGS
) -> list[list[Outcome]]:
    """Each delivery's outcomes, one per request that carries it (an erasure: one per
    audience), sending as the deliverer does."""
    return drive(CONNECTOR, deliveries, settings_, TOKEN, server.url).outcomes


DELIVERED = [Outcome.delivered()]


@pytest.fixture(scope="module")
def running() -> Iterator[MetaServer]:
    server = MetaServer(TOKEN, [AUDIENCE, OTHER])
    with server.running():
        yield server


@pytest.fixture
def meta(running: MetaServer) -> Iterator[MetaServer]:
    running.reset(token=TOKEN)
    yield running
    assert running.violations == []


def test_additions_send_hashed_email_and_phone(meta: MetaServer) -> None:
    outcomes = deliver(
        meta,
        [
            add("p1", emails=("  Ada.Lovelace@Example.COM ",), phones=("+44 20 7946 0958",)),
            add("p2", phones=()),
        ],
    )
    assert outcomes == [DELIVERED, DELIVERED]
    (request,) = meta.received
    assert request.method == "POST"
    assert request.path == f"/v21.0/{AUDIENCE}/users"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {
        "payload": {
            "schema": ["EMAIL", "PHONE"],
            "data": [
                [sha256("ada.lovelace@example.com"), sha256("442079460958")],
                [sha256("p2@example.com"), ""],
            ],
        }
    }
    assert meta.holds(AUDIENCE, email=sha256("ada.lovelace@example.com"))
    assert meta.holds(AUDIENCE, phone=sha256("442079460958"))
    assert meta.holds(AUDIENCE, email=sha256("p2@example.com"))


def test_nothing_in_clear_leaves(meta: MetaServer) -> None:
    deliver(meta, [add(emails=("ada@example.com",), phones=("+15043277269",))])
    sent = meta.received[0].body.decode()
    assert "ada@example.com" not in sent
    assert "15043277269" not in sent


def test_one_match_key_is_a_single_key_schema(meta: MetaServer) -> None:
    by_email = MetaSettings(api_version="v21.0", match_keys=("EMAIL",))
    by_phone = MetaSettings(api_version="21.0", match_keys=("PHONE",), phone_country_code="33")

    deliver(meta, [add(emails=("ada@example.com",))], by_email)
    deliver(meta, [add(phones=("06 12 34 56 78",))], by_phone)

    assert meta.received[0].json()["payload"] == {
        "schema": "EMAIL_SHA256",
        "data": [sha256("ada@example.com")],
    }
    assert meta.received[1].json()["payload"] == {
        "schema": "PHONE_SHA256",
        "data": [sha256("33612345678")],
    }


def test_people_without_a_usable_key_are_not_sent(meta: MetaServer) -> None:
    by_phone = MetaSettings(api_version="21.0", match_keys=("PHONE",))
    outcomes = deliver(
        meta,
        [
            add("p1", phones=("020 7946 0958",)),  # no country code, none configured
            add("p2", phones=("+442079460958",)),
            add("p3"),  # e-mail only
        ],
        by_phone,
    )
    assert outcomes == [[], DELIVERED, []]


@pytest.mark.parametrize(
    ("phone", "country", "expected"),
    [
        ("+1 (504) 327-7269", None, "15043277269"),
        ("0033 6 12 34 56 78", None, "33612345678"),
        ("06 12 34 56 78", "33", "33612345678"),
        ("06 12 34 56 78", None, None),
        ("+12", None, None),
    ],
)
def test_phones_are_normalised_as_meta_says(
    phone: str, country: str | None, expected: str | None
) -> None:
    assert normalise_phone(phone, country) == expected


def test_a_removal_is_a_delete_of_the_same_rows(meta: MetaServer) -> None:
    deliver(meta, [add("p1"), add("p2")])

    outcomes = deliver(meta, [remove("p1")])

    assert outcomes == [DELIVERED]
    assert meta.received[-1].method == "DELETE"
    assert meta.received[-1].json() == meta.received[0].json() | {
        "payload": {"schema": ["EMAIL", "PHONE"], "data": [[sha256("p1@example.com"), ""]]}
    }
    assert not meta.holds(AUDIENCE, email=sha256("p1@example.com"))
    assert meta.holds(AUDIENCE, email=sha256("p2@example.com"))


def test_an_addition_then_a_removal_ends_removed(meta: MetaServer) -> None:
    outcomes = deliver(meta, [add("p1"), add("p2"), remove("p1"), add("p3"), add("p1")])
    assert outcomes == [DELIVERED] * 5
    assert [r.method for r in meta.received] == ["POST", "DELETE", "POST"]
    assert all(meta.holds(AUDIENCE, email=sha256(f"{p}@example.com")) for p in ("p1", "p2", "p3"))

    meta.reset()
    deliver(meta, [add("p1"), remove("p2"), remove("p1")])
    assert not meta.holds(AUDIENCE, email=sha256("p1@example.com"))


def test_audiences_are_separate_calls(meta: MetaServer) -> None:
    deliver(meta, [add("p1", AUDIENCE), add("p1", OTHER), remove("p2", OTHER)])
    calls = [(r.method, r.path) for r in meta.received]
    assert calls == [
        ("POST", f"/v21.0/{AUDIENCE}/users"),
        ("POST", f"/v21.0/{OTHER}/users"),
        ("DELETE", f"/v21.0/{OTHER}/users"),
    ]


def test_more_than_10000_rows_go_in_one_upload_session(meta: MetaServer) -> None:
    deliveries = [add(f"p{n}") for n in range(10_050)]

    outcomes = deliver(meta, deliveries)

    assert outcomes == [DELIVERED] * 10_050
    first, second = (r.json() for r in meta.received)
    assert len(first["payload"]["data"]) == 10_000
    assert len(second["payload"]["data"]) == 50
    assert first["session"]["session_id"] == second["session"]["session_id"]
    assert [first["session"]["batch_seq"], second["session"]["batch_seq"]] == [1, 2]
    assert [first["session"]["last_batch_flag"], second["session"]["last_batch_flag"]] == [
        False,
        True,
    ]
    assert first["session"]["estimated_num_total"] == 10_050
    assert meta.holds(AUDIENCE, email=sha256("p10049@example.com"))


def test_one_call_needs_no_session(meta: MetaServer) -> None:
    deliver(meta, [add("p1"), add("p2")])
    assert "session" not in meta.received[0].json()


def test_erasure_removes_the_person_from_every_audience(meta: MetaServer) -> None:
    deliver(meta, [add("p1", AUDIENCE), add("p1", OTHER), add("p2", OTHER)])

    outcomes = deliver(meta, [delivery("erase", "p1")])

    assert outcomes == [DELIVERED * 2]  # carried by one removal per audience
    removals = [(r.method, r.path) for r in meta.received[2:]]
    assert removals == [("DELETE", f"/v21.0/{AUDIENCE}/users"), ("DELETE", f"/v21.0/{OTHER}/users")]
    assert not meta.holds(AUDIENCE, email=sha256("p1@example.com"))
    assert not meta.holds(OTHER, email=sha256("p1@example.com"))
    assert meta.holds(OTHER, email=sha256("p2@example.com"))


def test_an_erasure_comes_after_the_additions_before_it(meta: MetaServer) -> None:
    outcomes = deliver(meta, [add("p1"), add("p2"), delivery("erase", "p1")])
    assert outcomes == [DELIVERED, DELIVERED, DELIVERED * 2]
    assert [(r.method, r.path.split("/")[2]) for r in meta.received] == [
        ("POST", AUDIENCE),
        ("DELETE", AUDIENCE),
        ("DELETE", OTHER),
    ]
    assert not meta.holds(AUDIENCE, email=sha256("p1@example.com"))
    assert meta.holds(AUDIENCE, email=sha256("p2@example.com"))


def test_erasure_without_audiences_configured_sends_nothing(meta: MetaServer) -> None:
    bare = MetaSettings(api_version="21.0")
    assert deliver(meta, [delivery("erase")], bare) == [[]]
    assert meta.received == []


def test_traits_and_events_are_not_taken() -> None:
    assert CONNECTOR.kinds == frozenset({"audience_add", "audience_remove", "erase"})
    assert CONNECTOR.hashes_identifiers
    deliveries = [
        delivery("traits", traits={"plan": "pro"}),
        delivery("event", event="order_completed"),
    ]
    assert CONNECTOR.requests(deliveries, SETTINGS, TOKEN) == []


def test_an_invalid_entry_fails_only_its_delivery(meta: MetaServer) -> None:
    meta.invalid[sha256("p2@example.com")] = "the e-mail cannot be matched"
    outcomes = deliver(meta, [add("p1"), add("p2"), add("p3")])
    assert outcomes == [
        DELIVERED,
        [Outcome("failed", "invalid entry: the e-mail cannot be matched")],
        DELIVERED,
    ]
    assert not meta.holds(AUDIENCE, email=sha256("p2@example.com"))


def test_the_business_use_case_rate_limit_is_retried_after_its_wait(meta: MetaServer) -> None:
    meta.fail_next(meta.rate_limited(minutes=3))
    ((outcome,),) = deliver(meta, [add()])
    assert outcome.state == "retry"
    assert outcome.retry_after == 180.0
    assert outcome.message.startswith("80003: (#80003) There have been too many calls")


def test_a_429_is_retried_after_retry_after(meta: MetaServer) -> None:
    meta.fail_next(
        Answer(429, {"error": {"message": "Too many", "code": 17}}, {"Retry-After": "12"})
    )
    assert deliver(meta, [add()]) == [[Outcome("retry", "17: Too many", 12.0)]]


def test_a_server_error_is_retried(meta: MetaServer) -> None:
    meta.fail_next(Answer(503, b"upstream unavailable"))
    ((outcome,),) = deliver(meta, [add()])
    assert outcome.state == "retry"

    meta.fail_next(meta.error(2, "An unexpected error has occurred.", status=500))
    ((outcome,),) = deliver(meta, [add()])
    assert outcome.state == "retry"


def test_a_wrong_token_fails_with_metas_code_and_message(meta: MetaServer) -> None:
    meta.reset(token="another-token")
    assert deliver(meta, [add()]) == [
        [Outcome("failed", "190: Invalid OAuth access token - Cannot parse access token")]
    ]


def test_an_unknown_audience_fails(meta: MetaServer) -> None:
    ((outcome,),) = deliver(meta, [add(audience="999")])
    assert outcome.state == "failed"
    assert outcome.message.startswith("100: Unsupported post request. Object with ID '999'")


def test_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="api_version"):
        MetaSettings(api_version="latest")
    with pytest.raises(ValueError, match="each match key once"):
        MetaSettings(api_version="21.0", match_keys=("EMAIL", "EMAIL"))
    with pytest.raises(ValueError, match="audience_ids"):
        MetaSettings(api_version="21.0", audience_ids=("not-an-id",))


@settings(max_examples=40, deadline=None)
@given(
    operations=st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3"]), st.sampled_from([AUDIENCE, OTHER]), st.booleans()
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_sequence_ends_with_the_last_operation_per_person(
    running: MetaServer, operations: list[tuple[str, str, bool]]
) -> None:
    running.reset(token=TOKEN)
    deliveries = [
        add(person, audience) if adding else remove(person, audience)
        for person, audience, adding in operations
    ]
    assert deliver(running, deliveries) == [DELIVERED] * len(deliveries)
    last = {(person, audience): adding for person, audience, adding in operations}
    for (person, audience), adding in last.items():
        assert running.holds(audience, email=sha256(f"{person}@example.com")) == adding
    assert running.violations == []
