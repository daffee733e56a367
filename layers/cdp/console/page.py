"""The console's page: one HTML shell for every view (each view's URL is the page's own, so it
can be shared), its built script, the chunks the script imports when a view needs them, and its
stylesheet (`console/build.mjs` writes them into `cdp/static/console/` under content-hash names,
with `manifest.json` last), and the headers every answer of the console carries."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from cdp.runtime.errors import NotFoundError

ASSETS = "/console/assets/"
# The page's views, by path (Powertools' syntax): each is the shell; any other path is a 404.
VIEWS = (
    "/console",
    "/console/callback",
    "/console/profiles",
    "/console/profiles/<identity>",
    "/console/audit",
    "/console/segments",
    "/console/segments/<segment_id>",
    "/console/forms",
    "/console/forms/<form_id>",
    "/console/sources",
    "/console/live",
    "/console/live/<source>",
)
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class Built:
    script: str  # app.<hash>.js
    style: str  # app.<hash>.css
    preload: tuple[str, ...]  # the chunks the script imports at once (app-chunk.<hash>.js)
    assets: dict[str, Asset]  # these and the chunks of the views loaded when opened

    def asset(self, name: str) -> Asset:
        """A built file by its content-hash name; an older one is not kept."""
        if name not in self.assets:
            raise NotFoundError(f"no such file: the console's files are {', '.join(self.assets)}")
        return self.assets[name]

    def shell(self) -> str:
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>CDP console</title>"
            f'<link rel="stylesheet" href="{ASSETS}{html.escape(self.style)}">'
            f'<script type="module" src="{ASSETS}{html.escape(self.script)}"></script>'
            + "".join(
                f'<link rel="modulepreload" href="{ASSETS}{html.escape(name)}">'
                for name in self.preload
            )
            + '</head><body><div id="app"></div>'
            "<noscript><p>The console needs JavaScript.</p></noscript></body></html>"
        )


@lru_cache(maxsize=1)
def built() -> Built:
    """The built files of this deployment, read once per process."""
    static = files("cdp").joinpath("static", "console")
    try:
        manifest = json.loads(static.joinpath("manifest.json").read_bytes())
        assets = {}
        for name in (manifest["script"], manifest["style"], *manifest.get("chunks", ())):
            body = static.joinpath(name).read_bytes()
            suffix = name[name.rindex(".") :]
            etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            assets[name] = Asset(body=body, content_type=_TYPES[suffix], etag=etag)
    except FileNotFoundError:
        raise NotFoundError("the console is not built; run `make console`") from None
    return Built(
        script=manifest["script"],
        style=manifest["style"],
        preload=tuple(manifest.get("preload", ())),
        assets=assets,
    )


def security_headers(sign_in_origin: str, *, https: bool) -> dict[str, str]:
    """What every console answer carries: scripts and styles from this origin only, nothing
    inline, no framing, and (over HTTPS) HSTS. The sign-in origin is the Hosted UI's."""
    policy = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {sign_in_origin}",
            f"form-action 'self' {sign_in_origin}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers
