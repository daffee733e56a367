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
    return compress_text(dumps(value).encode(), dictionary)


def compress_text(text: bytes, dictionary: bytes = b"") -> bytes:
    """`compress` of a value made into text already: `dumps(value).encode()`."""
    if not dictionary:
        return zlib.compress(text, 6)
    deflater = zlib.compressobj(6, zdict=dictionary)
    return deflater.compress(text) + deflater.flush()


# What stored messages (event bodies) repeat: the Segment spec's field names and the values
# trackers and client libraries fill them with, most common last (where deflate finds them
# cheapest). A browser event compresses to little more than half the bytes with it, and
# faster (fewer literals to code). Never edit it: bodies written with it name it by its
# Adler-32; add another instead.
MESSAGE_DICTIONARY_1 = (
    b'"integrations":{"All":true},"channel":"server","library":{"name":"analytics-python",'
    b'"version":""},"context":{"app":{"name":"","version":"","build":"","namespace":""},'
    b'"device":{"id":"","manufacturer":"","model":"","name":"","type":"ios"},'
    b'"network":{"wifi":true,"cellular":false,"carrier":""},"os":{"name":"Android",'
    b'"version":""},"ip":"","externalIds":[{"id":"","type":"","collection":"users",'
    b'"encoding":"none"}],"traits":{"email":"","name":"","first_name":"","last_name":"",'
    b'"phone":""},"properties":{"revenue":,"currency":"EUR","order_id":"","product_id":"",'
    b'"sku":"","category":"","price":,"quantity":1,"products":[]},'
    b'"event":"Order Completed","event":"Product Viewed","type":"identify","type":"track",'
    b'"type":"screen","type":"page","name":"","channel":"web",'
    b'"library":{"name":"analytics.js","version":""},"campaign":{"name":"","source":"",'
    b'"medium":"email","term":"","content":""},'
    b'"consent":{"categoryPreferences":{"analytics":true,"personalization":true,'
    b'"marketing":false,"sharing":false}},"locale":"en-US","timezone":"Europe/",'
    b'"screen":{"width":,"height":,"density":2},'
    b'"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML,'
    b' like Gecko) Chrome/ Safari/537.36",'
    b'"userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS like Mac OS X) AppleWebKit/605.1.15 (KHTML,'
    b' like Gecko) Version/ Mobile/15E148 Safari/604.1","page":{"path":"/",'
    b'"referrer":"https://www.google.com/","search":"","title":"","url":"https://www."},'
    b'"properties":{"path":"/","referrer":"","search":"","title":"","url":"https://"},'
    b'"userId":"","anonymousId":"","messageId":"","timestamp":"2026-01-01T00:00:00.000Z",'
    b'"originalTimestamp":"2026-01-01T00:00:00.000Z","sentAt":"2026-01-01T00:00:00.000Z",'
    b'"receivedAt":"2026-01-01T00:00:00.000Z"}'
)
MESSAGE_DICTIONARIES = {zlib.adler32(MESSAGE_DICTIONARY_1): MESSAGE_DICTIONARY_1}


def decompress(data: bytes, dictionaries: Mapping[int, bytes] | None = None) -> Any:
    """`dictionaries`: the preset dictionaries a value may have been compressed with, by their
    Adler-32 (the id the stream names); by default the stored messages'."""
    if len(data) > 6 and data[1] & 0x20:  # FDICT: the stream names its dictionary
        known = MESSAGE_DICTIONARIES if dictionaries is None else dictionaries
        dictionary = known[int.from_bytes(data[2:6], "big")]
        inflater = zlib.decompressobj(zdict=dictionary)
        return json.loads(inflater.decompress(data) + inflater.flush())
    return json.loads(zlib.decompress(data))
