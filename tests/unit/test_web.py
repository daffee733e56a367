from __future__ import annotations

import base64
import gzip

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from cdp.runtime.errors import AuthenticationError, InvalidRequestError, RequestTooLargeError
from cdp.runtime.web import basic_auth_user, request_body
from tests.factories import http_event

LIMIT = 1024


def body_of(**kwargs: object) -> bytes:
    return request_body(APIGatewayProxyEventV2(http_event(**kwargs)), LIMIT)  # type: ignore[arg-type]


def test_text_body_is_read_as_sent() -> None:
    assert body_of(body='{"a": 1}') == b'{"a": 1}'


def test_base64_and_gzip_bodies_are_decoded() -> None:
    assert body_of(body=b'{"a": 1}') == b'{"a": 1}'
    assert body_of(body='{"a": 1}', gzipped=True) == b'{"a": 1}'


def test_a_gzip_bomb_is_stopped_at_the_limit() -> None:
    bomb = gzip.compress(b"0" * 50_000_000)
    assert len(bomb) < 100_000
    event = http_event(body=bomb, headers={"content-encoding": "gzip"})
    with pytest.raises(RequestTooLargeError, match="larger than 1 KB"):
        request_body(APIGatewayProxyEventV2(event), LIMIT)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"not gzip at all", "not valid gzip"), (gzip.compress(b"x" * 100)[:-12], "incomplete")],
    ids=["not-gzip", "truncated"],  # gzip bytes hold the time: not stable as test ids
)
def test_broken_gzip_is_a_clear_error(data: bytes, message: str) -> None:
    event = http_event(body=data, headers={"content-encoding": "gzip"})
    with pytest.raises(InvalidRequestError, match=message):
        request_body(APIGatewayProxyEventV2(event), LIMIT)


def test_unknown_encodings_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="'br' is not supported"):
        body_of(body="x", headers={"content-encoding": "br"})


def test_oversized_plain_bodies_are_refused() -> None:
    with pytest.raises(RequestTooLargeError):
        body_of(body="x" * (LIMIT + 1))


def test_basic_auth_user_is_the_write_key() -> None:
    header = "Basic " + base64.b64encode(b"wk_123:").decode()
    assert basic_auth_user(header) == "wk_123"
    assert basic_auth_user(None) is None
    assert basic_auth_user("Bearer abc") is None
    assert basic_auth_user("Basic " + base64.b64encode(b":").decode()) is None
    with pytest.raises(AuthenticationError, match="not valid Basic auth"):
        basic_auth_user("Basic %%%")
