"""Privacy API: everything held about a person in one document, and erasure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ConfigDict, Field, model_validator

from cdp.access.http import caller, require_secret_key_or_role
from cdp.access.roles import CONSOLE_API
from cdp.console.audit import MAX_REASON, Action, AuditEntry, reason_given
from cdp.privacy.erasure import SWEEP_DELAY_SECONDS, erase_person
from cdp.privacy.export import LakeReader, export_document
from cdp.profiles.computed import load_definitions
from cdp.profiles.identity import identity_key, parse_identity
from cdp.profiles.past import tasks_for_people
from cdp.profiles.profile import Profile
from cdp.profiles.timeline import HotWindow
from cdp.profiles.unmerge import MAX_SPLIT, unmerge_answer, unmerge_profile
from cdp.runtime.clock import iso, utc_now
from cdp.runtime.errors import InvalidRequestError, NotFoundError
from cdp.runtime.models import Model
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.privacy_api import PrivacyApiSettings
from cdp.runtime.web import json_response, register_error_handlers, strict_json
from cdp.segments.definitions import Definitions, in_force, settle
from cdp.storage import clients
from cdp.storage.audit import AuditLog
from cdp.storage.config import ConfigStore
from cdp.storage.erasure import Eraser
from cdp.storage.events import EventReader
from cdp.storage.keys import KeyStore
from cdp.storage.profiles import ProfileStore
from cdp.storage.queue import TaskQueue
from cdp.storage.suppressions import SuppressionList

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

logger, tracer, metrics = powertools("privacy_api")
IDENTITY_HELP = "type:value, URL-encoded, e.g. user_id:42 or email:ada%40example.com"


class UnmergeRequest(Model):
    model_config = ConfigDict(extra="forbid")

    identities: list[Annotated[str, Field(max_length=1100)]] | None = Field(
        default=None,
        max_length=MAX_SPLIT,
        description="the identities to split out, type:value (user_id:42, email:ada@x.nl)",
    )
    merge: str | None = Field(
        default=None, max_length=64, description="or: undo this recorded merge (its profile id)"
    )

    @model_validator(mode="after")
    def _one(self) -> UnmergeRequest:
        if (self.identities is None) == (self.merge is None):
            raise ValueError("send either identities or merge")
        return self


def create_app(
    *,
    profiles: ProfileStore,
    events: EventReader,
    keys: KeyStore,
    config: ConfigStore,
    suppressions: SuppressionList,
    eraser: Eraser,
    sweeps: TaskQueue,
    pasts: TaskQueue,
    audit: AuditLog,
    sweep_delay_seconds: int = SWEEP_DELAY_SECONDS,
    hot_window: HotWindow | None = None,
    lake: LakeReader | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
    register_error_handlers(app, logger, metrics)
    app.use(middlewares=[require_secret_key_or_role(keys.find, clock)])
    # Export and erasure: for servers under /v1, and for the console's admins (`CONSOLE_API`).
    rights = Router()  # type: ignore[no-untyped-call]

    def find(identity: str) -> Profile:
        parsed = parse_identity(unquote(identity))
        if parsed is None:
            raise InvalidRequestError(f"identity: use {IDENTITY_HELP}")
        profile = profiles.find(identity_key(*parsed))
        if profile is None:
            raise NotFoundError(f"no profile has the identity {parsed[0]}:{parsed[1]}")
        return profile

    def written_down(
        action: Action, profile: Profile, identity: str, at: str, reason: str | None
    ) -> None:
        """Every export and erasure in the audit log: who, which person, why (when given)."""
        who = caller(app)
        audit.record(
            AuditEntry(
                at=at,
                actor=who.name,
                actor_id=who.id,
                action=action,
                profile_id=profile.profile_id,
                asked_for=unquote(identity).partition(":")[0],
                reason=reason_given(reason),
            )
        )

    @rights.get("/profiles/<identity>/export", tags=["Privacy"], summary="Everything held")
    def export(
        identity: Annotated[str, Path(description=IDENTITY_HELP)],
        reason: Annotated[str | None, Query(max_length=MAX_REASON)] = None,
    ) -> dict[str, Any]:
        profile = find(identity)
        definitions = load_definitions(config.definitions("computed_trait"))
        now = clock()
        document = export_document(
            profile, events.stored, definitions, now, hot_window=hot_window, lake=lake
        )
        written_down("export", profile, identity, iso(now), reason)
        return document

    @app.post(
        "/v1/profiles/<identity>/unmerge",
        tags=["Privacy"],
        summary="Split identities merged by mistake out into a profile of their own",
    )
    def unmerge(
        identity: Annotated[str, Path(description=IDENTITY_HELP)],
        request: Annotated[UnmergeRequest, Body(embed=False)],
    ) -> dict[str, Any]:
        profile = find(identity)
        named = None
        if request.identities is not None:
            named = []
            for text in request.identities:
                parsed = parse_identity(text)
                if parsed is None:
                    raise InvalidRequestError(f"identities: {text!r} is not type:value")
                named.append(identity_key(*parsed))
        used: list[Definitions] = []

        def definitions() -> Definitions:
            used.append(in_force(config))
            return used[-1]

        result = unmerge_profile(
            profile.profile_id,
            identities=named,
            merge=request.merge,
            store=profiles,
            read=events.stored,
            definitions=definitions,
            now=clock,
        )
        written = [result.kept.profile_id, result.split.profile_id]
        settle(profiles, written, used[-1], config, clock())
        # Both were built from the events table: computed traits' pasts come from the lake
        people = [*result.kept.identities, *result.split.identities]
        pasts.send([task.to_json() for task in tasks_for_people(used[-1].computed, people)])
        metrics.add_metric("ProfilesUnmerged", MetricUnit.Count, 1)
        return unmerge_answer(result)

    @rights.delete("/profiles/<identity>", tags=["Privacy"], summary="Erase a person")
    def erase(
        identity: Annotated[str, Path(description=IDENTITY_HELP)],
        reason: Annotated[str | None, Query(max_length=MAX_REASON)] = None,
    ) -> Response[Any]:
        profile = find(identity)
        now_iso = iso(clock())
        counts = erase_person(
            profile,
            suppress=lambda keys: suppressions.add(keys, at=now_iso),
            eraser=eraser,
            queue_sweep=lambda task: sweeps.send(
                [task.to_json()], delay_seconds=sweep_delay_seconds
            ),
            now_iso=now_iso,
        )
        metrics.add_metric("ProfilesErased", MetricUnit.Count, 1)
        written_down("erase", profile, identity, now_iso, reason)
        return json_response(
            200,
            {
                "success": True,
                "erased": {
                    "profile_id": profile.profile_id,
                    "events": counts.events,
                    "events_redacted": counts.events_redacted,
                    "profiles_redacted": counts.profiles_redacted,
                    "refused_messages": counts.quarantined,
                    "identities": counts.identities,
                    "profiles": counts.profiles,
                },
            },
        )

    app.include_router(rights, prefix="/v1")
    app.include_router(rights, prefix=CONSOLE_API)
    return app


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = PrivacyApiSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        profiles=ProfileStore.from_settings(settings, client=client),
        events=EventReader(settings.events_table, client=client),
        keys=KeyStore(settings.keys_table, client=client),
        config=ConfigStore(settings.config_table, client=client),
        suppressions=SuppressionList.from_settings(settings, client=client),
        eraser=Eraser(
            events_table=settings.events_table,
            quarantine_table=settings.quarantine_table,
            identities_table=settings.identities_table,
            profiles_table=settings.profiles_table,
            profile_retention=timedelta(days=settings.profile_retention_days),
            client=client,
        ),
        sweeps=TaskQueue(settings.erasure_queue_url, client=clients.sqs()),
        pasts=TaskQueue(settings.computed_backfill_queue_url, client=clients.sqs()),
        audit=AuditLog(
            settings.audit_table,
            client=client,
            retention=timedelta(days=settings.audit_retention_days),
        ),
        sweep_delay_seconds=settings.erasure_sweep_delay_seconds,
        hot_window=HotWindow(settings.event_hot_days, settings.event_retention_days),
        lake=_lake_reader(settings.lake_warehouse, settings.lake_database)
        if settings.lake_warehouse
        else None,
    )


def _lake_reader(warehouse: str, database: str) -> LakeReader:
    """The lake's events of a person, for exports: pyiceberg is loaded at the first export,
    not at a cold start."""

    @lru_cache(maxsize=1)
    def catalog() -> Catalog:
        from cdp.lake.tables import open_catalog

        return open_catalog(warehouse, database)

    def read(partitions: list[str], leaving_out: set[str]) -> list[dict[str, Any]]:
        from cdp.lake.reading import person_events

        return person_events(catalog(), partitions, leaving_out=leaving_out)

    return read


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
