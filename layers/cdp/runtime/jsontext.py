"""Strict JSON for every body a client sends: UTF-8 only, no NaN or Infinity (not even as an
overflowing number), no lone UTF-16 surrogates, no integers past Python's 4,300 digits, bounded
nesting. Each refusal is an `InvalidRequestError` that says what is wrong. Standard library
only: every API function reads bodies with it, on its cold start."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from cdp.runtime.errors import InvalidRequestError


def parse_json(body: bytes) -> Any:
    """A body as strict JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not valid UTF-8 text") from None
    return parse_json_text(text)


def parse_json_text(text: str) -> Any:
    """Text already decoded (Powertools decodes the bodies it validates) as strict JSON."""
    if not text.strip():
        raise InvalidRequestError("the body is empty; send a JSON object")
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise InvalidRequestError(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError:  # an integer of more than 4,300 digits
        raise InvalidRequestError("the body is not valid JSON: a number is too long") from None
    except RecursionError:
        raise InvalidRequestError("the body is nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise InvalidRequestError(
            "the body is not valid JSON text: it holds half of a UTF-16 surrogate pair "
            "(an escape such as \\ud800 without its partner)"
        )
    return value


def _no_constants(name: str) -> Any:
    raise InvalidRequestError(f"the body is not valid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRequestError(f"the body is not valid JSON: {text[:20]} is too large a number")
    return value


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
