"""Compact JSON, compressed: how messages and profile states are stored in DynamoDB.

Both compress well (repeated keys, ISO times) and DynamoDB bills by the kilobyte, so a
compressed binary attribute costs a fraction of the write units plain attributes would.

Event bodies are written with Zstandard (`compress_message`): for a message of about 800 bytes
deflate spends more setting up a stream and its dictionary than compressing, a fifth of the
collector's own time per event, where Zstandard takes a third of that for the same size.
Profile states, and event bodies written before, are zlib streams; `decompress` reads both.
"""

from __future__ import annotations

import functools
import json
import threading
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import zstandard


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compress(value: Any, dictionary: bytes = b"") -> bytes:
    """A zlib stream. `dictionary`: a preset dictionary (text the value is likely to repeat),
    which small values compress much better with; its id is in the stream's header."""
    text = dumps(value).encode()
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

# An event body in Zstandard: this byte, then a frame compressed with `MESSAGE_DICTIONARY_1` as
# raw content, without the frame's magic number, content size, checksum and dictionary id
# (DynamoDB checks what it stores; the byte says which dictionary). No zlib stream starts with
# it: a zlib stream's first byte ends in the four bits 1000 (deflate). Another dictionary gets
# another byte.
ZSTD_MESSAGE_1 = 0x01
# Level 3, Zstandard's default: 4 % larger than deflate at level 6 on the benchmark's
# messages (265 bytes against 257, which left the write units per event unchanged) at a
# quarter of deflate's time; level 9 matches deflate's size at twice level 3's time.
_ZSTD_LEVEL = 3


class _Zstd(threading.local):
    """A compressor and a decompressor per thread (neither may be used by two at once), made
    on first use: functions that never touch an event body never load Zstandard."""

    def __init__(self) -> None:
        import zstandard

        dictionary = zstandard.ZstdCompressionDict(
            MESSAGE_DICTIONARY_1, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        parameters = zstandard.ZstdCompressionParameters.from_level(
            _ZSTD_LEVEL,
            format=zstandard.FORMAT_ZSTD1_MAGICLESS,
            write_content_size=False,
            write_checksum=False,
            write_dict_id=False,
        )
        self.compressor = zstandard.ZstdCompressor(
            compression_params=parameters, dict_data=dictionary
        )
        self.decompressor: zstandard.ZstdDecompressor = zstandard.ZstdDecompressor(
            dict_data=dictionary, format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )


@functools.cache
def _codec() -> _Zstd:
    return _Zstd()


def compress_message(text: bytes) -> bytes:
    """An event body: the message's compact JSON text (`dumps(message).encode()`), compressed."""
    return bytes((ZSTD_MESSAGE_1,)) + _codec().compressor.compress(text)


def decompress(data: bytes, dictionaries: Mapping[int, bytes] | None = None) -> Any:
    """`dictionaries`: the preset dictionaries a zlib stream may have been compressed with, by
    their Adler-32 (the id the stream names); by default the stored messages'."""
    if data[:1] == bytes((ZSTD_MESSAGE_1,)):
        return json.loads(_codec().decompressor.decompressobj().decompress(data[1:]))
    if len(data) > 6 and data[1] & 0x20:  # FDICT: the stream names its dictionary
        known = MESSAGE_DICTIONARIES if dictionaries is None else dictionaries
        dictionary = known[int.from_bytes(data[2:6], "big")]
        inflater = zlib.decompressobj(zdict=dictionary)
        return json.loads(inflater.decompress(data) + inflater.flush())
    return json.loads(zlib.decompress(data))
