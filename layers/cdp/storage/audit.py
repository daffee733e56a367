"""The audit table (`cdp.runtime.tables.AUDIT`): entries written once, read newest first."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from cdp.console.audit import Action, AuditEntry
from cdp.runtime.clock import parse
from cdp.runtime.errors import InvalidRequestError

LOG = "console"  # the one partition
MAX_PAGE = 100


class AuditLog:
    def __init__(self, table: str, *, client: Any, retention: timedelta) -> None:
        self.table = table
        self.client = client
        self.retention = retention

    def record(self, entry: AuditEntry) -> None:
        expires = parse(entry.at) + self.retention
        item: dict[str, Any] = {
            "log": {"S": LOG},
            # the time first, so the log sorts by it; an id, so two entries never collide
            "at_id": {"S": f"{entry.at}#{uuid.uuid4().hex}"},
            "actor": {"S": entry.actor},
            "actor_id": {"S": entry.actor_id},
            "action": {"S": entry.action},
            "asked_for": {"S": entry.asked_for},
            "expires_at": {"N": str(int(expires.timestamp()))},
        }
        if entry.profile_id is not None:
            item["profile_id"] = {"S": entry.profile_id}
        if entry.reason is not None:
            item["reason"] = {"S": entry.reason}
        if entry.segment_id is not None:
            item["segment_id"] = {"S": entry.segment_id}
        self.client.put_item(TableName=self.table, Item=item)

    def page(
        self, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[AuditEntry], str | None]:
        """Entries newest first, and the cursor of the next page (None after the last)."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#log = :log",
            "ExpressionAttributeNames": {"#log": "log"},
            "ExpressionAttributeValues": {":log": {"S": LOG}},
            "ScanIndexForward": False,
            "Limit": max(1, min(limit, MAX_PAGE)),
        }
        if cursor is not None:
            arguments["ExclusiveStartKey"] = {"log": {"S": LOG}, "at_id": {"S": _position(cursor)}}
        answer = self.client.query(**arguments)
        entries = [_entry(item) for item in answer["Items"]]
        last = answer.get("LastEvaluatedKey")
        return entries, _cursor(last["at_id"]["S"]) if last else None


def _entry(item: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        at=item["at_id"]["S"].partition("#")[0],
        actor=item["actor"]["S"],
        actor_id=item["actor_id"]["S"],
        action=cast("Action", item["action"]["S"]),  # written by `record` only
        profile_id=item["profile_id"]["S"] if "profile_id" in item else None,
        asked_for=item["asked_for"]["S"],
        reason=item["reason"]["S"] if "reason" in item else None,
        segment_id=item["segment_id"]["S"] if "segment_id" in item else None,
    )


def _cursor(position: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([position]).encode()).decode()


def _position(cursor: str) -> str:
    try:
        [position] = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        datetime.fromisoformat(str(position).partition("#")[0].replace("Z", "+00:00"))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidRequestError("cursor: not one this API gave") from None
    return str(position)
