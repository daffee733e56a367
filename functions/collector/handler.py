"""Collector: the Segment and RudderStack tracking APIs in front of the events table."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from cdp.access.keys import authenticate
from cdp.intake.assets import Script, built_scripts, not_modified
from cdp.intake.collector import Collected, Watcher, collect
from cdp.intake.messages import MAX_REQUEST_BYTES, Intake
from cdp.profiles.identity import Placeholders
from cdp.runtime.clock import utc_now
from cdp.runtime.errors import AuthenticationError, InvalidRequestError, NotFoundError
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.collector import CollectorSettings
from cdp.runtime.web import basic_auth_user, json_response, register_error_handlers, request_body
from cdp.storage import clients
from cdp.storage.intake import IntakeStore
from cdp.storage.keys import KeyStore
from cdp.storage.live import LiveLog
from cdp.storage.suppressions import SuppressionList

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

logger, tracer, metrics = powertools("collector")

STABLE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"

# Headers browser libraries send besides the CORS-safe ones (Powertools adds Authorization
# and Content-Type): ours and analytics.js's retry count; RudderStack's v3 SDK's anonymous id,
# sending time and retry details (its XHR transport sends them on every request).
CLIENT_HEADERS = (
    "Content-Encoding",
    "X-Retry-Count",
    "AnonymousId",
    "SentAt",
    "Rsa-Recovered",
    "Rsa-Retry-Attempt",
    "Rsa-Retry-Reason",
    "Rsa-Since-First-Attempt",
    "Rsa-Since-Last-Attempt",
)

# Route path -> what it carries. The route list itself lives in `infra.wiring`.
MESSAGE_KINDS: dict[str, str] = {
    "/v1/batch": "batch",
    "/v1/import": "batch",
    "/v1/b": "batch",
    "/v1/import/": "batch",  # analytics-java's path
    "/beacon/v1/batch": "batch",  # RudderStack's browser SDK on page exit (sendBeacon)
    **{f"/v1/{kind}": kind for kind in ("identify", "track", "page", "screen", "group", "alias")},
    **{
        f"/v1/{kind[0]}": kind for kind in ("identify", "track", "page", "screen", "group", "alias")
    },
}


def create_app(
    settings: CollectorSettings,
    *,
    keys: KeyStore,
    store: IntakeStore,
    suppressions: SuppressionList,
    live: LiveLog,
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    origins = settings.allowed_origins
    cors = (
        CORSConfig(
            allow_origin=origins[0],
            extra_origins=origins[1:],
            allow_headers=list(CLIENT_HEADERS),
            max_age=600,
        )
        if origins
        else None
    )
    app = APIGatewayHttpResolver(cors=cors)
    register_error_handlers(app, logger, metrics)
    placeholders = Placeholders.configured(settings.identity_blocklist)
    watcher = _live_view(app, live, consent_required=settings.consent_required, clock=clock)

    def presented_key() -> str | None:
        """The write key outside the body: Segment's libraries send it as Basic auth, and
        RudderStack's beacons (which cannot set headers) and configUrl requests in the query."""
        event = app.current_event
        return basic_auth_user(event.headers.get("authorization")) or (
            event.get_query_string_value("writeKey") or None
        )

    def message_route(kind: str) -> Callable[[], Response[Any]]:
        def receive() -> Response[Any]:
            event = app.current_event
            try:
                collected = collect(
                    request_body(event, MAX_REQUEST_BYTES),
                    kind,
                    header_key=presented_key(),
                    find_key=keys.find,
                    store=store,
                    received_at=clock(),
                    request_id=event.request_context.request_id,
                    consent_required=settings.consent_required,
                    suppressed=suppressions.suppressed,
                    placeholders=placeholders,
                    watcher=watcher,
                )
            except InvalidRequestError as error:
                # Nothing accepted: what was refused is kept with its reasons all the same.
                refused = len(error.details) or 1
                metrics.add_metric("EventsQuarantined", MetricUnit.Count, refused)
                raise
            _count(collected)
            return json_response(200, collected.answer())

        return receive

    for path, kind in MESSAGE_KINDS.items():
        app.post(path)(message_route(kind))

    @app.post("/v1/m")
    def library_metrics() -> Response[Any]:
        """analytics.js reports its own delivery metrics here; we have no use for them."""
        return json_response(200, {"success": True})

    @app.get("/v1/projects/<write_key>/settings")
    def project_settings(write_key: str) -> Response[Any]:
        """What analytics.js fetches from its CDN before it sends anything: pointing its
        `cdnURL` at this API makes it send events here, with no other change to the page."""
        try:
            authenticate(write_key, "write", keys.find, clock().timestamp())
        except AuthenticationError:
            raise NotFoundError("no project has this write key") from None
        host = viewer_host(app.current_event)
        protocol = app.current_event.headers.get("x-forwarded-proto", "https")
        return json_response(
            200,
            {
                "integrations": {
                    "Segment.io": {
                        "apiKey": write_key,
                        "apiHost": f"{host}/v1",
                        "protocol": protocol,
                    }
                },
                "plan": {"track": {"__default": {"enabled": True}}},
                "metrics": {"sampleRate": 0},
            },
            headers={"Cache-Control": "public, max-age=300"},
        )

    @app.get("/sourceConfig")
    @app.get("/sourceConfig/")
    def source_config() -> Response[Any]:
        """What RudderStack's browser and mobile SDKs load from their `configUrl` (control
        plane) before they send anything: the source, enabled, with no device-mode
        destinations, so every event comes to this API."""
        key = authenticate(presented_key(), "write", keys.find, clock().timestamp())
        return json_response(
            200, rudderstack_source_config(key.source), {"Cache-Control": "private, max-age=300"}
        )

    # The scripts' answers differ by the codings a browser accepts and, with CORS, its origin
    # (the forms helpers are a module script, fetched with CORS).
    vary = "Accept-Encoding, Origin" if cors else "Accept-Encoding"

    @app.get("/v1/cdp.js")
    def tracker() -> Response[Any]:
        return script(built_scripts().named("cdp.js"), stable=True)

    @app.get("/v1/cdp-forms.js")
    def tracker_forms() -> Response[Any]:
        return script(built_scripts().named("cdp-forms.js"), stable=True)

    @app.get("/v1/static/<file>")
    def versioned_script(file: str) -> Response[Any]:
        """A script under its content-hash name (`cdp.<hash>.js`): the same bytes for ever."""
        return script(built_scripts().versioned(file), stable=False)

    def script(built: Script, *, stable: bool) -> Response[Any]:
        """The built script in the coding the browser accepts (compressed by the build), with
        an ETag per coding. The stable paths, which pages load, are kept five minutes, then
        revalidated (a 304 until a deploy changes them); the versioned ones for a year."""
        request = app.current_event.headers
        chosen = built.for_request(request.get("accept-encoding"))
        headers = {
            "Cache-Control": STABLE if stable else IMMUTABLE,
            "ETag": chosen.etag,
            "Vary": vary,
        }
        if stable:
            headers["Content-Location"] = built.versioned_path  # the immutable copy
        if not_modified(request.get("if-none-match"), chosen.etag):
            return Response(status_code=304, headers=headers, body="")
        if chosen.encoding != "identity":
            headers["Content-Encoding"] = chosen.encoding
        return Response(
            status_code=200,
            content_type="application/javascript; charset=utf-8",
            body=chosen.body,  # bytes: Powertools sends them base64-encoded (isBase64Encoded)
            headers=headers,
            compress=False,  # compressed already
        )

    return app


_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")


def _count(collected: Collected) -> None:
    """A request's metrics: what became of its messages (the console's overview reads them)."""
    metrics.add_metric("EventsAccepted", MetricUnit.Count, collected.accepted)
    metrics.add_metric("EventsQuarantined", MetricUnit.Count, len(collected.rejections))
    metrics.add_metric("EventsNotStored", MetricUnit.Count, collected.not_stored)
    metrics.add_metric("ProvenanceRefused", MetricUnit.Count, collected.provenance_refused)
    if collected.ignored:
        # What was ignored, not the values: the log says which kind of identifier.
        kinds = sorted({entry["identity"].partition(":")[0] for entry in collected.ignored})
        logger.info("placeholder identifiers ignored", count=len(collected.ignored),
                    types=kinds)  # fmt: skip
        metrics.add_metric("PlaceholdersIgnored", MetricUnit.Count, len(collected.ignored))


def _live_view(
    app: APIGatewayHttpResolver,
    live: LiveLog,
    *,
    consent_required: bool,
    clock: Callable[[], datetime],
) -> Watcher:
    """What a watched source's messages became, masked, for the console's live view."""

    def show(source: str, sent: Intake, kept: Intake) -> None:
        # Imported here: nobody watching is the rule, and masking is only for this.
        from cdp.console.mask import masked_event
        from cdp.intake.live import live_entries

        now = clock()
        entries = live_entries(
            sent, kept, consent_required=consent_required, received_at=now, mask=masked_event
        )
        try:
            live.write(
                source, entries, request_id=app.current_event.request_context.request_id, now=now
            )
        except ClientError:
            # The messages are stored or refused already; only their live view is lost.
            logger.warning("live view not written", source=source, count=len(entries))

    return show


def viewer_host(event: APIGatewayProxyEventV2) -> str:
    """The address the client used: the CDN's, which it passes as X-Forwarded-Host, else the
    API's own domain. Only a well-formed host name is taken from the header."""
    forwarded = (event.headers.get("x-forwarded-host") or "").strip()
    return forwarded if _HOST.fullmatch(forwarded) else event.request_context.domain_name


def rudderstack_source_config(source: str) -> dict[str, Any]:
    """The source configuration in the shape RudderStack's control plane answers it."""
    return {
        "isHosted": False,
        "source": {
            "id": source,
            "name": source,
            "enabled": True,
            "workspaceId": "cdp",
            "config": {
                "statsCollection": {
                    "errors": {"enabled": False},
                    "metrics": {"enabled": False},
                    "errorReports": {"enabled": False},
                }
            },
            "destinations": [],
        },
    }


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = CollectorSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        settings,
        keys=KeyStore(settings.keys_table, client=client, ttl_seconds=settings.key_cache_seconds),
        store=IntakeStore.from_settings(settings, client=client),
        suppressions=SuppressionList.from_settings(settings, client=client),
        live=LiveLog(settings.live_table, client=client),
    )


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
