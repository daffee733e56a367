"""Admin API: configuration kept as data (computed traits now; segments and forms later)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel

from cdp.clock import iso, utc_now
from cdp.computed import (
    ComputedTraitDefinition,
    default_definitions,
    load_definitions,
    time_trait_ids,
)
from cdp.errors import InvalidRequestError, NotFoundError
from cdp.observability import http_handler, powertools
from cdp.settings import AdminApiSettings
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.keys import KeyStore
from cdp.web import json_response, register_error_handlers, require_secret_key

logger, tracer, metrics = powertools("admin_api")

COMPUTED = "computed_trait"
TraitId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class ComputedTraitList(BaseModel):
    computed_traits: list[ComputedTraitDefinition]


def create_app(
    *, config: ConfigStore, keys: KeyStore, clock: Callable[[], datetime] = utc_now
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    register_error_handlers(app, logger, metrics)
    app.use(middlewares=[require_secret_key(keys.find, clock)])

    @app.get("/v1/computed-traits", tags=["Computed traits"], summary="Every computed trait in use")
    def list_computed() -> ComputedTraitList:
        return ComputedTraitList(computed_traits=list(_effective(config)))

    @app.get("/v1/computed-traits/<trait_id>", tags=["Computed traits"])
    def get_computed(trait_id: TraitId) -> ComputedTraitDefinition:
        for definition in _effective(config):
            if definition.id == trait_id:
                return definition
        raise NotFoundError(f"no computed trait is called {trait_id}")

    @app.put("/v1/computed-traits/<trait_id>", tags=["Computed traits"])
    def put_computed(
        trait_id: TraitId, definition: Annotated[ComputedTraitDefinition, Body(embed=False)]
    ) -> ComputedTraitDefinition:
        if definition.id != trait_id:
            raise InvalidRequestError(f"id: the body says {definition.id!r}, the path {trait_id!r}")
        if definition.type == "days_since":
            others = [d for d in _effective(config) if d.id != trait_id]
            allowed = time_trait_ids(others)
            if definition.of not in allowed:
                raise InvalidRequestError(f"of: must be one of {', '.join(sorted(allowed))}")
        config.put(
            COMPUTED,
            trait_id,
            definition.model_dump(mode="json", exclude_none=True),
            at=iso(clock()),
        )
        return definition

    @app.delete("/v1/computed-traits/<trait_id>", tags=["Computed traits"])
    def delete_computed(trait_id: TraitId) -> Response[Any]:
        is_default = any(item["id"] == trait_id for item in default_definitions())
        if is_default:
            # A default cannot be deleted, only switched off.
            config.put(COMPUTED, trait_id, {"id": trait_id, "enabled": False}, at=iso(clock()))
        elif not config.delete(COMPUTED, trait_id):
            raise NotFoundError(f"no computed trait is called {trait_id}")
        return json_response(200, {"success": True, "deleted": trait_id})

    return app


def _effective(config: ConfigStore) -> tuple[ComputedTraitDefinition, ...]:
    return load_definitions(config.definitions(COMPUTED))


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = AdminApiSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        config=ConfigStore(settings.config_table, client=client, ttl_seconds=0),
        keys=KeyStore(settings.keys_table, client=client),
    )


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)
