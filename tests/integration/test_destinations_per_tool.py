"""A segment connected to each tool by configuration alone, end to end on moto: the destination
put through the admin API (its settings, its secret), people's events through the collector,
the profile builder and the publisher, the deliveries queue through the deliverer, to the
tool's contract server (`tests/contracts/<vendor>.py`; Amazon SES is moto's). Entries, exits,
consent withdrawal and erasure must reach the tool's own state (a Mailchimp tag, a HubSpot
list, a Braze attribute array, a Meta audience, GA4's join/leave_group events, an SES topic),
a person who did not grant the purpose must never be heard of there, and the delivery figures
must say what happened."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from cdp.sharing.connectors.ga4 import SKIP_REASONS
from cdp.storage import clients
from tests.contracts import braze, ga4, hubspot, mailchimp, meta
from tests.contracts.server import ContractServer, Received
from tests.factories import http_event
from tests.integration.conftest import bearer
from tests.integration.test_destinations import BUYERS, get, identify, put, send, settle
from workbench.local.invocation import LambdaContext

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Person:
    user: str
    email: str

    def traces(self) -> tuple[str, ...]:
        """Every form in which a request could name them: the address, its hashes (SHA-256
        as Meta takes it, MD5 as Mailchimp's subscriber hash), the user id as a JSON string."""
        return (
            self.email,
            hashlib.sha256(self.email.encode()).hexdigest(),
            hashlib.md5(self.email.encode(), usedforsecurity=False).hexdigest(),
            json.dumps(self.user),
        )


ADA = Person("ada", "ada@example.com")
BOB = Person("bob", "bob@example.com")


@dataclass
class Tool:
    """A tool as the test sees it: the destination that connects the segment `buyers` to it,
    where its API is played, and its state read back."""

    destination: dict[str, Any]  # the admin API's body: connector, settings, secret, mapping
    url: str | None  # None: the tool is an AWS service (moto's)
    holds: Callable[[Person], bool]  # the person is in the tool's audience for `buyers`
    # Whether the erasure reached the tool as documented, given what it received meanwhile.
    erased: Callable[[Person, list[str]], bool]
    received: Callable[[], list[str]]  # every request or call, as text
    # The value the tool holds for the person's mapped trait `plan` (Meta takes no traits).
    plan: Callable[[Person], Any] = lambda person: None
    violations: list[str] = field(default_factory=list)
    # What the delivery figures must count: the entry; the exit (and the trait change that
    # made it, where traits are mapped); the re-entry; the withdrawal; the erasure.
    totals: dict[str, int] = field(default_factory=lambda: {"delivered": 6})


def destination(connector: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{connector}-buyers",
        "name": f"Buyers in {connector}",
        "connector": connector,
        "purpose": "marketing",
        **fields,
    }


def as_text(request: Received) -> str:
    return f"{request.method} {request.path} {request.query} {request.headers} {request.body!r}"


def texts(server: ContractServer) -> Callable[[], list[str]]:
    return lambda: [as_text(request) for request in server.received]


@contextmanager
def played_mailchimp(_: pytest.MonkeyPatch) -> Iterator[Tool]:
    server = mailchimp.MailchimpContract(merge_fields={"PLAN": "text"})
    list_id = mailchimp.LIST_ID

    def erased(person: Person, after: list[str]) -> bool:
        hashed = mailchimp.md5(person.email)
        sent = any(f"/members/{hashed}/actions/delete-permanent" in r for r in after)
        return sent and hashed in server.deleted[list_id] and server.member(person.email) is None

    def plan(person: Person) -> Any:
        member = server.member(person.email)
        return member.merge_fields.get("PLAN") if member else None

    with server.running():
        yield Tool(
            destination(
                "mailchimp",
                settings={"list_id": list_id},
                audiences={"buyers": "Buyers"},
                traits={"plan": "PLAN"},
                secret=mailchimp.API_KEY,
            ),
            server.url,
            holds=lambda person: person.email in server.tagged("Buyers"),
            erased=erased,
            received=texts(server),
            plan=plan,
            violations=server.violations,
        )


@contextmanager
def played_hubspot(_: pytest.MonkeyPatch) -> Iterator[Tool]:
    server = hubspot.HubSpotContract()

    def erased(person: Person, after: list[str]) -> bool:
        sent = any("/gdpr-delete" in r and person.email in r for r in after)
        return sent and server.contact(person.email) is None

    def plan(person: Person) -> Any:
        contact = server.contact(person.email)
        return contact.properties.get("plan") if contact else None

    with server.running():
        yield Tool(
            destination(
                "hubspot",
                audiences={"buyers": hubspot.LIST_ID},
                traits={"plan": "plan"},
                secret=hubspot.TOKEN,
            ),
            server.url,
            holds=lambda person: person.email in server.members(hubspot.LIST_ID),
            erased=erased,
            received=texts(server),
            plan=plan,
            violations=server.violations,
        )


@contextmanager
def played_braze(_: pytest.MonkeyPatch) -> Iterator[Tool]:
    key = "braze-rest-key"
    server = braze.BrazeServer(key)

    def erased(person: Person, after: list[str]) -> bool:
        sent = any("/users/delete" in r and json.dumps(person.user) in r for r in after)
        asked = ("external_id", person.user) in server.deleted
        return sent and asked and server.profile("external_id", person.user) is None

    with server.running():
        yield Tool(
            destination(
                "braze",
                settings={"instance_url": "https://rest.iad-01.braze.com"},
                audiences={"buyers": "Buyers"},
                traits={"plan": "plan"},
                secret=key,
            ),
            server.url,
            holds=lambda person: "Buyers" in server.audiences("external_id", person.user),
            erased=erased,
            received=texts(server),
            plan=lambda person: (server.profile("external_id", person.user) or {}).get("plan"),
            violations=server.violations,
        )


@contextmanager
def played_meta(_: pytest.MonkeyPatch) -> Iterator[Tool]:
    token = "meta-system-user-token"
    audience, other = "23850000000000001", "23850000000000002"
    server = meta.MetaServer(token, [audience, other])

    def hashed(person: Person) -> str:
        return hashlib.sha256(person.email.encode()).hexdigest()

    def erased(person: Person, after: list[str]) -> bool:
        """Meta has no deletion call: the person is removed from every configured audience."""
        return all(
            any(r.startswith(f"DELETE /v21.0/{each}/users ") and hashed(person) in r for r in after)
            and not server.holds(each, email=hashed(person))
            for each in (audience, other)
        )

    with server.running():
        yield Tool(
            destination(
                "meta",
                settings={"api_version": "21.0", "audience_ids": [audience, other]},
                audiences={"buyers": audience},  # Meta takes no traits
                secret=token,
            ),
            server.url,
            holds=lambda person: server.holds(audience, email=hashed(person)),
            erased=erased,
            received=texts(server),
            violations=server.violations,
            totals={"delivered": 5},
        )


@contextmanager
def played_ga4(_: pytest.MonkeyPatch) -> Iterator[Tool]:
    measurement_id, api_secret = "G-TEST123456", "mp-api-secret"
    server = ga4.Ga4Contract(measurement_id, api_secret)

    def client_of(person: Person) -> str | None:
        return next((c for c, user in server.user_ids.items() if user == person.user), None)

    def holds(person: Person) -> bool:
        client = client_of(person)
        return client is not None and "buyers" in server.groups(client)

    def plan(person: Person) -> Any:
        client = client_of(person)
        return server.user_properties[client].get("plan") if client else None

    with server.running():
        yield Tool(
            destination(
                "ga4",
                settings={"measurement_id": measurement_id},
                audiences={"buyers": "buyers"},
                traits={"plan": "plan"},
                secret=api_secret,
            ),
            server.url,
            holds=holds,
            # GA has no deletion call: nothing is sent, the figures say why (below).
            erased=lambda person, after: after == [],
            received=texts(server),
            plan=plan,
            violations=server.violations,
            totals={"delivered": 5, "skipped": 1},
        )


@contextmanager
def played_ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tool]:
    """moto's SES v2: a contact list with the topic, as an account would set it up; every call
    the deliverer's clients make is recorded (botocore checks each against SES's API model
    before it leaves)."""
    from functions.deliverer import handler

    ses = boto3.client("sesv2")
    topic = {"TopicName": "buyers", "DisplayName": "Buyers", "DefaultSubscriptionStatus": "OPT_OUT"}
    ses.create_contact_list(ContactListName="customers", Topics=[topic])
    calls: list[str] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(f"{model.name} {json.dumps(params)}")

    make = handler._aws

    def recorded(service: str) -> Any:
        client = make(service)
        client.meta.events.register("before-parameter-build.sesv2.*", record)
        return client

    monkeypatch.setattr(handler, "_aws", recorded)

    def contact(person: Person) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = ses.get_contact(
                ContactListName="customers", EmailAddress=person.email
            )
        except ses.exceptions.NotFoundException:
            return None
        return found

    def plan(person: Person) -> Any:
        found = contact(person)
        return json.loads(found["AttributesData"]).get("plan") if found else None

    def holds(person: Person) -> bool:
        preferences = (contact(person) or {}).get("TopicPreferences", [])
        return {"TopicName": "buyers", "SubscriptionStatus": "OPT_IN"} in preferences

    def erased(person: Person, after: list[str]) -> bool:
        sent = any(r.startswith("DeleteContact ") and person.email in r for r in after)
        return sent and contact(person) is None

    yield Tool(
        destination(
            "ses",
            settings={"contact_list": "customers", "topics": ["buyers"]},
            audiences={"buyers": "buyers"},
            traits={"plan": "plan"},  # no secret: the deliverer's own role
        ),
        None,
        holds=holds,
        erased=erased,
        received=lambda: list(calls),
        plan=plan,
    )


PLAYED = {
    "mailchimp": played_mailchimp,
    "hubspot": played_hubspot,
    "braze": played_braze,
    "meta": played_meta,
    "ga4": played_ga4,
    "ses": played_ses,
}


@pytest.fixture(params=sorted(PLAYED))
def tool(
    request: pytest.FixtureRequest, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tool]:
    """Each tool in turn, played for the test (on moto, which SES needs)."""
    with PLAYED[request.param](monkeypatch) as played:
        yield played


@pytest.fixture
def deliver(
    tool: Tool, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], None]]:
    """Runs the deliverer, as Lambda's mapping would, until the deliveries queue is empty;
    the tool's connector pointed at its contract server."""
    from functions.deliverer import handler

    endpoints = {tool.destination["connector"]: tool.url} if tool.url else {}
    monkeypatch.setenv("CONNECTOR_ENDPOINTS", json.dumps(endpoints))
    handler._dependencies.cache_clear()
    handler._secret.cache_clear()
    clients.secretsmanager.cache_clear()
    sqs = boto3.client("sqs")
    url = queues["DELIVERIES_QUEUE_URL"]

    def run() -> None:
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", []):
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                }
                for m in messages
            ]
            answer = handler.handler({"Records": records}, LambdaContext())
            assert answer["batchItemFailures"] == [], "the tool asked for nothing to be retried"
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    yield run
    handler._dependencies.cache_clear()


def consent(marketing: bool) -> dict[str, Any]:
    preferences = {"consent": {"categoryPreferences": {"marketing": marketing}}}
    return {"type": "track", "event": "Consent Updated", "context": preferences}


def test_a_segment_reaches_the_tool_by_configuration_alone(
    tool: Tool,
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], None],
    privacy_api: Handler,
) -> None:
    def then() -> None:
        pipeline()
        deliver()

    def state(person: Person) -> tuple[bool, Any]:
        """Whether the tool holds the person in the audience, and the plan it holds."""
        return tool.holds(person), tool.plan(person)

    def plan(value: str) -> str | None:
        return value if tool.destination.get("traits") else None

    # given the segment connected to the tool through the admin API alone
    put(admin_api, "/v1/segments/buyers", BUYERS)
    destination_id = tool.destination["id"]
    put(admin_api, f"/v1/destinations/{destination_id}", tool.destination)
    settle()
    deliver()  # saving it resynced the segment, empty yet: nothing is sent
    assert tool.received() == []

    # when a buyer who granted marketing enters the segment, and one who did not
    send(collector, ADA.user, identify("pro", marketing=True, email=ADA.email))
    send(collector, BOB.user, identify("pro", marketing=False, email=BOB.email))
    then()
    # then the tool holds the first, with her mapped trait, and has not heard of the second
    assert state(ADA) == (True, plan("pro"))
    assert state(BOB) == (False, None)

    # when she leaves the segment (her plan changes), and enters it again, the tool follows
    send(collector, ADA.user, identify("free", marketing=True, email=ADA.email))
    then()
    assert state(ADA) == (False, plan("free"))
    send(collector, ADA.user, identify("pro", marketing=True, email=ADA.email))
    then()
    assert state(ADA) == (True, plan("pro"))

    # when she withdraws marketing, she leaves the audience at once
    send(collector, ADA.user, consent(marketing=False))
    then()
    assert state(ADA) == (False, plan("pro"))

    # when she is erased, the tool hears of it as its connector documents
    before = len(tool.received())
    answer = privacy_api(http_event("DELETE", f"/v1/profiles/user_id:{ADA.user}", headers=bearer()))
    assert answer["statusCode"] in (200, 202), answer["body"]
    then()
    assert tool.erased(ADA, tool.received()[before:])

    sent = tool.received()
    assert any(trace in request for request in sent for trace in ADA.traces())
    assert not [trace for trace in BOB.traces() if any(trace in request for request in sent)]
    assert tool.violations == []
    figures = get(admin_api, f"/v1/destinations/{destination_id}/deliveries")
    assert figures["totals"] == {"retried": 0, "failed": 0, "skipped": 0, **tool.totals}
    assert figures["last_errors"] == []
    [erasure] = figures["erasures"]
    if tool.destination["connector"] == "ga4":
        assert (erasure["outcome"], erasure["call"]) == ("skipped", "none")
        assert erasure["message"] == SKIP_REASONS["erase"]
    else:
        assert (erasure["outcome"], erasure["call"]) == ("delivered", "the tool's deletion call")


def test_meta_is_refused_an_audience_an_erasure_would_not_reach(admin_api: Handler) -> None:
    """Meta has no call to delete a person: an erased person is removed from the audiences in
    the settings' `audience_ids`. An audience outside them would keep people after their
    erasure (and the figures would call it skipped for want of an identifier)."""
    put(admin_api, "/v1/segments/buyers", BUYERS)
    ads = destination(
        "meta",
        settings={"api_version": "21.0", "audience_ids": ["23850000000000002"]},
        audiences={"buyers": "23850000000000001"},
        secret="meta-system-user-token",
    )
    answer = admin_api(
        http_event("PUT", f"/v1/destinations/{ads['id']}", body=ads, headers=bearer())
    )
    assert answer["statusCode"] == 400, answer["body"]
    [(field, reason)] = json.loads(answer["body"])["fields"].items()
    assert field == "audiences.buyers"
    assert "audience_ids" in reason
