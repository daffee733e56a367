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

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


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


class CollectorSettings(FunctionSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    # When true, only messages carrying analytics consent are stored (see README).
    consent_required: bool = False
    # 13 months: a year-over-year comparison is possible, and little is kept beyond it.
    event_retention_days: int = Field(default=395, ge=1, le=3650)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    # Origins allowed to call the collector from a browser; `*` allows every site.
    allowed_origins: Origins = Field(default_factory=lambda: ["*"])
    identity_blocklist: Blocklist = Field(default_factory=list)
    live_table: str = Field(min_length=1)
    # How long a warm collector keeps a key it read: a disabled key, or a source someone
    # starts watching, takes this long to reach it.
    key_cache_seconds: int = Field(default=60, ge=0, le=3600)


class ProfileBuilderSettings(FunctionSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)  # the track events destinations receive
    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    # Profiles with no sign of life for this long are deleted (DynamoDB TTL).
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    # How many identities of a type one profile may hold (a user_id: always one).
    max_anonymous_ids: int = Field(default=100, ge=1, le=1000)
    max_emails: int = Field(default=5, ge=1, le=100)
    max_external_ids: int = Field(default=25, ge=1, le=100)


class ProfileApiSettings(FunctionSettings):
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


class LakeWriterSettings(LakeSettings):
    # Events of erased people are left out.
    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)


class LakeProfilesSettings(LakeSettings):
    config_table: str = Field(min_length=1)  # computed traits' definitions


class LakeUpkeepSettings(LakeSettings):
    # Events older than this leave the lake too (whole days), as they leave the events table.
    event_retention_days: int = Field(default=395, ge=1, le=3650)


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


class PrivacyApiSettings(FunctionSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    suppressions_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    erasure_queue_url: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    # How long after an erasure the sweep runs: longer than collectors take to learn of it.
    erasure_sweep_delay_seconds: int = Field(default=300, ge=0, le=900)
    # Unmerges write the profiles they split apart.
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    audit_table: str = Field(min_length=1)
    audit_retention_days: int = Field(default=400, ge=30, le=3650)


class ErasureSweepSettings(FunctionSettings):
    events_table: str = Field(min_length=1)
    lake_erasures_queue_url: str = Field(min_length=1)  # the erasure, on to the lake
    quarantine_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    # Other people's profiles that named the person are rewritten, with their retention.
    profile_retention_days: int = Field(default=730, ge=1, le=3650)


class FormsApiSettings(FunctionSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    identity_secret_name: str = Field(min_length=1)
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
    event_retention_days: int = Field(default=395, ge=1, le=3650)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    allowed_origins: Origins = Field(default_factory=lambda: ["*"])
    identity_blocklist: Blocklist = Field(default_factory=list)


class WebhooksSettings(FunctionSettings):
    consent_required: bool = False
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    event_retention_days: int = Field(default=395, ge=1, le=3650)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    identity_blocklist: Blocklist = Field(default_factory=list)


class ImporterSettings(FunctionSettings):
    consent_required: bool = False
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    import_bucket: str = Field(min_length=1)
    event_retention_days: int = Field(default=395, ge=1, le=3650)
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
