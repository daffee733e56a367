"""The console: its page and the page's API (profile search, the 360-degree profile and its
timeline, the audit log).

The page, its files and its sign-in configuration are public; every API route is behind API
Gateway's JWT authorizer (Cognito; locally `cdp dev` plays it): the function reads who is
signed in from the token's claims and answers as their role allows. Viewers see people masked;
an editor's or admin's view of a person is written to the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from botocore.exceptions import ClientError

from cdp.access.roles import ConsoleUser, user_of
from cdp.console.audit import Action, AuditEntry, reason_given
from cdp.console.mask import masked_event, masked_sheet
from cdp.console.overview import METRICS, MINUTES, SAMPLE, arrival_figures, profile_figures
from cdp.console.page import VIEWS, built, security_headers
from cdp.console.search import MAX_QUERY, candidates, search_result
from cdp.console.sheet import profile_sheet
from cdp.profiles.identity import identity_key, parse_identity
from cdp.profiles.profile import Profile
from cdp.profiles.timeline import MAX_PAGE, read_page
from cdp.runtime.clock import iso, utc_now
from cdp.runtime.errors import InvalidRequestError, NotFoundError
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.console import ConsoleSettings
from cdp.runtime.web import json_response, register_error_handlers
from cdp.segments.definitions import in_force
from cdp.storage import clients
from cdp.storage.audit import AuditLog
from cdp.storage.config import ConfigStore
from cdp.storage.events import EventReader
from cdp.storage.metrics import MetricsReader
from cdp.storage.profiles import ProfileReader, Sample, sample_profiles

logger, tracer, metrics = powertools("console")

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
IDENTITY_HELP = "type:value, such as email:ada@example.com or user_id:42"


def create_app(
    settings: ConsoleSettings,
    *,
    profiles: ProfileReader,
    events: EventReader,
    config: ConfigStore,
    audit: AuditLog,
    measures: MetricsReader,
    sample_profiles: Callable[[int], Sample],
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    _secure(app, settings)
    _overview_route(app, settings, measures=measures, sample_profiles=sample_profiles, clock=clock)

    def signed_in() -> ConsoleUser:
        return user_of(app.current_event.request_context.authorizer.jwt_claim)

    def query(name: str) -> str | None:
        return app.current_event.get_query_string_value(name)

    def find(identity: str) -> tuple[str, Profile]:
        parsed = parse_identity(unquote(identity))
        if parsed is None:
            raise InvalidRequestError(f"identity: use {IDENTITY_HELP}")
        profile = profiles.find(identity_key(*parsed))
        if profile is None:
            raise NotFoundError(f"nobody has the identity {parsed[0]}:{parsed[1]}")
        return parsed[0], profile

    def viewed(user: ConsoleUser, asked_for: str, profile: Profile, action: Action) -> bool:
        """Whether the person is shown whole (and the view audited) or masked."""
        if not user.can("view_personal_data"):
            return False
        audit.record(
            AuditEntry(
                at=iso(clock()),
                actor=user.name,
                actor_id=user.subject,
                action=action,
                profile_id=profile.profile_id,
                asked_for=asked_for,
                reason=reason_given(query("reason")),
            )
        )
        return True

    @app.get("/console/api/session")
    def session() -> Response[Any]:
        user = signed_in()
        return json_response(
            200,
            {
                "name": user.name,
                "role": user.role,
                "abilities": list(user.abilities),
                "purposes": list(settings.purposes),  # what forms and segments may ask for
            },
        )

    @app.get("/console/api/search")
    def search() -> Response[Any]:
        user = signed_in()
        user.require("search")
        text = query("q") or ""
        if len(text) > MAX_QUERY:
            raise InvalidRequestError(f"q: at most {MAX_QUERY} characters")
        found: dict[str, Profile] = {}
        for key in candidates(text):
            profile = profiles.find(key)
            if profile is not None:
                found.setdefault(profile.profile_id, profile)
        whole = user.can("view_personal_data")
        if whole:  # the matches show identifiers whole: each is a view of that person
            for profile in found.values():
                viewed(user, "search", profile, "search")
        results = [search_result(profile, whole=whole) for profile in found.values()]
        return json_response(200, {"matches": results})

    @app.get("/console/api/profiles/<identity>")
    def profile_view(identity: str) -> Response[Any]:
        user = signed_in()
        asked_for, profile = find(identity)
        definitions = in_force(config)
        sheet = profile_sheet(
            profile,
            definitions=definitions.computed,
            segments=definitions.segments,
            now=clock(),
        )
        whole = viewed(user, asked_for, profile, "view_profile")
        shown = sheet if whole else masked_sheet(sheet)
        return json_response(200, {"masked": not whole, "profile": shown})

    @app.get("/console/api/profiles/<identity>/events")
    def timeline(identity: str) -> Response[Any]:
        user = signed_in()
        asked_for, profile = find(identity)
        page = read_page(
            list(profile.identities),
            events.positions,
            limit=_limit(query("limit")),
            cursor=query("cursor"),
            kind=query("type"),
            bodies=events.bodies,
        )
        # Every page seen whole is written down: a cursor is the caller's to make up, so
        # leaving out the later pages would let a view go unrecorded.
        whole = viewed(user, asked_for, profile, "view_events")
        shown = page.events if whole else [masked_event(event) for event in page.events]
        return json_response(200, {"masked": not whole, "events": shown, "cursor": page.cursor})

    _audit_route(app, audit)
    _page_routes(app, settings)
    return app


def _audit_route(app: APIGatewayHttpResolver, audit: AuditLog) -> None:
    @app.get("/console/api/audit")
    def audit_log() -> Response[Any]:
        event = app.current_event
        user_of(event.request_context.authorizer.jwt_claim).require("read_audit")
        limit, cursor = (
            event.get_query_string_value("limit"),
            event.get_query_string_value("cursor"),
        )
        entries, after = audit.page(limit=_limit(limit), cursor=cursor)
        return json_response(200, {"entries": [e.to_json() for e in entries], "cursor": after})


def _overview_route(
    app: APIGatewayHttpResolver,
    settings: ConsoleSettings,
    *,
    measures: MetricsReader,
    sample_profiles: Callable[[int], Sample],
    clock: Callable[[], datetime],
) -> None:
    @app.get("/console/api/overview")
    def overview() -> Response[Any]:
        """What arrives per minute and what became of it, the last hour and day; what the
        profiles are like. Every role: none of it is about one person."""
        user_of(app.current_event.request_context.authorizer.jwt_claim).require("read_config")
        now = clock()
        try:
            minutes = measures.per_period(METRICS, now=now, periods=MINUTES, period=MINUTE)
            hours = measures.per_period(METRICS, now=now, periods=24, period=HOUR)
            events = arrival_figures(minutes, hours)
        except ClientError as error:
            logger.warning("metrics not read", error=error.response["Error"]["Code"])
            events = None
        sample = sample_profiles(SAMPLE)
        profiles = profile_figures(
            sample.profiles, total=sample.total, complete=sample.complete,
            purposes=settings.purposes, now_iso=iso(now),
        )  # fmt: skip
        return json_response(200, {"at": iso(now), "events": events, "profiles": profiles})


def _secure(app: APIGatewayHttpResolver, settings: ConsoleSettings) -> None:
    """The console's security headers on every answer: the routes' through a middleware,
    refusals (which Powertools builds apart from the middleware) through the error handlers."""
    sign_in = urlsplit(settings.sign_in_url)
    headers = security_headers(
        f"{sign_in.scheme}://{sign_in.netloc}", https=sign_in.scheme == "https"
    )
    register_error_handlers(app, logger, metrics, headers=headers)

    def secure(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        response = next_middleware(app)
        response.headers.update({**headers, **response.headers})
        return response

    app.use(middlewares=[secure])


def _page_routes(app: APIGatewayHttpResolver, settings: ConsoleSettings) -> None:
    """The public routes: where to sign in, the built files, and the page for each view
    (`cdp.console.page.VIEWS`; API Gateway routes every other path under /console here too,
    and it is a 404)."""

    @app.get("/console/api/config")
    def sign_in_config() -> Response[Any]:
        """Where the page sends people to sign in (public: it holds no secret)."""
        base = settings.sign_in_url.rstrip("/")
        return json_response(
            200,
            {
                "authorize_url": f"{base}/oauth2/authorize",
                "token_url": f"{base}/oauth2/token",
                "logout_url": f"{base}/logout",
                "client_id": settings.console_client_id,
                "scope": "openid email",
            },
            {"Cache-Control": "no-store"},
        )

    @app.get("/console/assets/<file>")
    def asset(file: str) -> Response[Any]:
        found = built().asset(file)
        return Response(
            status_code=200,
            content_type=found.content_type,
            body=found.body,
            headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": found.etag},
        )

    def page(**_: str) -> Response[Any]:
        """Each view of the page is the same shell, which reads its path."""
        return Response(
            status_code=200,
            content_type="text/html; charset=utf-8",
            body=built().shell(),
            headers={"Cache-Control": "no-cache"},
        )

    for view in VIEWS:
        app.get(view)(page)


def _limit(text: str | None) -> int:
    if text is None:
        return 20
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses
    if not (text.isascii() and text.isdecimal()) or not 1 <= int(text) <= MAX_PAGE:
        raise InvalidRequestError(f"limit: a whole number from 1 to {MAX_PAGE}")
    return int(text)


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = ConsoleSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        settings,
        profiles=ProfileReader(settings.profiles_table, settings.identities_table, client=client),
        events=EventReader(settings.events_table, client=client),
        config=ConfigStore(settings.config_table, client=client, consistent=False),
        audit=AuditLog(
            settings.audit_table,
            client=client,
            retention=timedelta(days=settings.audit_retention_days),
        ),
        measures=MetricsReader(clients.cloudwatch),
        sample_profiles=_kept_a_while(
            lambda limit: sample_profiles(settings.profiles_table, limit, client=client)
        ),
    )


def _kept_a_while(
    sample: Callable[[int], Sample], seconds: float = 300.0
) -> Callable[[int], Sample]:
    """The overview refreshes every 30 s in every open page: a warm function reads a sample of
    a large table (about 250 read units) at most every five minutes; profile figures move
    slowly. A table small enough to be read whole costs little, and is read each time."""
    kept: dict[int, tuple[float, Sample]] = {}

    def read(limit: int) -> Sample:
        now = time.monotonic()
        if limit in kept and now < kept[limit][0]:
            return kept[limit][1]
        found = sample(limit)
        if not found.complete:
            kept[limit] = (now + seconds, found)
        return found

    return read


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
