"""Settings of each function, read from its environment at first invocation.

The CDK stack sets exactly these variables (the infra tests compare the two), and `cdp dev`
sets them for the local runtime. Resource names have no defaults: a missing table name is a
deployment error, reported at once, never papered over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _json_list(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else []
    return value


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value


Origins = Annotated[list[str], BeforeValidator(_comma_separated)]
Purposes = Annotated[list[str], BeforeValidator(_comma_separated)]
# Identifier values that are placeholders, beyond the defaults (a JSON list; see
# cdp.profiles.identity).
Blocklist = Annotated[list[str], BeforeValidator(_json_list)]


class FunctionSettings(BaseModel):
    # A function reads one of these models, once: its validator is built then, not the
    # twelve of them whenever this module is imported.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @classmethod
    def env_names(cls) -> set[str]:
        return {name.upper() for name in cls.model_fields}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        environ = os.environ if environ is None else environ
        values = {
            name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ
        }
        return cls.model_validate(values)


class ErasedPeopleSettings(FunctionSettings):
    """A function that keeps erased people out: it reads the suppressions table."""

    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    # How long a warm function trusts what it read there (0: not at all): an erasure takes
    # this long to reach it, and the erasure's sweep waits longer (`erasure_sweep_delay_seconds`).
    suppression_cache_seconds: int = Field(default=60, ge=0, le=300)


# 13 months: a year-over-year comparison is possible, and little is kept beyond it.
EVENT_RETENTION_DAYS = 395
# The hot window: how long an event stays in the events table (DynamoDB TTL), where timelines,
# the console, exports and unmerges read it; the lake keeps it for the whole retention. Cost
# decides the default (`make bench`, docs/performance.md section 7, measured 2026-11-28): a
# million events cost $1.22 to process (batch size 20) and $0.15 in the lake (writes, 395
# days of Parquet at 65 bytes an event, catalog, a query a day), and DynamoDB keeps them for
# $0.0046 a day. The target of $1.50 all in leaves room for 28 days in DynamoDB (the 90 the
# issue first suggested would make $1.78); 21 days keeps a margin for the figures' noise:
# $1.47. Three weeks hold what the console shows of a person's recent activity and an unmerge
# soon after a mistaken merge; older events are answered from the lake (`cdp sql`).
EVENT_HOT_DAYS = 21


def hot_window_default(data: Any) -> Any:
    """A retention given without a hot window shortens the default window to fit in it."""
    if isinstance(data, dict) and "event_hot_days" not in data:
        try:
            retention = int(data.get("event_retention_days", EVENT_RETENTION_DAYS))
        except (TypeError, ValueError):
            return data  # the retention's own validation says what is wrong with it
        if retention >= 1:
            return {**data, "event_hot_days": min(EVENT_HOT_DAYS, retention)}
    return data


def hot_window_problem(hot_days: int, retention_days: int) -> str | None:
    if hot_days > retention_days:
        return (
            f"event_hot_days ({hot_days}) must be at most event_retention_days "
            f"({retention_days}): no event is kept longer than its retention, in the events "
            "table or in the lake"
        )
    return None


class EventWindowSettings(FunctionSettings):
    """Of a function that stores events or reads them back: how long they are kept, in the
    events table (`event_hot_days`) and in the lake (`event_retention_days`)."""

    event_retention_days: int = Field(default=EVENT_RETENTION_DAYS, ge=1, le=3650)
    event_hot_days: int = Field(default=EVENT_HOT_DAYS, ge=1, le=3650)

    @model_validator(mode="before")
    @classmethod
    def _hot_default(cls, data: Any) -> Any:
        return hot_window_default(data)

    @model_validator(mode="after")
    def _hot_window(self) -> Self:
        problem = hot_window_problem(self.event_hot_days, self.event_retention_days)
        if problem:
            raise ValueError(problem)
        return self


class CollectorSettings(EventWindowSettings, ErasedPeopleSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    # When true, only messages carrying analytics consent are stored (see README).
    consent_required: bool = False
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    # Origins allowed to call the collector from a browser; `*` allows every site.
    allowed_origins: Origins = Field(default_factory=lambda: ["*"])
    identity_blocklist: Blocklist = Field(default_factory=list)
    live_table: str = Field(min_length=1)
    # How long a warm collector keeps a key it read: a disabled key, or a source someone
    # starts watching, takes this long to reach it.
    key_cache_seconds: int = Field(default=60, ge=0, le=3600)


class ProfileBuilderSettings(ErasedPeopleSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)  # the track events destinations receive
    # Profiles with no sign of life for this long are deleted (DynamoDB TTL).
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    # How many identities of a type one profile may hold (a user_id: always one).
    max_anonymous_ids: int = Field(default=100, ge=1, le=1000)
    max_emails: int = Field(default=5, ge=1, le=100)
    max_external_ids: int = Field(default=25, ge=1, le=100)


class ProfileApiSettings(EventWindowSettings):
    # The timeline says where events older than the hot window are (the lake).
    events_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)


class AdminApiSettings(FunctionSettings):
    # Each page of a segment's members given with identifiers whole is written down.
    audit_table: str = Field(min_length=1)
    audit_retention_days: int = Field(default=400, ge=30, le=3650)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    members_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    live_table: str = Field(min_length=1)
    deliveries_table: str = Field(min_length=1)
    backfill_queue_url: str = Field(min_length=1)
    computed_backfill_queue_url: str = Field(min_length=1)
    lake_settle_seconds: int = Field(default=360, ge=0, le=3600)  # see ComputedBackfillSettings
    destination_secret_prefix: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)  # a resync's first pages
    # Where each destination's alarms go (the stack's alarm topic, set once it exists);
    # `cdp dev` and the tests make no alarms.
    alarm_topic_arn: str | None = Field(default=None, min_length=1)
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )


class PublisherSettings(FunctionSettings):
    members_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    event_bus_name: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)


class LakeSettings(FunctionSettings):
    # Where the lake's tables are: `s3://bucket/prefix` (AWS, Glue catalog `lake_database`)
    # or a directory (`cdp dev`, a SQLite catalog in it).
    lake_warehouse: str = Field(min_length=1)
    lake_database: str = Field(default="cdp", min_length=1)


class ComputedBackfillSettings(LakeSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    computed_backfill_queue_url: str = Field(min_length=1)
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    # How long after a definition counts from its backfill waits, for the lake's writer to
    # commit every event received before (its batching window, and a retry).
    lake_settle_seconds: int = Field(default=360, ge=0, le=3600)


class LakeWriterSettings(LakeSettings, ErasedPeopleSettings):
    """Events of erased people are left out."""


class LakeProfilesSettings(LakeSettings):
    config_table: str = Field(min_length=1)  # computed traits' definitions


class LakeUpkeepSettings(LakeSettings):
    # Events older than this leave the lake (whole days); the events table keeps them for
    # the hot window only (`event_hot_days`, DynamoDB TTL).
    event_retention_days: int = Field(default=EVENT_RETENTION_DAYS, ge=1, le=3650)


class DelivererSettings(FunctionSettings):
    config_table: str = Field(min_length=1)
    deliveries_table: str = Field(min_length=1)
    members_table: str = Field(min_length=1)  # a resync reads the members of a segment
    profiles_table: str = Field(min_length=1)  # ... and their profiles
    deliveries_queue_url: str = Field(min_length=1)
    destination_secret_prefix: str = Field(min_length=1)
    # connector -> the address that replaces the tool's own: the contract servers in tests
    # and `cdp dev`'s sandboxes; empty in AWS.
    connector_endpoints: Annotated[dict[str, str], BeforeValidator(_json_object)] = Field(
        default_factory=dict
    )


class SchedulerSettings(FunctionSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    profile_retention_days: int = Field(default=730, ge=1, le=3650)


class BackfillSettings(FunctionSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    backfill_queue_url: str = Field(min_length=1)
    profile_retention_days: int = Field(default=730, ge=1, le=3650)


class PrivacyApiSettings(EventWindowSettings, ErasedPeopleSettings):
    # An export holds the events older than the hot window too, read from the lake (none
    # when no lake is given: the export then says where they are).
    lake_warehouse: str | None = None
    lake_database: str = Field(default="cdp", min_length=1)
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    erasure_queue_url: str = Field(min_length=1)
    computed_backfill_queue_url: str = Field(min_length=1)  # an unmerge's computed pasts
    # How long after an erasure the sweep runs: longer than collectors take to learn of it.
    erasure_sweep_delay_seconds: int = Field(default=300, ge=0, le=900)
    # Unmerges write the profiles they split apart.
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    audit_table: str = Field(min_length=1)
    audit_retention_days: int = Field(default=400, ge=30, le=3650)

    @model_validator(mode="after")
    def _sweep_after_the_caches(self) -> Self:
        cache, delay = self.suppression_cache_seconds, self.erasure_sweep_delay_seconds
        if cache and delay <= cache:
            raise ValueError(
                f"erasure_sweep_delay_seconds ({delay}) must be more than "
                f"suppression_cache_seconds ({cache}): the sweep erases what arrived while "
                "functions still trusted their cached check"
            )
        return self


class ErasureSweepSettings(FunctionSettings):
    events_table: str = Field(min_length=1)
    lake_erasures_queue_url: str = Field(min_length=1)  # the erasure, on to the lake
    quarantine_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    # Other people's profiles that named the person are rewritten, with their retention.
    profile_retention_days: int = Field(default=730, ge=1, le=3650)


class FormsApiSettings(EventWindowSettings, ErasedPeopleSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    identity_secret_name: str = Field(min_length=1)
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    allowed_origins: Origins = Field(default_factory=lambda: ["*"])
    identity_blocklist: Blocklist = Field(default_factory=list)


class WebhooksSettings(EventWindowSettings, ErasedPeopleSettings):
    consent_required: bool = False
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    identity_blocklist: Blocklist = Field(default_factory=list)


class ImporterSettings(EventWindowSettings, ErasedPeopleSettings):
    consent_required: bool = False
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    import_bucket: str = Field(min_length=1)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    identity_blocklist: Blocklist = Field(default_factory=list)


class ConsoleSettings(FunctionSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    events_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    audit_table: str = Field(min_length=1)
    # How long the audit log keeps what was done with a person's data.
    audit_retention_days: int = Field(default=400, ge=30, le=3650)
    # Where people sign in: the Hosted UI's address (Cognito's; `cdp dev` plays it), and the
    # page's app client there.
    sign_in_url: str = Field(min_length=1)
    console_client_id: str = Field(min_length=1)
    # The consent purposes the overview shows the rates of.
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
