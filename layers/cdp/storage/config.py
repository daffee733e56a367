"""The config table: definitions kept as data (computed traits now; segments, forms later).

Readers cache a kind's definitions for `ttl_seconds`, so a warm function reads them about once
a minute, not once per batch; a change takes effect within that time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


class ConfigStore:
    def __init__(
        self,
        table: str,
        *,
        client: Any,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def definitions(self, kind: str) -> list[dict[str, Any]]:
        cached = self._cache.get(kind)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": {"S": kind}},
        }
        while True:
            answer = self.client.query(**arguments)
            items += [json.loads(item["definition"]["S"]) for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                break
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        self._cache[kind] = (self.clock() + self.ttl_seconds, items)
        return items

    def get(self, kind: str, definition_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={"kind": {"S": kind}, "id": {"S": definition_id}}
        ).get("Item")
        return json.loads(item["definition"]["S"]) if item else None

    def put(self, kind: str, definition_id: str, definition: dict[str, Any], *, at: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "kind": {"S": kind},
                "id": {"S": definition_id},
                "definition": {"S": json.dumps(definition, separators=(",", ":"))},
                "updated_at": {"S": at},
            },
        )
        self._cache.pop(kind, None)

    def delete(self, kind: str, definition_id: str) -> bool:
        answer = self.client.delete_item(
            TableName=self.table,
            Key={"kind": {"S": kind}, "id": {"S": definition_id}},
            ReturnValues="ALL_OLD",
        )
        self._cache.pop(kind, None)
        return "Attributes" in answer
