"""The segment membership index: one item per member, one `#count` item per segment.

A change and its count move together in one transaction, conditioned on the member item
(absent to enter, present to leave), so a redelivered change neither adds nor counts twice.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

COUNT = "#count"  # sorts before every profile id (hex), so member queries start after it


class MembershipIndex:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def enter(self, segment_id: str, profile_id: str, at: str) -> bool:
        return self._apply(
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "segment_id": {"S": segment_id},
                        "profile_id": {"S": profile_id},
                        "entered_at": {"S": at},
                    },
                    "ConditionExpression": "attribute_not_exists(profile_id)",
                }
            },
            segment_id,
            1,
        )

    def leave(self, segment_id: str, profile_id: str) -> bool:
        return self._apply(
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"segment_id": {"S": segment_id}, "profile_id": {"S": profile_id}},
                    "ConditionExpression": "attribute_exists(profile_id)",
                }
            },
            segment_id,
            -1,
        )

    def count(self, segment_id: str) -> int:
        item = self.client.get_item(
            TableName=self.table,
            Key={"segment_id": {"S": segment_id}, "profile_id": {"S": COUNT}},
        ).get("Item")
        return int(item["members"]["N"]) if item else 0

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

    def _apply(self, change: dict[str, Any], segment_id: str, delta: int) -> bool:
        try:
            self.client.transact_write_items(
                TransactItems=[
                    change,
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"segment_id": {"S": segment_id}, "profile_id": {"S": COUNT}},
                            "UpdateExpression": "ADD members :delta",
                            "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
                        }
                    },
                ]
            )
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False  # already applied: a redelivery
            raise
        return True
