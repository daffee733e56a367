"""Sending a connector's requests: HTTP with the standard library (no extra import at cold
start), AWS calls with botocore. Every answer comes back as a `Response`, errors included: a
refused connection or a timeout is a 503 without body, so the connector reads it as "retry"."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from cdp.sharing.connectors.base import Request, Response

TIMEOUT_SECONDS = 10.0
AwsClients = Callable[[str], Any]  # service name -> botocore client


def send(request: Request, *, aws: AwsClients | None = None) -> Response:
    if request.aws_operation is not None:
        if aws is None:
            raise ValueError("an AWS call needs the clients to make it")
        return _call_aws(request, aws)
    return _call_http(request)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A tool's API answers where it is asked; following a redirect could carry the secret's
    header to another host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _call_http(request: Request) -> Response:
    outgoing = urllib.request.Request(  # noqa: S310 (the URL is a connector's, checked as configured)
        request.url, data=request.body, headers=dict(request.headers), method=request.method
    )
    try:
        with _opener.open(outgoing, timeout=TIMEOUT_SECONDS) as answer:
            return Response(answer.status, _lower(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, _lower(error.headers.items()), error.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        return Response(503, {}, json.dumps({"message": f"not reached: {reason}"}).encode())


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def _call_aws(request: Request, aws: AwsClients) -> Response:
    from botocore.exceptions import ClientError  # only AWS connectors need it

    assert request.aws_operation is not None
    service, operation = request.aws_operation.split(":", 1)
    client = aws(service)
    method = getattr(client, _snake(operation))
    try:
        answer = method(**json.loads(request.body or b"{}"))
    except ClientError as error:
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        body = {"Code": details.get("Code", ""), "Message": details.get("Message", "")}
        return Response(status, {}, json.dumps(body).encode())
    answer.pop("ResponseMetadata", None)
    return Response(200, {}, json.dumps(answer, default=str).encode())


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
