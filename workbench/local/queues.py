"""A local SQS event source mapping: polls a moto queue and invokes the consuming function
with SQS events, deleting what it processed and leaving failures to come back (as Lambda's
mapping does, through the visibility timeout)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.wiring import FunctionSpec
from workbench.local.worker import Worker

Invoke = Callable[[FunctionSpec, dict[str, Any]], dict[str, Any]]


class QueueRunner(Worker):
    def __init__(
        self,
        spec: FunctionSpec,
        *,
        queue_url: str,
        queue_arn: str,
        sqs: Any,
        invoke: Invoke,
        log: Callable[[str], None] | None = None,
    ) -> None:
        assert spec.queue is not None
        super().__init__(f"queue-{spec.name}", label=f"queue runner for {spec.name}", log=log)
        self.spec = spec
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = sqs
        self.invoke = invoke

    def step(self) -> None:
        assert self.spec.queue is not None
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.spec.queue.batch_size,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if messages:
            self._deliver(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for message in messages
            ]
        }
        try:
            answer = self.invoke(self.spec, event) or {}
        except Exception as error:
            self.log(f"  {self.spec.name} failed: {error!r}")
            return  # every message comes back after the visibility timeout
        failed = {item.get("itemIdentifier") for item in answer.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
