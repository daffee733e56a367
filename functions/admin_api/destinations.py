"""The admin API's destinations: defined, changed, paused and deleted as data, with their
secrets in Secrets Manager, and what each was sent (delivered, retried, failed, skipped per
day; the last errors in the tool's words; the erasures sent)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import Field

from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError, NotFoundError
from cdp.runtime.models import Model
from cdp.runtime.web import json_response
from cdp.sharing.destinations import (
    DESTINATION,
    DestinationDefinition,
    DestinationError,
    check_destination,
    newly_synced,
)
from cdp.storage.alarms import DestinationAlarms
from cdp.storage.config import ConfigStore
from cdp.storage.deliveries import STATES, DeliveryLog, DeliveryQueue, ResyncPage
from cdp.storage.secrets import DestinationSecrets

DestinationIdPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
MAX_DAYS = 90


class DestinationIn(DestinationDefinition):
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=8192,
        description="the tool's API key or token; write only (kept in Secrets Manager)",
    )


class DestinationList(Model):
    destinations: list[DestinationDefinition]


class ResyncStarted(Model):
    success: bool
    destination_id: str
    segments: list[str] = Field(description="the segments whose members are added again")
    started_at: str


class DeliveryDay(Model):
    day: str
    delivered: int
    retried: int
    failed: int
    skipped: int


class DeliveryFigures(Model):
    """What a destination was sent: per day (UTC, oldest first; today's so far), in total, the
    last errors in the tool's words (identifiers taken out) and the erasures sent."""

    destination_id: str
    enabled: bool
    days: list[DeliveryDay]
    totals: dict[str, int]
    last_errors: list[dict[str, str]]
    erasures: list[dict[str, str]]


def destination_routes(
    router: Router,
    *,
    config: ConfigStore,
    secrets: DestinationSecrets,
    log: DeliveryLog,
    queue: DeliveryQueue,
    alarms: DestinationAlarms | None,
    segments: Callable[[], list[str]],
    purposes: Sequence[str],
    clock: Callable[[], datetime],
) -> None:
    def stored(destination_id: str) -> DestinationDefinition:
        found = config.get(DESTINATION, destination_id)
        if found is None:
            raise NotFoundError(f"no destination is called {destination_id}")
        return DestinationDefinition.model_validate(found)

    @router.put(
        "/destinations/<destination_id>",
        tags=["Destinations"],
        summary="Create or change a destination (and its secret)",
    )
    def put_destination(
        destination_id: DestinationIdPath, body: Annotated[DestinationIn, Body(embed=False)]
    ) -> DestinationDefinition:
        if body.id != destination_id:
            raise InvalidRequestError(
                f"id: the body names {body.id!r}, the path {destination_id!r}",
                {"id": "must be the id in the path"},
            )
        definition = DestinationDefinition.model_validate(body.model_dump(exclude={"secret"}))
        try:
            check_destination(definition, segments=segments(), purposes=purposes)
        except DestinationError as error:
            raise InvalidRequestError(str(error), {error.field: error.message}) from None
        found = config.get(DESTINATION, destination_id)
        before = DestinationDefinition.model_validate(found) if found else None
        if body.secret is not None:
            secrets.put(destination_id, body.secret)
        definition.has_secret = body.secret is not None or bool(before and before.has_secret)
        now = iso(clock())
        config.put(DESTINATION, destination_id, definition.model_dump(mode="json"), at=now)
        if alarms is not None:
            alarms.put(destination_id, definition.name)
        # The publisher sends changes only: who is already in a segment the destination now
        # receives is added by a resync.
        for segment_id in newly_synced(before, definition):
            queue.send_resync(ResyncPage(destination_id, segment_id, now))
        return definition

    @router.get("/destinations", tags=["Destinations"], summary="Every destination")
    def list_destinations() -> DestinationList:
        return DestinationList(
            destinations=[
                DestinationDefinition.model_validate(item)
                for item in config.definitions(DESTINATION)
            ]
        )

    @router.get("/destinations/<destination_id>", tags=["Destinations"])
    def get_destination(destination_id: DestinationIdPath) -> DestinationDefinition:
        return stored(destination_id)

    @router.delete("/destinations/<destination_id>", tags=["Destinations"])
    def delete_destination(destination_id: DestinationIdPath) -> Response[Any]:
        if not config.delete(DESTINATION, destination_id):
            raise NotFoundError(f"no destination is called {destination_id}")
        secrets.delete(destination_id)
        log.forget(destination_id)
        if alarms is not None:
            alarms.delete(destination_id)
        return json_response(200, {"success": True, "deleted": destination_id})

    @router.post(
        "/destinations/<destination_id>/resync",
        tags=["Destinations"],
        summary="Send every member of its segments who granted its purpose again",
        responses={
            202: {
                "description": "started: the segments are read in the background",
                "content": {"application/json": {"model": ResyncStarted}},
            }
        },
    )
    def resync_destination(destination_id: DestinationIdPath) -> Response[Any]:
        """For a destination that was down, paused, or newly added: each segment it receives
        is read page by page in the background, and every member who granted the purpose is
        added to the segment's audience again. Nobody is removed."""
        destination = stored(destination_id)
        if not destination.enabled:
            raise InvalidRequestError(
                "enabled: the destination is paused; resume it first", {"enabled": "paused"}
            )
        started = iso(clock())
        for segment_id in sorted(destination.audiences):
            queue.send_resync(ResyncPage(destination_id, segment_id, started))
        return json_response(
            202,
            {
                "success": True,
                "destination_id": destination_id,
                "segments": sorted(destination.audiences),
                "started_at": started,
            },
        )

    @router.get(
        "/destinations/<destination_id>/deliveries",
        tags=["Destinations"],
        summary="What the destination was sent, per day, and its last errors",
    )
    def deliveries(
        destination_id: DestinationIdPath,
        days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7,
    ) -> DeliveryFigures:
        destination = stored(destination_id)
        today = clock().date()
        first = today - timedelta(days=days - 1)
        counted = log.days(destination_id, first, today)
        every_day = [
            DeliveryDay(
                day=(first + timedelta(days=n)).isoformat(),
                **counted.get((first + timedelta(days=n)).isoformat(), dict.fromkeys(STATES, 0)),
            )
            for n in range(days)
        ]
        return DeliveryFigures(
            destination_id=destination_id,
            enabled=destination.enabled,
            days=every_day,
            totals={state: sum(getattr(d, state) for d in every_day) for state in STATES},
            last_errors=log.last_errors(destination_id),
            erasures=log.erasures(destination_id),
        )
