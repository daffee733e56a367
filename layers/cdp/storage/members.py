"""The segment membership index: one small item per member, under its segment.

An entry is a put conditioned on the member item being absent, an exit a delete conditioned on
it being present: one write unit each, and a redelivered change writes nothing.

Beside the members, each segment keeps one small item per day with that day's entries and
exits (`#by-day#2026-11-28`: the console's chart), added to once per publisher batch, not
once per change, and kept `DAYS_KEPT` days (TTL). A segment's
size is counted from its items when asked (the admin API's segment view), not kept in a count
item: a count updated with every change would need a transaction (two items, two units each:
four units per change instead of one) and would make every change of a popular segment
contend for one item.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from botocore.exceptions import ClientError

# Deployments before 2026-11 kept a count item under this key; it sorts before every profile id
# (hex), so queries of members start after it, and any such item is never read as a member.
COUNT = "#count"
# A day's entries and exits; sorts before COUNT, so never read as a member either.
BY_DAY = "#by-day#"
DAYS_KEPT = 400  # a year and a month: a year-on-year comparison


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

    def add_day(self, segment_id: str, day: date, *, entries: int, exits: int) -> None:
        """Add to a day's entries and exits (a day that has none yet starts at zero)."""
        kept_until = datetime.combine(day + timedelta(days=DAYS_KEPT), time(), UTC)
        self.client.update_item(
            TableName=self.table,
            Key={"segment_id": {"S": segment_id}, "profile_id": {"S": BY_DAY + day.isoformat()}},
            UpdateExpression="ADD entries :entries, exits :exits SET expires_at = :until",
            ExpressionAttributeValues={
                ":entries": {"N": str(entries)},
                ":exits": {"N": str(exits)},
                ":until": {"N": str(int(kept_until.timestamp()))},
            },
        )

    def days(self, segment_id: str, first: date, last: date) -> dict[date, tuple[int, int]]:
        """Entries and exits of the days from `first` to `last` that had any, by day."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "segment_id = :segment AND profile_id BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":segment": {"S": segment_id},
                ":from": {"S": BY_DAY + first.isoformat()},
                ":to": {"S": BY_DAY + last.isoformat()},
            },
            "ProjectionExpression": "profile_id, entries, exits",
        }
        found: dict[date, tuple[int, int]] = {}
        while True:
            answer = self.client.query(**arguments)
            for item in answer["Items"]:
                day = date.fromisoformat(item["profile_id"]["S"].removeprefix(BY_DAY))
                found[day] = (int(item["entries"]["N"]), int(item["exits"]["N"]))
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
