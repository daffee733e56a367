"""The Mailchimp connector against Mailchimp's contract: what reaches the list, and how its
answers are read."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.sharing.connectors import mailchimp
from cdp.sharing.connectors.base import Delivery, Identifiers, Outcome, Request
from tests.contracts.driving import drive, message, states
from tests.contracts.mailchimp import (
    API_KEY,
    LIST_ID,
    MailchimpContract,
    Member,
    rate_limited,
    unavailable,
)

SETTINGS = mailchimp.MailchimpSettings(list_id=LIST_ID)
AT = "2025-03-01T10:00:00Z"


def delivery(kind: str, email: str | None, **fields: Any) -> Delivery:
    return Delivery(
        id=f"{kind}-{email}-{fields.get('audience', '')}",
        destination="mailchimp",
        kind=kind,  # type: ignore[arg-type]
        profile_id=f"p-{email}",
        identifiers=Identifiers(emails=(email,) if email else ()),
        at=AT,
        **fields,
    )


def add(email: str, tag: str = "vip", **traits: Any) -> Delivery:
    return delivery("audience_add", email, audience=tag, segment_id=tag, traits=traits)


def remove(email: str, tag: str = "vip") -> Delivery:
    return delivery("audience_remove", email, audience=tag, segment_id=tag)


def run(
    contract: MailchimpContract,
    deliveries: Sequence[Delivery],
    settings: mailchimp.MailchimpSettings = SETTINGS,
    secret: str = API_KEY,
) -> tuple[list[Request], list[Outcome | None]]:
    """Every request sent in order, and each delivery's outcome (None: carried by none)."""
    driven = drive(mailchimp.CONNECTOR, deliveries, settings, secret, contract.url)
    return driven.requests, driven.settled()


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpContract]:
    running = MailchimpContract()
    with running.running():
        yield running


@pytest.fixture
def contract(server: MailchimpContract) -> Iterator[MailchimpContract]:
    server.reset()
    yield server
    assert server.violations == []


def test_additions_put_people_on_the_list_tagged_without_subscribing_them(
    contract: MailchimpContract,
) -> None:
    requests, outcomes = run(contract, [add("ann@example.com"), add("bob@example.com")])

    assert states(outcomes) == ["delivered", "delivered"]
    assert len(requests) == 1  # one batch subscribe/update call
    received = contract.received[0]
    assert (received.method, received.path) == ("POST", f"/3.0/lists/{LIST_ID}")
    assert received.query == {"skip_merge_validation": ["true"]}
    assert (
        received.headers["authorization"]
        == "Basic " + base64.b64encode(f"cdp:{API_KEY}".encode()).decode()
    )
    assert all("status" not in member for member in received.json()["members"])
    assert contract.tagged("vip") == {"ann@example.com", "bob@example.com"}
    ann = contract.member("ann@example.com")
    assert ann is not None
    assert ann.status == "transactional"


def test_a_known_member_keeps_their_status_and_new_ones_get_the_status_settings_say(
    contract: MailchimpContract,
) -> None:
    contract.lists[LIST_ID][mailchimp.subscriber_hash("old@example.com")] = Member(
        "old@example.com", "unsubscribed"
    )
    subscribing = mailchimp.MailchimpSettings(list_id=LIST_ID, status_if_new="subscribed")

    run(contract, [add("old@example.com"), add("new@example.com")], subscribing)

    old, new = contract.member("old@example.com"), contract.member("new@example.com")
    assert old is not None
    assert new is not None
    assert (old.status, new.status) == ("unsubscribed", "subscribed")
    assert "vip" in old.tags


def test_removals_make_the_tag_inactive_and_a_stranger_has_nothing_to_lose(
    contract: MailchimpContract,
) -> None:
    run(contract, [add("ann@example.com", "vip"), add("ann@example.com", "buyers")])

    _, outcomes = run(contract, [remove("ann@example.com", "vip"), remove("zed@example.com")])

    assert states(outcomes) == ["delivered", "delivered"]
    ann = contract.member("ann@example.com")
    assert ann is not None
    assert ann.tags == {"buyers"}
    assert contract.member("zed@example.com") is None  # a removal creates nobody
    untag = contract.received[-2]
    assert untag.json() == {"tags": [{"name": "vip", "status": "inactive"}]}


def test_the_subscriber_hash_is_the_md5_of_the_address_lower_cased(
    contract: MailchimpContract,
) -> None:
    run(contract, [remove("Jane.Doe@Example.COM")])

    expected = hashlib.md5(b"jane.doe@example.com").hexdigest()
    assert contract.received[0].path == f"/3.0/lists/{LIST_ID}/members/{expected}/tags"


def test_each_persons_deliveries_keep_their_order(contract: MailchimpContract) -> None:
    deliveries = [
        add("ann@example.com"),
        add("bob@example.com"),
        remove("ann@example.com"),
        add("ann@example.com", "buyers", FNAME="Ann"),
    ]

    requests, outcomes = run(contract, deliveries)

    assert states(outcomes) == ["delivered"] * 4
    assert [r.deliveries for r in requests] == [(0, 1), (2,), (3,)]
    ann = contract.member("ann@example.com")
    assert ann is not None
    assert ann.tags == {"buyers"}
    assert ann.merge_fields == {"FNAME": "Ann"}
    assert contract.tagged("vip") == {"bob@example.com"}


def test_additions_beyond_500_go_in_several_batches(contract: MailchimpContract) -> None:
    emails = [f"person{n}@example.com" for n in range(1201)]

    requests, outcomes = run(contract, [add(email) for email in emails])

    assert [len(r.deliveries) for r in requests] == [500, 500, 201]
    assert set(states(outcomes)) == {"delivered"}
    assert contract.tagged("vip") == set(emails)


def test_traits_become_merge_fields_and_a_trait_without_value_clears_its_field(
    contract: MailchimpContract,
) -> None:
    first = delivery("traits", "ann@example.com", traits={"FNAME": "Ann", "ORDERS": 3})
    run(contract, [first, add("ann@example.com", LNAME="Lee")])

    _, outcomes = run(contract, [delivery("traits", "ann@example.com", traits={"FNAME": None})])

    assert states(outcomes) == ["delivered"]
    ann = contract.member("ann@example.com")
    assert ann is not None
    assert ann.merge_fields == {"FNAME": "", "ORDERS": 3, "LNAME": "Lee"}
    assert ann.status == "transactional"


def test_events_reach_the_member_events_endpoint(contract: MailchimpContract) -> None:
    run(contract, [add("ann@example.com")])
    bought = delivery(
        "event", "ann@example.com", event="purchased", properties={"total": 12.5, "sku": "A1"}
    )
    too_long = delivery("event", "ann@example.com", event="x" * 31)
    stranger = delivery("event", "zed@example.com", event="purchased")

    _, outcomes = run(contract, [bought, too_long, stranger])

    assert states(outcomes) == ["delivered", None, "failed"]
    ann = contract.member("ann@example.com")
    assert ann is not None
    assert ann.events == [
        {"name": "purchased", "properties": {"total": "12.5", "sku": "A1"}, "occurred_at": AT}
    ]
    assert message(outcomes[2]).startswith("404: Resource Not Found: The requested resource")
    reason = mailchimp.CONNECTOR.skip_reason(too_long)
    assert reason == "Mailchimp takes event names of 2 to 30 characters, not 31"
    assert mailchimp.CONNECTOR.skip_reason(bought) is None


def test_erasure_deletes_the_member_permanently(contract: MailchimpContract) -> None:
    run(contract, [add("ann@example.com", FNAME="Ann")])

    _, outcomes = run(
        contract, [delivery("erase", "ann@example.com"), delivery("erase", "zed@example.com")]
    )

    assert states(outcomes) == ["delivered", "delivered"]  # nobody to delete: nothing to do
    assert contract.member("ann@example.com") is None
    path = f"/3.0/lists/{LIST_ID}/members/{mailchimp.subscriber_hash('ann@example.com')}"
    assert contract.received[1].path == f"{path}/actions/delete-permanent"


def test_a_refused_member_fails_alone(contract: MailchimpContract) -> None:
    run(contract, [add("gone@example.com")])
    run(contract, [delivery("erase", "gone@example.com")])

    _, outcomes = run(
        contract,
        [
            add("ann@example.com"),
            add("gone@example.com"),
            add("bob@example.com", ORDERS="many"),
            add("not-an-address"),
        ],
    )

    assert states(outcomes) == ["delivered", "failed", "failed", "failed"]
    assert "permanently deleted and cannot be re-imported" in message(outcomes[1])
    assert message(outcomes[2]) == "Your merge fields were invalid. (ORDERS: Please enter a number)"
    assert "looks fake or invalid" in message(outcomes[3])
    assert contract.tagged("vip") == {"ann@example.com"}


def test_a_rate_limit_is_retried_after_the_wait_mailchimp_asks_for(
    contract: MailchimpContract,
) -> None:
    contract.fail_next(rate_limited(retry_after=7))

    _, outcomes = run(contract, [add("ann@example.com"), add("bob@example.com")])

    assert [(o.state, o.retry_after) for o in outcomes if o] == [("retry", 7.0)] * 2
    assert "10 simultaneous connections" in message(outcomes[0])


def test_a_server_error_is_retried(contract: MailchimpContract) -> None:
    contract.fail_next(unavailable())

    _, outcomes = run(contract, [remove("ann@example.com")])

    assert states(outcomes) == ["retry"]


def test_a_wrong_api_key_fails_with_mailchimps_words(contract: MailchimpContract) -> None:
    _, outcomes = run(contract, [add("ann@example.com")], secret="ffff-us21")

    assert states(outcomes) == ["failed"]
    assert message(outcomes[0]).startswith("401: API Key Invalid: Your API key may be invalid")


def test_a_person_without_an_address_is_carried_by_no_call(contract: MailchimpContract) -> None:
    requests, outcomes = run(contract, [add(None), add("ann@example.com")])  # type: ignore[arg-type]

    assert states(outcomes) == [None, "delivered"]
    assert [r.deliveries for r in requests] == [(1,)]


def test_the_host_is_the_api_keys_data_centre() -> None:
    requests = mailchimp.CONNECTOR.requests([add("ann@example.com")], SETTINGS, API_KEY)

    assert requests[0].url == (
        f"https://us21.api.mailchimp.com/3.0/lists/{LIST_ID}?skip_merge_validation=true"
    )
    with pytest.raises(ValueError, match="data centre"):
        mailchimp.CONNECTOR.requests([add("ann@example.com")], SETTINGS, "no-centre-")


def test_settings_take_only_the_statuses_that_do_not_surprise_people() -> None:
    assert SETTINGS.status_if_new == "transactional"
    with pytest.raises(ValueError, match="status_if_new"):
        mailchimp.MailchimpSettings(list_id=LIST_ID, status_if_new="cleaned")


PEOPLE = ["ann@example.com", "bob@example.com", "Cy@Example.com"]
TAGS = ["vip", "buyers"]
operation = st.tuples(
    st.sampled_from(["add", "remove"]), st.sampled_from(PEOPLE), st.sampled_from(TAGS)
)


@settings(max_examples=40, deadline=None)
@given(operations=st.lists(operation, max_size=12))
def test_any_sequence_of_additions_and_removals_ends_as_its_last_word(
    server: MailchimpContract, operations: list[tuple[str, str, str]]
) -> None:
    contract = server
    contract.reset()
    deliveries = [
        add(email, tag) if kind == "add" else remove(email, tag) for kind, email, tag in operations
    ]
    _, outcomes = run(contract, deliveries)

    last = {(email.lower(), tag): kind for kind, email, tag in operations}
    for (email, tag), kind in last.items():
        member = contract.member(email)
        assert (member is not None and tag in member.tags) == (kind == "add")
    assert set(states(outcomes)) <= {"delivered"}
    assert contract.violations == []


def test_request_bodies_are_json_the_reference_describes(contract: MailchimpContract) -> None:
    run(contract, [add("ann@example.com", FNAME="Ann")])

    body = json.loads(contract.received[0].body)
    assert body == {
        "members": [
            {
                "email_address": "ann@example.com",
                "status_if_new": "transactional",
                "merge_fields": {"FNAME": "Ann"},
                "tags": ["vip"],
            }
        ],
        "update_existing": True,
        "sync_tags": False,
    }
