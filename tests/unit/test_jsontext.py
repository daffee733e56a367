"""JSON text read and written by orjson where it answers what the standard library answers, and by
the standard library elsewhere: both directions checked against the standard library alone, on
random values and on random text near JSON's edges."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.jsontext import compact, parse_json, parse_json_text

REFUSED = "refused"


def standard_library(body: bytes) -> Any:
    """What strict JSON reading answered before orjson: the standard library with the checks."""

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value

    try:
        text = body.decode("utf-8")
        if not text.strip():
            return REFUSED
        value = json.loads(text, parse_constant=no_constant, parse_float=finite)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError too
        return REFUSED
    if re.search("[\ud800-\udfff]", json.dumps(value, ensure_ascii=False, default=str)):
        return REFUSED  # half of a surrogate pair
    return value


def ours(body: bytes) -> Any:
    try:
        return parse_json(body)
    except InvalidRequestError:
        return REFUSED


def exact(value: Any) -> Any:
    """A value with its types spelled out: 1 and 1.0, 0.0 and -0.0 are told apart."""
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [exact(item) for item in value]
    return (type(value).__name__, repr(value))


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

# Pieces of JSON text near its edges, to assemble and mutate
PIECES = [
    "{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "0",
    "1", "-", ".", "e", "E", "+", "1e400", "-1e400", "1e-400", "9" * 19, "1" * 25,
    "18446744073709551615", "-9223372036854775809", "NaN", "Infinity", "-Infinity", "true",
    "null", " ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\u2028", "\ufeff", "é", "😀",
    "0.30000000000000004", "5e-324", "2.5e-324", "1.7976931348623157e308", "1.8e308", "01",
    '"a"', '{"a":1}', "[1,]", '{"a":1,"a":2}',
]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=400)
@given(values, st.booleans(), st.sampled_from([None, 2]))
def test_text_written_from_any_value_reads_back_as_the_standard_library_reads_it(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert exact(ours(body)) == exact(standard_library(body))
    assert exact(parse_json_text(body.decode())) == exact(standard_library(body))


@settings(max_examples=1500)
@given(texts)
def test_any_text_is_read_or_refused_as_the_standard_library_does(text: str) -> None:
    body = text.encode()
    expected = standard_library(body)
    assert exact(ours(body)) == exact(expected)
    try:
        read: Any = parse_json_text(text)
    except InvalidRequestError:
        read = REFUSED
    assert exact(read) == exact(expected)


@settings(max_examples=400)
@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(-30, 30))
def test_every_float_reads_to_the_same_double(number: float, shift: int) -> None:
    for text in (repr(number), f"{number:.{abs(shift)}e}", f"{number:.17g}"):
        body = f'{{"n":{text}}}'.encode()
        assert exact(ours(body)) == exact(standard_library(body)), text


@settings(max_examples=600)
@given(values)
def test_compact_text_reads_back_to_the_same_value(value: Any) -> None:
    text = compact(value)
    assert exact(json.loads(text)) == exact(value)
    assert compact(json.loads(text)) == text


# Values without floats (the only thing orjson writes in another form)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=600)
@given(plain_values)
def test_compact_text_without_floats_is_the_standard_librarys_byte_for_byte(value: Any) -> None:
    assert compact(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "value",
    [
        {"n": 2**64, "m": -(2**63) - 1},  # past orjson's 64 bits
        json.loads("[" * 300 + "]" * 300),  # past orjson's 254 levels
        ['\x00\x1f\x7f\u2028\u2029"\\/é😀'],
    ],
)
def test_compact_text_where_orjson_cannot_write_it(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert compact(value) == expected


def test_long_numbers_keep_every_digit() -> None:
    body = b'{"id": 123456789012345678901234567890, "low": -9223372036854775809, "x": 0.1}'
    assert parse_json(body) == {
        "id": 123456789012345678901234567890,
        "low": -9223372036854775809,
        "x": 0.1,
    }
    assert type(parse_json(b"[18446744073709551616]")[0]) is int
