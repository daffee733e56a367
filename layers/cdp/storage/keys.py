"""The keys table, with a small in-memory cache so that a warm function does not pay a
DynamoDB read for every request (a disabled key stops working within `ttl_seconds`)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cdp.access.keys import OBSERVED, ApiKey


class KeyStore:
    def __init__(
        self,
        table: str,
        *,
        client: Any,
        ttl_seconds: float = 60.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        # Unknown hashes are cached too, so a flood of bad keys costs no reads.
        self._cache: OrderedDict[str, tuple[float, ApiKey | None]] = OrderedDict()

    def find(self, key_hash: str) -> ApiKey | None:
        now = self.clock()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = self.client.get_item(
            TableName=self.table, Key={"key_hash": {"S": key_hash}}, ConsistentRead=False
        )
        record = _from_item(answer["Item"]) if "Item" in answer else None
        self._cache[key_hash] = (now + self.ttl_seconds, record)
        self._cache.move_to_end(key_hash)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return record

    def put(self, record: ApiKey, *, created_at: str) -> None:
        item: dict[str, Any] = {
            "key_hash": {"S": record.key_hash},
            "kind": {"S": record.kind},
            "source": {"S": record.source},
            "enabled": {"BOOL": record.enabled},
            "created_at": {"S": created_at},
        }
        if record.expires_at is not None:
            item["expires_at"] = {"N": str(record.expires_at)}
        if record.claims != OBSERVED:
            item["claims"] = {"SS": sorted(record.claims)}
        self.client.put_item(TableName=self.table, Item=item)
        self._cache.pop(record.key_hash, None)

    def watch(self, key_hash: str, until: int) -> None:
        """Its source's messages are shown live until `until` (epoch seconds); warm
        collectors see it when their cached copy of the key expires (`ttl_seconds`)."""
        self.client.update_item(
            TableName=self.table,
            Key={"key_hash": {"S": key_hash}},
            UpdateExpression="SET watched_until = :until",
            ConditionExpression="attribute_exists(key_hash)",
            ExpressionAttributeValues={":until": {"N": str(until)}},
        )
        self._cache.pop(key_hash, None)


def _from_item(item: dict[str, Any]) -> ApiKey:
    expires = item.get("expires_at")
    watched = item.get("watched_until")
    return ApiKey(
        key_hash=item["key_hash"]["S"],
        kind=item["kind"]["S"],
        source=item["source"]["S"],
        enabled=item.get("enabled", {"BOOL": True})["BOOL"],
        expires_at=int(expires["N"]) if expires else None,
        claims=frozenset(item["claims"]["SS"]) if "claims" in item else OBSERVED,
        watched_until=int(watched["N"]) if watched else None,
    )
