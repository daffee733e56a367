"""Forms API: what browsers call to ask a person a few questions, store their answers, and
let them see and change their choices (`cdp.privacy.preferences` does the work)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit

from cdp.intake.messages import MAX_MESSAGE_BYTES
from cdp.privacy.preferences import PreferenceCenter
from cdp.runtime.clock import utc_now
from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.jsontext import parse_json
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.forms_api import FormsApiSettings
from cdp.runtime.web import basic_auth_user, json_response, register_error_handlers, request_body
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.intake import IntakeStore
from cdp.storage.keys import KeyStore
from cdp.storage.profiles import ProfileReader
from cdp.storage.secrets import secret
from cdp.storage.suppressions import SuppressionList

logger, tracer, metrics = powertools("forms_api")
NO_STORE = {"Cache-Control": "no-store"}


def create_app(center: PreferenceCenter, allowed_origins: list[str]) -> APIGatewayHttpResolver:
    cors = (
        CORSConfig(allow_origin=allowed_origins[0], extra_origins=allowed_origins[1:], max_age=600)
        if allowed_origins
        else None
    )
    app = APIGatewayHttpResolver(cors=cors)
    register_error_handlers(app, logger, metrics)

    def key(data: dict[str, Any] | None = None) -> str | None:
        """The write key: Basic auth, else `writeKey` in the body, else in the query."""
        event = app.current_event
        presented = (
            basic_auth_user(event.headers.get("authorization"))
            or (data or {}).get("writeKey")
            or event.query_string_parameters.get("writeKey")
        )
        return presented if isinstance(presented, str) else None

    def query() -> dict[str, str]:
        return dict(app.current_event.query_string_parameters)

    def body() -> dict[str, Any]:
        data = parse_json(request_body(app.current_event, MAX_MESSAGE_BYTES))
        if not isinstance(data, dict):
            raise InvalidRequestError("the body must be a JSON object")
        return data

    def request_id() -> str:
        return app.current_event.request_context.request_id

    @app.get("/v1/forms/<form_id>/next")
    def next_for(form_id: str) -> Response[Any]:
        answer = center.next_questions(form_id, query(), key())
        metrics.add_metric("QuestionsAsked", MetricUnit.Count, len(answer["questions"]))
        return json_response(200, answer, headers=NO_STORE)

    @app.post("/v1/forms/<form_id>/submissions")
    def submit(form_id: str) -> Response[Any]:
        data = body()
        answer = center.submit(form_id, data, key(data), request_id())
        metrics.add_metric("FormsSubmitted", MetricUnit.Count, 1)
        return json_response(200, answer)

    @app.get("/v1/preferences")
    def preferences() -> Response[Any]:
        return json_response(200, center.preferences(query(), key()), headers=NO_STORE)

    @app.put("/v1/preferences")
    def change_preferences() -> Response[Any]:
        data = body()
        answer = center.change_preferences(data, key(data), request_id())
        metrics.add_metric("PreferencesChanged", MetricUnit.Count, 1)
        return json_response(200, answer)

    return app


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = FormsApiSettings.from_env()
    client = clients.dynamodb()
    center = PreferenceCenter(
        purposes=settings.purposes,
        identity_blocklist=settings.identity_blocklist,
        find_key=KeyStore(settings.keys_table, client=client).find,
        profiles=ProfileReader(settings.profiles_table, settings.identities_table, client=client),
        config=ConfigStore(settings.config_table, client=client),
        store=IntakeStore.from_settings(settings, client=client),
        suppressed=SuppressionList.from_settings(settings, client=client).suppressed,
        identity_secret=secret(settings.identity_secret_name),
        clock=utc_now,
    )
    return create_app(center, settings.allowed_origins)


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
