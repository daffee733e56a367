"""The HTTP edge shared by every API function: body decoding, credentials, and the one place
where domain errors become HTTP answers.

Error answers look like `{"success": false, "code": "invalid_request", "message": "..."}`:
`success` for Segment clients, `code` and `message` for analytics-python's error reporting and
for people. No answer ever carries a stack trace or an internal detail.
"""

from __future__ import annotations

import base64
import binascii
import traceback
import zlib
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from cdp.runtime.errors import (
    AuthenticationError,
    CdpError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    RequestTooLargeError,
    StorageBusyError,
)
from cdp.runtime.jsontext import parse_json_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

_ANSWERS: dict[type[CdpError], tuple[HTTPStatus, str]] = {
    InvalidRequestError: (HTTPStatus.BAD_REQUEST, "invalid_request"),
    RequestTooLargeError: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large"),
    AuthenticationError: (HTTPStatus.UNAUTHORIZED, "unauthorized"),
    ForbiddenError: (HTTPStatus.FORBIDDEN, "forbidden"),
    ConflictError: (HTTPStatus.CONFLICT, "conflict"),
    NotFoundError: (HTTPStatus.NOT_FOUND, "not_found"),
    StorageBusyError: (HTTPStatus.SERVICE_UNAVAILABLE, "busy"),
}


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def error_response(status: HTTPStatus, code: str, message: str, **extra: Any) -> Response[Any]:
    headers = {"WWW-Authenticate": 'Basic realm="cdp"'} if status == HTTPStatus.UNAUTHORIZED else {}
    return json_response(
        status.value, {"success": False, "code": code, "message": message, **extra}, headers
    )


def register_error_handlers(
    app: ApiGatewayResolver,
    logger: Logger,
    metrics: Metrics,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Every refusal as `error_response` builds it, with `headers` besides (the console's
    security headers: Powertools builds these answers apart from the routes' middleware)."""
    from aws_lambda_powertools.metrics import MetricUnit

    def refuse(status: HTTPStatus, code: str, message: str, **extra: Any) -> Response[Any]:
        response = error_response(status, code, message, **extra)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(CdpError)
    def _domain_error(error: CdpError) -> Response[Any]:
        status, code = next(answer for kind, answer in _ANSWERS.items() if isinstance(error, kind))
        metrics.add_metric("RequestsRefused", MetricUnit.Count, 1)
        extra: dict[str, Any] = {}
        if isinstance(error, InvalidRequestError) and error.details:
            key = "fields" if isinstance(error.details, dict) else "rejected"
            extra[key] = error.details
        response = refuse(status, code, error.message, **extra)
        if isinstance(error, StorageBusyError):
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @app.exception_handler(RequestValidationError)
    def _invalid_parameters(error: RequestValidationError) -> Response[Any]:
        metrics.add_metric("RequestsRefused", MetricUnit.Count, 1)
        # Each problem by where it is (`condition`, `questions.0.purpose`), so that a form
        # can show it next to its field; and all of them in one sentence.
        fields: dict[str, str] = {}
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"][1:]) or str(item["loc"][0])
            message = str(item.get("msg", "is not valid")).replace("Input should", "must")
            fields.setdefault(where, message)
        problems = "; ".join(f"{where}: {message}" for where, message in fields.items())
        return refuse(HTTPStatus.BAD_REQUEST, "invalid_request", problems, fields=fields)

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(_: RequestUnsupportedContentType) -> Response[Any]:
        metrics.add_metric("RequestsRefused", MetricUnit.Count, 1)
        return refuse(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON, with Content-Type: application/json",
        )

    @app.exception_handler(UnicodeDecodeError)
    def _not_text(_: UnicodeDecodeError) -> Response[Any]:
        # Powertools decodes a base64 body before any of our code sees it.
        metrics.add_metric("RequestsRefused", MetricUnit.Count, 1)
        return refuse(
            HTTPStatus.BAD_REQUEST,
            "invalid_request",
            "the body is not valid UTF-8 text; send JSON, without Content-Encoding",
        )

    @app.exception_handler(RouteNotFoundError)
    def _no_route(_: RouteNotFoundError) -> Response[Any]:
        return refuse(HTTPStatus.NOT_FOUND, "not_found", "there is no such route")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        # Where it failed, not what it said: messages quote their input (pydantic's hold the
        # value, DynamoDB's the key), and input is personal data.
        logger.error(
            "unexpected error",
            error=type(error).__name__,
            stack=traceback.format_tb(error.__traceback__),
        )
        metrics.add_metric("UnexpectedErrors", MetricUnit.Count, 1)
        return refuse(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; the request can be retried",
        )


def strict_json(text: str) -> Any:
    """Powertools' reader of JSON bodies for the APIs it validates: the same strict JSON as
    the collector's, refused with a 400 that says what is wrong."""
    return parse_json_text(text)


def request_body(event: APIGatewayProxyEventV2, limit: int) -> bytes:
    """The body as bytes: base64 undone, gzip inflated, never more than `limit` bytes.

    Inflating stops at `limit + 1` bytes, so a gzip bomb costs no more memory than an honest
    request of the maximum size.
    """
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("the body could not be decoded") from None
    else:
        data = raw.encode("utf-8", errors="surrogatepass")
    encoding = (event.headers.get("content-encoding") or "").strip().lower()
    if encoding in {"gzip", "x-gzip"}:
        data = _gunzip(data, limit)
    elif encoding not in {"", "identity"}:
        raise InvalidRequestError(
            f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding"
        )
    if len(data) > limit:
        raise RequestTooLargeError(_over_limit(limit))
    return data


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise InvalidRequestError("the body is not valid gzip") from None
    if len(inflated) > limit:
        raise RequestTooLargeError(_over_limit(limit))
    if not inflater.eof:
        raise InvalidRequestError("the gzip body is incomplete")
    return inflated


def _over_limit(limit: int) -> str:
    return f"the request is larger than {limit // 1024} KB; send fewer messages per request"


def basic_auth_user(header: str | None) -> str | None:
    """The user name of a Basic `Authorization` header (Segment puts the write key there)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise AuthenticationError("the Authorization header is not valid Basic auth") from None
    user, _, _ = decoded.partition(":")
    return user or None


def bearer_token(header: str | None) -> str | None:
    """The token of a `Bearer` `Authorization` header."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


_REFUSALS = (*_ANSWERS.values(), (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"))
_REFUSAL_SCHEMA = {
    "type": "object",
    "required": ["success", "code", "message"],
    "properties": {
        "success": {"const": False},
        "code": {"enum": sorted({code for _, code in _REFUSALS})},
        "message": {"type": "string", "description": "what is wrong, for people"},
    },
}


def secret_key_openapi(
    app: ApiGatewayResolver, *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The OpenAPI description of an API behind the secret key (`cdp.access.http`), with the
    answers it gives when it refuses.

    Powertools documents a 422 with FastAPI's `{"detail": [...]}` on every operation, which
    these APIs never send: a request that fails validation is a 400 like every other refusal
    (`register_error_handlers`), with the body `error_response` builds.
    """
    import json

    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=title,
            version=version,
            description=description,
            security_schemes={"secretKey": HTTPBearer()},
            security=[{"secretKey": []}],
        )
    )
    # Only the routes for servers: the console's copies of some (`cdp.access.roles`) take a
    # console user's token instead, and are the console's own business.
    document["paths"] = {
        path: item for path, item in document["paths"].items() if path.startswith("/v1/")
    }
    schemas = document["components"]["schemas"]
    schemas.pop("HTTPValidationError", None)
    schemas["Refusal"] = _REFUSAL_SCHEMA
    body = {content_types.APPLICATION_JSON: {"schema": {"$ref": "#/components/schemas/Refusal"}}}
    refusals = {
        str(status.value): {"description": f"{status.phrase}: see the code", "content": body}
        for status in sorted({status for status, _ in _REFUSALS})
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            operation["responses"] |= refusals
    return document
