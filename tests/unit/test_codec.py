"""Event bodies in Zstandard read back as what was written, from any thread, beside the zlib
streams written before them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cdp.runtime.codec import (
    MESSAGE_DICTIONARY_1,
    ZSTD_MESSAGE_1,
    compress,
    compress_message,
    decompress,
    dumps,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)


@given(value=JSON)
def test_any_json_value_reads_back_whichever_way_it_was_written(value: Any) -> None:
    body = compress_message(dumps(value).encode())

    assert body[0] == ZSTD_MESSAGE_1
    assert decompress(body) == value
    assert decompress(compress(value, MESSAGE_DICTIONARY_1)) == value
    assert decompress(compress(value)) == value


def test_threads_compressing_at_once_each_read_back_their_own() -> None:
    # cdp dev answers requests and runs its stream workers in threads of one process
    messages = [
        {"type": "track", "event": f"Event {n}", "properties": {"n": n}} for n in range(400)
    ]

    def round_trip(message: dict[str, Any]) -> Any:
        return decompress(compress_message(dumps(message).encode()))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(round_trip, messages)) == messages
