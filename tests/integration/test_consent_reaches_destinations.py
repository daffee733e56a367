"""Consent on every path out, through the stack's own EventBridge rules: the patterns the
stack builds its rules from (`Destination.rule_patterns`, not copied; tests/infra checks the
synthesized template against them), put on moto's bus with a queue per destination, and the
publisher's events arrive, or do not, as a marketing tool and a warehouse would get them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cdp.runtime import clock
from infra.config import DeploymentConfig
from tests.factories import basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]

DESTINATIONS = [
    {"name": "mailer", "type": "sqs", "purpose": "marketing"},
    {"name": "warehouse", "type": "sqs", "purpose": "analytics"},
]
NEWSLETTER = {
    "id": "newsletter-fans",
    "name": "Newsletter fans",
    "purpose": "marketing",
    "condition": {"trait": "topics", "contains": "shoes"},
}
PLANNERS = {"id": "planners", "name": "Plans ahead", "condition": {"trait": "plan", "eq": "pro"}}


@pytest.fixture
def rules() -> dict[str, list[dict[str, Any]]]:
    """Each destination's rule patterns, as the stack builds its rules."""
    config = DeploymentConfig.model_validate({"destinations": DESTINATIONS})
    return {d.name: list(d.rule_patterns().values()) for d in config.destinations}


@pytest.fixture
def destinations(
    rules: dict[str, list[dict[str, Any]]], bus: Callable[[], list[dict[str, Any]]]
) -> Callable[[str], list[dict[str, Any]]]:
    """A queue per destination behind its own rules; answers what a destination received."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus_name = os.environ["EVENT_BUS_NAME"]
    urls = {}
    for name, patterns in rules.items():
        url = sqs.create_queue(QueueName=f"destination-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for number, pattern in enumerate(patterns):
            rule = f"{name}-{number}"
            events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "q", "Arn": arn}])
        urls[name] = url

    def received(name: str) -> list[dict[str, Any]]:
        found = []
        while messages := sqs.receive_message(QueueUrl=urls[name], MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=urls[name], ReceiptHandle=message["ReceiptHandle"])
        return found

    return received


def send(collector: Handler, *messages: dict[str, Any]) -> None:
    body = {"batch": [{"userId": "ada", **message} for message in messages]}
    answer = collector(http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)))
    assert answer["statusCode"] == 200, answer["body"]


def consent(**purposes: bool) -> dict[str, Any]:
    return {"consent": {"categoryPreferences": purposes}}


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((event["detail-type"], event["detail"].get("segment_id", "")) for event in events)


def test_a_withdrawal_reaches_the_purposes_destinations_once_and_nothing_after(
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    destinations: Callable[[str], list[dict[str, Any]]],
) -> None:
    for segment in (NEWSLETTER, PLANNERS):
        answer = admin_api(
            http_event("PUT", f"/v1/segments/{segment['id']}", body=segment, headers=bearer())
        )
        assert answer["statusCode"] == 200, answer["body"]

    # given a person who granted marketing and analytics and is in both segments
    send(
        collector,
        {"type": "identify", "traits": {"topics": ["shoes"], "plan": "pro"},
         "context": consent(marketing=True, analytics=True)},
    )  # fmt: skip
    pipeline()
    everything = [
        ("profile.updated", ""),
        ("segment.entered", "newsletter-fans"),
        ("segment.entered", "planners"),
    ]
    assert summary(destinations("mailer")) == everything
    assert summary(destinations("warehouse")) == everything

    # when they withdraw marketing
    send(
        collector,
        {"type": "track", "event": "Consent Updated", "context": consent(marketing=False)},
    )
    pipeline()

    # then the marketing tool hears it once: they left its segment, and the withdrawal
    mailer = destinations("mailer")
    assert summary(mailer) == [("profile.updated", ""), ("segment.exited", "newsletter-fans")]
    [notice] = [event for event in mailer if event["detail-type"] == "profile.updated"]
    assert notice["detail"]["withdrawn_purposes"] == ["marketing"]
    assert notice["detail"]["changed"]["consent"]["marketing"]["state"] == "denied"
    assert set(notice["detail"]["changed"]) == {"consent"}
    warehouse = destinations("warehouse")
    assert ("segment.exited", "newsletter-fans") in summary(warehouse)

    # and after it, nothing: not a new trait, not a segment left or entered
    send(collector, {"type": "identify", "traits": {"plan": "free", "city": "Utrecht"}})
    pipeline()
    assert destinations("mailer") == []
    assert summary(destinations("warehouse")) == [
        ("profile.updated", ""),
        ("segment.exited", "planners"),
    ]


def test_a_fact_that_expires_is_announced_as_a_profile_update(
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    destinations: Callable[[str], list[dict[str, Any]]],
) -> None:
    from functions.scheduler import handler as scheduler
    from workbench.local.invocation import LambdaContext

    scheduler._dependencies.cache_clear()
    expires = clock.iso(clock.utc_now() + timedelta(days=30))
    send(
        collector,
        {"type": "identify", "traits": {"moving_soon": True},
         "context": {**consent(analytics=True), "cdp": {"expires": {"moving_soon": expires}}}},
    )  # fmt: skip
    pipeline()
    destinations("warehouse")
    # when the fact expires, and the scheduler runs
    clock.advance(timedelta(days=31))
    scheduler.handler({"source": "aws.scheduler"}, LambdaContext())
    pipeline()
    # then other systems hear that the trait is gone
    [update] = destinations("warehouse")
    assert update["detail-type"] == "profile.updated"
    assert update["detail"]["changed"]["traits"] == {"moving_soon": None}
    scheduler._dependencies.cache_clear()
