"""The tracker's built files, as `snippet/build.mjs` writes them into `cdp/static/`: each script
with a gzip and a brotli copy, and `manifest.json`, which names each one's content-hash
version (`cdp.<hash>.js`). Which copy a request gets follows its Accept-Encoding: brotli is
preferred, then gzip, else the script itself. Nothing is compressed at request time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cdp.runtime.errors import NotFoundError

Encoding = Literal["br", "gzip", "identity"]
PREFERRED: tuple[Encoding, ...] = ("br", "gzip")
"""Content codings we hold copies in, best first; `identity` is always acceptable."""
_SUFFIX: dict[Encoding, str] = {"br": ".br", "gzip": ".gz", "identity": ""}


class BuiltFile(BaseModel):
    """One entry of the build's manifest."""

    # Built when the scripts are first served: most collector requests never read them.
    model_config = ConfigDict(frozen=True, defer_build=True)

    versioned: Annotated[str, Field(pattern=r"^[a-z-]+\.[0-9a-f]{10}\.js$")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


@dataclass(frozen=True)
class Representation:
    body: bytes
    encoding: Encoding
    etag: str  # strong, quoted; differs per encoding, as the bytes do


@dataclass(frozen=True)
class Script:
    name: str  # cdp.js: the stable path is /v1/<name>
    versioned: str  # cdp.<hash>.js: the immutable path is /v1/static/<versioned>
    representations: dict[Encoding, Representation]

    @property
    def versioned_path(self) -> str:
        return f"/v1/static/{self.versioned}"

    def for_request(self, accept_encoding: str | None) -> Representation:
        return self.representations[choose_encoding(accept_encoding)]


@dataclass(frozen=True)
class Scripts:
    by_name: dict[str, Script]

    def named(self, name: str) -> Script:
        return self.by_name[name]

    def versioned(self, file: str) -> Script:
        """The script whose current version `file` names. An older version is not kept: it
        is refused, never answered with other bytes under an immutable name."""
        for script in self.by_name.values():
            if script.versioned == file:
                return script
        current = ", ".join(script.versioned_path for script in self.by_name.values())
        raise NotFoundError(
            f"no such file: only the current versions are served ({current}); "
            "the stable paths /v1/cdp.js and /v1/cdp-forms.js always hold them"
        )


@lru_cache(maxsize=1)
def built_scripts() -> Scripts:
    """The scripts of the package, read once per process (a deploy brings new ones)."""
    static = files("cdp").joinpath("static")
    try:
        manifest = TypeAdapter(dict[str, BuiltFile]).validate_json(
            static.joinpath("manifest.json").read_bytes()
        )
        scripts = {
            name: Script(
                name=name,
                versioned=entry.versioned,
                representations={
                    encoding: Representation(
                        body=static.joinpath(name + suffix).read_bytes(),
                        encoding=encoding,
                        etag=_etag(entry.sha256, encoding),
                    )
                    for encoding, suffix in _SUFFIX.items()
                },
            )
            for name, entry in manifest.items()
        }
    except FileNotFoundError:
        raise NotFoundError("the tracker is not built; run `make snippet`") from None
    return Scripts(scripts)


def _etag(sha256: str, encoding: Encoding) -> str:
    return f'"{sha256[:32]}"' if encoding == "identity" else f'"{sha256[:32]}-{encoding}"'


def choose_encoding(accept_encoding: str | None) -> Encoding:
    """The coding to answer in: the acceptable one with the highest q-value, brotli before
    gzip on a tie; the script itself when neither is acceptable (RFC 9110, 12.5.3)."""
    weights = _weights(accept_encoding or "")

    def weight(coding: str) -> float:
        aliases = (coding, "x-gzip") if coding == "gzip" else (coding,)
        given = [weights[alias] for alias in aliases if alias in weights]
        return max(given) if given else weights.get("*", 0.0)

    acceptable = [coding for coding in PREFERRED if weight(coding) > 0]
    return max(acceptable, key=weight) if acceptable else "identity"


def _weights(header: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for element in header.split(","):
        coding, *parameters = (part.strip() for part in element.split(";"))
        if not coding:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                quality = _quality(value.strip())
        weights[coding.lower()] = quality
    return weights


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value <= 1.0 else 0.0


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, as RFC 9110 13.1.2 asks)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
