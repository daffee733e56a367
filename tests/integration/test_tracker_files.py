"""The tracker on the wire: the collector serves `cdp.js` and `cdp-forms.js` as the build
compressed them (brotli, gzip, or neither, as the browser accepts), with an ETag per coding,
a short cache at the stable paths pages load and an immutable one under content-hash names."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import pytest

from cdp.intake.assets import built_scripts
from tests.factories import http_event

Send = Callable[[dict[str, Any]], dict[str, Any]]
NAMES = ("cdp.js", "cdp-forms.js")
CHROME = "gzip, deflate, br, zstd"


def built(name: str) -> bytes:
    return files("cdp").joinpath("static", name).read_bytes()


def versioned(name: str) -> str:
    return built_scripts().named(name).versioned


def get(collector: Send, path: str, **headers: str) -> dict[str, Any]:
    if path.startswith("/v1/static/"):
        file = path.removeprefix("/v1/static/")
        return collector(
            http_event("GET", path, headers=headers, route="GET /v1/static/{file}",
                       path_parameters={"file": file})
        )  # fmt: skip
    return collector(http_event("GET", path, headers=headers))


def header(answer: dict[str, Any], name: str) -> str | None:
    found = {key.lower(): value for key, value in answer["headers"].items()}
    return found.get(name.lower())


def body_bytes(answer: dict[str, Any]) -> bytes:
    body = answer.get("body") or ""
    return base64.b64decode(body) if answer["isBase64Encoded"] else body.encode()


def decoded(answer: dict[str, Any]) -> bytes:
    """The body as the browser reads it, after undoing its Content-Encoding."""
    data, encoding = body_bytes(answer), header(answer, "content-encoding")
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "br":
        # Python's standard library has no brotli decoder; Node's zlib (the build's) has.
        script = "process.stdout.write(require('zlib').brotliDecompressSync(require('fs')"
        script += ".readFileSync(0)))"
        return subprocess.run(
            ["node", "-e", script], input=data, capture_output=True, check=True
        ).stdout
    assert encoding is None, encoding
    return data


def paths(name: str) -> list[str]:
    return [f"/v1/{name}", f"/v1/static/{versioned(name)}"]


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        (CHROME, "br"),
        ("gzip, deflate", "gzip"),  # Chromium over plain http
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("*", "br"),
        ("identity", None),
        (None, None),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_each_script_arrives_in_the_best_coding_the_browser_accepts(
    collector: Send, name: str, accept: str | None, encoding: str | None
) -> None:
    for path in paths(name):
        # when a browser asks with its Accept-Encoding
        answer = get(collector, path, **({"accept-encoding": accept} if accept else {}))

        # then it gets the build's copy in that coding, the same script once decoded
        assert answer["statusCode"] == 200, answer
        assert header(answer, "content-encoding") == encoding
        assert answer["isBase64Encoded"] is True
        assert header(answer, "content-type") == "application/javascript; charset=utf-8"
        assert "Accept-Encoding" in (header(answer, "vary") or "")
        assert decoded(answer) == built(name)


def test_compressed_copies_are_much_smaller(collector: Send) -> None:
    sizes = {
        coding: len(body_bytes(get(collector, "/v1/cdp.js", **{"accept-encoding": coding})))
        for coding in ("identity", "gzip", "br")
    }
    assert sizes["br"] < sizes["gzip"] < sizes["identity"] / 1.8
    assert sizes["gzip"] <= 3 * 1024  # the tracker's budget (snippet/build.mjs)


@pytest.mark.parametrize("name", NAMES)
def test_each_coding_has_its_own_etag_and_a_revalidation_gets_a_304(
    collector: Send, name: str
) -> None:
    for path in paths(name):
        etags = {
            coding: header(get(collector, path, **{"accept-encoding": coding}), "etag")
            for coding in ("identity", "gzip", "br")
        }
        assert len(set(etags.values())) == 3, etags
        for coding, etag in etags.items():
            assert etag
            # a browser revalidates the copy it holds: not modified, no body
            again = get(collector, path, **{"accept-encoding": coding, "if-none-match": etag})
            assert again["statusCode"] == 304
            assert not again.get("body")
            assert header(again, "etag") == etag
            assert header(again, "cache-control") == header(
                get(collector, path, **{"accept-encoding": coding}), "cache-control"
            )
            # weak comparison, and a list of tags, as caches send them
            weak = get(collector, path, **{"accept-encoding": coding,
                                           "if-none-match": f'"other", W/{etag}'})  # fmt: skip
            assert weak["statusCode"] == 304
        # a tag of another coding is no match: the bytes would differ
        other = get(collector, path, **{"accept-encoding": "br", "if-none-match": etags["gzip"]})
        assert other["statusCode"] == 200
        assert header(other, "content-encoding") == "br"


@pytest.mark.parametrize("name", NAMES)
def test_stable_paths_are_cached_briefly_and_name_their_immutable_copy(
    collector: Send, name: str
) -> None:
    # given the stable path a page's loader stub references
    stable = get(collector, f"/v1/{name}", **{"accept-encoding": CHROME})
    assert header(stable, "cache-control") == "public, max-age=300"

    # when the versioned copy it names is fetched
    location = header(stable, "content-location")
    assert location == f"/v1/static/{versioned(name)}"
    immutable = get(collector, location, **{"accept-encoding": CHROME})

    # then it holds the same bytes and may be kept for a year, never revalidated
    assert immutable["statusCode"] == 200
    assert header(immutable, "cache-control") == "public, max-age=31536000, immutable"
    assert header(immutable, "content-location") is None
    assert decoded(immutable) == decoded(stable) == built(name)
    assert header(immutable, "etag") == header(stable, "etag")


def test_the_versions_are_content_hashes() -> None:
    import hashlib

    for name in NAMES:
        digest = hashlib.sha256(built(name)).hexdigest()
        assert versioned(name) == name.replace(".js", f".{digest[:10]}.js")


def test_the_tracker_loads_its_forms_helpers_from_their_immutable_path() -> None:
    assert f"/v1/static/{versioned('cdp-forms.js')}".encode() in built("cdp.js")


@pytest.mark.parametrize(
    "file",
    [
        "cdp.0000000000.js",  # an old version, or one never built
        "cdp-forms.0000000000.js",
        "cdp.js",
        "cdp.js.br",
        "manifest.json",
        "probe-7f3a.js",
    ],
)
def test_an_unknown_or_old_version_is_refused_clearly(collector: Send, file: str) -> None:
    answer = get(collector, f"/v1/static/{file}", **{"accept-encoding": CHROME})

    assert answer["statusCode"] == 404
    assert header(answer, "content-type") == "application/json"
    refusal = json.loads(answer["body"])
    assert refusal["success"] is False
    assert refusal["code"] == "not_found"
    # it says where the scripts are now, and never echoes the name asked for
    assert f"/v1/static/{versioned('cdp.js')}" in refusal["message"]
    assert "/v1/cdp.js" in refusal["message"]
    assert "0000000000" not in refusal["message"]
    assert "7f3a" not in refusal["message"]
    assert header(answer, "cache-control") != "public, max-age=31536000, immutable"


def test_the_forms_helpers_answer_a_cross_origin_module_import(collector: Send) -> None:
    # a module script is fetched with CORS from the shop's origin
    path = f"/v1/static/{versioned('cdp-forms.js')}"
    answer = get(collector, path, origin="https://shop.example", **{"accept-encoding": CHROME})

    assert answer["statusCode"] == 200
    assert header(answer, "access-control-allow-origin") == "https://shop.example"
    assert header(answer, "vary") == "Accept-Encoding, Origin"
