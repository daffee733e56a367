"""Collector: the Segment HTTP Tracking API in front of the events table."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit

from cdp.clock import utc_now
from cdp.collector import collect
from cdp.errors import AuthenticationError, NotFoundError
from cdp.identity import Placeholders
from cdp.intake import MAX_REQUEST_BYTES
from cdp.keys import authenticate
from cdp.observability import http_handler, powertools
from cdp.settings import CollectorSettings
from cdp.storage import clients
from cdp.storage.intake import IntakeStore
from cdp.storage.keys import KeyStore
from cdp.storage.suppressions import SuppressionList
from cdp.web import basic_auth_user, json_response, register_error_handlers, request_body

logger, tracer, metrics = powertools("collector")

# Route path -> what it carries. The route list itself lives in `cdp.wiring`.
MESSAGE_KINDS: dict[str, str] = {
    "/v1/batch": "batch",
    "/v1/import": "batch",
    "/v1/b": "batch",
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
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    origins = settings.allowed_origins
    cors = (
        CORSConfig(
            allow_origin=origins[0],
            extra_origins=origins[1:],
            allow_headers=["Content-Encoding", "X-Retry-Count"],
            max_age=600,
        )
        if origins
        else None
    )
    app = APIGatewayHttpResolver(cors=cors)
    register_error_handlers(app, logger, metrics)
    placeholders = Placeholders.configured(settings.identity_blocklist)

    def message_route(kind: str) -> Callable[[], Response[Any]]:
        def receive() -> Response[Any]:
            event = app.current_event
            collected = collect(
                request_body(event, MAX_REQUEST_BYTES),
                kind,
                header_key=basic_auth_user(event.headers.get("authorization")),
                find_key=keys.find,
                store=store,
                received_at=clock(),
                request_id=event.request_context.request_id,
                consent_required=settings.consent_required,
                suppressed=suppressions.suppressed,
                placeholders=placeholders,
            )
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
        host = app.current_event.request_context.domain_name
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

    @app.get("/v1/cdp.js")
    def tracker() -> Response[Any]:
        return script("cdp.js")

    @app.get("/v1/cdp-forms.js")
    def tracker_forms() -> Response[Any]:
        return script("cdp-forms.js")

    def script(name: str) -> Response[Any]:
        """The built tracker, cacheable: browsers keep it five minutes, then ask again with
        its ETag and get a 304 until it changes."""
        text, etag = static_file(name)
        headers = {"Cache-Control": "public, max-age=300", "ETag": etag}
        if app.current_event.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers, body="")
        return Response(
            status_code=200,
            content_type="application/javascript; charset=utf-8",
            body=text,
            headers=headers,
        )

    return app


@lru_cache(maxsize=4)
def static_file(name: str) -> tuple[str, str]:
    """A file built into the package (`make` builds the snippet into cdp/static/)."""
    from importlib.resources import files

    try:
        text = files("cdp").joinpath("static", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{name} is not built; run `make` (npm run build:snippet)") from None
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = CollectorSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        settings,
        keys=KeyStore(settings.keys_table, client=client),
        store=IntakeStore.from_settings(settings, client=client),
        suppressions=SuppressionList.from_settings(settings, client=client),
    )


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)
