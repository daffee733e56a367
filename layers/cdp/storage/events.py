"""Reading the events table (the collector writes it through `cdp.storage.intake`)."""

from __future__ import annotations

from typing import Any

from cdp.profiles.timeline import StoredEvent


class EventReader:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def stored(self, partition: str) -> list[StoredEvent]:
        """Every event filed under one identity, bodies still compressed (the timeline sorts
        them by time and opens only what it hands out)."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ProjectionExpression": "sk, #timestamp, body, #source",
            "ExpressionAttributeNames": {"#timestamp": "timestamp", "#source": "source"},
        }
        found: list[StoredEvent] = []
        while True:
            answer = self.client.query(**arguments)
            found += [
                StoredEvent(
                    partition=partition,
                    timestamp=item["timestamp"]["S"],
                    message_id=item["sk"]["S"],
                    body=item["body"]["B"],
                    source=item.get("source", {}).get("S", "unknown"),
                )
                for item in answer["Items"]
            ]
            if "LastEvaluatedKey" not in answer:
                return found
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
