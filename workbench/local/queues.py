"""A local SQS event source mapping: polls a moto queue and invokes the consuming function
with SQS events, deleting what it processed and leaving failures to come back (as Lambda's
mapping does, through the visibility timeout)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from infra.wiring import FunctionSpec

Invoke = Callable[[FunctionSpec, dict[str, Any]], dict[str, Any]]


class QueueRunner:
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
        self.spec = spec
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = sqs
        self.invoke = invoke
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        assert self.spec.queue is not None
        while not self._stop.is_set():
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.spec.queue.batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                )
                messages = answer.get("Messages", [])
                if messages:
                    self._deliver(messages)
            except Exception as error:
                self.log(f"  queue runner for {self.spec.name}: {error!r}")
                self._stop.wait(1.0)

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
