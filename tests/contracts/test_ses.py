"""Amazon SES contact lists against moto's SES v2, made to answer as SES does where moto 5.2.5
does not (`SesAnswers`): SES refuses `CreateContact` for a known address with
`AlreadyExistsException` (moto overwrites the contact), and `UpdateContact` replaces the contact
whole, resetting what the call leaves out (moto keeps it). Deliveries carry what the publisher
gives them: the person's whole membership of the destination's topics and all their mapped
traits (`audiences_now`, `traits_now`)."""

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

from cdp.sharing.connectors.base import Delivery, Identifiers, Outcome, Response
from cdp.sharing.connectors.ses import CONNECTOR, SesSettings
from tests.contracts.driving import drive

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
    """As the publisher makes them for a destination of one topic, unless `fields` say more:
    an addition's person is in its topic and carries their traits, a removal's in none."""
    defaults: dict[str, Any] = {}
    if kind in ("audience_add", "audience_remove"):
        defaults = {"segment_id": "vip", "audience": "vip"}
    if kind == "audience_add":
        defaults["audiences_now"] = (fields.get("audience", "vip"),)
        defaults["traits_now"] = fields.get("traits", {})
    return Delivery(
        id=f"d{n:05d}",
        destination="mail",
        kind=kind,  # type: ignore[arg-type]
        profile_id=who,
        identifiers=Identifiers(emails=(f"{who}@example.com",)),
        at=(START + timedelta(seconds=n)).isoformat(),
        **{**defaults, **fields},
    )


def deliver(
    ses: SesAnswers, deliveries: Sequence[Delivery], settings: SesSettings = SETTINGS
) -> dict[int, Outcome]:
    """What the deliverer does: every request in order, each followed at once by the calls its
    answer asks for (a create after an update that found no contact), whose outcomes settle
    the deliveries they carry; outcomes by position."""
    return drive(CONNECTOR, deliveries, settings, "", aws=lambda service: ses.client).by_position()


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
    # the update finds no contact, so the same whole contact is created
    assert [operation for operation, _ in ses.calls] == ["UpdateContact", "CreateContact"]


def test_an_addition_of_a_known_contact_updates_it(ses: SesAnswers) -> None:
    # given: a contact SES already has
    ses.client.create_contact(ContactListName=LIST, EmailAddress="p1@example.com")
    # when
    outcomes = deliver(ses, [delivery(1, traits={"plan": "pro"})])
    # then: one call, the update
    assert outcomes == {0: Outcome.delivered()}
    assert topics(ses, "p1") == {"vip": "OPT_IN"}
    assert attributes(ses, "p1") == {"plan": "pro"}
    assert [operation for operation, _ in ses.calls[1:]] == ["UpdateContact"]  # after the given


def test_what_the_calls_say() -> None:
    traits = {"plan": "pro", "city": None}
    (update,) = CONNECTOR.requests(
        [
            delivery(1, traits=traits),
            delivery(2, audience="churn_risk", traits=traits, audiences_now=("churn_risk", "vip")),
        ],
        SETTINGS,
        "",
    )
    assert (update.aws_operation, update.deliveries) == ("sesv2:UpdateContact", (0, 1))
    assert json.loads(update.body or b"") == {
        "ContactListName": LIST,
        "EmailAddress": "p1@example.com",
        "TopicPreferences": [
            {"TopicName": "churn_risk", "SubscriptionStatus": "OPT_IN"},
            {"TopicName": "vip", "SubscriptionStatus": "OPT_IN"},
        ],
        "AttributesData": '{"plan":"pro"}',
    }  # and never UnsubscribeAll, which is the person's (see the connector)
    # an update that finds no contact to opt in is followed by its creation, whole
    missing = Response(404, {}, b'{"Code":"NotFoundException","Message":"no such contact"}')
    (create,) = CONNECTOR.follow_ups(update, missing)
    assert (create.aws_operation, create.deliveries) == ("sesv2:CreateContact", (0, 1))
    assert create.body == update.body
    assert CONNECTOR.follow_ups(update, Response(200, {}, b"{}")) == []


def test_a_removal_opts_the_contact_out_and_keeps_the_rest(ses: SesAnswers) -> None:
    # given: a contact in two topics, with traits
    deliver(ses, [delivery(1, traits={"plan": "pro"})])
    deliver(ses, [delivery(2, audience="churn_risk", audiences_now=("churn_risk", "vip"))])
    # when: removed from one
    removal = delivery(
        3, "audience_remove", audience="churn_risk", audiences_now=("vip",),
        traits_now={"plan": "pro"},
    )  # fmt: skip
    outcomes = deliver(ses, [removal])
    # then
    assert outcomes == {0: Outcome.delivered()}
    assert topics(ses, "p1") == {"churn_risk": "OPT_OUT", "vip": "OPT_IN"}
    assert attributes(ses, "p1") == {"plan": "pro"}
    assert ses.calls[-1][0] == "UpdateContact"


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


def test_a_traits_change_goes_alone_and_keeps_the_topics(ses: SesAnswers) -> None:
    # given: a contact in two topics, with traits
    deliver(ses, [delivery(1, traits={"plan": "free", "city": "Oslo"})])
    deliver(ses, [delivery(2, audience="churn_risk", audiences_now=("churn_risk", "vip"))])
    # when: a trait changes and another loses its value
    change = delivery(
        3, "traits", traits={"plan": "pro", "city": None}, traits_now={"plan": "pro"},
        audiences_now=("churn_risk", "vip"),
    )  # fmt: skip
    outcomes = deliver(ses, [change])
    # then: one update, and the contact is whole
    assert outcomes == {0: Outcome.delivered()}
    assert ses.calls[-1][0] == "UpdateContact"
    assert topics(ses, "p1") == {"churn_risk": "OPT_IN", "vip": "OPT_IN"}
    assert attributes(ses, "p1") == {"plan": "pro"}


def test_traits_and_an_addition_in_one_batch_are_one_call(ses: SesAnswers) -> None:
    deliver(ses, [delivery(1, traits={"plan": "free", "city": "Oslo"})])
    both = ("churn_risk", "vip")
    outcomes = deliver(
        ses,
        [
            delivery(2, audience="churn_risk", traits={"plan": "free"}, audiences_now=both),
            delivery(3, "traits", traits={"plan": "pro"}, traits_now={"plan": "pro"},
                     audiences_now=both),
        ],
    )  # fmt: skip
    assert outcomes == dict.fromkeys([0, 1], Outcome.delivered())
    assert [operation for operation, _ in ses.calls[-1:]] == ["UpdateContact"]
    assert attributes(ses, "p1") == {"plan": "pro"}
    assert topics(ses, "p1") == {"churn_risk": "OPT_IN", "vip": "OPT_IN"}


def test_the_settings_topics_are_each_set_so_none_falls_back_to_its_default(
    ses: SesAnswers,
) -> None:
    # given: a contact in two topics, then out of one
    deliver(ses, [delivery(1)])
    deliver(ses, [delivery(2, audience="churn_risk", audiences_now=("churn_risk", "vip"))])
    deliver(ses, [delivery(3, "audience_remove", audience="churn_risk", audiences_now=("vip",))])
    change = delivery(4, "traits", traits={"plan": "pro"}, audiences_now=("vip",))
    # when: a later change without the settings' topics
    deliver(ses, [change])
    # then: the topic left earlier is in no call any more: back to its default (OPT_OUT here)
    assert topics(ses, "p1") == {"vip": "OPT_IN"}
    # when: with them, each is set
    deliver(ses, [change], SesSettings(contact_list=LIST, topics=TOPICS))
    assert topics(ses, "p1") == {"vip": "OPT_IN", "churn_risk": "OPT_OUT", "newsletter": "OPT_OUT"}


def test_one_call_per_person_two_for_a_new_contact(ses: SesAnswers) -> None:
    deliveries = [delivery(n, who=f"p{n}") for n in range(30)]
    requests = CONNECTOR.requests(deliveries, SETTINGS, "")
    outcomes = deliver(ses, deliveries)
    assert len(requests) == 30
    assert len(ses.calls) == 60  # each update found no contact, and was followed by a create
    assert set(outcomes.values()) == {Outcome.delivered()}
    assert len(ses.client.list_contacts(ContactListName=LIST)["Contacts"]) == 30
    # once they are known, one call each
    deliver(ses, [delivery(n, "audience_remove", who=f"p{n}") for n in range(30)])
    assert len(ses.calls) == 90


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


def test_a_throttled_create_is_retried_with_its_update(ses: SesAnswers) -> None:
    ses.refuse[("CreateContact", "p1@example.com")] = (
        429, "TooManyRequestsException", "Too many requests"
    )  # fmt: skip
    (first,) = deliver(ses, [delivery(1)]).values()
    del ses.refuse[("CreateContact", "p1@example.com")]
    (second,) = deliver(ses, [delivery(1)]).values()
    assert first == Outcome("retry", "TooManyRequestsException: Too many requests", 30.0)
    assert second == Outcome.delivered()
    assert [op for op, _ in ses.calls] == ["UpdateContact", "CreateContact"] * 2
    assert topics(ses, "p1") == {"vip": "OPT_IN"}


def test_a_contact_made_between_the_update_and_the_create_is_retried(ses: SesAnswers) -> None:
    # given: SES did not find the contact, which exists when the create comes
    ses.client.create_contact(ContactListName=LIST, EmailAddress="p1@example.com")
    ses.refuse[("UpdateContact", "p1@example.com")] = (
        404, "NotFoundException", "Contact does not exist."
    )  # fmt: skip
    (outcome,) = deliver(ses, [delivery(1)]).values()
    assert outcome.state == "retry"
    assert "AlreadyExistsException" in outcome.message


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
    (removal,) = deliver(ses, [delivery(1, "audience_remove")], settings).values()
    (addition,) = deliver(ses, [delivery(2)], settings).values()
    assert removal.state == "skipped"
    assert "no-such-list" in removal.message
    assert addition.state == "failed"
    assert "no-such-list" in addition.message


def test_what_ses_does_not_take_says_why() -> None:
    event = delivery(1, "event", event="Order Completed")
    nobody = Delivery(
        id="x", destination="mail", kind="traits", profile_id="p9",
        identifiers=Identifiers(user_id="u9"), at=START.isoformat(), traits={"plan": "pro"},
    )  # fmt: skip
    assert CONNECTOR.requests([event, nobody], SETTINGS, "") == []
    assert CONNECTOR.skip_reason(event) == "Amazon SES contact lists take no events"
    assert "e-mail address" in (CONNECTOR.skip_reason(nobody) or "")
    assert CONNECTOR.skip_reason(delivery(2)) is None


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


def test_a_contact_in_two_topics_stays_in_both(ses: SesAnswers) -> None:
    deliver(ses, [delivery(1, audience="vip")])
    deliver(ses, [delivery(2, audience="churn_risk", audiences_now=("churn_risk", "vip"))])
    assert topics(ses, "p1") == {"vip": "OPT_IN", "churn_risk": "OPT_IN"}


changes = st.lists(
    st.tuples(st.sampled_from(["p1", "p2"]), st.sampled_from(TOPICS), st.booleans()),
    min_size=1,
    max_size=30,
)


@settings(max_examples=20, deadline=None)
@given(changes=changes, batch=st.integers(min_value=1, max_value=8))
def test_any_changes_across_topics_end_with_the_persons_whole_membership(
    client: Any, changes: list[tuple[str, str, bool]], batch: int
) -> None:
    ses = fresh(client)
    try:
        # given: the deliveries the publisher makes of these changes, each with the whole
        # membership after it
        membership: dict[str, set[str]] = {}
        deliveries: list[Delivery] = []
        for who, topic, joined in changes:
            now_in = membership.setdefault(who, set())
            if joined == (topic in now_in):
                continue  # no change: nothing is sent
            now_in ^= {topic}
            kind = "audience_add" if joined else "audience_remove"
            n = len(deliveries)
            deliveries.append(
                delivery(n, kind, who, audience=topic, audiences_now=tuple(sorted(now_in)))
            )
        # when
        for start in range(0, len(deliveries), batch):
            deliver(ses, deliveries[start : start + batch])
        # then
        for who, now_in in membership.items():
            opted_in = {t for t, status in topics(ses, who).items() if status == "OPT_IN"}
            assert opted_in == now_in
    finally:
        _unhook(client, ses)
