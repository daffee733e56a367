"""Compact JSON, compressed: how messages and profile states are stored in DynamoDB.

Both compress well (repeated keys, ISO times) and DynamoDB bills by the kilobyte, so a
compressed binary attribute costs a fraction of the write units plain attributes would.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compress(value: Any, dictionary: bytes = b"") -> bytes:
    """`dictionary`: a preset dictionary (text the value is likely to repeat), which small
    values compress much better with; its id is in the stream's header."""
    if not dictionary:
        return zlib.compress(dumps(value).encode(), 6)
    deflater = zlib.compressobj(6, zdict=dictionary)
    return deflater.compress(dumps(value).encode()) + deflater.flush()


def decompress(data: bytes, dictionaries: Mapping[int, bytes] | None = None) -> Any:
    """`dictionaries`: the preset dictionaries a value may have been compressed with, by their
    Adler-32 (the id the stream names)."""
    if len(data) > 6 and data[1] & 0x20:  # FDICT: the stream names its dictionary
        dictionary = (dictionaries or {})[int.from_bytes(data[2:6], "big")]
        inflater = zlib.decompressobj(zdict=dictionary)
        return json.loads(inflater.decompress(data) + inflater.flush())
    return json.loads(zlib.decompress(data))
