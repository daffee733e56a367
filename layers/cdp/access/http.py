"""The secret key at the HTTP edge: what the Profile, Admin and Privacy APIs ask of every
request, as Powertools middleware."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cdp.access.keys import ApiKey, authenticate
from cdp.runtime.web import bearer_token

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware


def require_secret_key(
    find_key: Callable[[str], ApiKey | None],
    clock: Callable[[], datetime],
    public_paths: frozenset[str] = frozenset(),
) -> Callable[[ApiGatewayResolver, NextMiddleware], Response[Any]]:
    """Powertools middleware: every route but `public_paths` needs the secret key as a
    Bearer token. A write key, which web pages carry, never opens these routes."""

    def middleware(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        if app.current_event.path not in public_paths:
            token = bearer_token(app.current_event.headers.get("authorization"))
            authenticate(token, "secret", find_key, clock().timestamp())
        return next_middleware(app)

    return middleware
