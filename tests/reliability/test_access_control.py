"""Who may call what: every route tried with no key, a wrong key, a write key, a disabled key, a
rotated key past its overlap, a rotated key still in its overlap, and the secret key. Only the
intended credentials open a route, a refused request stores nothing, keys are compared in
constant time, and browsers get CORS answers only for the configured origins."""

from __future__ import annotations

import ast
import hmac
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from infra.wiring import FUNCTIONS
from tests.reliability.conftest import (
    ALLOWED_ORIGINS,
    HTTP_FUNCTIONS,
    INTERNAL_DETAIL,
    Keys,
    Stack,
    basic,
    bearer,
)
from tests.reliability.routes import (
    BY_FUNCTION,
    BY_KEY,
    OWN_CREDENTIALS,
    ROUTES,
    SAMPLES,
    Call,
    Route,
    send,
)

COLUMNS = ("none", "wrong", "write", "disabled", "expired", "expiring", "secret")
OPENS: dict[str, set[str]] = {
    "write": {"write", "expiring"},
    "secret": {"secret"},
    "public": set(COLUMNS),
    "path_key": {"write", "expiring"},
    "signature": set(),  # a key opens nothing: only the tool's signature does
    "console": set(),  # a key opens nothing: only a console user's token does
}
REFUSED_STATUS = {"path_key": 404}  # an unknown project, to analytics.js


def presented(keys: Keys, column: str) -> str | None:
    return None if column == "none" else getattr(keys, column)


def as_credential(route: Route, key: str | None, placement: str) -> Call:
    """The sample request with `key` where this route's callers put theirs."""
    call = route.sample
    if route.credential == "path_key":
        return call.with_(params={"write_key": key or "-"}, auth="none")
    if key is None:
        return call.with_(auth="none")
    if placement == "body":
        return call.with_(body={**call.body, "writeKey": key}, auth="none")
    if placement == "query":
        return call.with_(query={**call.query, "writeKey": key}, auth="none")
    if route.credential == "secret" or placement == "bearer":
        return call.with_(auth=bearer(key))
    return call.with_(auth=basic(key))


def placements(route: Route) -> list[str]:
    if route.credential != "write":
        return ["header"]
    found = ["header"]
    if isinstance(route.sample.body, dict):
        found.append("body")
    if route.template.startswith(("/v1/forms/", "/v1/preferences")):
        found.append("query")
    return found


def test_every_route_is_catalogued() -> None:
    wired = {f"{r.method} {r.path}" for spec in FUNCTIONS for r in spec.routes}
    assert wired == set(BY_KEY)
    said = set(SAMPLES) | set(OWN_CREDENTIALS)
    assert said <= wired, f"routes.py names routes infra.wiring does not have: {said - wired}"


@pytest.mark.parametrize("function", list(BY_FUNCTION))
def test_only_the_intended_credential_opens_each_route(stack: Stack, function: str) -> None:
    routes = BY_FUNCTION[function]
    # Every refusal first: they must change nothing, so every sample still works afterwards.
    for route in routes:
        for column in COLUMNS:
            if column not in OPENS[route.credential]:
                for placement in placements(route):
                    refused(stack, route, column, placement)
    for route in routes:  # the ones that delete come last
        for column in sorted(OPENS[route.credential]):
            for placement in placements(route):
                call = as_credential(route, presented(stack.keys, column), placement)
                answer = send(stack, route, call)
                assert 200 <= answer.status < 300, (
                    f"{route.key} with {column} key ({placement}): {answer.status} {answer.body!r}"
                )


def refused(stack: Stack, route: Route, column: str, placement: str) -> None:
    before = stack.counts()
    answer = send(stack, route, as_credential(route, presented(stack.keys, column), placement))
    where = f"{route.key} with {column} key ({placement})"
    assert answer.status == REFUSED_STATUS.get(route.credential, 401), (
        f"{where}: {answer.status} {answer.body!r}"
    )
    assert stack.counts() == before, f"{where} stored something"
    text = answer.body.decode()
    assert json.loads(text)["message"]
    assert not INTERNAL_DETAIL.search(text)
    for key in (stack.keys.secret, stack.keys.write, stack.keys.disabled):
        assert key not in text, f"{where}: a key is echoed"
    if answer.status == 401 and route.credential != "console":
        assert answer.headers.get("www-authenticate") == 'Basic realm="cdp"'


def test_webhooks_open_only_with_the_tools_signature(stack: Stack) -> None:
    route = BY_KEY["POST /v1/webhooks/{source}"]
    forged = {"x-mailer-signature": "sha256=" + "0" * 64}
    for column in COLUMNS:
        key = presented(stack.keys, column)
        extra = {} if key is None else bearer(key) | {"x-write-key": key}
        # a key without the signature: refused, stores nothing
        before = stack.counts()
        assert send(stack, route, route.sample.with_(auth=extra)).status == 401
        assert send(stack, route, route.sample.with_(auth=extra | forged)).status == 401
        assert stack.counts() == before
        # the signature, whatever key comes with it: accepted
        signed = route.sample.with_(headers=extra)
        assert send(stack, route, signed).status == 200


def test_a_secret_key_is_only_accepted_as_a_bearer_token(stack: Stack) -> None:
    route = BY_KEY["GET /v1/profiles/{identity}"]
    for headers in (
        basic(stack.keys.secret),
        {"authorization": stack.keys.secret},
        {"authorization": f"Token {stack.keys.secret}"},
        {"x-api-key": stack.keys.secret},
        {"authorization": f"Bearer  {stack.keys.secret}x"},
        {"authorization": "Bearer " + stack.keys.secret.upper()},
    ):
        answer = send(stack, route, route.sample.with_(auth=headers))
        assert answer.status == 401, headers
    query = route.sample.with_(auth="none", query={"secretKey": stack.keys.secret})
    assert send(stack, route, query).status == 401


def test_a_header_key_is_never_overridden_by_one_in_the_body(stack: Stack) -> None:
    """A wrong key in the Authorization header is refused even when the body carries a valid
    one: no fallback from a failed credential to another."""
    for key in ("POST /v1/track", "POST /v1/forms/{form_id}/submissions", "PUT /v1/preferences"):
        route = BY_KEY[key]
        call = route.sample.with_(
            body={**route.sample.body, "writeKey": stack.keys.write}, auth=basic(stack.keys.wrong)
        )
        assert send(stack, route, call).status == 401, key


# -- constant-time comparisons -------------------------------------------------------------

LAYER = Path(__file__).resolve().parents[2] / "layers" / "cdp"
SECRET_NAMES = ("key_hash", "signature", "digest", "secret", "token", "presented", "expected")


def test_keys_and_signatures_are_compared_in_constant_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cdp.access.keys
    import cdp.intake.verification
    import cdp.intake.webhooks

    compared: list[str] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append(inspect.stack()[1].function)
        return original(a, b)

    for module in (cdp.access.keys, cdp.intake.verification, cdp.intake.webhooks):
        monkeypatch.setattr(module.hmac, "compare_digest", spy)
    for key in ("POST /v1/track", "GET /v1/preferences", "POST /v1/webhooks/{source}"):
        route = BY_KEY[key]
        assert 200 <= send(stack, route, route.sample).status < 300
    route = BY_KEY["GET /v1/profiles/{identity}"]
    assert send(stack, route, route.sample).status == 200
    assert {"authenticate", "verified", "verify"} <= set(compared)


def _equality_on_secrets(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
        ):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            if any(secret in name.lower() for name in names for secret in SECRET_NAMES):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_key_or_signature_is_compared_with_equals() -> None:
    modules = [*LAYER.glob("*.py"), *(LAYER / "storage").glob("*.py")]
    modules += list((LAYER.parents[1] / "functions").glob("*/handler.py"))
    assert [place for path in modules for place in _equality_on_secrets(path)] == []


# -- CORS ----------------------------------------------------------------------------------

FOREIGN_ORIGINS = (
    "https://evil.example",
    "http://shop.example",  # another scheme
    "https://shop.example.evil.example",  # a suffix
    "https://evilshop.example",
    "https://shop.example:8443",
    "null",
    "https://SHOP.example",
)


def preflight(stack: Stack, path: str, origin: str, method: str = "POST") -> Any:
    return stack.request(
        "OPTIONS",
        path,
        headers={"origin": origin, "access-control-request-method": method,
                 "access-control-request-headers": "content-type,authorization"},
    )  # fmt: skip


BROWSER_ROUTES = [r for r in ROUTES if any(
    spec.browser_facing and any(f"{x.method} {x.path}" == r.key for x in spec.routes)
    for spec in HTTP_FUNCTIONS)]  # fmt: skip
OTHER_ROUTES = [r for r in ROUTES if r not in BROWSER_ROUTES]


def concrete_path(route: Route) -> str:
    path = route.template
    for name, value in {"write_key": "wk_x", **route.sample.params}.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_browsers_of_configured_origins_get_cors_answers(stack: Stack) -> None:
    for origin, route in [(o, r) for o in ALLOWED_ORIGINS for r in BROWSER_ROUTES]:
        answer = preflight(stack, concrete_path(route), origin, route.method)
        assert answer.status in (200, 204), route.key
        assert answer.headers.get("access-control-allow-origin") == origin, route.key
        assert answer.headers.get("access-control-allow-credentials") != "true"
        sent = send(stack, route, route.sample.with_(headers={"origin": origin}))
        assert sent.headers.get("access-control-allow-origin") == origin, route.key


def test_other_origins_get_no_cors_answers(stack: Stack) -> None:
    for origin, route in [(o, r) for o in FOREIGN_ORIGINS for r in BROWSER_ROUTES]:
        answer = preflight(stack, concrete_path(route), origin, route.method)
        assert "access-control-allow-origin" not in answer.headers, (route.key, origin)
        sent = send(stack, route, route.sample.with_(headers={"origin": origin}))
        assert "access-control-allow-origin" not in sent.headers, (route.key, origin)


def test_server_apis_answer_no_cors_at_all(stack: Stack) -> None:
    """The Profile, privacy and admin APIs and inbound webhooks are for servers: no browser
    may call them, whichever origin it claims."""
    for route in OTHER_ROUTES:
        for origin in (*ALLOWED_ORIGINS, "https://evil.example"):
            answer = preflight(stack, concrete_path(route), origin, route.method)
            assert answer.status == 404, route.key
            assert "access-control-allow-origin" not in answer.headers
            if route.method == "GET":
                sent = send(stack, route, route.sample.with_(headers={"origin": origin}))
                assert "access-control-allow-origin" not in sent.headers, route.key


@pytest.mark.parametrize(
    "route", [route for route in ROUTES if route.credential == "console"], ids=lambda r: r.key
)
def test_the_consoles_api_opens_with_a_console_users_token(stack: Stack, route: Route) -> None:
    answer = send(stack, route, route.sample)

    assert 200 <= answer.status < 300, f"{route.key}: {answer.status} {answer.body!r}"
