"""Strict JSON for every body a client sends: UTF-8 only, no NaN or Infinity (not even as an
overflowing number), no lone UTF-16 surrogates, no integers past Python's 4,300 digits, bounded
nesting. Each refusal is an `InvalidRequestError` that says what is wrong. And the compact text
a message is stored as (`compact`).

orjson reads and writes most of it, at a fraction of the standard library's cost (JSON was a
fifth of the collector's own time per event); the standard library reads and writes what orjson
would read or write differently, and says what is wrong with a body orjson refuses. What is
read is what the standard library reads, value for value (tests/unit/test_jsontext.py)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from cdp.runtime.errors import InvalidRequestError

# orjson reads an integer past 64 bits as a float (and some of 19 digits): a run of 19 digits
# anywhere (a long id as text, too) sends the body to the standard library. Found in bytes by
# writing every digit as 0 and looking for nineteen 0s: a regular expression took 3 times as
# long as orjson's reading of the body (and 8 times as long as this on 140 KB of text).
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_ZEROS = b"0" * 19
_NOT_READ = object()


def parse_json(body: bytes) -> Any:
    """A body as strict JSON."""
    value = _read_quickly(body)
    if value is not _NOT_READ:
        return value
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not valid UTF-8 text") from None
    return _parse_with_json(text)


def parse_json_text(text: str, subject: str = "the body") -> Any:
    """Text already decoded (Powertools decodes the bodies it validates) as strict JSON;
    `subject` names it in a refusal (a line of an imported file, say)."""
    try:
        body = text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which orjson refuses too
        return _parse_with_json(text, subject)
    value = _read_quickly(body)
    return _parse_with_json(text, subject) if value is _NOT_READ else value


def _read_quickly(body: bytes) -> Any:
    """orjson's reading of the body, where it is the standard library's; else `_NOT_READ`."""
    if _NINETEEN_ZEROS in body.translate(_DIGITS_AS_ZEROS):
        return _NOT_READ
    try:  # orjson refuses what is not UTF-8, NaN, Infinity and lone surrogates itself
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_READ  # the standard library says what is wrong (or reads it: deep nesting)


def _parse_with_json(text: str, subject: str = "the body") -> Any:
    if not text.strip():
        raise InvalidRequestError(f"{subject} is empty; send a JSON object")
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except _NotStrict as error:
        raise InvalidRequestError(f"{subject} is not valid JSON: {error.reason}") from None
    except json.JSONDecodeError as error:
        raise InvalidRequestError(
            f"{subject} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError:  # an integer of more than 4,300 digits
        raise InvalidRequestError(f"{subject} is not valid JSON: a number is too long") from None
    except RecursionError:
        raise InvalidRequestError(f"{subject} is nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise InvalidRequestError(
            f"{subject} is not valid JSON text: it holds half of a UTF-16 surrogate pair "
            "(an escape such as \\ud800 without its partner)"
        )
    return value


class _NotStrict(Exception):  # not a ValueError: json.loads would take it for its own
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _no_constants(name: str) -> Any:
    raise _NotStrict(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStrict(f"{text[:20]} is too large a number")
    return value


def compact(value: Any) -> bytes:
    """`value` as compact JSON in UTF-8, as `json.dumps(value, separators=(",", ":"),
    ensure_ascii=False)` writes it but for the form of some floats (orjson writes 6.1e-05 as
    0.000061: the same number), for a value read from JSON text (orjson would write NaN as
    null; JSON has none)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer past 64 bits, or nested deeper than 254
        return _COMPACT.encode(value).encode()


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


# Only an escaped surrogate (\ud800-\udfff) can put one into decoded JSON; pairs are common
# (ASCII-only encoders escape emoji so), lone halves are not text and cannot be stored.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:  # no recursion: the value may be nested hundreds of levels deep
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return False
