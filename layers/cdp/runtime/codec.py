"""Compact JSON, compressed: how messages and profile states are stored in DynamoDB.

Both compress well (repeated keys, ISO times) and DynamoDB bills by the kilobyte, so a
compressed binary attribute costs a fraction of the write units plain attributes would.
"""

from __future__ import annotations

import json
import zlib
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compress(value: Any) -> bytes:
    return zlib.compress(dumps(value).encode(), 6)


def decompress(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))
