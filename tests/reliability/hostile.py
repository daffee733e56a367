"""Hostile and malformed input: named cases every route is tried with, and Hypothesis
strategies that build more. Each is a change to a route's valid sample request, so the rest of
the request stays good enough to reach the code behind the first check."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tests.reliability.routes import Call, Raw, body_bytes


@dataclass(frozen=True)
class Hostile:
    kind: str  # the family it belongs to, for the figures
    label: str
    apply: Callable[[Call], Call]

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"Hostile({self.kind}: {self.label})"


# -- walking JSON --------------------------------------------------------------------------


def map_json(value: Any, leaf: Callable[[Any], Any], *, keys: Callable[[str], str] = str) -> Any:
    if isinstance(value, dict):
        return {keys(k): map_json(v, leaf, keys=keys) for k, v in value.items()}
    if isinstance(value, list):
        return [map_json(v, leaf, keys=keys) for v in value]
    return leaf(value)


def set_keys(value: Any, names: Iterable[str], new: Any, *, add: bool = False) -> Any:
    """Every key in `names`, at any depth, set to `new` (and added to every object, with
    `add`)."""
    names = tuple(names)
    if isinstance(value, list):
        return [set_keys(v, names, new, add=add) for v in value]
    if not isinstance(value, dict):
        return value
    changed = {k: new if k in names else set_keys(v, names, new, add=add) for k, v in value.items()}
    if add:
        changed |= {name: new for name in names if name not in changed}
    return changed


def key_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and index in `value`, depth first, as paths from the top."""
    if not isinstance(value, dict | list):
        return []
    paths: list[tuple[Any, ...]] = []
    for key, child in value.items() if isinstance(value, dict) else enumerate(value):
        paths.append((*prefix, key))
        paths += key_paths(child, (*prefix, key))
    return paths


def set_path(value: Any, path: tuple[Any, ...], new: Any, *, delete: bool = False) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = set_path(value.get(head), rest, new, delete=delete)
        return copy
    if isinstance(value, list):
        copy_list = list(value)
        if delete and not rest:
            del copy_list[head]
        else:
            copy_list[head] = set_path(value[head], rest, new, delete=delete)
        return copy_list
    return value


def json_body(call: Call) -> Any:
    return call.body if not isinstance(call.body, Raw) else None


# -- changes to a request ------------------------------------------------------------------


def raw(data: bytes, content_type: str = "application/json") -> Callable[[Call], Call]:
    return lambda call: call.with_(body=Raw(data, content_type), gzip=False)


def strings_in_body(value: Any) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        body = map_json(json_body(call), lambda v: value if isinstance(v, str) else v)
        params = {name: value if isinstance(value, str) else json.dumps(value)
                  for name in call.params}  # fmt: skip
        query = {name: value if isinstance(value, str) else json.dumps(value)
                 for name in call.query}  # fmt: skip
        return call.with_(body=body if call.body is not None else None, params=params,
                          query=query)  # fmt: skip

    return apply


def fields(names: Iterable[str], value: Any, *, add: bool = False) -> Callable[[Call], Call]:
    names = tuple(names)

    def apply(call: Call) -> Call:
        body = json_body(call)
        query = {k: (v if k not in names else value if isinstance(value, str) else
                     json.dumps(value)) for k, v in call.query.items()}  # fmt: skip
        return call.with_(
            body=set_keys(body, names, value, add=add) if body is not None else None, query=query
        )

    return apply


def top_level_values(value: Any) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        body = json_body(call)
        if isinstance(body, dict):
            body = dict.fromkeys(body, value)
        elif isinstance(body, list):
            body = [value for _ in body]
        return call.with_(body=body)

    return apply


def params(value: str, *, encode: bool = True) -> Callable[[Call], Call]:
    return lambda call: call.with_(params=dict.fromkeys(call.params, value), encode_params=encode)


def query(extra: dict[str, str]) -> Callable[[Call], Call]:
    return lambda call: call.with_(query={**call.query, **extra})


def headers(extra: dict[str, str]) -> Callable[[Call], Call]:
    return lambda call: call.with_(headers={**call.headers, **extra})


def auth(extra: dict[str, str]) -> Callable[[Call], Call]:
    return lambda call: call.with_(auth=extra)


def gzipped_body(call: Call) -> Call:
    return call.with_(gzip=True)


def with_duplicate_keys(*, hostile_last: bool) -> Callable[[Call], Call]:
    """The same key twice in one object (JSON text only can say this): Python, like
    JavaScript, keeps the last; the hostile copy goes first or last."""

    def apply(call: Call) -> Call:
        body = json_body(call)
        if not isinstance(body, dict) or not body:
            return call
        text = json.dumps(body)
        duplicates = ", ".join(f"{json.dumps(k)}: {json.dumps(_spoof(v))}" for k, v in body.items())
        text = (
            text[:-1] + ", " + duplicates + "}"
            if hostile_last
            else "{" + duplicates + ", " + text[1:]
        )
        return call.with_(body=Raw(text.encode()))

    return apply


def _spoof(value: Any) -> Any:
    if isinstance(value, str):
        return "spoofed-" + value[:20]
    if isinstance(value, bool | int | float):
        return "spoofed"
    return {"__proto__": {"admin": True}}


def nested_in_body(depth: int, *, arrays: bool = False) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        body = json_body(call)
        if not isinstance(body, dict):
            return call
        inner = "[" * depth + "1" + "]" * depth if arrays else '{"a":' * depth + "1" + "}" * depth
        text = json.dumps({k: v for k, v in body.items() if k != "properties"})
        return call.with_(body=Raw((text[:-1] + f', "properties": {inner}}}').encode()))

    return apply


def gzip_header_only(call: Call) -> Call:
    data, _ = body_bytes(call.body)
    return call.with_(body=Raw(data or b"{}"), headers={**call.headers, "content-encoding": "gzip"})


def gzip_without_header(call: Call) -> Call:
    data, _ = body_bytes(call.body)
    return call.with_(body=Raw(gzip.compress(data or b"{}")))


def gzip_members(call: Call) -> Call:
    data, _ = body_bytes(call.body)
    body = gzip.compress(data or b"{}") + gzip.compress(b'{"userId": "smuggled", "event": "X"}')
    return call.with_(body=Raw(body), headers={**call.headers, "content-encoding": "gzip"})


def gzip_truncated(call: Call) -> Call:
    data, _ = body_bytes(call.body)
    body = gzip.compress(data or b"{}")[:-12]
    return call.with_(body=Raw(body), headers={**call.headers, "content-encoding": "gzip"})


def gzip_twice(call: Call) -> Call:
    data, _ = body_bytes(call.body)
    body = gzip.compress(gzip.compress(data or b"{}"))
    return call.with_(body=Raw(body), headers={**call.headers, "content-encoding": "gzip"})


@cache
def gzip_bomb(megabytes: int, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """`megabytes` of one repeated byte between `prefix` and `suffix`, gzipped: about a
    thousandth of its inflated size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"A" * (1 << 20)
    parts = [compressor.compress(prefix)]
    parts += [compressor.compress(chunk) for _ in range(megabytes)]
    parts += [compressor.compress(suffix), compressor.flush()]
    return b"".join(parts)


def bomb(megabytes: int, *, json_text: bool) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        prefix, suffix = (b'{"userId":"u","event":"x","properties":{"p":"', b'"}}') if json_text \
            else (b"", b"")  # fmt: skip
        body = gzip_bomb(megabytes, prefix, suffix)
        return call.with_(body=Raw(body), gzip=False,
                          headers={**call.headers, "content-encoding": "gzip"})  # fmt: skip

    return apply


def huge_property(size: int) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        body = json_body(call)
        if isinstance(body, dict) and isinstance(body.get("batch"), list):
            batch = [{**m, "properties": {"blob": "x" * size}} for m in body["batch"]]
            return call.with_(body={**body, "batch": batch})
        if isinstance(body, dict):
            return call.with_(body={**body, "properties": {"blob": "x" * size}})
        return call.with_(body=[*(body or []), {"blob": "x" * size}])

    return apply


def many_messages(count: int, size: int = 0) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        body = json_body(call)
        sample = body["batch"][0] if isinstance(body, dict) and "batch" in body else body
        if not isinstance(sample, dict):
            sample = {"value": sample}
        items = [{**sample, "messageId": f"bulk-{i}", **({"pad": "p" * size} if size else {})}
                 for i in range(count)]  # fmt: skip
        if isinstance(body, dict) and "batch" in body:
            return call.with_(body={**body, "batch": items})
        return call.with_(body=items)

    return apply


# -- the named cases -----------------------------------------------------------------------

CONTROL = ["a\x00b", "\n", "line\r\nbreak", "\x1b[2J\x1b[31mred", "\x7f", "\t", "\x08\x0c"]
INVISIBLE = ["\u0085", "\u2028", "\u202e-reversed", "\ufeff", "\u200b", "\ufffd", " ", ""]
LONG = {
    "513 ASCII characters": "a" * 513,
    "512 ASCII characters": "b" * 512,
    "512 four-byte characters": "\U0001f600" * 512,
    "512 three-byte characters": "\u20ac" * 512,
    "300 four-byte characters": "\U0001f600" * 300,
    "100,000 characters": "c" * 100_000,
}
SURROGATES = ["\ud800", "x\udfffy", "\ud83d"]  # lone halves: valid JSON escapes, not Unicode
PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype", "__class__", "__dict__", "toString",
                  "hasOwnProperty", "__defineGetter__"]  # fmt: skip
INJECTION = [
    "user_id:other", "a#b", "../../etc/passwd", "%00", "%2e%2e%2f", "${jndi:ldap://x/a}",
    "<script>alert(1)</script>", "' OR '1'='1", '{"$gt": ""}', "*", "\\", "a:b:c",
]  # fmt: skip
WRONG_TYPES: list[Any] = [42, -1, 4.2, 1e308, 10**30, True, None, [], {}, ["a"], {"$ne": None}]
TIMES: list[Any] = [
    "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1989-12-31T23:59:59.999Z",
    "1990-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "+275760-09-13T00:00:00Z", "2026-13-45T99:99:99Z", "now", "",
    "2026-11-23T09:00:00+25:00", "2026-11-23T09:00:00-23:59", "2026-11-23", "2026-W48-1",
    "2026-11-23T09:00:00.123456789Z", 0, -1, 1e20, 253402300800, -62135596800, 1795424400000,
]  # fmt: skip
IDENTIFIERS = ("userId", "anonymousId", "messageId", "groupId", "previousId", "event", "name",
               "submissionId", "email", "id", "source", "trait", "signature")  # fmt: skip
TIME_FIELDS = ("timestamp", "sentAt", "receivedAt", "originalTimestamp")


Cases = Iterator[Hostile]
INVALID_JSON = {
    "truncated": b'{"userId": "a", "event": "x"',
    "single quotes": b"{'userId': 'a'}",
    "empty": b"",
    "blank": b" \n\t ",
    "trailing garbage": b'{"userId": "a", "event": "x"} trailing',
    "two objects": b'{"userId": "a"}{"userId": "b"}',
    "NaN": b'{"userId": "a", "event": "x", "properties": {"v": NaN}}',
    "Infinity": b'{"userId": "a", "event": "x", "properties": {"v": -Infinity}}',
    "byte order mark": b'\xef\xbb\xbf{"userId": "a", "event": "x"}',
    "comment": b'{"userId": "a" /* hi */}',
    "trailing comma": b'{"userId": "a", "event": "x",}',
    "huge exponent": b'{"userId": "a", "event": "x", "properties": {"v": 1e999999}}',
    "huge integer": b'{"userId": "a", "event": "x", "properties": {"v": ' + b"9" * 5000 + b"}}",
    "form encoded": b"userId=a&event=x",
    "XML": b"<track><userId>a</userId></track>",
}
INVALID_UTF8 = {
    "0xff 0xfe": b'{"userId": "\xff\xfe", "event": "x"}',
    "overlong slash": b'{"userId": "\xc0\xaf", "event": "x"}',
    "encoded surrogate": b'{"userId": "\xed\xa0\x80", "event": "x"}',
    "lone continuation byte": b'{"userId": "\x80", "event": "x"}',
    "Latin-1": '{"userId": "caf\xe9", "event": "x"}'.encode("latin-1"),
    "UTF-16": '{"userId": "a", "event": "x"}'.encode("utf-16"),
    "UTF-32": '{"userId": "a", "event": "x"}'.encode("utf-32"),
}
AUTHORIZATIONS = {
    "Basic, nothing": "Basic",
    "Basic, not base64": "Basic !!!not-base64!!!",
    "Basic, not UTF-8": "Basic " + "/w==",  # 0xff
    "Basic, a colon only": "Basic Og==",
    "Bearer, nothing": "Bearer ",
    "Bearer, 10,000 characters": "Bearer " + "k" * 10_000,
    "Bearer, control characters": "Bearer sk_\x00\x1b",
    "Bearer, not ASCII": "Bearer sk_\u00e9\u00e8",
    "two schemes": "Basic Og==, Bearer x",
    "Digest": 'Digest username="a"',
}
HEADERS = {
    "text/plain": {"content-type": "text/plain"},
    "form encoded": {"content-type": "application/x-www-form-urlencoded"},
    "multipart": {"content-type": "multipart/form-data; boundary=x"},
    "JSON in Latin-1": {"content-type": "application/json; charset=latin-1"},
    "an 8 KB header": {"x-padding": "p" * 8192},
    "If-None-Match garbage": {"if-none-match": '"\x00garbage"'},
    "a header not ASCII": {"x-mailer-signature": "sha256=\u00e9\u00e9"},
    "forwarded proto": {"x-forwarded-proto": "javascript:alert(1)//"},
}
QUERIES = {
    "limit not a number": {"limit": "abc"},
    "limit superscript two": {"limit": "\u00b2"},
    "limit Arabic-Indic one": {"limit": "\u0661"},
    "limit negative": {"limit": "-1"},
    "limit huge": {"limit": "99999999999999999999999"},
    "limit float": {"limit": "1e3"},
    "cursor garbage": {"cursor": "not-a-cursor!!"},
    "cursor base64 of junk": {"cursor": "eyJhIjogMX0="},
    "cursor 10 KB": {"cursor": "c" * 10_000},
    "writeKey twice": {"writeKey": "a,b"},
}


def _invalid_json() -> Cases:
    for label, data in INVALID_JSON.items():
        yield Hostile("invalid JSON", label, raw(data))
    yield Hostile("invalid JSON", "JSON as text/plain", as_text_plain)


def as_text_plain(call: Call) -> Call:
    return call.with_(body=Raw(body_bytes(call.body)[0] or b"{}", "text/plain"))


def _wrong_types() -> Cases:
    yield Hostile("wrong types", "body: a list", lambda c: c.with_(body=[json_body(c)]))
    for label, value in {"text": "text", "a number": 42, "null": None, "true": True}.items():
        yield Hostile("wrong types", f"body: {label}", raw(json.dumps(value).encode()))
    for value in WRONG_TYPES:
        yield Hostile("wrong types", f"every field: {value!r:.20}", top_level_values(value))
        yield Hostile("wrong types", f"identifiers: {value!r:.20}", fields(IDENTIFIERS, value))
    yield Hostile("wrong types", "nested values: lists", every_value_in_a_list)


def every_value_in_a_list(call: Call) -> Call:
    if call.body is None:
        return call
    return call.with_(body=map_json(json_body(call), lambda value: [value]))


def _huge() -> Cases:
    for size in (600_000, 40_000):
        yield Hostile("huge", f"a {size // 1000} KB property", huge_property(size))
    nine_megabytes = b'{"userId": "a", "p": "' + b"x" * 9_000_000 + b'"}'
    yield Hostile("huge", "9 MB body", raw(nine_megabytes))
    yield Hostile("huge", "1,000 messages", many_messages(1000))
    yield Hostile("huge", "16 messages of 30 KB", many_messages(16, 30_000))
    yield Hostile("huge", "3 messages of 33 KB", many_messages(3, 33_000))
    for depth in (100_000, 5_000, 900, 100):
        yield Hostile("deeply nested", f"{depth:,} nested objects", nested_in_body(depth))
        arrays = nested_in_body(depth, arrays=True)
        yield Hostile("deeply nested", f"{depth:,} nested arrays", arrays)


def _gzip() -> Cases:
    yield Hostile("gzip", "a bomb: 100 MB of one byte", bomb(100, json_text=False))
    yield Hostile("gzip", "a bomb: a 30 MB JSON string", bomb(30, json_text=True))
    yield Hostile("gzip", "honest gzip", gzipped_body)
    yield Hostile("gzip", "gzip header, plain body", gzip_header_only)
    yield Hostile("gzip", "gzip body, no header", gzip_without_header)
    yield Hostile("gzip", "two gzip members", gzip_members)
    yield Hostile("gzip", "truncated gzip", gzip_truncated)
    yield Hostile("gzip", "gzip twice, one header", gzip_twice)
    for encoding in ("br", "deflate", "compress", "gzip, gzip", "GZIP", "identity", "x-gzip"):
        change = headers({"content-encoding": encoding})
        yield Hostile("gzip", f"Content-Encoding: {encoding}", change)


def _invalid_text() -> Cases:
    for label, data in INVALID_UTF8.items():
        yield Hostile("invalid UTF-8", label, raw(data))
    for value in SURROGATES:
        yield Hostile("invalid UTF-8", f"escaped lone surrogate {value!r}", strings_in_body(value))
        in_identifiers = fields(IDENTIFIERS, value)
        yield Hostile("invalid UTF-8", f"identifiers: lone surrogate {value!r}", in_identifiers)
        yield Hostile("invalid UTF-8", f"a key: lone surrogate {value!r}", suffixed_keys(value))
    for value in CONTROL + INVISIBLE:
        in_identifiers = fields(IDENTIFIERS, value)
        yield Hostile("control characters", f"identifiers: {value!r}", in_identifiers)
        yield Hostile("control characters", f"path and query: {value!r}", path_and_query(value))
    for label, value in LONG.items():
        yield Hostile("long strings", f"identifiers: {label}", fields(IDENTIFIERS, value))
        yield Hostile("long strings", f"path: {label}", params(value))
        yield Hostile("long strings", f"path: user_id:{label}", params(f"user_id:{value}"))
        yield Hostile("long strings", f"every text: {label}", strings_in_body(value))
    for value in INJECTION:
        yield Hostile("injection", f"every text: {value!r}", strings_in_body(value))
        yield Hostile("injection", f"path, raw: {value!r}", params(value, encode=False))


def suffixed_keys(suffix: str) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        if call.body is None:
            return call
        return call.with_(body=map_json(json_body(call), lambda x: x, keys=lambda k: k + suffix))

    return apply


def path_and_query(value: str) -> Callable[[Call], Call]:
    return lambda call: params(value)(call.with_(query=dict.fromkeys(call.query, value)))


def _prototype_pollution() -> Cases:
    for key in PROTOTYPE_KEYS:
        yield Hostile("prototype pollution", f"{key} in every object", polluted_with(key))
        as_identifier = fields(IDENTIFIERS, key)
        yield Hostile("prototype pollution", f"{key} as every identifier", as_identifier)
        yield Hostile("prototype pollution", f"{key} as the path", params(key))


def polluted_with(key: str) -> Callable[[Call], Call]:
    def apply(call: Call) -> Call:
        if call.body is None:
            return call
        return call.with_(body=_pollute(json_body(call), key, {"admin": True, "polluted": "yes"}))

    return apply


def _times() -> Cases:
    for value in TIMES:
        yield Hostile("timestamps", f"every time: {value!r}", fields(TIME_FIELDS, value, add=True))
    for stamp, sent in (
        ("1990-01-01T00:00:00Z", "2199-12-31T23:59:59Z"),
        ("2199-12-31T23:59:59Z", "1990-01-01T00:00:00Z"),
        ("2026-11-23T09:00:00Z", "1990-01-01T00:00:00Z"),
    ):
        both = fields(("timestamp",), stamp), fields(("sentAt",), sent)
        label = f"timestamp {stamp[:4]}, sentAt {sent[:4]}"
        yield Hostile("timestamps", label, lambda c, both=both: both[1](both[0](c)))
    year_2000 = fields(("receivedAt", "originalTimestamp"), "2000-01-01T00:00:00Z", add=True)
    yield Hostile("spoofed receivedAt", "receivedAt in the year 2000 everywhere", year_2000)
    an_object = fields(("receivedAt",), {"$date": 0}, add=True)
    yield Hostile("spoofed receivedAt", "receivedAt as an object", an_object)
    yield Hostile("duplicate keys", "hostile copy last", with_duplicate_keys(hostile_last=True))
    yield Hostile("duplicate keys", "hostile copy first", with_duplicate_keys(hostile_last=False))


def _credentials_and_headers() -> Cases:
    for label, value in AUTHORIZATIONS.items():
        yield Hostile("credentials", label, auth({"authorization": value}))
    yield Hostile("credentials", "write key in the query", query({"writeKey": "wk_" + "q" * 43}))
    for label, extra in HEADERS.items():
        yield Hostile("headers", label, headers(extra))
    for label, extra in QUERIES.items():
        yield Hostile("query", label, query(extra))


def _named() -> Cases:
    for family in (_invalid_json, _wrong_types, _huge, _gzip, _invalid_text,
                   _prototype_pollution, _times, _credentials_and_headers):  # fmt: skip
        yield from family()


def _pollute(value: Any, key: str, polluted: Any) -> Any:
    if isinstance(value, list):
        return [_pollute(v, key, polluted) for v in value]
    if isinstance(value, dict):
        return {**{k: _pollute(v, key, polluted) for k, v in value.items()}, key: polluted}
    return value


NAMED: tuple[Hostile, ...] = tuple(_named())


# -- strategies ----------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x7F), max_size=40),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"]), min_size=1, max_size=20),
    st.sampled_from([*CONTROL, *INVISIBLE, *SURROGATES, *PROTOTYPE_KEYS, *INJECTION]),
    st.sampled_from(list(LONG.values())),
    st.lists(st.sampled_from(SURROGATES), min_size=1, max_size=3).map("".join),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
    st.sampled_from(TIMES),
)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(hostile_text | st.sampled_from(PROTOTYPE_KEYS), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def generated(draw: st.DrawFn) -> Hostile:
    """One to three random changes to a request."""
    changes = draw(st.lists(_change(), min_size=1, max_size=3))
    label = "; ".join(label for label, _ in changes)

    def apply(call: Call) -> Call:
        for _, change in changes:
            call = change(call)
        return call

    return Hostile("generated", label, apply)


def _change() -> st.SearchStrategy[tuple[str, Callable[[Call], Call]]]:
    def at_path(index: int, value: Any, delete: bool) -> Callable[[Call], Call]:
        def apply(call: Call) -> Call:
            body = json_body(call)
            paths = key_paths(body) if body is not None else []
            if not paths:
                return call
            return call.with_(body=set_path(body, paths[index % len(paths)], value, delete=delete))

        return apply

    def adding(index: int, key: str, value: Any) -> Callable[[Call], Call]:
        def apply(call: Call) -> Call:
            body = json_body(call)
            objects = [()] if isinstance(body, dict) else []
            objects += [p for p in key_paths(body) if _is_object(body, p)] if body else []
            if not objects:
                return call
            path = objects[index % len(objects)]
            return call.with_(body=set_path(body, (*path, key), value))

        return apply

    index = st.integers(min_value=0, max_value=10_000)
    return st.one_of(
        st.builds(lambda i, v: (f"set field #{i} to {v!r:.60}", at_path(i, v, False)),
                  index, json_values),
        st.builds(lambda i: (f"drop field #{i}", at_path(i, None, True)), index),
        st.builds(lambda i, k, v: (f"add {k!r:.40}: {v!r:.40} to object #{i}", adding(i, k, v)),
                  index, hostile_text | st.sampled_from(PROTOTYPE_KEYS), json_values),
        st.builds(lambda v: (f"body {v!r:.60}", lambda c: c.with_(body=v)), json_values),
        st.builds(lambda b: (f"raw body {b!r:.60}", raw(b)), st.binary(max_size=300)),
        st.builds(lambda s, e: (f"path {s!r:.60}", params(s, encode=e or not _utf8(s))),
                  hostile_text.filter(lambda s: "/" not in s and "?" not in s), st.booleans()),
        st.builds(lambda k, v: (f"query {k!r:.30}={v!r:.40}", query({k: v})),
                  st.sampled_from(["limit", "cursor", "anonymousId", "userId", "signature",
                                   "writeKey", "q"]), hostile_text),
        st.builds(lambda v: (f"identifiers {v!r:.60}", fields(IDENTIFIERS, v)), json_leaf),
        st.builds(lambda v: (f"times {v!r:.60}", fields(TIME_FIELDS, v, add=True)),
                  json_leaf | st.sampled_from(TIMES)),
        st.just(("gzip", gzipped_body)),
    )  # fmt: skip


def _utf8(text: str) -> bool:
    """A URL can carry it unencoded (a lone surrogate half it cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_object(body: Any, path: tuple[Any, ...]) -> bool:
    value = body
    for part in path:
        value = value[part]
    return isinstance(value, dict)
