"""Amazon SES contact lists against moto's SES v2, made to answer as SES does where moto 5.2.5
does not (`SesAnswers`): SES refuses `CreateContact` for a known address with
`AlreadyExistsException` (moto overwrites the contact), and `UpdateContact` replaces the contact
whole, resetting what the call leaves out (moto keeps it)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from cdp.sharing.connectors import transport
from cdp.sharing.connectors.base import Delivery, Identifiers, Outcome, Request
from cdp.sharing.connectors.ses import CONNECTOR, SesSettings

LIST = "customers"
TOPICS = ("vip", "churn_risk", "newsletter")
SETTINGS = SesSettings(contact_list=LIST)
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class SesAnswers:
    """Hooks on a moto-backed client: SES's own answers where moto differs, refusals a test
    asks for, and every call made, in order."""

    client: Any
    refuse: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)
    fail_next: list[tuple[int, str, str]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        events = self.client.meta.events
        events.register("before-parameter-build.sesv2.*", self._remember)
        events.register("before-call.sesv2.*", self._answer)

    def _remember(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if model.name == "UpdateContact":
            # SES replaces the contact whole: what the call leaves out is reset (moto keeps it).
            params.setdefault("TopicPreferences", [])
            params.setdefault("UnsubscribeAll", False)
            params.setdefault("AttributesData", "")
        context["cdp_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        operation, params = model.name, context.get("cdp_params", {})
        if operation not in ("CreateContact", "UpdateContact", "DeleteContact"):
            return None
        self.calls.append((operation, params))
        if self.fail_next:
            return _error(*self.fail_next.pop(0))
        refused = self.refuse.get((operation, params.get("EmailAddress", "")))
        if refused:
            return _error(*refused)
        if operation == "CreateContact" and self._known(params):
            return _error(400, "AlreadyExistsException", "Contact already exists.")
        return None

    def _known(self, params: dict[str, Any]) -> bool:
        try:
            self.client.get_contact(
                ContactListName=params["ContactListName"], EmailAddress=params["EmailAddress"]
            )
        except self.client.exceptions.NotFoundException:
            return False
        return True


def _error(status: int, code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return AWSResponse("", status, {}, None), parsed


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with mock_aws():
            yield boto3.client("sesv2", region_name="us-east-1")


def fresh(client: Any) -> SesAnswers:
    """An empty contact list with its topics (default: opted out), and new hooks."""
    for name in [c["ContactListName"] for c in client.list_contact_lists()["ContactLists"]]:
        client.delete_contact_list(ContactListName=name)
    client.create_contact_list(
        ContactListName=LIST,
        Topics=[
            {"TopicName": t, "DisplayName": t, "DefaultSubscriptionStatus": "OPT_OUT"}
            for t in TOPICS
        ],
    )
    return SesAnswers(client)


@pytest.fixture
def ses(client: Any) -> Iterator[SesAnswers]:
    answers = fresh(client)
    yield answers
    _unhook(client, answers)


def _unhook(client: Any, answers: SesAnswers) -> None:
    client.meta.events.unregister("before-parameter-build.sesv2.*", answers._remember)
    client.meta.events.unregister("before-call.sesv2.*", answers._answer)


def delivery(n: int, kind: str = "audience_add", who: str = "p1", **fields: Any) -> Delivery:
    defaults: dict[str, Any] = {}
    if kind in ("audience_add", "audience_remove"):
        defaults = {"segment_id": "vip", "audience": "vip"}
    return Delivery(
        id=f"d{n:05d}",
        destination="mail",
        kind=kind,  # type: ignore[arg-type]
        profile_id=who,
        identifiers=Identifiers(emails=(f"{who}@example.com",)),
        at=(START + timedelta(seconds=n)).isoformat(),
        **{**defaults, **fields},
    )


def deliver(ses: SesAnswers, deliveries: Sequence[Delivery]) -> dict[int, Outcome]:
    """Sends every request in order, as the deliverer does; outcomes by position."""
    found: dict[int, Outcome] = {}
    for request in CONNECTOR.requests(deliveries, SETTINGS, ""):
        response = transport.send(request, aws=lambda service: ses.client)
        found.update(zip(request.deliveries, CONNECTOR.outcomes(request, response), strict=True))
    return found


def contact(ses: SesAnswers, who: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = ses.client.get_contact(
            ContactListName=LIST, EmailAddress=f"{who}@example.com"
        )
    except ses.client.exceptions.NotFoundException:
        return None
    return found


def topics(ses: SesAnswers, who: str) -> dict[str, str]:
    found = contact(ses, who) or {}
    return {t["TopicName"]: t["SubscriptionStatus"] for t in found.get("TopicPreferences", [])}


def attributes(ses: SesAnswers, who: str) -> dict[str, Any]:
    found = contact(ses, who) or {}
    return json.loads(found.get("AttributesData") or "{}")  # type: ignore[no-any-return]


def test_an_addition_creates_the_contact_opted_in_with_its_traits(ses: SesAnswers) -> None:
    outcomes = deliver(ses, [delivery(1, traits={"first_name": "Ada", "plan": None})])
    assert outcomes == {0: Outcome.delivered()}
    assert topics(ses, "p1") == {"vip": "OPT_IN"}
    assert attributes(ses, "p1") == {"first_name": "Ada"}
    assert [operation for operation, _ in ses.calls] == ["CreateContact", "UpdateContact"]


def test_an_addition_of_a_known_contact_updates_it(ses: SesAnswers) -> None:
    # given: a contact SES already has
    ses.client.create_contact(ContactListName=LIST, EmailAddress="p1@example.com")
    # when
    outcomes = deliver(ses, [delivery(1, traits={"plan": "pro"})])
    # then: the create is refused as SES refuses it, the update does the work
    assert outcomes == {0: Outcome.delivered()}
    assert topics(ses, "p1") == {"vip": "OPT_IN"}
    assert attributes(ses, "p1") == {"plan": "pro"}


def test_what_the_calls_say() -> None:
    create, update = CONNECTOR.requests(
        [delivery(1, traits={"plan": "pro"}), delivery(2, "audience_add", audience="churn_risk")],
        SETTINGS,
        "",
    )
    assert (create.aws_operation, create.deliveries) == ("sesv2:CreateContact", ())
    assert (update.aws_operation, update.deliveries) == ("sesv2:UpdateContact", (0, 1))
    assert json.loads(update.body or b"") == {
        "ContactListName": LIST,
        "EmailAddress": "p1@example.com",
        "TopicPreferences": [
            {"TopicName": "vip", "SubscriptionStatus": "OPT_IN"},
            {"TopicName": "churn_risk", "SubscriptionStatus": "OPT_IN"},
        ],
        "AttributesData": '{"plan":"pro"}',
    }
    assert create.body == update.body


def test_a_removal_opts_the_contact_out(ses: SesAnswers) -> None:
    deliver(ses, [delivery(1, traits={"plan": "pro"})])
    outcomes = deliver(ses, [delivery(2, "audience_remove")])
    assert outcomes == {0: Outcome.delivered()}
    assert topics(ses, "p1") == {"vip": "OPT_OUT"}
    assert ses.calls[-1][0] == "UpdateContact"
    assert attributes(ses, "p1") == {}  # SES resets what UpdateContact leaves out


def test_an_add_then_a_remove_in_one_batch_ends_removed(ses: SesAnswers) -> None:
    # given: a new person, added then removed before the batch went out
    outcomes = deliver(ses, [delivery(1), delivery(2, "audience_remove")])
    # then: no contact is made for them
    assert contact(ses, "p1") is None
    assert outcomes[0].state == outcomes[1].state == "skipped"
    # and a known contact ends opted out
    deliver(ses, [delivery(3)])
    deliver(ses, [delivery(4), delivery(5, "audience_remove")])
    assert topics(ses, "p1") == {"vip": "OPT_OUT"}


def test_traits_ride_with_an_audience_change_and_alone_are_not_sent(ses: SesAnswers) -> None:
    # given: a contact with its traits
    deliver(ses, [delivery(1, traits={"plan": "free", "city": "Oslo"})])
    # when: traits change alone: sent, they would reset the contact's topics
    assert CONNECTOR.requests([delivery(2, "traits", traits={"plan": "pro"})], SETTINGS, "") == []
    # when: with an addition in the same batch, they are merged into it
    outcomes = deliver(
        ses,
        [
            delivery(3, "audience_add", audience="churn_risk", traits={"plan": "free"}),
            delivery(4, "traits", traits={"plan": "pro", "city": None}),
        ],
    )
    # then
    assert outcomes == dict.fromkeys([0, 1], Outcome.delivered())
    assert attributes(ses, "p1") == {"plan": "pro"}


def test_one_call_pair_per_person_as_ses_has_no_batch_call(ses: SesAnswers) -> None:
    deliveries = [delivery(n, who=f"p{n}") for n in range(30)]
    requests = CONNECTOR.requests(deliveries, SETTINGS, "")
    outcomes = deliver(ses, deliveries)
    assert len(requests) == 60
    assert set(outcomes.values()) == {Outcome.delivered()}
    assert len(ses.client.list_contacts(ContactListName=LIST)["Contacts"]) == 30


def test_erasure_deletes_the_contact_of_every_address(ses: SesAnswers) -> None:
    # given: a contact for each of the person's two addresses
    deliver(ses, [delivery(1)])
    ses.client.create_contact(ContactListName=LIST, EmailAddress="p1@work.example.com")
    erase = Delivery(
        id="e1",
        destination="mail",
        kind="erase",
        profile_id="p1",
        identifiers=Identifiers(emails=("p1@example.com", "p1@work.example.com")),
        at=START.isoformat(),
    )
    # when
    outcomes = deliver(ses, [erase])
    # then
    assert outcomes == {0: Outcome.delivered()}
    assert ses.client.list_contacts(ContactListName=LIST)["Contacts"] == []
    assert [op for op, _ in ses.calls[-2:]] == ["DeleteContact", "DeleteContact"]
    # and erasing someone already gone is done too
    (again,) = deliver(ses, [erase]).values()
    assert again.state == "delivered"


def test_changes_before_an_erasure_in_the_batch_are_not_sent(ses: SesAnswers) -> None:
    outcomes = deliver(
        ses, [delivery(1), delivery(2, "traits", traits={"a": 1}), delivery(3, "erase")]
    )
    assert [op for op, _ in ses.calls] == ["DeleteContact"]
    assert set(outcomes) == {0, 1, 2}
    assert contact(ses, "p1") is None


def test_a_person_without_an_email_address_is_not_sent() -> None:
    nobody = Delivery(
        id="x",
        destination="mail",
        kind="audience_add",
        profile_id="p9",
        identifiers=Identifiers(user_id="u9"),
        at=START.isoformat(),
        audience="vip",
    )
    assert CONNECTOR.requests([nobody], SETTINGS, "") == []


def test_throttling_and_service_errors_are_retried(ses: SesAnswers) -> None:
    ses.fail_next.append((429, "TooManyRequestsException", "Too many requests"))
    (throttled,) = deliver(ses, [delivery(1, "audience_remove")]).values()
    ses.fail_next.append((500, "InternalServiceErrorException", "Internal error"))
    (broken,) = deliver(ses, [delivery(1, "audience_remove")]).values()
    assert throttled == Outcome("retry", "TooManyRequestsException: Too many requests", 30.0)
    assert broken.state == "retry"


def test_a_throttled_create_is_retried_through_its_update(ses: SesAnswers) -> None:
    ses.fail_next.append((429, "TooManyRequestsException", "Too many requests"))
    (first,) = deliver(ses, [delivery(1)]).values()
    (second,) = deliver(ses, [delivery(1)]).values()
    assert first.state == "retry"
    assert "NotFoundException" in first.message
    assert second == Outcome.delivered()
    assert topics(ses, "p1") == {"vip": "OPT_IN"}


def test_a_refused_person_fails_alone(ses: SesAnswers) -> None:
    ses.refuse[("UpdateContact", "p2@example.com")] = (
        400,
        "BadRequestException",
        "Topic vip is not valid for this contact",
    )
    outcomes = deliver(ses, [delivery(1), delivery(2, who="p2"), delivery(3, who="p3")])
    assert outcomes[0] == outcomes[2] == Outcome.delivered()
    assert outcomes[1] == Outcome(
        "failed", "400: BadRequestException: Topic vip is not valid for this contact"
    )


def test_a_missing_contact_list_says_so(ses: SesAnswers) -> None:
    settings = SesSettings(contact_list="no-such-list")
    request: Request = CONNECTOR.requests([delivery(1, "audience_remove")], settings, "")[0]
    (outcome,) = CONNECTOR.outcomes(request, transport.send(request, aws=lambda _: ses.client))
    assert outcome.state == "skipped"
    assert "no-such-list" in outcome.message


operations = st.lists(
    st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.booleans()), min_size=1, max_size=40
)


@settings(max_examples=20, deadline=None)
@given(operations=operations, batch=st.integers(min_value=1, max_value=10))
def test_any_sequence_ends_as_its_last_operation_per_person(
    client: Any, operations: list[tuple[str, bool]], batch: int
) -> None:
    ses = fresh(client)
    try:
        deliveries = [
            delivery(n, "audience_add" if joined else "audience_remove", who)
            for n, (who, joined) in enumerate(operations)
        ]
        for start in range(0, len(deliveries), batch):
            deliver(ses, deliveries[start : start + batch])
        for who, joined in dict(operations).items():
            assert (topics(ses, who).get("vip") == "OPT_IN") is joined
    finally:
        _unhook(client, ses)


@pytest.mark.xfail(
    strict=True,
    reason="UpdateContact replaces every topic preference, and a delivery does not carry the "
    "person's whole membership (see cdp.sharing.connectors.ses)",
)
def test_a_contact_in_two_topics_stays_in_both(ses: SesAnswers) -> None:
    deliver(ses, [delivery(1, audience="vip")])
    deliver(ses, [delivery(2, audience="churn_risk")])
    assert topics(ses, "p1") == {"vip": "OPT_IN", "churn_risk": "OPT_IN"}
