"""The config table: definitions kept as data (computed traits now; segments, forms later).

Readers cache a kind's definitions for `ttl_seconds`, so a warm function reads them about once
a minute, not once per batch; a change takes effect within that time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
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


class BackfillProgress:
    """Progress of each segment's backfill, in the config table (`kind` = `backfill`):
    `version`, `parts`, `done` (the parts finished, a set: a redelivered task cannot count a
    part twice) and `evaluated` (profiles evaluated so far; a redelivery may count a page twice,
    it is a progress figure)."""

    KIND = "backfill"

    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def start(self, segment_id: str, version: str, parts: int, *, at: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "kind": {"S": self.KIND},
                "id": {"S": segment_id},
                "version": {"S": version},
                "parts": {"N": str(parts)},
                "evaluated": {"N": "0"},
                "started_at": {"S": at},
            },
        )

    def record(
        self, segment_id: str, version: str, *, part: int, evaluated: int, finished: bool
    ) -> None:
        expression = "ADD evaluated :evaluated" + (", done :part" if finished else "")
        values: dict[str, Any] = {":evaluated": {"N": str(evaluated)}, ":version": {"S": version}}
        if finished:
            values[":part"] = {"SS": [str(part)]}
        # A newer backfill of the segment may have started: this one's figures are then moot.
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key={"kind": {"S": self.KIND}, "id": {"S": segment_id}},
                UpdateExpression=expression,
                ConditionExpression="version = :version",
                ExpressionAttributeValues=values,
            )

    def get(self, segment_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={"kind": {"S": self.KIND}, "id": {"S": segment_id}}
        ).get("Item")
        if item is None:
            return None
        parts = int(item["parts"]["N"])
        done = len(item.get("done", {}).get("SS", []))
        return {
            "status": "done" if done >= parts else "running",
            "version": item["version"]["S"],
            "parts": parts,
            "parts_done": done,
            "evaluated": int(item["evaluated"]["N"]),
            "started_at": item["started_at"]["S"],
        }

    def forget(self, segment_id: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key={"kind": {"S": self.KIND}, "id": {"S": segment_id}}
        )
