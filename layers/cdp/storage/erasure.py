"""Deleting everything held about a person, table by table.

Order: first the suppression (so nothing new comes in), then the events of every identity
they are filed under, their identifiers in other people's events and in the profiles those
events built (a shared device: noted on the identity items, `named_in` and `names`, and those
notes too), refused messages that mention them, their identity links, and last the profile
and its redirects (whose removal the publisher announces as `profile.deleted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import timedelta
from typing import Any

from cdp.privacy.erasure import ErasureCounts, forget_in_profile, mentions, scrub
from cdp.profiles.builder import WriteConflictError
from cdp.storage.batches import PATIENT, deletes, write_all
from cdp.storage.events import message_of, with_message
from cdp.storage.profiles import ProfileStore


class Eraser:
    def __init__(
        self,
        *,
        events_table: str,
        quarantine_table: str,
        identities_table: str,
        profiles_table: str,
        profile_retention: timedelta,
        client: Any,
    ) -> None:
        self.events_table = events_table
        self.quarantine_table = quarantine_table
        self.identities_table = identities_table
        self.profiles_table = profiles_table
        self.client = client
        self.profiles = ProfileStore(
            profiles_table, identities_table, client=client, retention=profile_retention
        )

    def erase_data(self, identities: Iterable[str]) -> ErasureCounts:
        """Events, refused messages and identity links of these identities."""
        identities = sorted(set(identities))
        counts = ErasureCounts()
        named_in, names = self._notes(identities)
        for identity in identities:  # events are filed under any identity they came with
            counts.events += self._delete_partition(identity)
        for partition in sorted(named_in - set(identities)):
            counts.events_redacted += self._redact_partition(partition, identities)
            self._forget_note(partition, "names", identities)
        for other in sorted(names - set(identities)):
            self._forget_note(other, "named_in", identities)
        # The profiles of those other people: built from events that named the person, or
        # holding the record of a merge one of the person's events caused (an unmerge gave
        # it back with its history).
        others = (named_in | names) - set(identities)
        for profile_id in sorted({owner for other in others if (owner := self.owner(other))}):
            counts.profiles_redacted += self._redact_profile(profile_id, identities)
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

    def _notes(self, identities: list[str]) -> tuple[set[str], set[str]]:
        """Other people's partitions whose events name these identities, and other people's
        identities that events filed under these name."""
        named_in: set[str] = set()
        names: set[str] = set()
        for start in range(0, len(identities), 100):
            request: dict[str, Any] = {
                self.identities_table: {
                    "Keys": [{"identity": {"S": i}} for i in identities[start : start + 100]],
                    "ProjectionExpression": "named_in, #names",
                    "ExpressionAttributeNames": {"#names": "names"},
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.identities_table, []):
                    named_in.update(item.get("named_in", {}).get("SS", []))
                    names.update(item.get("names", {}).get("SS", []))
                request = answer.get("UnprocessedKeys") or {}
        return named_in, names

    def _forget_note(self, identity: str, attribute: str, values: list[str]) -> None:
        """Take the erased identities out of another identity's notes."""
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.identities_table,
                Key={"identity": {"S": identity}},
                UpdateExpression="DELETE #note :values",  # `names` is a reserved word
                ConditionExpression="attribute_exists(#identity)",
                ExpressionAttributeNames={"#identity": "identity", "#note": attribute},
                ExpressionAttributeValues={":values": {"SS": values}},
            )

    def _redact_partition(self, partition: str, identities: list[str]) -> int:
        """Take the identifiers out of another person's events that name them (the event
        stays: it is that person's history)."""
        redacted = 0
        for item in self._query_partition(partition, projection=None):
            message = message_of(item)
            cleaned = scrub(message, identities)
            if cleaned != message:
                self.client.put_item(
                    TableName=self.events_table,
                    Item=with_message(item, cleaned),
                )
                redacted += 1
        return redacted

    def _redact_profile(self, profile_id: str, identities: list[str], attempts: int = 5) -> int:
        """Take the identifiers out of another person's profile."""
        for _ in range(attempts):
            profile = self.profiles.get(profile_id)
            if profile is None or not forget_in_profile(profile, identities):
                return 0
            try:
                self.profiles.put(profile)
                return 1
            except WriteConflictError:
                continue  # the builder wrote it meanwhile: read it again
        raise WriteConflictError("the profile kept changing; the erasure will be retried")

    def _query_partition(self, partition: str, projection: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self.events_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ConsistentRead": True,
        }
        if projection:
            arguments["ProjectionExpression"] = projection
        while True:
            answer = self.client.query(**arguments)
            items += answer["Items"]
            if "LastEvaluatedKey" not in answer:
                return items
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _delete_partition(self, partition: str) -> int:
        keys = self._query_partition(partition, projection="pk, sk")
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
        write_all(self.client, deletes(table, keys), retry=PATIENT)
        return len(keys)
