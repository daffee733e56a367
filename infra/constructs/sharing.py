"""Sharing: the event bus the publisher writes to, and the destinations configured in
`cdk.json` (webhooks through API destinations, SQS queues), each receiving the events meant
for its purpose (`for_purposes`: the people who granted it, and once more those who just
withdrew it, to say so). Erasures (`profile.deleted`) reach every destination."""

from __future__ import annotations

import json
from typing import TypedDict

from aws_cdk import Duration, SecretValue, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DeploymentConfig, Destination
from infra.constructs.checks import acknowledge
from infra.wiring import REDRIVE_TAG


def encrypted_queue(
    scope: Construct,
    construct_id: str,
    *,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
    fifo: bool = False,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        fifo=fifo or None,
    )


class _Retry(TypedDict):
    """What a rule target does with an event it cannot deliver."""

    dead_letter_queue: sqs.IQueue
    retry_attempts: int
    max_event_age: Duration


class Sharing(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus")
        self.failure_queues: dict[str, sqs.Queue] = {}
        for destination in config.destinations:
            self._route(destination)

    def _route(self, destination: Destination) -> None:
        failures = encrypted_queue(self, f"{destination.name}-failures")
        acknowledge(failures, "AwsSolutions-SQS3", "it is the destination's dead-letter queue")
        self.failure_queues[f"{destination.name}-failures"] = failures
        Tags.of(failures).add(REDRIVE_TAG, f"destination:{destination.name}")
        target = self._target(destination, failures)
        for suffix, pattern in destination.rule_patterns().items():
            events.Rule(
                self,
                f"{destination.name}-{suffix}",
                event_bus=self.bus,
                event_pattern=events.EventPattern(
                    source=pattern["source"],
                    detail_type=pattern["detail-type"],
                    detail=pattern.get("detail"),
                ),
                targets=[target],
            )

    def _target(self, destination: Destination, failures: sqs.Queue) -> events.IRuleTarget:
        retry: _Retry = {
            "dead_letter_queue": failures,
            "retry_attempts": 20,
            "max_event_age": Duration.hours(24),
        }
        if destination.type == "sqs":
            # What the consuming system cannot process lands in its own dead-letter queue.
            unprocessed = encrypted_queue(self, f"{destination.name}-unprocessed")
            acknowledge(unprocessed, "AwsSolutions-SQS3", "it is a dead-letter queue")
            self.failure_queues[f"{destination.name}-unprocessed"] = unprocessed
            Tags.of(unprocessed).add(REDRIVE_TAG, f"queue:{destination.name}")
            queue = encrypted_queue(
                self,
                f"{destination.name}-queue",
                dead_letter_queue=sqs.DeadLetterQueue(queue=unprocessed, max_receive_count=5),
            )
            return targets.SqsQueue(queue, **retry)
        assert destination.url is not None
        assert destination.auth is not None
        auth = destination.auth
        secret = SecretValue.secrets_manager(auth.secret_name)
        authorization = (
            events.Authorization.api_key(auth.header, secret)
            if auth.type == "api_key"
            else events.Authorization.basic(auth.username or "cdp", secret)
        )
        connection = events.Connection(
            self, f"{destination.name}-connection", authorization=authorization
        )
        api_destination = events.ApiDestination(
            self,
            f"{destination.name}-destination",
            connection=connection,
            endpoint=destination.url,
            http_method=events.HttpMethod.POST,
            rate_limit_per_second=destination.rate_per_second,
        )
        return targets.ApiDestination(
            api_destination,
            event=events.RuleTargetInput.from_event_path("$.detail"),
            header_parameters={"X-CDP-Destination": json.dumps(destination.name)[1:-1]},
            **retry,
        )
