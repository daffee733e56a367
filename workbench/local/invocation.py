"""What Lambda hands a handler when API Gateway or an event source invokes it: the context
object and the HTTP API (payload 2.0) event. `cdp dev` invokes the real handlers with these;
the tests and the bench build theirs here too, so that there is one shape of each."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools and the handlers read. The time
    left runs down from `timeout_seconds` after it is made, as in Lambda."""

    function_name: str = "test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 10.0
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.started + self.timeout_seconds - time.monotonic()
        return max(0, int(left * 1000))


def http_api_event(
    *,
    method: str,
    raw_path: str,
    query: str = "",
    headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    body: bytes = b"",
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "192.0.2.1",
    protocol: str = "https",
    base64_body: bool | None = None,
    now: datetime | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event, as Lambda receives it: header names in lower
    case, repeated headers and query parameters joined with commas, cookies apart, and the
    X-Forwarded-For and -Proto headers API Gateway sets (replacing the client's). The body
    arrives base64-encoded when it is compressed or not UTF-8, unless `base64_body` says.
    `claims`: those of the token a JWT authorizer accepted, which it hands on."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        lower = name.lower()
        if lower == "cookie":
            cookies += [part.strip() for part in value.split(";") if part.strip()]
            continue
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value
    joined["x-forwarded-for"] = source_ip
    joined["x-forwarded-proto"] = protocol
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    binary = bool(joined.get("content-encoding")) if base64_body is None else base64_body
    text = ""
    if not binary:
        try:
            text = body.decode("utf-8", errors="strict" if base64_body is None else "surrogatepass")
        except UnicodeDecodeError:
            binary = True
    now = now or datetime.now(UTC)
    route_key = route_key or f"{method} {raw_path}"
    host = joined.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "api",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": binary,
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    if cookies:
        event["cookies"] = cookies
    if parameters:
        event["queryStringParameters"] = parameters
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        event["body"] = base64.b64encode(body).decode() if binary else text
    return event
