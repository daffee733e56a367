"""Who may call the Profile, Admin and Privacy APIs, at the HTTP edge, as Powertools middleware:
servers with the secret key under /v1, and people signed in to the console, by their role,
under /console/api (the console's copy of the Admin API and of export and erasure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from cdp.access.keys import ApiKey, authenticate
from cdp.access.roles import CONSOLE_API, ability_for, user_of
from cdp.runtime.web import bearer_token

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request, as the audit log names them: a console user, or a server by the
    source its secret key belongs to (never the key)."""

    name: str
    id: str
    # A server with the secret key, or a console user whose role may see people's data whole
    # (`view_personal_data`); others are shown identifiers masked.
    sees_personal_data: bool


def caller(app: BaseRouter) -> Caller:
    """The caller the middleware found for the current request."""
    found: Caller = app.context["caller"]
    return found


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
            key = authenticate(token, "secret", find_key, clock().timestamp())
            app.context["caller"] = Caller(
                f"secret key of {key.source}", key.key_hash[:16], sees_personal_data=True
            )
        return next_middleware(app)

    return middleware


def require_secret_key_or_role(
    find_key: Callable[[str], ApiKey | None], clock: Callable[[], datetime]
) -> Callable[[ApiGatewayResolver, NextMiddleware], Response[Any]]:
    """Powertools middleware: routes under CONSOLE_API need a console user whose role holds
    what the route asks (`ability_for`; API Gateway's JWT authorizer has checked the token and
    passes its claims on); every other route needs the secret key."""
    with_key = require_secret_key(find_key, clock)

    def middleware(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event
        if not event.path.startswith(CONSOLE_API + "/"):
            return with_key(app, next_middleware)
        assert isinstance(event, APIGatewayProxyEventV2)  # an HTTP API's
        user = user_of(event.request_context.authorizer.jwt_claim)
        user.require(ability_for(event.http_method, event.path))
        app.context["caller"] = Caller(
            user.name, user.subject, sees_personal_data=user.can("view_personal_data")
        )
        return next_middleware(app)

    return middleware
