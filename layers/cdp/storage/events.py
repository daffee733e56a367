"""Reading the events table (the collector writes it through `cdp.storage.intake`)."""

from __future__ import annotations

from typing import Any

from cdp.codec import decompress


class EventReader:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def newest(
        self, partition: str, before: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Up to `limit` events of one identity, newest first, older than sort key `before`."""
        condition = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": partition}}
        if before is not None:
            condition += " AND sk < :before"
            values[":before"] = {"S": before}
        answer = self.client.query(
            TableName=self.table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit,
        )
        return [(item["sk"]["S"], decompress(item["body"]["B"])) for item in answer["Items"]]
