"""An SQS queue of tasks (backfill pages)."""

from __future__ import annotations

from typing import Any


class TaskQueue:
    def __init__(self, url: str, *, client: Any) -> None:
        self.url = url
        self.client = client

    def send(self, bodies: list[str], *, delay_seconds: int = 0) -> None:
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            entries = [
                {"Id": str(index), "MessageBody": body, "DelaySeconds": delay_seconds}
                for index, body in enumerate(chunk)
            ]
            answer = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"{len(answer['Failed'])} tasks were not queued")
