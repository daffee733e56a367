"""The live table: what a watched source sent, one item per message (`cdp.intake.live`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cdp.intake.live import KEPT_SECONDS

BATCH_WRITE_LIMIT = 25
PAGE = 100


class LiveLog:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def write(
        self, source: str, entries: list[dict[str, Any]], *, request_id: str, now: datetime
    ) -> None:
        """Best effort, once: what is not written is not shown (the message itself is
        stored or refused regardless)."""
        expires = str(int(now.timestamp()) + KEPT_SECONDS)
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "source": {"S": source},
                        # time first, so the log reads in order; then the request and the
                        # message's place in it, so retries and batches never collide
                        "at_id": {"S": f"{entry['at']}#{request_id}#{number:04d}"},
                        "entry": {"S": json.dumps(entry, separators=(",", ":"))},
                        "expires_at": {"N": expires},
                    }
                }
            }
            for number, entry in enumerate(entries)
        ]
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            self.client.batch_write_item(
                RequestItems={self.table: items[start : start + BATCH_WRITE_LIMIT]}
            )

    def read(self, source: str, *, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """What arrived after the cursor, oldest first; without one, the newest page. Answers
        the entries and the cursor to ask with next (the same when nothing is new)."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#source = :source",
            "ExpressionAttributeNames": {"#source": "source"},
            "ExpressionAttributeValues": {":source": {"S": source}},
            "Limit": PAGE,
        }
        if after is None:
            arguments["ScanIndexForward"] = False
        else:
            arguments["KeyConditionExpression"] += " AND at_id > :after"
            arguments["ExpressionAttributeValues"][":after"] = {"S": after}
        items = self.client.query(**arguments)["Items"]
        if after is None:
            items.reverse()
        cursor = items[-1]["at_id"]["S"] if items else after
        return [json.loads(item["entry"]["S"]) for item in items], cursor
