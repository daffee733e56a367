"""Event factories for handler tests, built from plain dicts like the events Lambda receives."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from workbench.local.invocation import http_api_event

SENT_AT = datetime(2026, 11, 23, 9, tzinfo=UTC)


def http_event(
    method: str = "POST",
    path: str = "/v1/track",
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    gzipped: bool = False,
    route: str | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event. `body` may be a dict (sent as JSON), text
    or bytes; bytes and gzipped bodies arrive base64-encoded, as API Gateway sends them.
    `claims`: a console user's token's, as the JWT authorizer hands them on."""
    all_headers = {"host": "api.example.com", **(headers or {})}
    data: bytes | None
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
        all_headers.setdefault("content-type", "application/json")
    binary = isinstance(body, bytes)
    if gzipped and data is not None:
        data = gzip.compress(data)
        all_headers["content-encoding"] = "gzip"
        binary = True
    return http_api_event(
        method=method,
        raw_path=path,
        query=urlencode(query or {}),
        headers=all_headers,
        body=data or b"",
        route_key=route,
        path_parameters=path_parameters,
        base64_body=binary,
        now=SENT_AT,
        claims=claims,
    )


def basic_auth(user: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:".encode()).decode()}


def answer_json(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"])


_sequence = iter(range(10**20, 10**21))
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/2026-11-23T00:00:00.000"


def stream_record(
    message: dict[str, Any],
    *,
    sequence: int | None = None,
    event_name: str = "INSERT",
    source: str = "website",
) -> dict[str, Any]:
    """A record of the events table's stream, as Lambda delivers it (binary base64-encoded).

    `message` is a normalised message as the collector stores it; `timestamp` and
    `messageId` are filled in when missing."""
    from cdp.intake.messages import Event
    from cdp.storage.events import event_item
    from workbench.local.streams import lambda_record

    message = {
        "messageId": uuid.uuid4().hex,
        "timestamp": "2026-11-23T09:00:00.000Z",
        **message,
    }
    partition = (
        f"user_id:{message['userId']}"
        if message.get("userId")
        else f"anonymous_id:{message['anonymousId']}"
    )
    number = str(sequence if sequence is not None else next(_sequence))
    stored = Event(
        identity=partition,
        message_id=message["messageId"],
        type=message.get("type", "track"),
        name=None,
        timestamp=message["timestamp"],
        received_at=message["timestamp"],
        source=source,
        message=message,
    )
    image = event_item(stored, expires_at=1900000000)
    record = {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795424400,
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": number,
            "SizeBytes": 500,
            "StreamViewType": "NEW_IMAGE",
        },
    }
    return lambda_record(record, STREAM_ARN)  # as Lambda delivers it: the body base64-encoded


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
