"""Inbound webhooks: e-mail tools' engagement events, into the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from cdp.intake.collector import screen
from cdp.intake.messages import MAX_REQUEST_BYTES, Intake
from cdp.intake.webhooks import WEBHOOK, WebhookConfig, events_of, verify
from cdp.profiles.identity import DEFAULT_POLICY, Placeholders
from cdp.runtime.clock import utc_now
from cdp.runtime.errors import NotFoundError
from cdp.runtime.jsontext import parse_json
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.webhooks import WebhooksSettings
from cdp.runtime.web import json_response, register_error_handlers, request_body
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.intake import IntakeStore
from cdp.storage.suppressions import SuppressionList

logger, tracer, metrics = powertools("webhooks")


def create_app(
    *,
    config: ConfigStore,
    store: IntakeStore,
    suppressions: SuppressionList,
    consent_required: bool = False,
    placeholders: Placeholders = DEFAULT_POLICY,
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    register_error_handlers(app, logger, metrics)

    @app.post("/v1/webhooks/<source>")
    def receive(source: str) -> Response[Any]:
        stored = config.get(WEBHOOK, source)
        if stored is None:
            raise NotFoundError(f"no webhook is set up for source {source}")
        settings = WebhookConfig.model_validate(stored)
        event = app.current_event
        body = request_body(event, MAX_REQUEST_BYTES)
        verify(settings, body, {k.lower(): v for k, v in event.headers.items()})
        received_at = clock()
        events, skipped = events_of(
            settings, parse_json(body), received_at=received_at, placeholders=placeholders
        )
        intake, not_stored = screen(
            Intake(events=events),
            consent_required=consent_required,
            suppressed=suppressions.suppressed,
        )
        store.save(
            intake,
            source=settings.source,
            received_at=received_at,
            request_id=event.request_context.request_id,
        )
        metrics.add_metric("WebhookEventsAccepted", MetricUnit.Count, len(intake.events))
        metrics.add_metric("WebhookEventsSkipped", MetricUnit.Count, len(skipped))
        answer: dict[str, Any] = {"success": True, "accepted": len(intake.events)}
        if skipped:
            answer["skipped"] = skipped
        if not_stored:
            answer["not_stored"] = not_stored
        return json_response(200, answer)

    return app


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = WebhooksSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        config=ConfigStore(settings.config_table, client=client),
        store=IntakeStore.from_settings(settings, client=client),
        suppressions=SuppressionList.from_settings(settings, client=client),
        consent_required=settings.consent_required,
        placeholders=Placeholders.configured(settings.identity_blocklist),
    )


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
