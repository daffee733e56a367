"""The config table: definitions kept as data (computed traits, segments, forms, sources,
webhooks).

Definitions are versioned: every change of one adds 1 to a counter item (`#version`), after
the definition itself is written. Readers keep what they read with the version it had, and
check the counter (one small read) each time they ask: a change takes effect for the very
next strongly consistent read after it was answered (within about a second for an eventually
consistent one), with no cache delay, and costs a query only when something changed.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

_VERSION_KEY = {"kind": {"S": "#version"}, "id": {"S": "definitions"}}


class ConfigStore:
    def __init__(self, table: str, *, client: Any, consistent: bool = True) -> None:
        self.table = table
        self.client = client
        # Whether `current` reads the version strongly consistently. Lookups for other systems
        # need not (half the cost; a change shows within about a second), nor does a writer
        # that checks it again, exactly, after writing (`segments.definitions.settle`).
        self.consistent = consistent
        self._version: int | None = None
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def version(self, *, consistent: bool = True) -> int:
        """The definitions' version now (0 before the first change)."""
        item = self.client.get_item(
            TableName=self.table, Key=_VERSION_KEY, ConsistentRead=consistent
        ).get("Item")
        return int(item["n"]["N"]) if item else 0

    def current(self, *kinds: str) -> tuple[int, dict[str, list[dict[str, Any]]]]:
        """The definitions of `kinds` as they are now (or, when not `consistent`, up to about
        a second before), and their version."""
        version = self.version(consistent=self.consistent)
        if version != self._version:
            self._cache.clear()
            self._version = version
        for kind in kinds:
            if kind not in self._cache:
                self._cache[kind] = self._query(kind)
        return version, {kind: self._cache[kind] for kind in kinds}

    def as_last_read(self, kind: str) -> list[dict[str, Any]]:
        """The definitions of `kind` at the version the last `current` read, without reading
        the version again (for a second kind in the same invocation)."""
        if self._version is None:
            return self.definitions(kind)
        if kind not in self._cache:
            self._cache[kind] = self._query(kind)
        return self._cache[kind]

    def definitions(self, kind: str) -> list[dict[str, Any]]:
        return self.current(kind)[1][kind]

    def get(self, kind: str, definition_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"kind": {"S": kind}, "id": {"S": definition_id}},
            ConsistentRead=True,
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
        self._changed()

    def delete(self, kind: str, definition_id: str) -> bool:
        answer = self.client.delete_item(
            TableName=self.table,
            Key={"kind": {"S": kind}, "id": {"S": definition_id}},
            ReturnValues="ALL_OLD",
        )
        if "Attributes" not in answer:
            return False  # nothing was there: nothing changed
        self._changed()
        return True

    def _changed(self) -> None:
        """Count the change, after it is stored: a reader that sees the new version then
        finds the new definitions (its query is strongly consistent)."""
        self.client.update_item(
            TableName=self.table,
            Key=_VERSION_KEY,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        self._version = None

    def _query(self, kind: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": {"S": kind}},
            "ConsistentRead": True,
        }
        while True:
            answer = self.client.query(**arguments)
            items += [json.loads(item["definition"]["S"]) for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return items
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


class BackfillProgress:
    """Progress of each backfill, in the config table: of segments (`kind` = `backfill`) and
    of computed traits' pasts (`computed_backfill`): `version`, `parts`, `done` (the parts
    finished, a set: a redelivered task cannot count a part twice) and `evaluated` (profiles
    evaluated, or identities whose past was read, so far; a redelivery may count a page twice,
    it is a progress figure)."""

    SEGMENTS, COMPUTED = "backfill", "computed_backfill"

    def __init__(self, table: str, *, client: Any, kind: str = SEGMENTS) -> None:
        self.table = table
        self.client = client
        self.kind = kind

    def start(self, backfill_id: str, version: str, parts: int, *, at: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "kind": {"S": self.kind},
                "id": {"S": backfill_id},
                "version": {"S": version},
                "parts": {"N": str(parts)},
                "evaluated": {"N": "0"},
                "started_at": {"S": at},
            },
        )

    def record(
        self, backfill_id: str, version: str, *, part: int, evaluated: int, finished: bool
    ) -> None:
        expression = "ADD evaluated :evaluated" + (", done :part" if finished else "")
        values: dict[str, Any] = {":evaluated": {"N": str(evaluated)}, ":version": {"S": version}}
        if finished:
            values[":part"] = {"SS": [str(part)]}
        # A newer backfill of the same segment or trait may have started: these figures are moot.
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key={"kind": {"S": self.kind}, "id": {"S": backfill_id}},
                UpdateExpression=expression,
                ConditionExpression="version = :version",
                ExpressionAttributeValues=values,
            )

    def get(self, backfill_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={"kind": {"S": self.kind}, "id": {"S": backfill_id}}
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

    def forget(self, backfill_id: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key={"kind": {"S": self.kind}, "id": {"S": backfill_id}}
        )
