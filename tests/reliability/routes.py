"""Every public route with the credential it needs and one request it accepts.

The kind of credential per route comes from the code: the collector's message routes and the
browser routes (forms, preferences) authenticate a write key; the Profile, privacy and admin
APIs sit behind `require_secret_key`; the console's API behind the JWT authorizer (a console
user's token: `console`); inbound webhooks are authenticated by the e-mail tool's
signature; the tracker scripts, the OpenAPI document and analytics.js's delivery metrics are
public, and the analytics.js settings carry the write key in their path.
The routes themselves are `infra.wiring`'s; `test_every_route_is_catalogued` checks that what
is said here of a route names a route there.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from cdp.access.roles import CONSOLE_API
from cdp.console.page import built
from cdp.intake.assets import built_scripts
from cdp.runtime.errors import NotFoundError
from functions.collector.handler import MESSAGE_KINDS
from infra.wiring import COLLECTOR, FUNCTIONS
from tests.reliability.conftest import (
    DESTINATION,
    OLD_DESTINATION,
    OLD_DESTINATION_2,
    OLD_SEGMENT,
    OLD_SEGMENT_2,
    PERSON,
    SURVEY,
    SURVEY_2,
    THROWAWAY_PERSON,
    THROWAWAY_PERSON_2,
    UNMERGED_PERSON,
    VIEWS,
    Answer,
    Stack,
    basic,
    bearer,
    signature_of,
)

Credential = Literal["write", "secret", "public", "path_key", "signature", "console"]


@dataclass(frozen=True)
class Raw:
    """A body sent exactly as these bytes (not JSON-encoded by the test)."""

    data: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    """A request, before the route's credential is applied. `auth` is `valid` (the route's
    own credential), `none`, or headers to send instead."""

    method: str
    template: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: Literal["valid", "none"] | dict[str, str] = "valid"
    gzip: bool = False
    encode_params: bool = True

    @property
    def route(self) -> str:
        return f"{self.method} {self.template}"

    def with_(self, **changes: Any) -> Call:
        return replace(self, **changes)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    credential: Credential
    sample: Call
    function: str  # the name of the function that answers it (`infra.wiring`)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def destructive(self) -> bool:
        return self.method == "DELETE" or self.template.endswith(("/disable", "/unmerge"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def message(kind: str | None = None) -> dict[str, Any]:
    """One message every route of the collector accepts (each type finds what it needs)."""
    body: dict[str, Any] = {
        "userId": "user-42",
        "anonymousId": "anon-42",
        "messageId": "msg-0001",
        "event": "Order Completed",
        "name": "Home",
        "groupId": "group-1",
        "previousId": "anon-41",
        "properties": {"revenue": 19.99, "currency": "EUR", "tags": ["a", "b"]},
        "traits": {"email": "user42@example.com", "plan": "pro"},
        "context": {"ip": "192.0.2.7", "library": {"name": "tests", "version": "1"}},
        "timestamp": now_iso(),
        "sentAt": now_iso(),
    }
    if kind:
        body["type"] = kind
    return body


def _message_samples() -> dict[str, dict[str, Any]]:
    """A body for each of the collector's message routes (`MESSAGE_KINDS`; a path with a
    trailing slash is routed to a greedy path, see infra.wiring)."""
    samples = {}
    for route in COLLECTOR.routes:
        kind = MESSAGE_KINDS.get(route.path.removesuffix("{proxy+}"))
        if route.method == "POST" and kind:
            body = (
                {"batch": [message("track"), {**message("identify"), "messageId": "msg-0002"}],
                 "sentAt": now_iso(), "context": {"locale": "nl-NL"}}
                if kind == "batch" else message()
            )  # fmt: skip
            samples[f"POST {route.path}"] = {"body": body}
    return samples


IDENTITY = {"identity": f"user_id:{PERSON['userId']}"}
COMPUTED = {"id": "newsletter_signups", "type": "count", "event": "Newsletter Subscribed",
            "windows": [30]}  # fmt: skip
SEGMENT_CHANGE = {"id": "parents", "name": "Parents of two", "condition": {"all": [
    {"trait": "children", "gte": 2}, {"profile": "last_seen", "within": 90}]}}  # fmt: skip
FORM_CHANGE = {"id": "household", "name": "Household", "fields": [
    {"trait": "children", "label": "Children?", "type": "number", "purpose": "family offers"},
    {"trait": "pets", "label": "Pets?", "type": "boolean", "purpose": "pet food offers"},
]}  # fmt: skip
WEBHOOK_CHANGE = {"source": "newsletter", "format": "generic", "secret": "another-secret-of-length",
                  "signature_header": "X-Mailer-Signature"}  # fmt: skip
MAILER_EVENTS = [
    {"email": PERSON["email"], "event": "opened", "timestamp": "2026-11-20T09:00:00Z", "id": "e1"},
    {"email": "Bob@Example.com", "event": "clicked", "timestamp": 1795424400, "id": "e2"},
]

# The credential of each function's routes, and of the routes that take another.
CREDENTIALS: dict[str, Credential] = {
    "collector": "write", "profile_api": "secret", "admin_api": "secret",
    "forms_api": "write", "webhooks": "signature", "privacy_api": "secret",
    "console": "console",
}  # fmt: skip
OWN_CREDENTIALS: dict[str, Credential] = {
    "POST /v1/m": "public",
    "GET /v1/projects/{write_key}/settings": "path_key",
    "GET /v1/cdp.js": "public",
    "GET /v1/cdp-forms.js": "public",
    "GET /v1/static/{file}": "public",
    "GET /v1/openapi.json": "public",
    # the console's page, its files and where to sign in
    "GET /console/api/config": "public",
    "GET /console/assets/{file}": "public",
    "GET /console": "public",
    "GET /console/{proxy+}": "public",
}


def _console_script() -> str:
    """The console's built script (`make console`), or a name that is none."""
    try:
        return built().script
    except NotFoundError:
        return "app.0000000000.js"


def _samples() -> dict[str, dict[str, Any]]:
    """Parameters, query and body of one request each route accepts, by route; a route not
    named here is sent with none (`{proxy+}` empty)."""
    signed = {"userId": PERSON["userId"], "signature": signature_of(PERSON["userId"])}
    return {
        **_message_samples(),
        "POST /v1/m": {"body": {"series": [
            {"type": "Counter", "metric": "analytics_js.invoke", "value": 1, "tags": {}}]}},
        "GET /sourceConfig": {"query": {"p": "ios"}},
        "GET /sourceConfig/{proxy+}": {"query": {"p": "npm", "v": "3.34.1"}},
        "GET /v1/static/{file}": {"params": {"file": built_scripts().named("cdp.js").versioned}},
        # Profile API
        "GET /v1/profiles/{identity}": {"params": IDENTITY},
        "GET /v1/profiles/{identity}/events": {"params": IDENTITY, "query": {"limit": "5"}},
        "GET /v1/profiles/{identity}/segments/{segment_id}/explain": {
            "params": {**IDENTITY, "segment_id": "parents"}},
        # Admin API
        "GET /v1/computed-traits/{trait_id}": {"params": {"trait_id": "page_views"}},
        "PUT /v1/computed-traits/{trait_id}": {"params": {"trait_id": COMPUTED["id"]},
                                               "body": COMPUTED},
        "DELETE /v1/computed-traits/{trait_id}": {"params": {"trait_id": "page_views"}},
        "POST /v1/computed-traits/{trait_id}/backfill": {"params": {"trait_id": VIEWS["id"]}},
        "GET /v1/computed-traits/{trait_id}/backfill": {"params": {"trait_id": VIEWS["id"]}},
        "GET /v1/segments/{segment_id}": {"params": {"segment_id": "parents"}},
        "PUT /v1/segments/{segment_id}": {"params": {"segment_id": "parents"},
                                          "body": SEGMENT_CHANGE},
        "DELETE /v1/segments/{segment_id}": {"params": {"segment_id": OLD_SEGMENT["id"]}},
        "GET /v1/segments/{segment_id}/members": {"params": {"segment_id": "parents"},
                                                  "query": {"limit": "10"}},
        "GET /v1/segments/{segment_id}/members.csv": {
            "params": {"segment_id": "parents"},
            "query": {"limit": "10", "identifiers": "email,user_id"}},
        "GET /v1/segments/{segment_id}/changes": {"params": {"segment_id": "parents"},
                                                  "query": {"days": "7"}},
        "POST /v1/segments/preview": {"body": SEGMENT_CHANGE},
        "GET /v1/forms/{form_id}": {"params": {"form_id": "household"}},
        "PUT /v1/forms/{form_id}": {"params": {"form_id": "household"}, "body": FORM_CHANGE},
        "DELETE /v1/forms/{form_id}": {"params": {"form_id": SURVEY["id"]}},
        "POST /v1/sources": {"body": {"name": "shop-app", "kind": "app",
                                      "description": "the iOS app"}},
        "GET /v1/sources/{name}": {"params": {"name": "shop-web"}},
        "POST /v1/sources/{name}/rotate": {"params": {"name": "shop-web"},
                                           "body": {"overlap_hours": 1}},
        "POST /v1/sources/{name}/keys": {"params": {"name": "shop-web"},
                                         "body": {"expires_hours": 2}},
        "POST /v1/sources/{name}/disable": {"params": {"name": "spare"}},
        # a source of its own: the samples of rotate and keys add keys to shop-web, all watched
        "POST /v1/sources/{name}/watch": {"params": {"name": "watched"}, "body": {"minutes": 5}},
        "GET /v1/sources/{name}/live": {"params": {"name": "watched"}},
        "PUT /v1/webhooks/{source}": {"params": {"source": "newsletter"}, "body": WEBHOOK_CHANGE},
        "DELETE /v1/webhooks/{source}": {"params": {"source": "newsletter"}},
        "GET /v1/destinations/{destination_id}": {"params": {"destination_id": "crm"}},
        "PUT /v1/destinations/{destination_id}": {"params": {"destination_id": "crm"},
            "body": {**DESTINATION, "name": "Our CRM", "secret": "a-new-secret-value"}},
        "DELETE /v1/destinations/{destination_id}": {
            "params": {"destination_id": OLD_DESTINATION["id"]}},
        "POST /v1/destinations/{destination_id}/resync": {
            "params": {"destination_id": "crm"}, "body": {}},
        "GET /v1/destinations/{destination_id}/deliveries": {
            "params": {"destination_id": "crm"}, "query": {"days": "30"}},
        # Forms and the preference center (browsers, write key)
        "GET /v1/forms/{form_id}/next": {"params": {"form_id": "household"},
                                         "query": {"anonymousId": "anon-visitor-1", "limit": "2"}},
        "POST /v1/forms/{form_id}/submissions": {"params": {"form_id": "household"}, "body": {
            "anonymousId": "anon-visitor-1", "answers": {"children": 3, "home": "rent"},
            "consent": {"marketing": True}, "submissionId": "submission-0001",
            "timestamp": now_iso(), "answered": ["children"]}},
        "GET /v1/preferences": {"query": signed},
        "PUT /v1/preferences": {"body": {
            **signed, "consent": {"marketing": False}, "preferences": {"home": "own"},
            "submissionId": "preferences-0001", "consentVersion": "2026-11"}},
        # Inbound webhooks (signed by the e-mail tool)
        "POST /v1/webhooks/{source}": {"params": {"source": "mailer"}, "body": MAILER_EVENTS},
        # The console (a console user's token)
        "GET /console/api/search": {"query": {"q": PERSON["email"]}},
        "GET /console/api/profiles/{identity}": {"params": IDENTITY, "query": {"reason": "test"}},
        "GET /console/api/profiles/{identity}/events": {"params": IDENTITY,
                                                         "query": {"limit": "5"}},
        "GET /console/assets/{file}": {"params": {"file": _console_script()}},
        "GET /console/{proxy+}": {"params": {"proxy+": "profiles"}},
        # Rights of the person
        "GET /v1/profiles/{identity}/export": {"params": IDENTITY},
        "POST /v1/profiles/{identity}/unmerge": {
            "params": {"identity": f"user_id:{UNMERGED_PERSON['userId']}"},
            "body": {"identities": [f"anonymous_id:{UNMERGED_PERSON['anonymousId']}"]}},
        "DELETE /v1/profiles/{identity}": {
            "params": {"identity": f"user_id:{THROWAWAY_PERSON['userId']}"}},
    }  # fmt: skip


def _console_copies(samples: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The sample of each route's copy under the console's API: the route's own, but what the
    copy deletes or creates is its own thing, so that both samples work."""
    own = {
        "DELETE /segments/{segment_id}": {"params": {"segment_id": OLD_SEGMENT_2["id"]}},
        "DELETE /forms/{form_id}": {"params": {"form_id": SURVEY_2["id"]}},
        "POST /sources": {"body": {"name": "shop-app-2", "kind": "app"}},
        "POST /sources/{name}/disable": {"params": {"name": "spare-2"}},
        "DELETE /webhooks/{source}": {"params": {"source": "newsletter-2"}},
        "DELETE /destinations/{destination_id}": {
            "params": {"destination_id": OLD_DESTINATION_2["id"]}},
        "DELETE /profiles/{identity}": {
            "params": {"identity": f"user_id:{THROWAWAY_PERSON_2['userId']}"}},
        "GET /profiles/{identity}/export": {"params": IDENTITY, "query": {"reason": "asked"}},
    }  # fmt: skip
    copies = {}
    for spec in FUNCTIONS:
        for route in spec.routes:
            if route.signed_in and route.path.startswith(CONSOLE_API):
                tail = route.path.removeprefix(CONSOLE_API)
                original = samples.get(f"{route.method} /v1{tail}", {})
                copies[f"{route.method} {route.path}"] = own.get(f"{route.method} {tail}", original)
    return copies


SAMPLES = _samples()
SAMPLES |= {key: sample for key, sample in _console_copies(SAMPLES).items() if key not in SAMPLES}


def _catalogue() -> list[Route]:
    """Every route of `infra.wiring`, with its credential and sample request."""
    routes = []
    for spec in FUNCTIONS:
        for wired in spec.routes:
            key = f"{wired.method} {wired.path}"
            fields = {"params": {"proxy+": ""}} if "{proxy+}" in wired.path else {}
            sample = Call(wired.method, wired.path, **(fields | SAMPLES.get(key, {})))
            credential = (
                "console" if wired.signed_in else OWN_CREDENTIALS.get(key, CREDENTIALS[spec.name])
            )
            routes.append(Route(wired.method, wired.path, credential, sample, spec.name))
    return routes


ROUTES: tuple[Route, ...] = tuple(_catalogue())
BY_KEY: dict[str, Route] = {route.key: route for route in ROUTES}
BY_FUNCTION: dict[str, tuple[Route, ...]] = {
    name: tuple(sorted((r for r in ROUTES if r.function == name), key=lambda r: r.destructive))
    for name in dict.fromkeys(route.function for route in ROUTES)
}
"""Routes per function, the ones that delete or disable last."""


def body_bytes(body: Any) -> tuple[bytes | None, str | None]:
    if body is None:
        return None, None
    if isinstance(body, Raw):
        return body.data, body.content_type
    return json.dumps(body).encode(), "application/json"


def credential_headers(
    stack: Stack, route: Route, call: Call, plain_body: bytes | None
) -> dict[str, str]:
    if call.auth == "none":
        return {}
    if isinstance(call.auth, dict):
        return dict(call.auth)
    if route.credential == "signature":
        return stack.webhook_headers(plain_body or b"")
    valid = {
        "write": lambda: basic(stack.keys.write),
        "secret": lambda: bearer(stack.keys.secret),
        "console": lambda: bearer(stack.console_token),
    }
    return valid[route.credential]() if route.credential in valid else {}


def send(stack: Stack, route: Route, call: Call) -> Answer:
    """Send `call` to `route` with the route's credential (unless the call says otherwise)."""
    params = dict(call.params)
    if route.credential == "path_key" and "write_key" not in params:
        params["write_key"] = stack.keys.write if call.auth == "valid" else "wk_nobody"
    path = call.template
    for name, value in params.items():
        # A client percent-encodes what a URL cannot hold (lone surrogates as their bytes).
        encoded = quote(value.encode("utf-8", "surrogatepass"), safe=":@")
        path = path.replace("{" + name + "}", encoded if call.encode_params else value)
    data, content_type = body_bytes(call.body)
    headers = {**({"content-type": content_type} if content_type else {})}
    headers |= credential_headers(stack, route, call, data)
    if call.gzip and data is not None:
        data = gzip.compress(data)
        headers["content-encoding"] = "gzip"
    headers |= call.headers
    return stack.request(call.method, path, body=data, headers=headers, query=call.query)
