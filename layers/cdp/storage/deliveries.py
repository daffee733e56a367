"""Deliveries on their way to destinations, and what became of them.

`DeliveryQueue` is an SQS FIFO queue. Its message group is the destination and one of
`BUCKETS` buckets of people (by profile id): each person's deliveries to a destination arrive
in the order they happened, a destination that is down holds back only its own deliveries,
and the deliverer works on up to `BUCKETS` groups of each destination at once. A message
carries a batch of one group's deliveries (what one publisher invocation produced for them),
so a tool's batch endpoint receives batches. Its deduplication id is the deliveries' ids: a
redelivered stream batch queues nothing twice within SQS's five-minute window.

`DeliveryLog` (the deliveries table) keeps, per destination, counts per day, the last errors
in the tool's words (with personal data taken out before they get here), and each erasure
sent, all with a TTL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cdp.sharing.connectors.base import Delivery, Identifiers
from cdp.storage.batches import deletes, write_all

BUCKETS = 16
PER_MESSAGE = 100  # deliveries; well under SQS's 256 KB for what a delivery holds
DAYS_KEPT = 400
LAST_ERRORS = 20
STATES = ("delivered", "retried", "failed", "skipped")


def encode_deliveries(deliveries: Sequence[Delivery]) -> str:
    return json.dumps([_plain(delivery) for delivery in deliveries], separators=(",", ":"))


def decode_deliveries(body: str) -> list[Delivery]:
    found = decode_message(body)
    if not isinstance(found, list):
        raise ValueError("not a batch of deliveries")
    return found


def _plain(delivery: Delivery) -> dict[str, Any]:
    item = {key: value for key, value in asdict(delivery).items() if value not in (None, {}, ())}
    item["identifiers"] = {k: v for k, v in asdict(delivery.identifiers).items() if v}
    return item


def _delivery(item: dict[str, Any]) -> Delivery:
    who = item.pop("identifiers", {})
    item["audiences_now"] = tuple(item.get("audiences_now", ()))
    return Delivery(
        identifiers=Identifiers(
            emails=tuple(who.get("emails", ())),
            phones=tuple(who.get("phones", ())),
            user_id=who.get("user_id"),
        ),
        **item,
    )


@dataclass(frozen=True)
class ResyncPage:
    """A task on the deliveries queue: add the next page of a segment's members to a
    destination's audience again (`after`: the last member done)."""

    destination: str
    segment_id: str
    started: str
    after: str | None = None

    def encode(self) -> str:
        return json.dumps({"resync": asdict(self)}, separators=(",", ":"))


def decode_message(body: str) -> list[Delivery] | ResyncPage:
    """A message of the deliveries queue: a batch of deliveries, or a resync task."""
    data = json.loads(body)
    if isinstance(data, dict):
        return ResyncPage(**data["resync"])
    return [_delivery(item) for item in data]


def group_of(delivery: Delivery) -> str:
    bucket = int(hashlib.sha256(delivery.profile_id.encode()).hexdigest()[:8], 16) % BUCKETS
    return f"{delivery.destination}.{bucket}"


def destination_of(group: str) -> str:
    return group.rsplit(".", 1)[0]


class DeliveryQueue:
    def __init__(self, url: str, *, client: Any) -> None:
        self.url = url
        self.client = client

    def send(self, deliveries: Iterable[Delivery]) -> int:
        """Queue the deliveries, in their order within each group; answers the messages sent."""
        groups: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            groups.setdefault(group_of(delivery), []).append(delivery)
        entries = [
            {
                "Id": str(number),
                "MessageBody": encode_deliveries(chunk),
                "MessageGroupId": group,
                "MessageDeduplicationId": _dedup_id(chunk),
            }
            for number, (group, chunk) in enumerate(
                (group, members[start : start + PER_MESSAGE])
                for group, members in sorted(groups.items())
                for start in range(0, len(members), PER_MESSAGE)
            )
        ]
        for start in range(0, len(entries), 10):
            answer = self.client.send_message_batch(
                QueueUrl=self.url, Entries=entries[start : start + 10]
            )
            if answer.get("Failed"):
                raise RuntimeError(f"{len(answer['Failed'])} delivery messages were not queued")
        return len(entries)

    def send_resync(self, page: ResyncPage) -> None:
        """In a group of its own per destination: a resync's pages run one after another,
        beside the destination's deliveries."""
        body = page.encode()
        self.client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageGroupId=f"{page.destination}.resync",
            MessageDeduplicationId=hashlib.sha256(body.encode()).hexdigest()[:64],
        )


def _dedup_id(deliveries: Sequence[Delivery]) -> str:
    return hashlib.sha256("|".join(d.id for d in deliveries).encode()).hexdigest()[:64]


@dataclass
class Tally:
    """What became of one destination's deliveries in one invocation."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    errors: list[dict[str, str]] = field(default_factory=list)  # newest last
    erasures: list[dict[str, str]] = field(default_factory=list)

    def add(self, state: str, number: int = 1) -> None:
        self.counts[state] += number

    def error(self, at: str, kind: str, message: str) -> None:
        self.errors.append({"at": at, "kind": kind, "message": message[:500]})
        del self.errors[:-LAST_ERRORS]

    def empty(self) -> bool:
        return not any(self.counts.values()) and not self.errors and not self.erasures


class DeliveryLog:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def record(self, destination: str, tally: Tally, *, now: datetime) -> None:
        """Add an invocation's figures: one update of the day's counts, one of the last errors
        (when there are any), one item per erasure sent."""
        expires = {"N": str(int((now + timedelta(days=DAYS_KEPT)).timestamp()))}
        counted = {state: n for state, n in tally.counts.items() if n}
        if counted:
            names = {f"#{state}": state for state in counted}
            self.client.update_item(
                TableName=self.table,
                Key=self._key(destination, f"day#{now.date().isoformat()}"),
                UpdateExpression="ADD "
                + ", ".join(f"#{state} :{state}" for state in counted)
                + " SET expires_at = :expires",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **{f":{state}": {"N": str(n)} for state, n in counted.items()},
                    ":expires": expires,
                },
            )
        if tally.errors:
            kept = self.last_errors(destination) + tally.errors
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(destination, "errors"),
                    "errors": {"S": json.dumps(kept[-LAST_ERRORS:], separators=(",", ":"))},
                    "expires_at": expires,
                },
            )
        for erasure in tally.erasures:
            entry = f"erased#{erasure['at']}#{erasure['profile_id']}"
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(destination, entry),
                    "sent": {"S": json.dumps(erasure, separators=(",", ":"))},
                    "expires_at": expires,
                },
            )

    def last_errors(self, destination: str) -> list[dict[str, str]]:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(destination, "errors"), ConsistentRead=True
        ).get("Item")
        errors: list[dict[str, str]] = json.loads(item["errors"]["S"]) if item else []
        return errors

    def days(self, destination: str, first: date, last: date) -> dict[str, dict[str, int]]:
        """Counts per day from `first` to `last` (days with nothing sent are left out)."""
        found: dict[str, dict[str, int]] = {}
        for item in self._query(destination, f"day#{first.isoformat()}", f"day#{last.isoformat()}"):
            found[item["entry"]["S"].removeprefix("day#")] = {
                state: int(item[state]["N"]) if state in item else 0 for state in STATES
            }
        return found

    def erasures(self, destination: str) -> list[dict[str, str]]:
        return [
            json.loads(item["sent"]["S"])
            for item in self._query(destination, "erased#", "erased#\uffff")
        ]

    def forget(self, destination: str) -> None:
        """Everything kept about a destination that was deleted."""
        keys = [
            {"destination": {"S": destination}, "entry": item["entry"]}
            for item in self._query(destination, None, None, keys_only=True)
        ]
        write_all(self.client, deletes(self.table, keys))

    def _query(
        self, destination: str, low: str | None, high: str | None, *, keys_only: bool = False
    ) -> Iterable[Mapping[str, Any]]:
        """The destination's items, with entries from `low` to `high` (None: all of them)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "destination = :d",
            "ExpressionAttributeValues": {":d": {"S": destination}},
        }
        if low is not None and high is not None:
            request["KeyConditionExpression"] += " AND entry BETWEEN :low AND :high"
            request["ExpressionAttributeValues"] |= {":low": {"S": low}, ":high": {"S": high}}
        if keys_only:
            request["ProjectionExpression"] = "entry"
        while True:
            answer = self.client.query(**request)
            yield from answer.get("Items", [])
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    @staticmethod
    def _key(destination: str, entry: str) -> dict[str, Any]:
        return {"destination": {"S": destination}, "entry": {"S": entry}}
