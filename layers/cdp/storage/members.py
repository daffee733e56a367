"""The segment membership index: one small item per member, under its segment.

An entry is a put conditioned on the member item being absent, an exit a delete conditioned on
it being present: one write unit each, and a redelivered change writes nothing.

Beside the segments, partition `#days` holds one item per day (`2026-11-28`) with each
segment's entries and exits that day (`in:buyers`, `out:buyers`: the console's chart), added
to once per publisher batch for all its segments, and kept `DAYS_KEPT` days (TTL). One item
for all segments, not one per segment: a batch's changes cost one write instead of one per
segment they touched (the item holds about 40 bytes per segment that changed that day: on a
day 100 segments changed, 4 KB and four units a batch). A segment's size is
counted from its items when asked (the admin API's segment view), not kept in a count
item: a count updated with every change would need a transaction (two items, two units each:
four units per change instead of one) and would make every change of a popular segment
contend for one item.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from botocore.exceptions import ClientError

# Deployments before 2026-11 kept a count item under this key; it sorts before every profile id
# (hex), so queries of members start after it, and any such item is never read as a member.
COUNT = "#count"
DAYS = "#days"  # the partition of the days' entries and exits (no segment id starts with #)
DAYS_KEPT = 400  # a year and a month: a year-on-year comparison
_PER_UPDATE = 100  # segments per update: its expression stays well under DynamoDB's 4 KB


class MembershipIndex:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def enter(self, segment_id: str, profile_id: str, at: str) -> bool:
        """Add a member; False if it already was one (a redelivered change)."""
        return self._conditionally(
            self.client.put_item,
            Item={
                "segment_id": {"S": segment_id},
                "profile_id": {"S": profile_id},
                "entered_at": {"S": at},
            },
            ConditionExpression="attribute_not_exists(profile_id)",
        )

    def leave(self, segment_id: str, profile_id: str) -> bool:
        """Remove a member; False if it was none (a redelivered change)."""
        return self._conditionally(
            self.client.delete_item,
            Key={"segment_id": {"S": segment_id}, "profile_id": {"S": profile_id}},
            ConditionExpression="attribute_exists(profile_id)",
        )

    def count(self, segment_id: str) -> int:
        """How many members the segment has: a count of its items (eventually consistent
        reads, half a unit per 4 KB: a million members cost about 7,000 read units)."""
        total, start = 0, None
        while True:
            arguments: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "segment_id = :segment AND profile_id > :count",
                "ExpressionAttributeValues": {
                    ":segment": {"S": segment_id},
                    ":count": {"S": COUNT},
                },
                "Select": "COUNT",
            }
            if start:
                arguments["ExclusiveStartKey"] = start
            answer = self.client.query(**arguments)
            total += int(answer["Count"])
            start = answer.get("LastEvaluatedKey")
            if not start:
                return total

    def members(
        self, segment_id: str, *, limit: int, after: str | None
    ) -> tuple[list[dict[str, str]], str | None]:
        """A page of members (profile id, entered at), and the id to continue after."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "segment_id = :segment AND profile_id > :after",
            "ExpressionAttributeValues": {
                ":segment": {"S": segment_id},
                # A cursor that sorts before the first member starts at the first, never at
                # the count.
                ":after": {"S": max(after or "", COUNT)},
            },
            "Limit": limit,
        }
        answer = self.client.query(**arguments)
        members = [
            {"profile_id": item["profile_id"]["S"], "entered_at": item["entered_at"]["S"]}
            for item in answer["Items"]
        ]
        more = "LastEvaluatedKey" in answer
        return members, members[-1]["profile_id"] if more and members else None

    def add_day(self, day: date, moved: Mapping[str, tuple[int, int]]) -> None:
        """Add to a day's entries and exits, `moved`: segment -> (entries, exits) (a segment
        that has none that day yet starts at zero)."""
        kept_until = datetime.combine(day + timedelta(days=DAYS_KEPT), time(), UTC)
        segments = sorted(moved)
        for start in range(0, len(segments), _PER_UPDATE):
            names: dict[str, str] = {}
            values: dict[str, Any] = {":until": {"N": str(int(kept_until.timestamp()))}}
            adds = []
            for n, segment in enumerate(segments[start : start + _PER_UPDATE]):
                for side, count in zip(("in", "out"), moved[segment], strict=True):
                    names[f"#{side}{n}"] = f"{side}:{segment}"
                    values[f":{side}{n}"] = {"N": str(count)}
                    adds.append(f"#{side}{n} :{side}{n}")
            self.client.update_item(
                TableName=self.table,
                Key={"segment_id": {"S": DAYS}, "profile_id": {"S": day.isoformat()}},
                UpdateExpression=f"ADD {', '.join(adds)} SET expires_at = :until",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def days(self, segment_id: str, first: date, last: date) -> dict[date, tuple[int, int]]:
        """A segment's entries and exits on the days from `first` to `last` that had any."""
        names = {"#in": f"in:{segment_id}", "#out": f"out:{segment_id}"}
        found = self.moves(first, last, projection=("profile_id, #in, #out", names))
        return {day: moved[segment_id] for day, moved in found.items() if segment_id in moved}

    def moves(
        self, first: date, last: date, *, projection: tuple[str, dict[str, str]] | None = None
    ) -> dict[date, dict[str, tuple[int, int]]]:
        """Every segment's entries and exits on the days from `first` to `last`, by day."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "segment_id = :days AND profile_id BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":days": {"S": DAYS},
                ":from": {"S": first.isoformat()},
                ":to": {"S": last.isoformat()},
            },
        }
        if projection is not None:
            arguments["ProjectionExpression"], arguments["ExpressionAttributeNames"] = projection
        found: dict[date, dict[str, tuple[int, int]]] = {}
        while True:
            answer = self.client.query(**arguments)
            for item in answer["Items"]:
                moved: dict[str, list[int]] = {}
                for name, value in item.items():
                    side, _, segment = name.partition(":")
                    if side in {"in", "out"}:
                        moved.setdefault(segment, [0, 0])[side == "out"] = int(value["N"])
                day = date.fromisoformat(item["profile_id"]["S"])
                found[day] = {segment: (n[0], n[1]) for segment, n in moved.items() if any(n)}
            if "LastEvaluatedKey" not in answer:
                return found
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _conditionally(self, write: Any, **arguments: Any) -> bool:
        try:
            write(TableName=self.table, **arguments)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # already applied: a redelivery
            raise
        return True
