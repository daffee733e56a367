"""Admin API: configuration kept as data: computed traits, segments, forms, sources, webhooks and
destinations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import Field

from cdp.access.http import caller, require_secret_key_or_role
from cdp.access.roles import CONSOLE_API
from cdp.access.sources import NewSource, Sources, public
from cdp.console.audit import AuditEntry
from cdp.intake.webhooks import WEBHOOK, WebhookConfig
from cdp.privacy.forms import FormDefinition, check_form_change
from cdp.profiles.computed import (
    ComputedTraitDefinition,
    check_computed_change,
    default_definitions,
    load_definitions,
    with_counts_from,
)
from cdp.profiles.consent import DEFAULT_PURPOSES
from cdp.profiles.past import PastBackfills
from cdp.runtime.clock import iso, utc_now
from cdp.runtime.errors import InvalidRequestError, NotFoundError
from cdp.runtime.models import Model
from cdp.runtime.observability import end_of_init, http_handler, powertools
from cdp.runtime.settings.admin_api import AdminApiSettings
from cdp.runtime.web import json_response, register_error_handlers, strict_json
from cdp.segments import history, member_list
from cdp.segments.conditions import (
    ConditionError,
    SegmentDefinition,
    check_segment_change,
    segments_reading,
    segments_using,
)
from cdp.sharing.destinations import DESTINATION, destinations_receiving
from cdp.storage import clients
from cdp.storage.alarms import DestinationAlarms, destination_alarm_prefix
from cdp.storage.audit import AuditLog
from cdp.storage.config import BackfillProgress, ConfigStore
from cdp.storage.deliveries import DeliveryLog, DeliveryQueue
from cdp.storage.keys import KeyStore
from cdp.storage.live import LiveLog
from cdp.storage.members import MembershipIndex
from cdp.storage.queue import TaskQueue
from cdp.storage.secrets import DestinationSecrets
from functions.admin_api.destinations import destination_routes

if TYPE_CHECKING:
    from cdp.profiles.profile import Profile
    from cdp.storage.profiles import Sample

logger, tracer, metrics = powertools("admin_api")

COMPUTED = "computed_trait"
TraitId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


SEGMENT = "segment"
SegmentIdPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class ComputedTraitList(Model):
    computed_traits: list[ComputedTraitDefinition]


class Backfill(Model):
    status: str = Field(description="running or done")
    parts: int
    parts_done: int
    evaluated: int = Field(description="profiles evaluated so far")
    started_at: str


class PastBackfill(Model):
    """A computed trait's backfill: the events it matches that were received before it
    counted (`counts_from`), read from the data lake and added to each person's value once."""

    trait_id: str
    counts_from: str = Field(description="events received before this are the backfill's")
    status: str = Field(
        description="waiting (until the lake holds every event received before counts_from), "
        "running or done"
    )
    starts_at: str = Field(description="when the lake holds them all, and the reading starts")
    parts: int
    parts_done: int
    identities: int = Field(description="identities whose past was read so far")
    started_at: str


class Moved(Model):
    entries: int
    exits: int


class SegmentOut(Model):
    segment: SegmentDefinition
    members: int = Field(description="current number of members")
    backfill: Backfill | None = Field(description="the evaluation of existing profiles")
    last_7_days: Moved = Field(description="entries and exits over the last 7 days, today's so far")


class SegmentList(Model):
    segments: list[SegmentOut]


IDENTIFIERS_HELP = (
    "identity types whose values each member is given with, comma-separated: user_id, "
    "anonymous_id, email, or external types (phone, crm_id)"
)


class MemberOut(Model):
    profile_id: str
    entered_at: str
    identifiers: dict[str, list[str]] | None = Field(
        default=None,
        description="each identity type asked for (`identifiers`) with the member's values of "
        "it, most recently linked first; null when none were asked for",
    )


class MembersPage(Model):
    members: list[MemberOut]
    cursor: str | None
    masked: bool = Field(
        default=False,
        description="identifiers are masked: the console user's role may not see people's data",
    )


class SegmentDay(Model):
    day: str
    entries: int
    exits: int


class SegmentChanges(Model):
    """A segment's entries and exits per day, oldest first (UTC days; today's so far)."""

    segment_id: str
    days: list[SegmentDay]


def create_app(
    *,
    config: ConfigStore,
    keys: KeyStore,
    members: MembershipIndex,
    sample_profiles: Callable[[int], Sample],
    read_profiles: Callable[[list[str]], Mapping[str, Profile]],
    audit: AuditLog,
    live: LiveLog,
    progress: BackfillProgress,
    queue: TaskQueue,
    past_progress: BackfillProgress,
    past_queue: TaskQueue,
    lake_settle: timedelta,
    destination_secrets: DestinationSecrets,
    deliveries: DeliveryLog,
    delivery_queue: DeliveryQueue,
    destination_alarms: DestinationAlarms | None = None,
    purposes: Sequence[str] = DEFAULT_PURPOSES,
    clock: Callable[[], datetime] = utc_now,
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
    register_error_handlers(app, logger, metrics)
    app.use(middlewares=[require_secret_key_or_role(keys.find, clock)])
    router = Router()  # type: ignore[no-untyped-call]

    def backfill(segment_id: str) -> None:
        """Evaluate every existing profile again, in the background. Imported here, not at
        cold start: only a changed segment or computed trait needs it, and it brings the
        evaluation code (the profile builder's) that no other route of this API runs."""
        from cdp.segments.backfill import PARTS, first_tasks

        version = iso(clock())
        progress.start(segment_id, version, PARTS, at=version)
        queue.send([task.to_json() for task in first_tasks(segment_id, version)])

    _computed_trait_routes(
        router,
        config,
        clock,
        backfill,
        PastBackfills(past_progress, past_queue, settle=lake_settle, clock=clock),
    )
    _segment_routes(
        router,
        config=config,
        members=members,
        sample_profiles=sample_profiles,
        read_profiles=read_profiles,
        audit=audit,
        progress=progress,
        backfill=backfill,
        clock=clock,
    )
    _form_routes(router, config=config, purposes=purposes, clock=clock)
    _source_routes(router, sources=Sources(config=config, keys=keys), live=live, clock=clock)
    _webhook_routes(router, config=config, clock=clock)
    destination_routes(
        router,
        config=config,
        secrets=destination_secrets,
        log=deliveries,
        queue=delivery_queue,
        alarms=destination_alarms,
        segments=lambda: [item["id"] for item in config.definitions(SEGMENT)],
        purposes=purposes,
        clock=clock,
    )
    # Servers call these with the secret key; the console's people, by their role, call the
    # same routes under its prefix (`require_secret_key_or_role`).
    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix=CONSOLE_API)
    return app


def _computed_trait_routes(
    router: Router,
    config: ConfigStore,
    clock: Callable[[], datetime],
    backfill: Callable[[str], None],
    pasts: PastBackfills,
) -> None:
    def reevaluate_users(trait_id: str) -> None:
        """A changed computed trait can change who is in the segments that read it (a new
        window, say): they are evaluated again, as a changed segment would be."""
        for segment_id in segments_reading(trait_id, config.definitions(SEGMENT)):
            backfill(segment_id)

    @router.get("/computed-traits", tags=["Computed traits"], summary="Every computed trait in use")
    def list_computed() -> ComputedTraitList:
        return ComputedTraitList(computed_traits=list(_effective(config)))

    @router.get("/computed-traits/<trait_id>", tags=["Computed traits"])
    def get_computed(trait_id: TraitId) -> ComputedTraitDefinition:
        for definition in _effective(config):
            if definition.id == trait_id:
                return definition
        raise NotFoundError(f"no computed trait is called {trait_id}")

    @router.put("/computed-traits/<trait_id>", tags=["Computed traits"])
    def put_computed(
        trait_id: TraitId, definition: Annotated[ComputedTraitDefinition, Body(embed=False)]
    ) -> ComputedTraitDefinition:
        _same("id", definition.id, trait_id)
        current = _effective(config)
        check_computed_change(definition, current)
        before = next((d for d in current if d.id == trait_id), None)
        definition = with_counts_from(definition, before, clock())
        config.put(
            COMPUTED,
            trait_id,
            definition.model_dump(mode="json", exclude_none=True),
            at=iso(clock()),
        )
        reevaluate_users(trait_id)
        counts_anew = definition.counts_from is not None and (
            before is None or before.counts_from != definition.counts_from
        )
        if counts_anew and definition.enabled:
            pasts.start(definition)  # it counts from now: its past comes from the lake
        return definition

    @router.post(
        "/computed-traits/<trait_id>/backfill",
        tags=["Computed traits"],
        summary="Add the trait's past from the data lake",
        description="A new or changed computed trait counts the events received from "
        "`counts_from` as they arrive; a backfill adds those received before, from the data "
        "lake, to each person's value, once. Storing the trait starts one; this starts it "
        "again, and what it added before is not added twice. It reads "
        "the lake once the lake holds every event received before `counts_from`, a few "
        "minutes after it.",
        status_code=202,
    )
    def start_backfill(trait_id: TraitId) -> Response[Any]:
        definition = next((d for d in _effective(config) if d.id == trait_id), None)
        if definition is None:
            raise NotFoundError(f"no computed trait is called {trait_id}")
        return json_response(202, asdict(pasts.start(definition)))

    @router.get("/computed-traits/<trait_id>/backfill", tags=["Computed traits"])
    def get_backfill(trait_id: TraitId) -> PastBackfill:
        found = pasts.get(trait_id)
        if found is None:
            raise NotFoundError(f"no backfill of {trait_id} was started")
        return PastBackfill(**asdict(found))

    @router.delete("/computed-traits/<trait_id>", tags=["Computed traits"])
    def delete_computed(trait_id: TraitId) -> Response[Any]:
        is_default = any(item["id"] == trait_id for item in default_definitions())
        if is_default:
            # A default cannot be deleted, only switched off.
            config.put(COMPUTED, trait_id, {"id": trait_id, "enabled": False}, at=iso(clock()))
        elif not config.delete(COMPUTED, trait_id):
            raise NotFoundError(f"no computed trait is called {trait_id}")
        reevaluate_users(trait_id)
        return json_response(200, {"success": True, "deleted": trait_id})


def _same(field: str, in_body: str, in_path: str) -> None:
    if in_body != in_path:
        raise InvalidRequestError(f"{field}: the body says {in_body!r}, the path {in_path!r}")


def _segment_routes(
    router: Router,
    *,
    config: ConfigStore,
    members: MembershipIndex,
    sample_profiles: Callable[[int], Sample],
    read_profiles: Callable[[list[str]], Mapping[str, Profile]],
    audit: AuditLog,
    progress: BackfillProgress,
    backfill: Callable[[str], None],
    clock: Callable[[], datetime],
) -> None:
    def segment_out(
        definition: SegmentDefinition, week: dict[str, tuple[int, int]] | None = None
    ) -> SegmentOut:
        status = progress.get(definition.id)
        entries, exits = (week if week is not None else last_week()).get(definition.id, (0, 0))
        return SegmentOut(
            segment=definition,
            members=members.count(definition.id),
            backfill=Backfill.model_validate(status) if status else None,
            last_7_days=Moved(entries=entries, exits=exits),
        )

    def last_week() -> dict[str, tuple[int, int]]:
        """Each segment's entries and exits over the last 7 days: one query of 7 small items."""
        today = clock().date()
        return history.totals(members.moves(today - timedelta(days=6), today).values())

    def stored_segments() -> dict[str, SegmentDefinition]:
        return {
            item["id"]: SegmentDefinition.model_validate(item)
            for item in config.definitions(SEGMENT)
        }

    @router.put("/segments/<segment_id>", tags=["Segments"], summary="Create or change a segment")
    def put_segment(
        segment_id: SegmentIdPath, definition: Annotated[SegmentDefinition, Body(embed=False)]
    ) -> SegmentOut:
        _same("id", definition.id, segment_id)
        try:
            check_segment_change(definition, stored_segments().values())
        except ConditionError as error:
            raise InvalidRequestError(str(error), {error.path: error.message}) from None
        stored = definition.model_dump(mode="json", exclude_none=True)
        config.put(SEGMENT, segment_id, stored, at=iso(clock()))
        backfill(segment_id)
        return segment_out(definition)

    @router.get("/segments", tags=["Segments"], summary="Every segment with its member count")
    def list_segments() -> SegmentList:
        week = last_week()
        return SegmentList(segments=[segment_out(d, week) for d in stored_segments().values()])

    @router.get("/segments/<segment_id>", tags=["Segments"])
    def get_segment(segment_id: SegmentIdPath) -> SegmentOut:
        definition = stored_segments().get(segment_id)
        if definition is None:
            raise NotFoundError(f"no segment is called {segment_id}")
        return segment_out(definition)

    @router.delete("/segments/<segment_id>", tags=["Segments"])
    def delete_segment(segment_id: SegmentIdPath) -> Response[Any]:
        segments = stored_segments()
        if segment_id not in segments:
            raise NotFoundError(f"no segment is called {segment_id}")
        users = segments_using(segment_id, segments.values())
        if users:
            raise InvalidRequestError(
                f"segment {segment_id!r} is used by {', '.join(sorted(users))}; change those first"
            )
        receiving = destinations_receiving(segment_id, config.definitions(DESTINATION))
        if receiving:
            raise InvalidRequestError(
                f"segment {segment_id!r} is sent to destination {', '.join(receiving)}; "
                "take it out of their audiences first"
            )
        config.delete(SEGMENT, segment_id)
        backfill(segment_id)  # every member leaves: segment.exited events and the index follow
        return json_response(200, {"success": True, "deleted": segment_id})

    _member_routes(
        router,
        members=members,
        stored_segments=stored_segments,
        read_profiles=read_profiles,
        audit=audit,
        clock=clock,
    )

    @router.get(
        "/segments/<segment_id>/changes",
        tags=["Segments"],
        summary="Entries and exits per day",
    )
    def segment_changes(
        segment_id: SegmentIdPath,
        days: Annotated[int, Query(ge=1, le=history.MAX_DAYS)] = 30,
    ) -> SegmentChanges:
        if segment_id not in stored_segments():
            raise NotFoundError(f"no segment is called {segment_id}")
        today = clock().date()
        found = members.days(segment_id, today - timedelta(days=days - 1), today)
        return SegmentChanges(
            segment_id=segment_id,
            days=[
                SegmentDay(day=d.day.isoformat(), entries=d.entries, exits=d.exits)
                for d in history.every_day(found, last=today, days=days)
            ],
        )

    @router.post(
        "/segments/preview",
        tags=["Segments"],
        summary="How many profiles a definition would match, before it is stored",
    )
    def preview_segment(
        definition: Annotated[SegmentDefinition, Body(embed=False)],
    ) -> Response[Any]:
        # Imported here: only previews evaluate profiles (see `backfill`).
        from cdp.segments.preview import SAMPLE, preview

        others = stored_segments().values()
        try:
            check_segment_change(definition, others)
        except ConditionError as error:
            raise InvalidRequestError(str(error), {error.path: error.message}) from None
        sample = sample_profiles(SAMPLE)
        answer = preview(
            definition,
            others,
            _effective(config),
            sample.profiles,
            total=sample.total,
            complete=sample.complete,
            now=clock(),
        )
        return json_response(200, asdict(answer))


def _member_routes(
    router: Router,
    *,
    members: MembershipIndex,
    stored_segments: Callable[[], Mapping[str, SegmentDefinition]],
    read_profiles: Callable[[list[str]], Mapping[str, Profile]],
    audit: AuditLog,
    clock: Callable[[], datetime],
) -> None:
    def members_with_identifiers(
        segment_id: str, limit: int, cursor: str | None, identifiers: str | None
    ) -> tuple[list[member_list.Row], str | None, tuple[str, ...], bool]:
        """A page of members, each with the identifiers asked for: one query of the index,
        and one BatchGetItem of their profiles per 100 when identifiers are asked for.
        Masked for a console user whose role may not see people's data."""
        types = member_list.identifier_types(identifiers)
        if segment_id not in stored_segments():
            raise NotFoundError(f"no segment is called {segment_id}")
        page, after = members.members(segment_id, limit=limit, after=cursor)
        found = read_profiles([m["profile_id"] for m in page]) if types and page else {}
        masked = bool(types) and not caller(router).sees_personal_data
        identities = {profile_id: profile.identities for profile_id, profile in found.items()}
        return member_list.member_rows(page, types, identities, masked=masked), after, types, masked

    def written_down(segment_id: str, types: tuple[str, ...], shown: int, masked: bool) -> None:
        """A page of members with identifiers whole is an export: one audit entry a page."""
        if not types or masked or not shown:
            return
        who = caller(router)
        audit.record(
            AuditEntry(
                at=iso(clock()),
                actor=who.name,
                actor_id=who.id,
                action="export_members",
                profile_id=None,
                asked_for=",".join(types),
                segment_id=segment_id,
            )
        )

    @router.get(
        "/segments/<segment_id>/members",
        tags=["Segments"],
        summary="Members, paginated, with the identifiers asked for",
    )
    def list_members(
        segment_id: SegmentIdPath,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=256)] = None,
        identifiers: Annotated[
            str | None, Query(max_length=1000, description=IDENTIFIERS_HELP)
        ] = None,
    ) -> MembersPage:
        rows, after, types, masked = members_with_identifiers(
            segment_id, limit, cursor, identifiers
        )
        shown, after = member_list.json_page(rows, after)
        written_down(segment_id, types, len(shown), masked)
        return MembersPage(
            members=[MemberOut.model_validate(row) for row in shown], cursor=after, masked=masked
        )

    @router.get(
        "/segments/<segment_id>/members.csv",
        tags=["Segments"],
        summary="Members as CSV, a page at a time (the next page's cursor in X-Next-Cursor)",
        responses={
            200: {
                "description": "a header row (profile_id, entered_at, then each identity type "
                "asked for: the most recently linked value), then a row per member",
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "headers": {
                    "X-Next-Cursor": {
                        "description": "the cursor of the next page; absent after the last",
                        "schema": {"type": "string"},
                    },
                    "X-Masked": {
                        "description": "true: identifiers are masked (a console user's role)",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                },
            }
        },
    )
    def export_members(
        segment_id: SegmentIdPath,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
        cursor: Annotated[str | None, Query(max_length=256)] = None,
        identifiers: Annotated[
            str | None, Query(max_length=1000, description=IDENTIFIERS_HELP)
        ] = None,
    ) -> Response[str]:
        rows, after, types, masked = members_with_identifiers(
            segment_id, limit, cursor, identifiers
        )
        text, after = member_list.csv_page(rows, types, after)
        written_down(segment_id, types, len(rows), masked)
        headers = {
            "Content-Disposition": f'attachment; filename="{segment_id}.csv"',
            "X-Masked": "true" if masked else "false",
        }
        if after is not None:
            headers["X-Next-Cursor"] = after
        return Response(200, "text/csv; charset=utf-8", text, headers)


FORM = "form"
FormIdPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class FormList(Model):
    forms: list[FormDefinition]


def _form_routes(
    router: Router,
    *,
    config: ConfigStore,
    purposes: Sequence[str],
    clock: Callable[[], datetime],
) -> None:
    def stored() -> dict[str, FormDefinition]:
        return {
            item["id"]: FormDefinition.model_validate(item) for item in config.definitions(FORM)
        }

    @router.put("/forms/<form_id>", tags=["Forms"], summary="Create or change a form")
    def put_form(
        form_id: FormIdPath, definition: Annotated[FormDefinition, Body(embed=False)]
    ) -> FormDefinition:
        _same("id", definition.id, form_id)
        check_form_change(definition, stored().values(), purposes)
        config.put(
            FORM, form_id, definition.model_dump(mode="json", exclude_none=True), at=iso(clock())
        )
        return definition

    @router.get("/forms", tags=["Forms"], summary="Every form")
    def list_forms() -> FormList:
        return FormList(forms=list(stored().values()))

    @router.get("/forms/<form_id>", tags=["Forms"])
    def get_form(form_id: FormIdPath) -> FormDefinition:
        found = stored().get(form_id)
        if found is None:
            raise NotFoundError(f"no form is called {form_id}")
        return found

    @router.delete("/forms/<form_id>", tags=["Forms"])
    def delete_form(form_id: FormIdPath) -> Response[Any]:
        if not config.delete(FORM, form_id):
            raise NotFoundError(f"no form is called {form_id}")
        return json_response(200, {"success": True, "deleted": form_id})


SourceName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,63}$")]


class Rotation(Model):
    overlap_hours: int = Field(
        default=24, ge=0, le=720, strict=True, description="how long the current keys keep working"
    )


class TemporaryKey(Model):
    expires_hours: int = Field(default=24, ge=1, le=168, strict=True)


class Watch(Model):
    minutes: int = Field(
        default=15, ge=0, le=60, strict=True, description="how long to show it live; 0: stop"
    )


def _source_routes(
    router: Router, *, sources: Sources, live: LiveLog, clock: Callable[[], datetime]
) -> None:
    def with_key(record: dict[str, Any], key: str, status: int = 200) -> Response[Any]:
        return json_response(
            status,
            {
                "source": public(record, clock()),
                "write_key": key,
                "note": "the key is shown this once; only its hash is kept",
            },
        )

    @router.post(
        "/sources",
        tags=["Sources"],
        summary="Create a source and its write key",
        status_code=201,
    )
    def create_source(new: Annotated[NewSource, Body(embed=False)]) -> Response[Any]:
        record, key = sources.create(new, clock())
        return with_key(record, key, 201)

    @router.get("/sources", tags=["Sources"], summary="Every source and the state of its keys")
    def list_sources() -> Response[Any]:
        return json_response(200, {"sources": [public(r, clock()) for r in sources.list()]})

    @router.get("/sources/<name>", tags=["Sources"])
    def get_source(name: SourceName) -> Response[Any]:
        return json_response(200, {"source": public(sources.get(name), clock())})

    @router.post("/sources/<name>/rotate", tags=["Sources"], summary="Replace the write key")
    def rotate_source(
        name: SourceName, rotation: Annotated[Rotation, Body(embed=False)]
    ) -> Response[Any]:
        record, key = sources.rotate(name, timedelta(hours=rotation.overlap_hours), clock())
        return with_key(record, key)

    @router.post("/sources/<name>/keys", tags=["Sources"], summary="A temporary write key")
    def temporary_key(
        name: SourceName, request: Annotated[TemporaryKey, Body(embed=False)]
    ) -> Response[Any]:
        record, key = sources.temporary_key(name, timedelta(hours=request.expires_hours), clock())
        return with_key(record, key)

    @router.post("/sources/<name>/disable", tags=["Sources"], summary="Stop every key of it")
    def disable_source(name: SourceName) -> Response[Any]:
        return json_response(200, {"source": public(sources.disable(name, clock()), clock())})

    @router.post(
        "/sources/<name>/watch",
        tags=["Sources"],
        summary="Show what the source sends live, masked, for a while (again: for longer)",
    )
    def watch_source(name: SourceName, watch: Annotated[Watch, Body(embed=False)]) -> Response[Any]:
        record = sources.watch(name, timedelta(minutes=watch.minutes), clock())
        return json_response(200, {"source": public(record, clock())})

    @router.get(
        "/sources/<name>/live",
        tags=["Sources"],
        summary="What a watched source sent in the last hour, and what became of it",
    )
    def live_events(
        name: SourceName, cursor: Annotated[str | None, Query(max_length=256)] = None
    ) -> Response[Any]:
        record = public(sources.get(name), clock())
        entries, after = live.read(name, after=cursor or None)
        return json_response(
            200,
            {"entries": entries, "cursor": after, "watched_until": record["watched_until"]},
        )


def _webhook_routes(router: Router, *, config: ConfigStore, clock: Callable[[], datetime]) -> None:
    @router.put("/webhooks/<source>", tags=["Webhooks"], summary="Receive an e-mail tool's events")
    def put_webhook(
        source: SourceName, webhook: Annotated[WebhookConfig, Body(embed=False)]
    ) -> Response[Any]:
        _same("source", webhook.source, source)
        if config.get("source", source) is None:
            raise InvalidRequestError(f"source: create the source {source!r} first")
        config.put(
            WEBHOOK, source, webhook.model_dump(mode="json", exclude_none=True), at=iso(clock())
        )
        return json_response(200, {"success": True, "url_path": f"/v1/webhooks/{source}"})

    @router.get("/webhooks", tags=["Webhooks"], summary="Every webhook (without secrets)")
    def list_webhooks() -> Response[Any]:
        hidden = {"secret", "verification_key"}
        return json_response(
            200,
            {
                "webhooks": [
                    {k: v for k, v in w.items() if k not in hidden}
                    for w in config.definitions(WEBHOOK)
                ]
            },
        )

    @router.delete("/webhooks/<source>", tags=["Webhooks"])
    def delete_webhook(source: SourceName) -> Response[Any]:
        if not config.delete(WEBHOOK, source):
            raise NotFoundError(f"no webhook is set up for source {source}")
        return json_response(200, {"success": True, "deleted": source})


def _effective(config: ConfigStore) -> tuple[ComputedTraitDefinition, ...]:
    return load_definitions(config.definitions(COMPUTED))


@lru_cache(maxsize=1)
def _app() -> APIGatewayHttpResolver:
    settings = AdminApiSettings.from_env()
    client = clients.dynamodb()
    return create_app(
        config=ConfigStore(settings.config_table, client=client),
        keys=KeyStore(settings.keys_table, client=client),
        members=MembershipIndex(settings.members_table, client=client),
        sample_profiles=lambda limit: _sample(settings.profiles_table, limit, client),
        read_profiles=lambda ids: _profiles(settings.profiles_table, ids, client),
        audit=AuditLog(
            settings.audit_table,
            client=client,
            retention=timedelta(days=settings.audit_retention_days),
        ),
        live=LiveLog(settings.live_table, client=client),
        progress=BackfillProgress(settings.config_table, client=client),
        queue=TaskQueue(settings.backfill_queue_url, client=clients.sqs()),
        past_progress=BackfillProgress(
            settings.config_table, client=client, kind=BackfillProgress.COMPUTED
        ),
        past_queue=TaskQueue(settings.computed_backfill_queue_url, client=clients.sqs()),
        lake_settle=timedelta(seconds=settings.lake_settle_seconds),
        destination_secrets=DestinationSecrets(
            settings.destination_secret_prefix, client=clients.secretsmanager()
        ),
        deliveries=DeliveryLog(settings.deliveries_table, client=client),
        delivery_queue=DeliveryQueue(settings.deliveries_queue_url, client=clients.sqs()),
        destination_alarms=DestinationAlarms(
            destination_alarm_prefix(settings.destination_secret_prefix),
            settings.alarm_topic_arn,
            client=clients.cloudwatch(),
        )
        if settings.alarm_topic_arn
        else None,
        purposes=settings.purposes,
    )


def _profiles(table: str, profile_ids: list[str], client: Any) -> dict[str, Profile]:
    """Imported on first use: only member lists with identifiers read profiles by id."""
    from cdp.storage.profiles import live_profiles

    return live_profiles(table, profile_ids, client=client)


def _sample(table: str, limit: int, client: Any) -> Sample:
    """Imported on first use: only segment previews read profiles."""
    from cdp.storage.profiles import sample_profiles

    return sample_profiles(table, limit, client=client)


handler = http_handler(_app, logger=logger, tracer=tracer, metrics=metrics)

end_of_init()
