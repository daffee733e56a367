"""The HubSpot connector against HubSpot's contract: contacts, list memberships in two steps,
erasure, and how HubSpot's answers are read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.sharing.connectors import hubspot
from cdp.sharing.connectors.base import Delivery, Identifiers, Outcome, Request
from cdp.sharing.connectors.transport import send
from tests.contracts.driving import drive, message, states
from tests.contracts.hubspot import (
    DYNAMIC_LIST_ID,
    LIST_ID,
    SNAPSHOT_LIST_ID,
    TOKEN,
    HubSpotContract,
    rate_limited,
    unavailable,
)

SETTINGS = hubspot.HubSpotSettings()
AT = "2025-03-01T10:00:00Z"
UPSERT = "/crm/v3/objects/contacts/batch/upsert"
READ = "/crm/v3/objects/contacts/batch/read"


def delivery(kind: str, email: str | None, **fields: Any) -> Delivery:
    return Delivery(
        id=f"{kind}-{email}-{fields.get('audience', '')}",
        destination="hubspot",
        kind=kind,  # type: ignore[arg-type]
        profile_id=f"p-{email}",
        identifiers=Identifiers(emails=(email,) if email else ()),
        at=AT,
        **fields,
    )


def add(email: str | None, list_id: str = LIST_ID, **traits: Any) -> Delivery:
    return delivery("audience_add", email, audience=list_id, segment_id=list_id, traits=traits)


def remove(email: str, list_id: str = LIST_ID) -> Delivery:
    return delivery("audience_remove", email, audience=list_id, segment_id=list_id)


def run(
    contract: HubSpotContract, deliveries: Sequence[Delivery], secret: str = TOKEN
) -> tuple[list[Request], list[Outcome | None]]:
    """What the deliverer does: every request in order, each followed at once by the calls
    its answer makes possible, whose outcomes settle the deliveries they carry."""
    driven = drive(hubspot.CONNECTOR, deliveries, SETTINGS, secret, contract.url)
    return driven.requests, driven.settled()


def paths(contract: HubSpotContract) -> list[str]:
    return [f"{r.method} {r.path}" for r in contract.received]


@pytest.fixture(scope="module")
def server() -> Iterator[HubSpotContract]:
    running = HubSpotContract()
    with running.running():
        yield running


@pytest.fixture
def contract(server: HubSpotContract) -> Iterator[HubSpotContract]:
    server.reset()
    yield server
    assert server.violations == []


def test_additions_upsert_the_contacts_then_add_their_records_to_the_list(
    contract: HubSpotContract,
) -> None:
    _, outcomes = run(contract, [add("ann@example.com", firstname="Ann"), add("bob@example.com")])

    assert states(outcomes) == ["delivered", "delivered"]
    assert paths(contract) == [
        f"POST {UPSERT}",
        f"PUT /crm/v3/lists/{LIST_ID}/memberships/add-and-remove",
    ]
    assert contract.received[0].headers["authorization"] == f"Bearer {TOKEN}"
    ann, bob = contract.contact("ann@example.com"), contract.contact("bob@example.com")
    assert ann is not None
    assert bob is not None
    assert ann.properties == {"email": "ann@example.com", "firstname": "Ann"}
    # the record ids are the ones HubSpot's upsert answered with
    assert contract.received[1].json() == {
        "recordIdsToAdd": [ann.id, bob.id],
        "recordIdsToRemove": [],
    }
    assert contract.members() == {"ann@example.com", "bob@example.com"}


def test_removals_read_the_record_ids_and_create_nobody(contract: HubSpotContract) -> None:
    run(contract, [add("ann@example.com"), add("ann@example.com", SNAPSHOT_LIST_ID)])
    contract.received.clear()

    _, outcomes = run(contract, [remove("ann@example.com"), remove("zed@example.com")])

    assert states(outcomes) == ["delivered", "delivered"]
    assert paths(contract) == [
        f"POST {READ}",
        f"PUT /crm/v3/lists/{LIST_ID}/memberships/add-and-remove",
    ]
    assert contract.received[0].json() == {
        "idProperty": "email",
        "inputs": [{"id": "ann@example.com"}, {"id": "zed@example.com"}],
        "properties": ["email"],
        "propertiesWithHistory": [],
    }
    assert contract.members() == set()
    assert contract.members(SNAPSHOT_LIST_ID) == {"ann@example.com"}
    assert contract.contact("zed@example.com") is None


def test_each_persons_deliveries_keep_their_order(contract: HubSpotContract) -> None:
    deliveries = [
        add("ann@example.com"),
        add("bob@example.com"),
        remove("ann@example.com"),
        add("ann@example.com", SNAPSHOT_LIST_ID, firstname="Ann"),
    ]

    requests, outcomes = run(contract, deliveries)

    assert states(outcomes) == ["delivered"] * 4
    assert [(r.method, r.deliveries) for r in requests] == [
        ("POST", (0, 1)),  # upsert ann, bob
        ("PUT", (0, 1)),  # add both to the list
        ("POST", (2,)),  # read ann
        ("PUT", (2,)),  # remove ann
        ("POST", (3,)),  # upsert ann with her first name
        ("PUT", (3,)),  # add ann to the other list
    ]
    assert contract.members() == {"bob@example.com"}
    assert contract.members(SNAPSHOT_LIST_ID) == {"ann@example.com"}


def test_a_persons_consecutive_changes_are_one_input(contract: HubSpotContract) -> None:
    deliveries = [
        add("ann@example.com", firstname="Ann"),
        delivery("traits", "ann@example.com", traits={"lastname": "Lee"}),
        add("ann@example.com", SNAPSHOT_LIST_ID),
    ]

    requests, outcomes = run(contract, deliveries)

    assert states(outcomes) == ["delivered"] * 3
    assert [r.deliveries for r in requests] == [(0, 1, 2), (0,), (2,)]
    assert len(contract.received[0].json()["inputs"]) == 1
    assert contract.members() == contract.members(SNAPSHOT_LIST_ID) == {"ann@example.com"}


def test_additions_beyond_100_go_in_several_upserts(contract: HubSpotContract) -> None:
    emails = [f"person{n}@example.com" for n in range(250)]

    requests, outcomes = run(contract, [add(email) for email in emails])

    assert [(r.method, len(r.deliveries)) for r in requests] == [
        ("POST", 100),
        ("PUT", 100),
        ("POST", 100),
        ("PUT", 100),
        ("POST", 50),
        ("PUT", 50),
    ]
    assert set(states(outcomes)) == {"delivered"}
    assert contract.members() == set(emails)


def test_traits_become_contact_properties_as_strings(contract: HubSpotContract) -> None:
    run(contract, [add("ann@example.com", firstname="Ann", lastname="Lee")])
    changed = {"firstname": None, "plan": True, "lifetime_value": 12.5}

    _, outcomes = run(contract, [delivery("traits", "ann@example.com", traits=changed)])

    assert states(outcomes) == ["delivered"]
    assert contract.received[-1].json() == {
        "inputs": [
            {
                "idProperty": "email",
                "id": "ann@example.com",
                "objectWriteTraceId": "0",
                "properties": {
                    "email": "ann@example.com",
                    "firstname": "",
                    "plan": "true",
                    "lifetime_value": "12.5",
                },
            }
        ]
    }
    ann = contract.contact("ann@example.com")
    assert ann is not None
    assert ann.properties == {
        "email": "ann@example.com",
        "lastname": "Lee",
        "plan": "true",
        "lifetime_value": "12.5",
    }
    assert len(contract.received) == 3  # traits alone need no list call


def test_erasure_is_the_gdpr_delete_by_email(contract: HubSpotContract) -> None:
    run(contract, [add("ann@example.com")])

    _, outcomes = run(contract, [delivery("erase", "ann@example.com")])

    assert states(outcomes) == ["delivered"]
    erase = contract.received[-1]
    assert (erase.method, erase.path) == ("POST", "/crm/v3/objects/contacts/gdpr-delete")
    assert erase.json() == {"objectId": "ann@example.com", "idProperty": "email"}
    assert contract.contact("ann@example.com") is None
    assert contract.members() == set()


def test_a_refused_contact_fails_alone_and_joins_no_list(contract: HubSpotContract) -> None:
    run(contract, [delivery("erase", "gone@example.com")])  # unknown: HubSpot blocks it

    _, outcomes = run(
        contract,
        [
            add("ann@example.com"),
            add("bob@example.com", favourite_colour="blue"),
            add("gone@example.com"),
            delivery("traits", "cy@example.com", traits={"firstname": "Cy"}),
        ],
    )

    assert states(outcomes) == ["delivered", "failed", "failed", "delivered"]
    assert 'Property \\"favourite_colour\\" does not exist' in json.dumps(message(outcomes[1]))
    assert message(outcomes[1]).startswith("VALIDATION_ERROR: Property values were not valid")
    assert "permanently deleted" in message(outcomes[2])
    assert contract.members() == {"ann@example.com"}
    assert contract.received[-1].json()["recordIdsToAdd"] == [
        contract.contact("ann@example.com").id  # type: ignore[union-attr]
    ]


def test_a_list_hubspot_maintains_itself_refuses_memberships(contract: HubSpotContract) -> None:
    _, outcomes = run(contract, [add("ann@example.com", DYNAMIC_LIST_ID)])

    assert states(outcomes) == ["failed"]
    assert message(outcomes[0]).startswith("400: VALIDATION_ERROR: List 202 has processingType")


def test_a_rate_limit_is_retried_after_the_wait_hubspot_asks_for(
    contract: HubSpotContract,
) -> None:
    contract.fail_next(rate_limited(retry_after=7))

    _, outcomes = run(contract, [add("ann@example.com"), add("bob@example.com")])

    assert [(o.state, o.retry_after) for o in outcomes if o] == [("retry", 7.0)] * 2
    assert message(outcomes[0]) == "You have reached your secondly limit."
    assert contract.members() == set()  # nothing followed the refused upsert


def test_without_retry_after_the_wait_is_hubspots_window(contract: HubSpotContract) -> None:
    contract.fail_next(rate_limited(policy="SECONDLY"))
    _, secondly = run(contract, [remove("ann@example.com")])
    contract.fail_next(rate_limited(policy="DAILY"))
    _, daily = run(contract, [remove("ann@example.com")])

    assert [(o.state, o.retry_after) for o in secondly + daily if o] == [
        ("retry", 10.0),
        ("retry", 3600.0),
    ]


def test_a_rate_limited_membership_call_retries_its_additions(contract: HubSpotContract) -> None:
    deliveries = [add("ann@example.com"), delivery("traits", "bob@example.com", traits={})]
    pending = hubspot.CONNECTOR.requests(deliveries, SETTINGS, TOKEN, contract.url)
    upsert = pending[0]
    then = hubspot.CONNECTOR.follow_ups(upsert, send(upsert))
    contract.fail_next(rate_limited(retry_after=3))

    outcomes = hubspot.CONNECTOR.outcomes(then[0], send(then[0]))

    assert then[0].deliveries == (0,)
    assert [(o.state, o.retry_after) for o in outcomes] == [("retry", 3.0)]


def test_a_server_error_is_retried(contract: HubSpotContract) -> None:
    contract.fail_next(unavailable())

    _, outcomes = run(contract, [add("ann@example.com")])

    assert states(outcomes) == ["retry"]
    assert contract.members() == set()


def test_a_wrong_token_fails_with_hubspots_words(contract: HubSpotContract) -> None:
    _, outcomes = run(contract, [add("ann@example.com")], secret="pat-wrong")

    assert states(outcomes) == ["failed"]
    assert message(outcomes[0]).startswith(
        "401: INVALID_AUTHENTICATION: Authentication credentials not found"
    )


def test_a_person_without_an_address_is_carried_by_no_call(contract: HubSpotContract) -> None:
    requests, outcomes = run(contract, [add(None), add("ann@example.com")])

    assert states(outcomes) == [None, "delivered"]
    assert [r.deliveries for r in requests] == [(1,), (1,)]


def test_the_host_is_hubspots_and_events_are_not_taken() -> None:
    requests = hubspot.CONNECTOR.requests([add("ann@example.com")], SETTINGS, TOKEN)

    assert requests[0].url == f"https://api.hubapi.com{UPSERT}"
    assert "event" not in hubspot.CONNECTOR.kinds


PEOPLE = ["ann@example.com", "bob@example.com", "Cy@Example.com"]
LISTS = [LIST_ID, SNAPSHOT_LIST_ID]
operation = st.tuples(
    st.sampled_from(["add", "remove"]), st.sampled_from(PEOPLE), st.sampled_from(LISTS)
)


@settings(max_examples=40, deadline=None)
@given(operations=st.lists(operation, max_size=12))
def test_any_sequence_of_additions_and_removals_ends_as_its_last_word(
    server: HubSpotContract, operations: list[tuple[str, str, str]]
) -> None:
    server.reset()
    deliveries = [
        add(email, list_id) if kind == "add" else remove(email, list_id)
        for kind, email, list_id in operations
    ]

    _, outcomes = run(server, deliveries)

    last = {(email.lower(), list_id): kind for kind, email, list_id in operations}
    for (email, list_id), kind in last.items():
        assert (email in server.members(list_id)) == (kind == "add")
    assert set(states(outcomes)) <= {"delivered"}
    assert server.violations == []
