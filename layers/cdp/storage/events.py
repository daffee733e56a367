"""The events table, both ways: the item an accepted event is stored as, and what reads it
back (the timeline, the profile builder's stream, unmerges, erasure).

Item formats (attribute names in the events table):

- `pk` identity (`user_id:42`), `sk` the `messageId`: the same on every send of a message,
  whatever times the client fills in or leaves out, so a resend overwrites its own item
  (a MODIFY on the stream, which the profile builder ignores) instead of adding one.
- `type`, `name` (event name or page/screen name), `timestamp` (skew-corrected), `source`:
  what a timeline needs without opening the body (it sorts a person's events by `timestamp`).
- `channel` and `library` (`analytics-python/2.1.9`), when the client says: which client sent
  it, readable without opening the body (a few bytes; absent when not sent).
- `body`: the whole normalised message as compact JSON, compressed with Zstandard and the
  preset dictionary of what messages repeat (`codec.compress_message`; bodies written before,
  zlib streams, read the same). A typical browser event is 1-2.5 KB of JSON and a few hundred
  bytes compressed, so it costs one write unit instead of two or three, and the stream
  records the profile builder reads are smaller too.
- `redacted`: true on an item erasure rewrote (another person's event that named the erased
  one), so that a reader of the stream can tell that MODIFY from a client's resend.
- `expires_at`: epoch seconds for DynamoDB TTL: the hot window (`event_hot_days`) counted from
  arrival; the lake keeps the event for the whole retention.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from cdp.profiles.timeline import StoredEvent, StreamEvent
from cdp.runtime.codec import compress_message, decompress, dumps
from cdp.runtime.errors import StorageBusyError

if TYPE_CHECKING:  # what reads events (the builder, erasure) need not import the intake path
    from cdp.intake.messages import Event


REDACTED, TRUE = "redacted", {"BOOL": True}


def event_item(event: Event, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": event.identity},
        "sk": {"S": event.message_id},
        "type": {"S": event.type},
        "timestamp": {"S": event.timestamp},
        "source": {"S": event.source},
        "expires_at": {"N": str(expires_at)},
        "body": {"B": compress_message(_text(event))},
    }
    if event.name is not None:
        item["name"] = {"S": event.name}
    if event.channel is not None:
        item["channel"] = {"S": event.channel}
    if event.library is not None:
        item["library"] = {"S": event.library}
    return item


def with_message(item: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """The same item holding another message: erasure's redaction, marked as one."""
    return {**item, "body": {"B": compress_message(dumps(message).encode())}, REDACTED: TRUE}


def is_redacted(image: dict[str, Any]) -> bool:
    """Whether an item (or a stream record's image) is one erasure rewrote."""
    return image.get(REDACTED) == TRUE


def message_of(item: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = decompress(_binary(item["body"]["B"]))
    return message


def stream_event(image: dict[str, Any], sequence: int) -> StreamEvent:
    """An event as the events table's stream delivers it (a record's `NewImage`)."""
    return StreamEvent(
        partition=image["pk"]["S"],
        sequence=sequence,
        message=message_of(image),
        source=image.get("source", {}).get("S", "unknown"),
    )


def stored_event(item: dict[str, Any], partition: str) -> StoredEvent:
    """An event as a query of its partition reads it, body still compressed."""
    return StoredEvent(
        partition=partition,
        timestamp=item["timestamp"]["S"],
        message_id=item["sk"]["S"],
        body=item["body"]["B"],
        source=item.get("source", {}).get("S", "unknown"),
    )


BATCH_GET_LIMIT = 100


class EventReader:
    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def positions(self, partition: str) -> list[StoredEvent]:
        """Where each event filed under one identity stands in a timeline (its time and id),
        without its body: a page reads the bodies it shows (`bodies`). DynamoDB charges the
        whole items all the same; what is saved is moving and decoding the bodies."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ProjectionExpression": "sk, #timestamp",
            "ExpressionAttributeNames": {"#timestamp": "timestamp"},
        }
        found: list[StoredEvent] = []
        while True:
            answer = self.client.query(**arguments)
            found += [
                StoredEvent(partition, item["timestamp"]["S"], item["sk"]["S"], b"")
                for item in answer["Items"]
            ]
            if "LastEvaluatedKey" not in answer:
                return found
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def bodies(self, events: list[StoredEvent]) -> dict[tuple[str, str], bytes]:
        """The compressed bodies of `events`, by (identity, message id); one that is gone
        (erased meanwhile) is absent."""
        found: dict[tuple[str, str], bytes] = {}
        keys = [{"pk": {"S": e.partition}, "sk": {"S": e.message_id}} for e in events]
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            request = {
                self.table: {
                    "Keys": keys[start : start + BATCH_GET_LIMIT],
                    "ProjectionExpression": "pk, sk, body",
                }
            }
            for attempt in range(8):
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = _binary(item["body"]["B"])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise StorageBusyError("the events table is busy; try again")
        return found

    def stored(self, partition: str) -> list[StoredEvent]:
        """Every event filed under one identity, bodies still compressed (the timeline sorts
        them by time and opens only what it hands out)."""
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ProjectionExpression": "sk, #timestamp, body, #source",
            "ExpressionAttributeNames": {"#timestamp": "timestamp", "#source": "source"},
        }
        found: list[StoredEvent] = []
        while True:
            answer = self.client.query(**arguments)
            found += [stored_event(item, partition) for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return found
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _text(event: Event) -> bytes:
    """The stored message as text: made already when the collector read it."""
    return event.text if event.text is not None else dumps(event.message).encode()


def _binary(value: Any) -> bytes:
    """Lambda delivers binary attributes base64-encoded; boto3 hands over bytes."""
    return value if isinstance(value, bytes) else base64.b64decode(value)
