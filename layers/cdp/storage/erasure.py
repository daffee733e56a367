"""Deleting everything held about a person, table by table.

Order: first the suppression (so nothing new comes in), then the events of every identity
they are filed under, refused messages that mention them, their identity links, and last the
profile and its redirects (whose removal the publisher announces as `profile.deleted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cdp.erasure import ErasureCounts, mentions

BATCH = 25


class Eraser:
    def __init__(
        self,
        *,
        events_table: str,
        quarantine_table: str,
        identities_table: str,
        profiles_table: str,
        client: Any,
    ) -> None:
        self.events_table = events_table
        self.quarantine_table = quarantine_table
        self.identities_table = identities_table
        self.profiles_table = profiles_table
        self.client = client

    def erase_data(self, identities: Iterable[str]) -> ErasureCounts:
        """Events, refused messages and identity links of these identities."""
        identities = sorted(set(identities))
        counts = ErasureCounts()
        for identity in identities:  # events are filed under any identity they came with
            counts.events += self._delete_partition(identity)
        counts.quarantined = self._delete_quarantined(identities)
        counts.identities = self._delete_keys(
            self.identities_table, [{"identity": {"S": identity}} for identity in identities]
        )
        return counts

    def erase_profiles(self, profile_ids: Iterable[str]) -> int:
        return self._delete_keys(
            self.profiles_table,
            [{"profile_id": {"S": profile_id}} for profile_id in sorted(set(profile_ids))],
        )

    def owner(self, identity: str) -> str | None:
        item = self.client.get_item(
            TableName=self.identities_table,
            Key={"identity": {"S": identity}},
            ConsistentRead=True,
        ).get("Item")
        return item["profile_id"]["S"] if item else None

    def _delete_partition(self, partition: str) -> int:
        keys: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self.events_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        while True:
            answer = self.client.query(**arguments)
            keys += answer["Items"]
            if "LastEvaluatedKey" not in answer:
                break
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return self._delete_keys(self.events_table, keys)

    def _delete_quarantined(self, identities: list[str]) -> int:
        """Refused messages are kept as plain JSON text for a short time; any that names one
        of the identities, in any form, goes. The quarantine is small (days of refusals) and
        what it holds is unnormalised, so every entry is read and matched here (a scan is
        the right tool: a filter would cost the same reads and could not normalise)."""
        if not identities:
            return 0
        arguments: dict[str, Any] = {
            "TableName": self.quarantine_table,
            "ProjectionExpression": "pk, sk, payload",
        }
        keys: list[dict[str, Any]] = []
        while True:
            answer = self.client.scan(**arguments)
            keys += [
                {"pk": item["pk"], "sk": item["sk"]}
                for item in answer["Items"]
                if "payload" in item and mentions(item["payload"]["S"], identities)
            ]
            if "LastEvaluatedKey" not in answer:
                break
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return self._delete_keys(self.quarantine_table, keys)

    def _delete_keys(self, table: str, keys: list[dict[str, Any]]) -> int:
        for start in range(0, len(keys), BATCH):
            request: dict[str, Any] = {
                table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH]]
            }
            while request:
                request = (
                    self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                )
        return len(keys)
