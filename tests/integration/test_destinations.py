"""Destinations end to end, on moto: a destination defined through the admin API (its secret
into Secrets Manager), people's events through the collector, the profile builder and the
publisher, the deliveries queue (SQS FIFO) through the deliverer, to a receiver that checks
every request (the signed webhook's contract server); and what was sent, read back through the
admin API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cdp.runtime import clock
from cdp.sharing.destinations import RESYNC_SETTLE_SECONDS
from cdp.storage import clients
from tests.contracts.server import Answer
from tests.contracts.webhook import WebhookContract
from tests.factories import basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer
from workbench.local.invocation import LambdaContext

Handler = Callable[[dict[str, Any]], dict[str, Any]]
SECRET = "whsec-test-0123456789"
BUYERS = {
    "id": "buyers",
    "name": "Buyers",
    "condition": {"trait": "plan", "eq": "pro"},
}
HOOK = {
    "id": "crm-hook",
    "name": "Our CRM's webhook",
    "connector": "webhook",
    "purpose": "marketing",
    "settings": {"url": "https://hooks.example.com/hooks/cdp"},
    "audiences": {"buyers": "Buyers"},
    "traits": {"plan": "plan"},
}


@pytest.fixture
def receiver() -> Iterator[WebhookContract]:
    contract = WebhookContract(SECRET)
    with contract.running():
        yield contract


@pytest.fixture
def deliver(
    receiver: WebhookContract, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Runs the deliverer on what the deliveries queue holds, as Lambda's mapping would;
    answers the batch item failures."""
    from functions.deliverer import handler

    monkeypatch.setenv("CONNECTOR_ENDPOINTS", json.dumps({"webhook": receiver.url}))
    handler._dependencies.cache_clear()
    handler._secret.cache_clear()
    clients.secretsmanager.cache_clear()
    sqs = boto3.client("sqs")
    url = queues["DELIVERIES_QUEUE_URL"]

    def run() -> list[dict[str, Any]]:
        failures: list[dict[str, Any]] = []
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages = answer.get("Messages", [])
        if not messages:
            return failures
        event = {
            "Records": [
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
        }
        failures = handler.handler(event, LambdaContext())["batchItemFailures"]
        failed = {f["itemIdentifier"] for f in failures}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return failures

    yield run
    handler._dependencies.cache_clear()


def send(collector: Handler, user: str, *messages: dict[str, Any]) -> None:
    body = {"batch": [{"userId": user, **message} for message in messages]}
    answer = collector(http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)))
    assert answer["statusCode"] == 200, answer["body"]


def identify(plan: str, marketing: bool, email: str = "ada@example.com") -> dict[str, Any]:
    return {
        "type": "identify",
        "traits": {"plan": plan, "email": email},
        "context": {"consent": {"categoryPreferences": {"marketing": marketing}}},
    }


def put(admin_api: Handler, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = admin_api(http_event("PUT", path, body=body, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    result: dict[str, Any] = json.loads(answer["body"])
    return result


def get(admin_api: Handler, path: str) -> dict[str, Any]:
    answer = admin_api(http_event("GET", path, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    result: dict[str, Any] = json.loads(answer["body"])
    return result


def settle() -> None:
    """Past the wait of a resync (until every publisher knows the destination as saved)."""
    clock.advance(timedelta(seconds=RESYNC_SETTLE_SECONDS + 1))


@pytest.fixture
def hooked(admin_api: Handler) -> dict[str, Any]:
    put(admin_api, "/v1/segments/buyers", BUYERS)
    saved = put(admin_api, "/v1/destinations/crm-hook", {**HOOK, "secret": SECRET})
    settle()
    return saved


def test_entries_withdrawal_and_erasure_reach_the_tool_in_order(
    hooked: dict[str, Any],
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
) -> None:
    from functions.privacy_api import handler as privacy

    assert hooked["has_secret"] is True
    assert "secret" not in hooked
    # given a buyer who granted marketing, and one who did not
    send(collector, "ada", identify("pro", marketing=True))
    send(collector, "bob", identify("pro", marketing=False, email="bob@example.com"))
    pipeline()
    assert deliver() == []
    [ada] = receiver.audiences
    assert receiver.audiences[ada] == {"Buyers"}
    assert receiver.traits[ada] == {"plan": "pro"}
    sent = json.dumps([r.json() for r in receiver.received])
    assert "bob@example.com" not in sent, "nothing is sent for a person who has not granted it"

    # when Ada withdraws marketing, she leaves the tool's audience at once
    withdrawal = {"consent": {"categoryPreferences": {"marketing": False}}}
    send(collector, "ada", {"type": "track", "event": "Consent Updated", "context": withdrawal})
    pipeline()
    assert deliver() == []
    assert receiver.audiences[ada] == set()
    before = len(receiver.received)
    send(collector, "ada", identify("free", marketing=False))
    pipeline()
    deliver()
    assert len(receiver.received) == before, "after a withdrawal, nothing more is sent"

    # when she is erased, the tool is told so
    privacy._app.cache_clear()
    answer = privacy.handler(
        http_event("DELETE", "/v1/profiles/user_id:ada", headers=bearer()), LambdaContext()
    )
    assert answer["statusCode"] in (200, 202), answer["body"]
    pipeline()
    assert deliver() == []
    assert receiver.erased == [ada]
    assert receiver.violations == []

    figures = get(admin_api, "/v1/destinations/crm-hook/deliveries")
    assert figures["totals"]["delivered"] == 3  # the entry, the removal, the erasure
    assert figures["totals"]["failed"] == 0
    [erasure] = figures["erasures"]
    assert erasure["profile_id"] == ada
    assert erasure["outcome"] == "delivered"


def test_a_tool_that_asks_to_wait_gets_the_message_again_after_the_wait(
    hooked: dict[str, Any],
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
    queues: dict[str, str],
) -> None:
    receiver.fail_next(Answer(429, {"error": "slow down"}, {"Retry-After": "42"}))
    send(collector, "ada", identify("pro", marketing=True))
    pipeline()
    [failure] = deliver()
    # the message waits as long as the tool asked (its visibility timeout)
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=queues["DELIVERIES_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    figures = get(admin_api, "/v1/destinations/crm-hook/deliveries")
    assert figures["totals"]["retried"] == 1
    assert figures["totals"]["delivered"] == 0
    assert figures["last_errors"][-1]["kind"] == "retry"
    assert "slow down" in figures["last_errors"][-1]["message"]
    assert failure["itemIdentifier"]


def test_a_refusal_is_kept_in_the_tools_words_without_the_persons_address(
    hooked: dict[str, Any],
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
) -> None:
    receiver.fail_next(Answer(400, {"error": "ada@example.com is not a valid contact"}))
    send(collector, "ada", identify("pro", marketing=True))
    pipeline()
    assert deliver() == []  # refused for good: not retried
    figures = get(admin_api, "/v1/destinations/crm-hook/deliveries")
    assert figures["totals"]["failed"] == 1
    [error] = figures["last_errors"]
    assert "not a valid contact" in error["message"]
    assert "ada@example.com" not in json.dumps(figures)


def test_a_destination_is_checked_before_it_is_kept(admin_api: Handler) -> None:
    put(admin_api, "/v1/segments/buyers", BUYERS)
    cases = {
        "connector": {**HOOK, "connector": "carrier-pigeon"},
        "audiences.nobody": {**HOOK, "audiences": {"nobody": "Nobody"}},
        "purpose": {**HOOK, "purpose": "astrology"},
        "settings.url": {**HOOK, "settings": {"url": "http://169.254.169.254/latest"}},
    }
    for field, body in cases.items():
        answer = admin_api(
            http_event("PUT", "/v1/destinations/crm-hook", body=body, headers=bearer())
        )
        assert answer["statusCode"] == 400, (field, answer["body"])
        assert field in json.loads(answer["body"])["message"], answer["body"]
    answer = admin_api(http_event("GET", "/v1/destinations/crm-hook", headers=bearer()))
    assert answer["statusCode"] == 404


def test_a_paused_destination_hears_nothing_and_a_deleted_one_leaves_no_secret(
    hooked: dict[str, Any],
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
) -> None:
    put(admin_api, "/v1/destinations/crm-hook", {**HOOK, "enabled": False})
    assert get(admin_api, "/v1/destinations/crm-hook")["has_secret"] is True
    send(collector, "ada", identify("pro", marketing=True))
    pipeline()
    deliver()
    assert receiver.received == []
    answer = admin_api(http_event("DELETE", "/v1/destinations/crm-hook", headers=bearer()))
    assert answer["statusCode"] == 200
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert not any(name.endswith("crm-hook") for name in names)


def test_each_destination_has_its_alarms_while_it_exists(
    admin_api: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.admin_api import handler

    topic = boto3.client("sns").create_topic(Name="alarms")["TopicArn"]
    monkeypatch.setenv("ALARM_TOPIC_ARN", topic)
    handler._app.cache_clear()
    put(admin_api, "/v1/segments/buyers", BUYERS)
    put(admin_api, "/v1/destinations/crm-hook", {**HOOK, "secret": SECRET})
    cloudwatch = boto3.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="test-destinations-crm-hook")
    found = {a["AlarmName"]: a for a in alarms["MetricAlarms"]}
    assert set(found) == {
        "test-destinations-crm-hook-failing",
        "test-destinations-crm-hook-unreachable",
    }
    failing = found["test-destinations-crm-hook-failing"]
    assert failing["MetricName"] == "Failed"
    assert failing["AlarmActions"] == [topic]
    assert {d["Name"]: d["Value"] for d in failing["Dimensions"]} == {
        "destination": "crm-hook",
        "service": "deliverer",
    }
    admin_api(http_event("DELETE", "/v1/destinations/crm-hook", headers=bearer()))
    left = cloudwatch.describe_alarms(AlarmNamePrefix="test-destinations-crm-hook")
    assert left["MetricAlarms"] == []


def test_a_resync_adds_every_member_who_granted_the_purpose(
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.deliverer import handler

    monkeypatch.setattr(handler, "RESYNC_PAGE", 2)  # pages of two: three pages for five
    put(admin_api, "/v1/segments/buyers", BUYERS)
    # given buyers who were in the segment before the destination existed
    for number in range(6):
        granted = number != 3
        send(collector, f"u{number}", identify("pro", granted, email=f"u{number}@example.com"))
    pipeline()
    # when the destination is made (which resyncs what it receives), and resynced again
    put(admin_api, "/v1/destinations/crm-hook", {**HOOK, "secret": SECRET})
    answer = admin_api(
        http_event("POST", "/v1/destinations/crm-hook/resync", body={}, headers=bearer())
    )
    assert answer["statusCode"] == 202, answer["body"]
    settle()
    for _ in range(10):
        deliver()
    # then the tool holds every buyer who granted marketing, and no one else
    emails = {
        email
        for request in receiver.received
        for item in request.json()["deliveries"]
        for email in item["identifiers"]["emails"]
    }
    assert emails == {f"u{n}@example.com" for n in range(6) if n != 3}
    assert all(audiences == {"Buyers"} for audiences in receiver.audiences.values())
    assert len(receiver.audiences) == 5
    assert receiver.violations == []


def test_the_events_a_destination_names_are_sent_once_for_people_who_granted_it(
    admin_api: Handler,
    collector: Handler,
    profile_builder: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
    table_names: dict[str, str],
) -> None:
    from tests.integration.conftest import TableStream

    put(admin_api, "/v1/segments/buyers", BUYERS)
    put(
        admin_api,
        "/v1/destinations/crm-hook",
        {**HOOK, "events": {"Order Completed": "purchase", "Signed Up": ""}, "secret": SECRET},
    )
    send(collector, "ada", identify("free", marketing=True))
    send(collector, "bob", identify("free", marketing=False, email="bob@example.com"))
    pipeline()
    deliver()
    receiver.reset()
    # when both buy, and Ada also views a page
    order = {"type": "track", "event": "Order Completed", "properties": {"revenue": 42.5}}
    events = TableStream(table_names["EVENTS_TABLE"])
    send(collector, "ada", order, {"type": "track", "event": "Product Viewed"})
    send(collector, "bob", order)
    batch = events.new_records()
    assert profile_builder(batch) == {"batchItemFailures": []}
    # and the same stream records come again (Lambda redelivers)
    assert profile_builder(batch) == {"batchItemFailures": []}
    assert deliver() == []
    # then the tool heard of Ada's order once, by the name it knows, and of nothing else
    sent = [item for request in receiver.received for item in request.json()["deliveries"]]
    assert [(item["kind"], item["event"], item["properties"]) for item in sent] == [
        ("event", "purchase", {"revenue": 42.5})
    ]
    assert sent[0]["identifiers"]["emails"] == ["ada@example.com"]
    assert receiver.violations == []


def test_a_tool_that_takes_no_events_is_not_given_any(admin_api: Handler) -> None:
    put(admin_api, "/v1/segments/buyers", BUYERS)
    meta = {
        "id": "ads",
        "name": "Ads",
        "connector": "meta",
        "purpose": "marketing",
        "settings": {"api_version": "21.0"},
        "events": {"Order Completed": ""},
    }
    answer = admin_api(http_event("PUT", "/v1/destinations/ads", body=meta, headers=bearer()))
    assert answer["statusCode"] == 400, answer["body"]
    assert json.loads(answer["body"])["fields"] == {
        "events": "Meta Custom Audiences does not take events"
    }


def test_a_resync_waits_until_every_publisher_knows_the_destination(
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    deliver: Callable[[], list[dict[str, Any]]],
    receiver: WebhookContract,
    queues: dict[str, str],
) -> None:
    put(admin_api, "/v1/segments/buyers", BUYERS)
    send(collector, "ada", identify("pro", marketing=True))
    pipeline()
    # when the destination is made, its segments' members are not read at once
    put(admin_api, "/v1/destinations/crm-hook", {**HOOK, "secret": SECRET})
    [waiting] = deliver()
    assert waiting["itemIdentifier"]
    assert receiver.received == []
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queues["DELIVERIES_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
