"""Profile API: other systems look people up by any of their identifiers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from cdp import __version__
from cdp.access.http import require_secret_key
from cdp.profiles.computed import load_definitions
from cdp.profiles.identity import identity_key, parse_identity
from cdp.profiles.profile import Profile, facts_of, profile_view
from cdp.profiles.timeline import MAX_PAGE, HotWindow, MessageType, read_page
from cdp.profiles.wire import EventsPage, OlderEvents, ProfileOut
from cdp.runtime.clock import utc_now
from cdp.runtime.errors import InvalidRequestError, NotFoundError
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.profile_api import ProfileApiSettings
from cdp.runtime.web import (
    register_error_handlers,
    secret_key_openapi,
    strict_json,
)
from cdp.segments.conditions import evaluate, explain_membership
from cdp.segments.definitions import in_force
from cdp.storage import clients
from cdp.storage.config import BackfillProgress, ConfigStore
from cdp.storage.events import EventReader
from cdp.storage.keys import KeyStore
from cdp.storage.profiles import ProfileReader

logger, tracer, metrics = powertools("profile_api")

OPENAPI_PATH = "/v1/openapi.json"
IDENTITY_HELP = (
    "type:value, URL-encoded: user_id:42, anonymous_id:abc, email:ada%40example.com, "
    "or an external id such as ga_client_id:123"
)


def create_app(
    *,
    profiles: ProfileReader,
    events: EventReader,
    keys: KeyStore,
    config: ConfigStore,
    hot_window: HotWindow | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    """`hot_window`: how long the events table keeps events, against the retention; none
    when it keeps them all for the whole retention."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
    register_error_handlers(app, logger, metrics)
    app.use(
        middlewares=[require_secret_key(keys.find, clock, public_paths=frozenset({OPENAPI_PATH}))]
    )
    progress = BackfillProgress(config.table, client=config.client)

    def find(identity: str) -> Profile:
        parsed = parse_identity(unquote(identity))
        if parsed is None:
            raise InvalidRequestError(f"identity: use {IDENTITY_HELP}")
        profile = profiles.find(identity_key(*parsed))
        if profile is None:
            raise NotFoundError(f"no profile has the identity {parsed[0]}:{parsed[1]}")
        return profile

    @app.get(
        "/v1/profiles/<identity>",
        summary="A merged profile, found by any of its identities",
        tags=["Profiles"],
    )
    def get_profile(identity: Annotated[str, Path(description=IDENTITY_HELP)]) -> ProfileOut:
        profile = find(identity)
        definitions = load_definitions(config.definitions("computed_trait"))
        return ProfileOut.model_validate(profile_view(profile, definitions, clock()))

    @app.get(
        "/v1/profiles/<identity>/events",
        summary="The person's timeline across all merged identities, newest first",
        tags=["Profiles"],
    )
    def get_events(
        identity: Annotated[str, Path(description=IDENTITY_HELP)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
        cursor: Annotated[str | None, Query(max_length=8192)] = None,
        kind: Annotated[
            MessageType | None, Query(alias="type", description="only events of this type")
        ] = None,
    ) -> EventsPage:
        profile = find(identity)
        page = read_page(
            list(profile.identities),
            events.positions,
            limit=limit,
            cursor=cursor,
            kind=kind,
            bodies=events.bodies,
        )
        older = hot_window and hot_window.older_events(list(profile.identities), clock())
        return EventsPage(
            events=page.events,
            cursor=page.cursor,
            older_events=OlderEvents.model_validate(older) if older else None,
        )

    @app.get(
        "/v1/profiles/<identity>/segments/<segment_id>/explain",
        summary="Why a person is or is not in a segment: each condition, the actual value",
        tags=["Profiles", "Segments"],
    )
    def explain_segment(
        identity: Annotated[str, Path(description=IDENTITY_HELP)],
        segment_id: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")],
    ) -> dict[str, Any]:
        profile = find(identity)
        definitions = in_force(config)
        if segment_id not in {segment.id for segment in definitions.segments}:
            raise NotFoundError(f"no segment is called {segment_id}")
        now = clock()
        facts = facts_of(profile, definitions.computed, now)
        evaluate(definitions.segments, facts)
        segment = next(s for s in definitions.segments if s.id == segment_id)
        return explain_membership(segment, facts, profile, progress.get(segment_id), now=now)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> Response[Any]:
        schema = secret_key_openapi(
            app,
            title="CDP Profile API",
            version=__version__,
            description="Look up merged customer profiles. Authenticate with the secret key: "
            "`Authorization: Bearer <secret key>`.",
        )
        return Response(status_code=200, content_type="application/json", body=schema)

    return app


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = ProfileApiSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        profiles=ProfileReader(settings.profiles_table, settings.identities_table, client=client),
        events=EventReader(settings.events_table, client=client),
        keys=KeyStore(settings.keys_table, client=client),
        config=ConfigStore(settings.config_table, client=client, consistent=False),
        hot_window=HotWindow(settings.event_hot_days, settings.event_retention_days),
    )


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
