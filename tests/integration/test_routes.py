"""Every route a handler registers with Powertools is a route `infra.wiring` gives it in API
Gateway, and the other way round: a route in one only is a 404 nobody meant."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from infra.wiring import FUNCTIONS, FunctionSpec

HTTP_FUNCTIONS = [spec for spec in FUNCTIONS if spec.routes]


def as_registered(path: str) -> str:
    """A route of `infra.wiring` as a handler registers it with Powertools: `{name}` is
    `<name>`; a greedy `{proxy+}` is wired only for the path with a trailing slash (an API
    Gateway route cannot end in one), which is what the handler registers."""
    return re.sub(r"\{(\w+)\}", r"<\1>", path.removesuffix("{proxy+}"))


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=lambda spec: spec.name)
def test_handler_routes_are_the_wired_routes(
    spec: FunctionSpec,
    table_names: dict[str, str],
    queues: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGN_IN_URL", "https://sign-in.shop.example")  # the console's
    monkeypatch.setenv("CONSOLE_CLIENT_ID", "page")
    # given the handler's app, made as its first invocation makes it
    module: Any = importlib.import_module(spec.handler.rpartition(".")[0])
    module._app.cache_clear()
    try:
        app = module._app()
        # when its routes are read
        registered = {
            f"{route.method} {route.path}" for route in (*app._static_routes, *app._dynamic_routes)
        }
    finally:
        module._app.cache_clear()
    # then they are the wired ones; under the console page's greedy path the handler
    # registers the page's views instead
    wired = {f"{route.method} {as_registered(route.path)}" for route in spec.routes}
    page = {f"GET {as_registered(r.path)}" for r in spec.routes if r.path == "/console/{proxy+}"}
    views = {route for route in registered - wired if route.startswith(tuple(page))}
    assert registered - views == wired - page
    assert bool(views) == bool(page)
